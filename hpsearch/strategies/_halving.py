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
import warnings
from dataclasses import dataclass

from hpsearch import seeding
from hpsearch.checks import MAX_TRIALS, check_budget, positive_int
from hpsearch.records import rank_key
from hpsearch.strategies.stage import Stage
from hpsearch.strategies._base import PlanDescription, Strategy
from hpsearch.strategies.schedule import SideBySide

__all__ = ["Bracket", "SuccessiveHalving", "Hyperband", "rung_budgets", "plan_brackets", "rung_stages", "DEFAULT_ETA"]

#: Keep the best third at each rung and train it three times longer (Li et al. 2018's choice).
DEFAULT_ETA = 3


@dataclass(frozen=True)
class Bracket:
    """One successive-halving bracket: ``n_configs`` start at ``budgets[0]``; each rung keeps
    ``floor(n / eta)`` (at least one) for the next budget.

    ``first_keep``, when set, is how many the first rung keeps instead: a bracket that screens
    more configurations than its promotions call for (the last bracket of a ``total_budget``
    spends what is left that way)."""

    index: int
    n_configs: int
    budgets: tuple
    eta: int
    first_keep: int = None

    def kept(self, rung, alive):
        """How many of the ``alive`` trials of rung ``rung`` go on to the next one."""
        if rung + 1 >= len(self.budgets):
            return 0
        if rung == 0 and self.first_keep is not None:
            return min(self.first_keep, alive)
        return max(1, alive // self.eta)

    def rung_sizes(self):
        """How many configurations each rung trains (the most it can: failed ones drop out)."""
        sizes, n = [], self.n_configs
        for r in range(len(self.budgets)):
            sizes.append(n)
            n = self.kept(r, n)
        return sizes

    def epochs(self):
        """The bracket's cost in epochs when promoted trials continue from their checkpoints."""
        previous, total = 0, 0
        for size, budget in zip(self.rung_sizes(), self.budgets):
            total += size * (budget - previous)
            previous = budget
        return total

    def resized(self, index, n_configs, first_keep=None):
        """This bracket's rungs with ``n_configs`` configurations, at ``index``."""
        return Bracket(index, n_configs, self.budgets, self.eta, first_keep)


def rung_budgets(min_budget, max_budget, eta, s):
    """The ``s + 1`` budgets of a bracket that starts ``s`` rungs below ``max_budget``:
    ``max_budget * eta**-(s - i)`` rounded to integers, strictly rising. The deepest bracket
    (``s >= floor(log_eta(max_budget / min_budget))``) starts at ``min_budget`` exactly: for
    1..52 epochs and eta 3 its rungs are 1, 6, 17, 52."""
    budgets = []
    for i in range(s + 1):
        b = max(min_budget, int(round(max_budget * float(eta) ** (i - s))))
        if budgets and b <= budgets[-1]:
            continue
        budgets.append(b)
    if s >= _deepest(min_budget, max_budget, eta):
        budgets[0] = min_budget
    budgets[-1] = max_budget
    return tuple(budgets)


def _deepest(min_budget, max_budget, eta):
    """``s_max``: the most rungs below ``max_budget`` that ``min_budget`` allows."""
    return int(math.floor(math.log(max_budget / min_budget, eta) + 1e-9))


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


def plan_brackets(kind, min_budget, max_budget, eta, total_budget=None, lead=True):
    """The brackets a ``kind`` (``"sha"`` or ``"hyperband"``) search runs. Plain arithmetic: no
    sampler, no space, so a plan can be shown without building the strategy.

    Without ``total_budget``: one iteration (Hyperband's lead bracket first when ``lead``).
    With it, the budget is spent to within one ``min_budget``: the lead bracket if it fits, whole
    brackets in iteration order while they fit, then smaller brackets (the next ones in order,
    each with the most configurations that fit), and what is still left screens more
    configurations in the first rung of the last bracket that starts at ``min_budget`` (its
    promotions unchanged). A budget below one whole bracket runs the smaller ones, with a note.

    Raises:
        ValueError: bad budgets or ``eta``, or a ``total_budget`` below ``max_budget`` (no
            configuration could reach the last rung).
    """
    _check_budgets(min_budget, max_budget, eta, total_budget)
    s_max = _deepest(min_budget, max_budget, eta)
    cycle = _iteration(kind, min_budget, max_budget, eta, s_max)
    head = [Bracket(0, 4 * eta, (min_budget, max_budget), 2 * eta)] \
        if kind == "hyperband" and lead and min_budget != max_budget else []
    if total_budget is None:
        return [b.resized(k, b.n_configs, b.first_keep) for k, b in enumerate(head + cycle)]
    if total_budget < max_budget:
        raise ValueError(f"total_budget={total_budget} epochs cannot train one configuration to "
                         f"max_budget={max_budget}; give total_budget >= {max_budget}")
    brackets, room = [], total_budget
    for b in head:
        if b.epochs() <= room:
            brackets.append(b)
            room -= b.epochs()
    k = 0
    while cycle[k % len(cycle)].epochs() <= room:   # whole brackets, in iteration order
        brackets.append(cycle[k % len(cycle)].resized(len(brackets), cycle[k % len(cycle)].n_configs))
        room -= brackets[-1].epochs()
        k += 1
    whole = k
    misses = 0
    while misses < len(cycle):   # then the next ones in order, each as large as still fits
        n = _most_that_fit(cycle[k % len(cycle)], room)
        if n:
            brackets.append(cycle[k % len(cycle)].resized(len(brackets), n))
            room -= brackets[-1].epochs()
            misses = 0
        else:
            misses += 1
        k += 1
    brackets = _screen_more(brackets, room, min_budget)
    if not whole:
        cheapest = min(b.epochs() for b in cycle)
        warnings.warn(f"total_budget={total_budget} epochs holds no whole {kind} bracket (the cheapest costs "
                      f"{cheapest}): running {len(brackets)} smaller one(s) of "
                      f"{sum(b.n_configs for b in brackets)} configurations in all", UserWarning, stacklevel=2)
    return brackets


def rung_stages(brackets, sampler, space=None):
    """Every rung of ``brackets`` as a :class:`~hpsearch.strategies.stage.Stage` (index in run order)."""
    rungs = [(size, budget) for bracket in brackets for size, budget in zip(bracket.rung_sizes(), bracket.budgets)]
    return [Stage(size, budget, sampler, index=k, space=space) for k, (size, budget) in enumerate(rungs)]


def _iteration(kind, min_budget, max_budget, eta, s_max):
    """The brackets of one iteration: successive halving's one bracket of ``eta**s_max``
    configurations, or Hyperband's ``s = s_max, ..., 0`` (indexes to be set by the caller)."""
    if kind == "sha":
        return [Bracket(0, eta ** s_max, rung_budgets(min_budget, max_budget, eta, s_max), eta)]
    brackets = []
    for s in range(s_max, -1, -1):
        n = int(math.ceil((s_max + 1) / (s + 1) * eta ** s))
        brackets.append(Bracket(0, n, rung_budgets(min_budget, max_budget, eta, s), eta))
    return brackets


def _most_that_fit(bracket, room):
    """The most configurations (at most the bracket's own) whose rungs cost at most ``room``; 0 if none."""
    lo, hi = 0, bracket.n_configs   # the cost rises with n: bisect for the last n that fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if bracket.resized(bracket.index, mid).epochs() <= room:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _screen_more(brackets, room, min_budget):
    """``brackets`` with ``room // min_budget`` more configurations screened in the first rung of the
    last one that starts at ``min_budget`` (as many promoted as before)."""
    extra = room // min_budget
    at_min = [k for k, b in enumerate(brackets) if b.budgets[0] == min_budget and len(b.budgets) > 1]
    if not extra or not at_min:
        return brackets
    k = at_min[-1]
    b = brackets[k]
    keep = b.kept(0, b.n_configs)
    return brackets[:k] + [b.resized(k, b.n_configs + extra, keep)] + brackets[k + 1:]


class _Halving(Strategy):
    """The rung machinery shared by :class:`SuccessiveHalving` and :class:`Hyperband`."""

    name = None

    def __init__(self, min_budget, max_budget, eta, total_budget, sampler, batch_size, lead=False):
        from hpsearch.samplers import for_budgets

        self.brackets = plan_brackets(self.name, min_budget, max_budget, eta, total_budget, lead)
        self.min_budget, self.max_budget, self.eta = int(min_budget), int(max_budget), int(eta)
        self.total_budget = None if total_budget is None else int(total_budget)
        self.sampler = for_budgets(sampler, self.name)
        self.batch_size = None if batch_size is None else positive_int(batch_size, "batch_size")

    def total_epochs(self):
        """Epochs the brackets train (promoted trials count only the epochs they add)."""
        return sum(b.epochs() for b in self.brackets)

    def planned_epochs(self, planned):
        return self.total_epochs()

    def describe(self, planned):
        steps = [f"  eta={self.eta}, budgets {self.min_budget}..{self.max_budget} epochs, configurations from "
                 f"{self.sampler!r}; promoted trials continue from their checkpoints"]
        for bracket in self.brackets:
            rungs = ", ".join(f"{n} x {b}" for n, b in zip(bracket.rung_sizes(), bracket.budgets))
            steps.append(f"  bracket {bracket.index}: {bracket.n_configs} configurations; rungs (trials x epochs "
                         f"reached) {rungs}: {bracket.epochs()} epochs")
        return PlanDescription(tuple(steps), f"{sum(b.n_configs for b in self.brackets)} configurations, "
                                             f"{len(planned)} rungs, {self.total_epochs()} epochs")

    def spec(self):
        return {"strategy": self.name, "min_budget": self.min_budget, "max_budget": self.max_budget,
                "eta": self.eta, "total_budget": self.total_budget, "sampler": repr(self.sampler),
                "batch_size": self.batch_size}

    def planned_stages(self, space, seed, direction):
        return rung_stages(self.brackets, repr(self.sampler), space)

    # ------------------------------------------------------------------ running
    def rounds(self, ctx):
        from hpsearch.samplers import is_adaptive

        n_configs = sum(b.n_configs for b in self.brackets)
        self.sampler.start(ctx.space, n_configs, seeding.sampler_seed(ctx.seed, 0), ctx.direction)
        # each bracket's rungs have fixed stage indexes, whenever they run
        stages = [sum(len(b.budgets) for b in self.brackets[:k]) for k in range(len(self.brackets))]
        told = 0   # configurations asked so far: the sampler's index of the next one
        if is_adaptive(self.sampler) or self._per_budget:
            # an adaptive sampler proposes a bracket's configurations from the brackets before it
            # (and one that models each budget is told in rung order): they run one after another
            for bracket, stage in zip(self.brackets, stages):
                configs = self._ask(bracket.n_configs)
                yield from self._bracket(ctx, bracket, stage, configs, told)
                told += len(configs)
            return
        # proposals that never depend on results are all drawn now, and the brackets run side by
        # side, each numbering its trials in its own block, so no worker waits for a rung barrier
        # while another bracket has work
        lanes = []
        for bracket, stage in zip(self.brackets, stages):
            configs = self._ask(bracket.n_configs)
            lane = ctx.lane(ctx.reserve(sum(bracket.rung_sizes())))
            lanes.append(self._bracket(lane, bracket, stage, configs, told))
            told += len(configs)
        yield SideBySide(tuple(lanes))

    def _bracket(self, ctx, bracket, stage, configs, first_config):
        """Run one bracket's rungs (stage indexes from ``stage``) on ``configs``, the sampler's
        proposals ``first_config, first_config + 1, ...``."""
        alive = [(i, params, None) for i, params in enumerate(configs)]   # (config index, params, last record)
        for r, budget in enumerate(bracket.budgets):
            last = r + 1 == len(bracket.budgets)
            ctx.begin_stage(Stage(len(alive), budget, repr(self.sampler), index=stage + r, space=ctx.space))
            requests = [ctx.request(stage + r, params, budget, keep_checkpoint=not last,
                                    continue_from=None if prev is None else prev["number"],
                                    seed=None if prev is None else prev["seed"], bracket=bracket.index, rung=r)
                        for _, params, prev in alive]
            records = yield requests
            ctx.release([prev["number"] for _, _, prev in alive if prev is not None])
            ranked = self._ranked(ctx, alive, records)
            keep = bracket.kept(r, len(alive))
            promoted = [entry for entry in ranked[:keep] if entry[2]["status"] == "ok"]
            stopped = [entry for entry in ranked if entry not in promoted]
            ctx.release([record["number"] for _, _, record in stopped])
            self._tell(ctx, first_config, ranked if self._per_budget else stopped, budget)
            alive = promoted
            if not alive:
                break

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
        equal terms), over the one space every bracket samples (see
        :func:`~hpsearch.diagnostics.boundary.tested_trials`)."""
        from hpsearch.diagnostics.boundary import tested_trials

        return tested_trials(records, stages, metric, direction, by_budget=True)


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

    def __init__(self, min_budget=1, max_budget=27, eta=DEFAULT_ETA, total_budget=None, sampler="random", batch_size=None):
        super().__init__(min_budget, max_budget, eta, total_budget, sampler, batch_size)

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

    def __init__(self, min_budget=1, max_budget=27, eta=DEFAULT_ETA, total_budget=None, sampler="random", batch_size=None,
                 lead=True):
        self.lead = bool(lead)
        super().__init__(min_budget, max_budget, eta, total_budget, sampler, batch_size, self.lead)

    def spec(self):
        return {**super().spec(), "lead": self.lead}

    def __repr__(self):
        return (f"Hyperband(min_budget={self.min_budget}, max_budget={self.max_budget}, eta={self.eta}, "
                f"total_budget={self.total_budget}, sampler={self.sampler!r}, lead={self.lead})")

