"""Schedule: a strategy's rounds, handed out as soon as they are decidable, told back in any order.

A strategy's :meth:`~hpsearch.strategies.Strategy.rounds` generator yields rounds (lists of
:class:`~hpsearch.strategies.TrialRequest`) and receives each round's records. It may also
yield :class:`SideBySide` lanes: generators of rounds that run concurrently (Hyperband's
brackets), each numbering its trials in a block reserved in advance
(:meth:`~hpsearch.strategies.RunContext.reserve`). The lanes' records come back to the
yielding generator, all together in trial-number order, when every lane has ended.

:class:`Schedule` drives that tree of generators for any caller: the run loop, or a user's
own loop through :meth:`Study.ask` / :meth:`Study.tell`. :meth:`Schedule.ready` returns the
requests that can run now; :meth:`Schedule.tell` takes a finished record, in whatever order
records arrive. Every decision reads a round's records only once all of them are in, so the
requests (numbers, parameters, budgets, seeds) never depend on the order of the tells: the
same seed gives the same trials table whoever runs it, however many workers, and a replay of
stored records reproduces it.
"""
from dataclasses import dataclass

from hpsearch.strategies._base import TrialRequest

__all__ = ["Schedule", "SideBySide"]


@dataclass(frozen=True)
class SideBySide:
    """Yielded by a strategy: run ``lanes`` (generators of rounds) concurrently; the yield
    returns all their records, in trial-number order, once every lane has ended."""

    lanes: tuple


class _Node:
    """One generator of the tree and what it waits for."""

    def __init__(self, generator, parent):
        self.generator, self.parent = generator, parent
        self.started = False
        self.waiting = ()        # the numbers of the round it waits for, in request order
        self.children = None     # for SideBySide: the lanes still running
        self.collected = []      # for SideBySide: the records of the lanes that ended
        self.received = []       # every record its rounds received (what its parent gets back)


class Schedule:
    """Requests as soon as they are decidable; records told back in any order.

    Args:
        rounds: a strategy's rounds generator (``strategy.rounds(ctx)``), not yet started.
        side_by_side: run :class:`SideBySide` lanes concurrently (False: one after another,
            hpsearch 0.1's synchronous schedule, which ``benchmarks/bench_schedule.py`` replays).
            The requests are the same either way; only when they become ready differs.
    """

    def __init__(self, rounds, side_by_side=True):
        self.side_by_side = bool(side_by_side)
        self._records = {}          # number -> told record
        self._owner = {}            # number -> the node whose round holds it
        self._ready = []            # requests handed out by the next ready()
        self._open = set()          # numbers handed out (or about to be), not yet told
        self.finished = False
        self._advance(_Node(rounds, None), [])

    def ready(self):
        """The requests that became runnable since the last call, longest training first (ties by
        trial number): long trials start early instead of trailing alone at the end. The order
        changes when a trial runs, never what it is or what it returns."""
        out, self._ready = sorted(self._ready, key=self.priority), []
        return out

    def priority(self, request):
        """Sort key of ``request``: the epochs it trains (budget minus what it continues), most first."""
        parent = self._records.get(request.continue_from)
        return -(request.budget - (parent["budget"] if parent is not None else 0)), request.number

    def tell(self, record):
        """A finished trial's record (a plain dict with ``number``); may make new requests ready.

        Raises:
            ValueError: a record for no request that is waiting, or told twice.
        """
        number = record["number"]
        if number not in self._open:
            raise ValueError(f"trial {number} is not running (it was never asked, or was told already)")
        self._open.discard(number)
        self._records[number] = record
        node = self._owner.pop(number)
        if all(n in self._records for n in node.waiting):
            self._advance(node, [self._records[n] for n in node.waiting])

    # ------------------------------------------------------------------ the tree
    def _advance(self, node, sent):
        """Send ``sent`` (a round's records) to ``node``'s generator and follow what it yields next."""
        while True:
            node.received.extend(sent)
            try:
                item = node.generator.send(sent) if node.started else next(node.generator)
                node.started = True
            except StopIteration:
                self._end(node)
                return
            if isinstance(item, SideBySide):
                node.waiting, node.collected = (), []
                lanes = [_Node(lane, node) for lane in item.lanes]
                node.children = list(lanes)
                if not lanes:
                    sent = []
                    continue
                for lane in (lanes if self.side_by_side else lanes[:1]):
                    self._advance(lane, [])
                return
            requests = list(item)
            if not requests:
                node.waiting, sent = (), []
                continue
            for request in requests:
                if not isinstance(request, TrialRequest):
                    raise TypeError(f"a strategy round must hold TrialRequests, got {request!r}")
                if request.number in self._records or request.number in self._open:
                    raise RuntimeError(f"trial number {request.number} was requested twice")
                self._owner[request.number] = node
                self._open.add(request.number)
            node.waiting = tuple(r.number for r in requests)
            self._ready.extend(requests)
            return

    def _end(self, node):
        """``node``'s generator returned: its parent's lanes may all have ended."""
        parent = node.parent
        if parent is None:
            self.finished = True
            return
        parent.children.remove(node)
        parent.collected.extend(node.received)
        if parent.children and not self.side_by_side:
            self._advance(parent.children[0], [])   # the next lane starts when this one ends
            return
        if not parent.children:
            records = sorted(parent.collected, key=lambda r: r["number"])
            parent.children, parent.collected = None, []
            self._advance(parent, records)
