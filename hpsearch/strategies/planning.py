"""Search plans: which strategy, which stages, and their conversion at equal compute.

A :class:`SearchPlan` is what a study file's ``[search]`` table (or ``compare``'s parts)
says: a strategy name, its stages, grid points and narrowing options. ``hpsearch run
--strategy`` and ``hpsearch compare`` convert a plan to another strategy at equal compute:
the same total number of trials and the same total epochs (:meth:`SearchPlan.stages_for`).
"""
import math
from dataclasses import dataclass, field

from hpsearch.checks import did_you_mean, positive_int
from hpsearch.samplers import SAMPLERS
from hpsearch.strategies import DEFAULT_ETA, plan_brackets, rung_stages
from hpsearch.strategies.stage import Stage

__all__ = ["SearchPlan", "STRATEGIES", "COARSE_TO_FINE", "MULTI_FIDELITY", "FIDELITY_DEFAULTS", "scale_counts"]

COARSE_TO_FINE = "coarse-to-fine"
#: The multi-fidelity strategies: brackets of successive halving.
MULTI_FIDELITY = ("sha", "hyperband")
#: Every valid strategy name: a sampler name (one stage), ``"coarse-to-fine"``, ``"sha"`` or ``"hyperband"``.
STRATEGIES = tuple(SAMPLERS) + (COARSE_TO_FINE,) + MULTI_FIDELITY
#: Settings of the multi-fidelity strategies (and their defaults).
FIDELITY_DEFAULTS = {"min_budget": 1, "max_budget": None, "eta": DEFAULT_ETA, "total_budget": None, "sampler": "random"}


def scale_counts(counts, total):
    """Integers proportional to ``counts`` summing to ``total`` (largest remainders)."""
    base = sum(counts)
    exact = [c * total / base for c in counts]
    out = [math.floor(x) for x in exact]
    order = sorted(range(len(counts)), key=lambda i: exact[i] - out[i], reverse=True)
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


