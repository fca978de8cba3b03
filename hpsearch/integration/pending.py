"""Which stored trials may still be continued: the decisions a running study has not taken yet.

A viewer of a running study must never show a trial as finished and later change it. In a
multi-fidelity study (successive halving, Hyperband) or a coarse-to-fine study whose stages
promote, a stored trial may be continued by a later row: until its rung (or stage) is decided
it is *pending*, and once promoted it stays pending until its continuation is stored.

:class:`PendingTrials` follows the study's own strategy: for successive halving and Hyperband it
replays the strategy's rounds (the same generator the run loop drives) on the stored records,
round after round as they complete, so the promotion counts and choices are the strategy's
own. Coarse-to-fine decides a stage's promotions before any fresh trial of the next stage runs,
so a stage's trials are pending until a fresh trial of the next stage is stored.
"""
from hpsearch.strategies import Hyperband, RunContext, SuccessiveHalving, TrialRequest
from hpsearch.strategies.planning import MULTI_FIDELITY
from hpsearch.strategies.schedule import Schedule

__all__ = ["PendingTrials", "planned_top_budget", "may_prune"]


def may_prune(spec):
    """True when the study ``spec`` describes stops configurations below its top budget
    (successive halving, Hyperband, or coarse-to-fine stages that promote)."""
    if spec.get("strategy") in MULTI_FIDELITY:
        return True
    return any((s or {}).get("promote") for s in _stage_specs(spec))


def planned_top_budget(spec):
    """The highest budget the study ``spec`` plans (None when it names none)."""
    if spec.get("strategy") in MULTI_FIDELITY:
        return spec.get("max_budget")
    budgets = [s.get("budget") for s in _stage_specs(spec) if isinstance(s, dict) and s.get("budget") is not None]
    return max(budgets, default=None)


def _stage_specs(spec):
    stages = spec.get("stages") or {}
    if isinstance(stages, dict):
        return [stages[k] for k in sorted(stages, key=lambda k: int(k) if str(k).isdigit() else 0)]
    return list(stages)


class _Shapes:
    """A sampler that proposes empty configurations: the replay needs the rounds' shape (which
    trial continues which, how many are promoted), never the parameters, which are stored."""

    is_adaptive = False

    def start(self, space, n_trials, seed, direction):
        return n_trials

    def ask(self, n):
        return [{} for _ in range(n)]

    def tell(self, index, params, value):
        pass

    def __repr__(self):
        return "replay"


class _Replay(RunContext):
    """The run context of a replay: numbers trials as the run loop does, stores nothing."""

    def __init__(self, spec, name):
        self.space, self.metric, self.direction = None, spec.get("metric"), spec.get("direction", "maximize")
        self.seed, self.name = spec.get("seed", 0), name
        self._next = 0

    def begin_stage(self, stage):
        pass

    def request(self, stage, params, budget, continue_from=None, seed=None, keep_checkpoint=False, final=False,
                number=None, **labels):
        if number is None:
            number, self._next = self._next, self._next + 1
        return TrialRequest(number, stage, params, budget, 0 if seed is None else seed, continue_from,
                            keep_checkpoint, labels, final)

    def reserve(self, n):
        first, self._next = self._next, self._next + int(n)
        return first

    def release(self, numbers):
        pass


def _halving_strategy(spec):
    options = {k: spec[k] for k in ("min_budget", "max_budget", "eta", "total_budget", "batch_size") if k in spec}
    if spec["strategy"] == "hyperband":
        return Hyperband(sampler=_Shapes(), lead=spec.get("lead", True), **options)
    return SuccessiveHalving(sampler=_Shapes(), **options)


class PendingTrials:
    """The stored search trials whose fate a running study has not decided, as records arrive.

    Args:
        spec: the stored study spec (``Storage.find_study``).
        name: the study name.

    Feed every search record as it is stored (:meth:`add`, any order); :attr:`pending` is then
    the set of trial numbers that may still be continued: not yet decided, or promoted with the
    continuation not stored yet. Failed and diverged trials are never continued, so they are
    never pending. A finished study leaves nothing pending.
    """

    def __init__(self, spec, name):
        self._spec = spec
        self._records = {}
        self.pending = set()
        self._halving = spec.get("strategy") in MULTI_FIDELITY
        if self._halving:
            # the strategy's own Schedule: brackets side by side, as the run loop drives them
            self._schedule = Schedule(_halving_strategy(spec).rounds(_Replay(spec, name)))
            self._open = {}      # number -> request handed out, its record not stored yet
            self._rungs = {}     # (bracket, rung) -> numbers of that rung still to be stored
            self._members = {}   # (bracket, rung) -> every number of that rung
            self._take_ready()
        else:
            self._promotes = [bool((s or {}).get("promote")) for s in _stage_specs(spec)]
            self._fresh_stages = set()   # stages with a stored trial that continues nothing

    def add(self, records):
        """Take newly stored search records (dicts as :meth:`Storage.load_trials` gives them)."""
        for record in records:
            self._records[record["number"]] = record
        if self._halving:
            self._advance()
        else:
            self._coarse_to_fine(records)

    # ------------------------------------------------------------------ successive halving, Hyperband
    def _take_ready(self):
        for request in self._schedule.ready():
            key = (request.labels.get("bracket"), request.labels.get("rung"))
            self._open[request.number] = request
            self._rungs.setdefault(key, set()).add(request.number)
            self._members.setdefault(key, set()).add(request.number)
            if request.continue_from is not None:   # promoted: pending until the continuation is stored
                self.pending.add(request.continue_from)

    def _advance(self):
        progressed = True
        while progressed:
            progressed = False
            for number in sorted(n for n in self._open if n in self._records):
                request, record = self._open.pop(number), self._records[number]
                self.pending.discard(request.continue_from)
                if request.keep_checkpoint and record["status"] == "ok":
                    self.pending.add(number)   # its rung is not decided yet
                key = (request.labels.get("bracket"), request.labels.get("rung"))
                self._rungs[key].discard(number)
                if not self._rungs[key]:
                    # decided: the next rung's requests re-add the promoted
                    self.pending -= self._members[key]
                self._schedule.tell(record)
                self._take_ready()
                progressed = True

    # ------------------------------------------------------------------ coarse-to-fine
    def _coarse_to_fine(self, records):
        # records come in the order they were stored: a continuation after the trial it continues
        for record in records:
            stage = record["stage"]
            if record.get("continued_from") is not None:
                self.pending.discard(record["continued_from"])
            elif stage not in self._fresh_stages:
                self._fresh_stages.add(stage)
                # a stage's promotions (and their continuations) run before its first fresh trial:
                # every trial of the previous stage is decided now
                self.pending -= {n for n, r in self._records.items() if r["stage"] == stage - 1}
            if self._promoted_later(stage) and record["status"] == "ok" and stage + 1 not in self._fresh_stages:
                self.pending.add(record["number"])

    def _promoted_later(self, stage):
        return stage + 1 < len(self._promotes) and self._promotes[stage + 1]
