"""Successive halving and Hyperband: keep the best configurations and train them further.

A *bracket* starts ``n`` configurations at a small budget and, rung after rung, keeps the
best ``1/eta`` of them and trains those ``eta`` times longer, continuing each from its
checkpoint, until ``max_budget`` (Jamieson & Talwalkar 2016). Hyperband (Li et al. 2018)
runs brackets of different minimum budgets, from many cheap configurations to a few at
the full budget, because nobody knows in advance how early a configuration shows its worth.

Rungs are synchronous: a rung's promotions are decided when all its trials are stored,
from their results alone (ties broken by trial number), never from timing. So the same
seed gives the same trials table for any ``n_jobs`` and backend, and a resumed study
replays the same decisions.
"""
import math
from dataclasses import dataclass

from hpsearch import seeding
from hpsearch.checks import MAX_TRIALS, check_budget, positive_int
from hpsearch.records import competing, rank_key
from hpsearch.strategies.stage import Stage
from hpsearch.strategies._base import Strategy

__all__ = ["Bracket", "SuccessiveHalving", "Hyperband", "rung_budgets"]


@dataclass(frozen=True)
class Bracket:
    """One successive-halving bracket: ``n_configs`` start at ``budgets[0]``; each rung keeps
    ``floor(n / eta)`` (at least one) for the next budget."""

    index: int
    n_configs: int
    budgets: tuple
    eta: int

    def rung_sizes(self):
        """How many configurations each rung trains (the most it can: failed ones drop out)."""
        sizes, n = [], self.n_configs
        for _ in self.budgets:
            sizes.append(n)
            n = max(1, n // self.eta)
        return sizes

    def epochs(self):
        """The bracket's cost in epochs when promoted trials continue from their checkpoints."""
        previous, total = 0, 0
        for size, budget in zip(self.rung_sizes(), self.budgets):
            total += size * (budget - previous)
            previous = budget
        return total


def rung_budgets(min_budget, max_budget, eta, s):
    """The ``s + 1`` budgets of a bracket that starts ``s`` rungs below ``max_budget``:
    ``max_budget * eta**-(s - i)`` rounded to integers, at least ``min_budget``, strictly rising."""
    budgets = []
    for i in range(s + 1):
        b = max(min_budget, int(round(max_budget * float(eta) ** (i - s))))
        if budgets and b <= budgets[-1]:
            continue
        budgets.append(b)
    budgets[-1] = max_budget
    return tuple(budgets)


def _check_budgets(min_budget, max_budget, eta, total_budget):
    check_budget(min_budget, "min_budget")
    check_budget(max_budget, "max_budget")
    if min_budget > max_budget:
        raise ValueError(f"min_budget must be at most max_budget, got min_budget={min_budget}, "
                         f"max_budget={max_budget}")
    if isinstance(eta, bool) or not isinstance(eta, int) or eta < 2:
        raise ValueError(f"eta must be an integer >= 2, got {eta!r}")
    if total_budget is not None:
        positive_int(total_budget, "total_budget")
        if total_budget > MAX_TRIALS * min_budget:
            raise ValueError(f"total_budget={total_budget} epochs would plan more than {MAX_TRIALS:,} trials; "
                             f"plan a smaller budget, or several studies")


class _Halving(Strategy):
    """The rung machinery shared by :class:`SuccessiveHalving` and :class:`Hyperband`."""

    name = None

    def __init__(self, min_budget, max_budget, eta, total_budget, sampler, batch_size):
        from hpsearch.samplers import for_budgets

        _check_budgets(min_budget, max_budget, eta, total_budget)
        self.min_budget, self.max_budget, self.eta = int(min_budget), int(max_budget), int(eta)
        self.total_budget = None if total_budget is None else int(total_budget)
        self.sampler = for_budgets(sampler, self.name)
        self.batch_size = None if batch_size is None else positive_int(batch_size, "batch_size")
        self.s_max = int(math.floor(math.log(self.max_budget / self.min_budget, self.eta) + 1e-9))
        self.brackets = self._plan_brackets()
        if not self.brackets:
            cheapest = min(self._iteration(0), key=lambda b: b.epochs())
            raise ValueError(f"total_budget={self.total_budget} epochs cannot hold one bracket of {self.name} "
                             f"(the cheapest costs {cheapest.epochs()} epochs)")

    # ------------------------------------------------------------------ planning
    def _iteration(self, first_index):
        """The brackets of one iteration (subclasses), indexed from ``first_index``."""
        raise NotImplementedError

    def _plan_brackets(self):
        """Iterations of brackets until ``total_budget`` is spent (one iteration without it)."""
        if self.total_budget is None:
            return self._iteration(0)
        brackets, spent = [], 0
        while True:
            added = False
            for bracket in self._iteration(len(brackets)):
                if spent + bracket.epochs() > self.total_budget:
                    return brackets
                brackets.append(bracket)
                spent += bracket.epochs()
                added = True
            if not added:
                return brackets

    def total_epochs(self):
        return sum(b.epochs() for b in self.brackets)

    def spec(self):
        return {"strategy": self.name, "min_budget": self.min_budget, "max_budget": self.max_budget,
                "eta": self.eta, "total_budget": self.total_budget, "sampler": repr(self.sampler),
                "batch_size": self.batch_size}

    def planned_stages(self, space, seed, direction):
        stages, k = [], 0
        for bracket in self.brackets:
            for size, budget in zip(bracket.rung_sizes(), bracket.budgets):
                stages.append(Stage(size, budget, repr(self.sampler), index=k, space=space))
                k += 1
        return stages

    # ------------------------------------------------------------------ running
    def rounds(self, ctx):
        n_configs = sum(b.n_configs for b in self.brackets)
        self.sampler.start(ctx.space, n_configs, seeding.sampler_seed(ctx.seed, 0), ctx.direction)
        self._told = 0  # configurations asked so far: the sampler's index of the next one
        stage = 0
        for bracket in self.brackets:
            stage = yield from self._bracket(ctx, bracket, stage)

    def _bracket(self, ctx, bracket, stage):
        """Run one bracket's rungs from stage index ``stage``; returns the next free stage index."""
        configs = self._ask(bracket.n_configs)
        first_config = self._told
        self._told += len(configs)
        alive = [(i, params, None) for i, params in enumerate(configs)]   # (config index, params, last record)
        for r, budget in enumerate(bracket.budgets):
            last = r + 1 == len(bracket.budgets)
            ctx.begin_stage(Stage(len(alive), budget, repr(self.sampler), index=stage, space=ctx.space))
            requests = [ctx.request(stage, params, budget, keep_checkpoint=not last,
                                    continue_from=None if prev is None else prev["number"],
                                    seed=None if prev is None else prev["seed"], bracket=bracket.index, rung=r)
                        for _, params, prev in alive]
            records = yield requests
            ctx.release([prev["number"] for _, _, prev in alive if prev is not None])
            ranked = self._ranked(ctx, alive, records)
            keep = 0 if last else max(1, len(alive) // bracket.eta)
            promoted = [entry for entry in ranked[:keep] if entry[2]["status"] == "ok"]
            stopped = [entry for entry in ranked if entry not in promoted]
            ctx.release([record["number"] for _, _, record in stopped])
            self._tell(ctx, first_config, ranked if self._per_budget else stopped, budget)
            alive = promoted
            stage += 1
            if not alive:
                break
        return stage

    def _ask(self, n):
        from hpsearch.samplers import is_adaptive

        size = (self.batch_size or n) if is_adaptive(self.sampler) else n
        configs = []
        while len(configs) < n:
            got = list(self.sampler.ask(min(size, n - len(configs))))
            if not got:
                raise RuntimeError(f"sampler {self.sampler!r} proposed no more configurations")
            configs.extend(got)
        return configs

    @staticmethod
    def _ranked(ctx, alive, records):
        """``(config index, params, record)`` best first; not-ok trials last; ties by trial number."""
        entries = [(i, params, record) for (i, params, _), record in zip(alive, records)]

        return sorted(entries, key=lambda entry: rank_key(entry[2], ctx.metric, ctx.direction))

    @property
    def _per_budget(self):
        from hpsearch.samplers import is_multi_fidelity

        return is_multi_fidelity(self.sampler)

    def _tell(self, ctx, first_config, entries, budget):
        """Tell the sampler the rung's results (in config order): a sampler that models each
        budget gets every result with its budget; any other, once per configuration, the
        result where it stopped."""
        for i, params, record in sorted(entries, key=lambda e: e[0]):
            value = record["metrics"].get(ctx.metric) if record["status"] == "ok" else None
            if self._per_budget:
                self.sampler.tell(first_config + i, params, value, budget=budget)
            else:
                self.sampler.tell(first_config + i, params, value)

    def boundary_trials(self, records, stages, metric, direction):
        """The budget level with the most ok trials (where the most configurations compete on
        equal terms), over the one space every bracket samples."""
        ok = competing(records, metric)
        if not ok or not stages:
            return None, []
        counts = {}
        for r in ok:
            counts[r["budget"]] = counts.get(r["budget"], 0) + 1
        level = max(counts, key=lambda b: (counts[b], b))
        return stages[0].space, [r for r in ok if r["budget"] == level]


class SuccessiveHalving(_Halving):
    """Successive halving: brackets of ``eta**s`` configurations from ``min_budget`` to ``max_budget``.

    Args:
        min_budget, max_budget: the first and last rung's budget (positive ints).
        eta: keep the best ``1/eta`` at each rung and train them ``eta`` times longer (>= 2).
        total_budget: epochs to spend in all (promoted trials counted once, as they continue);
            as many brackets as fit. None: one bracket.
        sampler: proposes the configurations (a name or object, as for :meth:`Study.optimize`).
        batch_size: configurations asked at a time from an adaptive sampler (default: a bracket's).

    Raises:
        ValueError: ``eta < 2``, ``min_budget > max_budget``, a budget that holds no bracket.
    """

    name = "sha"

    def __init__(self, min_budget=1, max_budget=27, eta=3, total_budget=None, sampler="random", batch_size=None):
        super().__init__(min_budget, max_budget, eta, total_budget, sampler, batch_size)

    def _iteration(self, first_index):
        s = self.s_max
        return [Bracket(first_index, self.eta ** s, rung_budgets(self.min_budget, self.max_budget, self.eta, s),
                        self.eta)]

    def __repr__(self):
        return (f"SuccessiveHalving(min_budget={self.min_budget}, max_budget={self.max_budget}, eta={self.eta}, "
                f"total_budget={self.total_budget}, sampler={self.sampler!r})")


class Hyperband(_Halving):
    """Hyperband: brackets of successive halving from ``s_max`` rungs down to one.

    One iteration has the brackets ``s = s_max, ..., 0`` (``s_max = floor(log_eta(max/min))``),
    bracket ``s`` starting ``ceil((s_max + 1) / (s + 1) * eta**s)`` configurations at budget
    ``max_budget * eta**-s``. Arguments as :class:`SuccessiveHalving`; ``total_budget`` runs
    iterations (new configurations each) while they fit, None one iteration.

    Args:
        lead: start with a *lead bracket* that screens ``4 * eta`` configurations at
            ``min_budget`` and continues the best two straight to ``max_budget``, so that a
            strong model exists long before the first iteration ends (a good configuration
            usually shows itself after one epoch; it then needs the full budget). Default True.
    """

    name = "hyperband"

    def __init__(self, min_budget=1, max_budget=27, eta=3, total_budget=None, sampler="random", batch_size=None,
                 lead=True):
        self.lead = bool(lead)
        super().__init__(min_budget, max_budget, eta, total_budget, sampler, batch_size)

    def spec(self):
        return {**super().spec(), "lead": self.lead}

    def _plan_brackets(self):
        brackets = super()._plan_brackets()
        if not self.lead or self.min_budget == self.max_budget:
            return brackets
        lead = Bracket(0, 4 * self.eta, (self.min_budget, self.max_budget), 2 * self.eta)
        if self.total_budget is not None and lead.epochs() > self.total_budget:
            return brackets
        if self.total_budget is not None:
            # the lead bracket is paid for by dropping the last brackets that no longer fit
            room, kept = self.total_budget - lead.epochs(), []
            for bracket in brackets:
                if bracket.epochs() > room:
                    break
                kept.append(bracket)
                room -= bracket.epochs()
            brackets = kept
        return [lead] + [Bracket(b.index + 1, b.n_configs, b.budgets, b.eta) for b in brackets]

    def _iteration(self, first_index):
        brackets = []
        for k, s in enumerate(range(self.s_max, -1, -1)):
            n = int(math.ceil((self.s_max + 1) / (s + 1) * self.eta ** s))
            brackets.append(Bracket(first_index + k, n, rung_budgets(self.min_budget, self.max_budget, self.eta, s),
                                    self.eta))
        return brackets

    def __repr__(self):
        return (f"Hyperband(min_budget={self.min_budget}, max_budget={self.max_budget}, eta={self.eta}, "
                f"total_budget={self.total_budget}, sampler={self.sampler!r}, lead={self.lead})")