def check_strategy(strategy):
    """``strategy`` if it is one of :data:`STRATEGIES`, else ValueError with the closest name."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; {did_you_mean(strategy, STRATEGIES)}")
    return strategy


@dataclass(frozen=True)
class SearchPlan:
    """How a study searches.

    Attributes:
        strategy: a sampler name (one stage) or ``"coarse-to-fine"``.
        stages: the :class:`~hpsearch.strategies.stage.Stage` plans (samplers by name); one for a
            single-stage strategy.
        points: grid points per numeric parameter (``{name: k}``), or None.
        narrowing: coarse-to-fine narrowing options given (``top_fraction``, ``margin``,
            ``move_edges``, ``min_top``); the others keep their defaults.
        batch_size: trials asked at a time from adaptive samplers, or None for the default.
        sampler_options: keyword arguments for the constructor of every sampler that takes
            options (Sobol's, Optuna's; not random's or grid's, whose option is ``points``).
        fidelity: for ``"sha"`` / ``"hyperband"``: ``min_budget``, ``max_budget``, ``eta``,
            ``total_budget`` and ``sampler`` (see :data:`FIDELITY_DEFAULTS`); ``stages`` then
            holds the planned rungs (for display and totals only).
    """

    strategy: str
    stages: tuple
    points: dict = None
    narrowing: dict = field(default_factory=dict)
    batch_size: int = None
    sampler_options: dict = field(default_factory=dict)
    fidelity: dict = field(default_factory=dict)

    def __post_init__(self):
        check_strategy(self.strategy)
        if self.strategy in MULTI_FIDELITY:
            fidelity = {**FIDELITY_DEFAULTS, **self.fidelity}
            object.__setattr__(self, "fidelity", fidelity)
            from hpsearch.samplers import for_budgets

            # a sampler that cannot keep budgets apart is refused here, when the plan is read
            for_budgets(self.sampler(fidelity["sampler"]), self.strategy)
            brackets = self.brackets()
            object.__setattr__(self, "stages", tuple(rung_stages(brackets, fidelity["sampler"])))
            object.__setattr__(self, "_totals", (sum(b.n_configs for b in brackets),
                                                 sum(b.epochs() for b in brackets)))
        else:
            object.__setattr__(self, "stages", tuple(self.stages))
            if not self.stages:
                raise ValueError("a search plan needs at least one stage")
            promoted = [(s.promote, s.budget - prev.budget) for prev, s in zip(self.stages, self.stages[1:])]
            object.__setattr__(self, "_totals", (sum(s.n_trials for s in self.stages) + sum(p for p, _ in promoted),
                                                 sum(s.epochs for s in self.stages) + sum(p * d for p, d in promoted)))

    def brackets(self):
        """The brackets of a multi-fidelity plan (see :func:`~hpsearch.strategies.plan_brackets`).

        Raises:
            ValueError: a stage plan, no ``max_budget``, or budgets that hold no bracket.
        """
        if self.strategy not in MULTI_FIDELITY:
            raise ValueError(f"strategy {self.strategy!r} runs stages, not brackets")
        f = self.fidelity
        if f["max_budget"] is None:
            raise ValueError(f"strategy {self.strategy!r} needs max_budget (the budget of its last rung)")
        return plan_brackets(self.strategy, f["min_budget"], f["max_budget"], f["eta"], f["total_budget"])

    @property
    def total_trials(self):
        """Trials of a stage plan; configurations of a multi-fidelity one."""
        return self._totals[0]

    @property
    def total_epochs(self):
        """Epochs the plan trains (promoted trials counted once, as they continue)."""
        return self._totals[1]

    def convert(self, strategy=None, n_trials=None):
        """This plan for ``strategy`` at equal compute (see :meth:`stages_for`), as a SearchPlan."""
        strategy = check_strategy(self.strategy if strategy is None else strategy)
        if strategy in MULTI_FIDELITY:
            if strategy == self.strategy and n_trials is None:
                return self
            epochs = self.total_epochs if n_trials is None else \
                self.total_epochs * positive_int(n_trials, "the number of trials") / self.total_trials
            base = self.fidelity if self.strategy in MULTI_FIDELITY else \
                {"max_budget": max(s.budget for s in self.stages)}
            fidelity = {**FIDELITY_DEFAULTS, **base, "total_budget": max(1, int(round(epochs)))}
            return SearchPlan(strategy, (), points=self.points, batch_size=self.batch_size,
                              sampler_options=self.sampler_options, fidelity=fidelity)
        # the follow-up stage belongs to the plan's own strategy: a converted plan runs at equal compute
        narrowing = self.narrowing if strategy == self.strategy else \
            {k: v for k, v in self.narrowing.items() if k != "follow_up"}
        return SearchPlan(strategy, self.stages_for(strategy, n_trials), points=self.points,
                          narrowing=narrowing, batch_size=self.batch_size,
                          sampler_options=self.sampler_options)

    def stages_for(self, strategy=None, n_trials=None):
        """The stages to run, as :class:`~hpsearch.strategies.stage.Stage` plans.

        With ``strategy`` (another strategy than the plan's) or ``n_trials`` (a different
        total trial count) the plan is converted at equal compute: the same total number of
        trials and the same total epochs (rounded). A single-stage strategy gets
        ``n_trials = total trials`` and ``budget = round(total epochs / total trials)``;
        coarse-to-fine keeps the plan's stages (scaled to ``n_trials``), or, for a
        single-stage plan, splits it into 75% cheap trials at a third of the budget and
        25% trials that take the remaining epochs.

        A multi-fidelity target gets the same total epochs and the plan's largest budget as its
        ``max_budget``; its stages are the rungs it plans.

        Raises:
            ValueError: an unknown strategy, or a plan that cannot be made.
        """
        strategy = check_strategy(self.strategy if strategy is None else strategy)
        if strategy in MULTI_FIDELITY:
            return list(self.convert(strategy, n_trials).stages)
        total_trials, total_epochs = self.total_trials, self.total_epochs
        if n_trials is not None:
            n_trials = positive_int(n_trials, "the number of trials")
            total_epochs = total_epochs * n_trials / total_trials
            total_trials = n_trials
        if strategy != COARSE_TO_FINE:
            return [Stage(total_trials, max(1, round(total_epochs / total_trials)), strategy)]
        if self.strategy == COARSE_TO_FINE and strategy == COARSE_TO_FINE:
            promoted = sum(s.promote for s in self.stages)  # continued, not new: they keep their count
            counts = scale_counts([s.n_trials for s in self.stages], max(1, total_trials - promoted))
            if min(counts) < 1:
                raise ValueError(f"{total_trials} trials are too few for {len(self.stages)} coarse-to-fine stages")
            return [Stage(c, s.budget, s.sampler, promote=s.promote) for c, s in zip(counts, self.stages)]
        if total_trials < 2:
            raise ValueError(f"coarse-to-fine needs at least 2 trials, got {total_trials}")
        budget = total_epochs / total_trials
        n1 = max(1, min(total_trials - 1, round(0.75 * total_trials)))
        b1 = max(1, round(budget / 3))
        n2 = total_trials - n1
        b2 = max(1, round((total_epochs - n1 * b1) / n2))
        return [Stage(n1, b1, "random"), Stage(n2, b2, "random")]

    def sampler(self, name):
        """The sampler object for ``name`` with this plan's options (grid ``points``)."""
        from hpsearch.samplers import get_sampler

        if name == "grid":
            return get_sampler("grid", points=self.points) if self.points is not None else get_sampler("grid")
        if name == "random":
            return get_sampler("random")
        return get_sampler(name, **self.sampler_options)

    def make_strategy(self, stages=None):
        """The :class:`~hpsearch.strategies.Strategy` this plan runs (for a stage plan: running
        ``stages`` from :meth:`stages_for`, default its own)."""
        from hpsearch.strategies import CoarseToFine, Hyperband, Narrowing, SuccessiveHalving

        if self.strategy in MULTI_FIDELITY:
            options = dict(self.fidelity)
            if options["max_budget"] is None:
                raise ValueError(f"strategy {self.strategy!r} needs max_budget (the budget of its last rung)")
            options["sampler"] = self.sampler(options["sampler"])
            cls = SuccessiveHalving if self.strategy == "sha" else Hyperband
            return cls(batch_size=self.batch_size, **options)
        runnable = [Stage(s.n_trials, s.budget, self.sampler(s.sampler), promote=s.promote)
                    for s in (stages or self.stages)]
        return CoarseToFine(runnable, Narrowing(**self.narrowing), batch_size=self.batch_size)
