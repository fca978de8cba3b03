"""StudyDefinition: everything a study needs before it runs, wherever it was written down.

A study file (:mod:`hpsearch.studyfile.reader`) is one way to write it; ``compare_strategies``
takes the same parts as a dict (:meth:`StudyDefinition.from_parts`). Both give a
definition that makes the :class:`~hpsearch.study.Study` and runs its search plan, or
that plan converted to another strategy at equal compute.
"""
from dataclasses import dataclass

from hpsearch.checks import check_direction, check_seed
from hpsearch.strategies.planning import COARSE_TO_FINE, SearchPlan

__all__ = ["StudyDefinition"]

_PARTS = ("objective", "space", "metric", "direction", "name", "seed", "stages", "n_trials", "budget", "points")


@dataclass
class StudyDefinition:
    """A study's settings, checked, ready to run.

    Attributes:
        name: the study name (also the default run folder ``runs/<name>/``).
        metric, direction, seed: what to optimise, and the study seed.
        objective: the objective (a callable of the search protocol).
        space: the :class:`~hpsearch.space.Space`.
        search: the :class:`~hpsearch.strategies.planning.SearchPlan`.
        n_jobs, backend: defaults for running (the caller's options win); None: all cores, loky.
        confirm: a :class:`~hpsearch.strategies.confirmed.Confirmation` to run after the search, or None.
        trial_timeout: seconds one objective call may take (the caller's option wins), or None.
    """

    name: str
    metric: str
    direction: str
    seed: int
    objective: object
    space: object
    search: SearchPlan
    n_jobs: int = None
    backend: str = None
    confirm: object = None
    trial_timeout: float = None

    @property
    def strategy(self):
        """The plan's strategy name."""
        return self.search.strategy

    @property
    def stages(self):
        """The coarse-to-fine stages, or None for a single-stage strategy."""
        return list(self.search.stages) if self.search.strategy == COARSE_TO_FINE else None

    def plan(self, strategy=None, n_trials=None):
        """The stages to run, possibly converted at equal compute (see :meth:`SearchPlan.stages_for`)."""
        return self.search.stages_for(strategy, n_trials)

    def build_strategy(self, strategy=None, n_trials=None):
        """The :class:`~hpsearch.strategies.Strategy` this definition runs: its plan (or the plan
        converted to ``strategy`` / ``n_trials`` at equal compute, see :meth:`plan`), followed by
        the confirmation when the definition has one. Built once per run: ``--dry-run``, the
        run's header and the run itself all read this one object."""
        from hpsearch.study import confirmed

        return confirmed(self.search.convert(strategy, n_trials).make_strategy(), self.confirm, self.objective,
                         self.space)

    def planned_stages(self, strategy=None, n_trials=None):
        """The stages the (converted) plan will run, as the strategy sees them before running: a
        grid stage's count is its largest grid (an upper bound for later coarse-to-fine stages);
        for sha/hyperband, every rung of every bracket."""
        return self.build_strategy(strategy, n_trials).planned(self.space, self.seed, self.direction)

    def make_study(self, storage=None, name=None):
        """A :class:`~hpsearch.study.Study` of this definition's objective, space and metric."""
        from hpsearch.study import Study

        return Study(self.objective, self.space, metric=self.metric, direction=self.direction,
                     storage=None if storage is None else str(storage), name=name or self.name)

    def run(self, study, built=None, *, strategy=None, n_trials=None, seed=None, n_jobs=None, backend=None,
            **run_options):
        """Run this definition's search (or its equal-compute conversion) on ``study``.

        Args:
            study: from :meth:`make_study`.
            built: the strategy from :meth:`build_strategy`, when the caller has it already;
                else it is built from ``strategy`` and ``n_trials``.
            strategy, n_trials: convert the plan (see :meth:`plan`).
            seed, n_jobs, backend: override the definition's (n_jobs default ``"auto"``: all cores
                unless the study is too small to pay for starting workers).
            **run_options: the other keyword arguments of :meth:`Study.run`.

        Returns:
            the :class:`~hpsearch.results.search_result.SearchResult`.
        """
        if built is None:
            built = self.build_strategy(strategy, n_trials)
        n_jobs = n_jobs or self.n_jobs or "auto"
        if run_options.get("trial_timeout") is None:
            run_options["trial_timeout"] = self.trial_timeout
        return study.run(built, seed=self.seed if seed is None else seed,
                         n_jobs=n_jobs, backend=backend or self.backend or "loky", **run_options)

    @classmethod
    def from_parts(cls, parts):
        """A definition from a dict of parts: ``objective``, ``space`` and either ``stages`` (a list
        of :class:`~hpsearch.strategies.stage.Stage` or ``(n_trials, budget[, sampler])`` tuples) or
        ``n_trials`` and ``budget``; optional ``metric`` (default ``"val_acc"``), ``direction``
        (``"maximize"``), ``name`` (``"compare"``), ``seed`` (0), ``points``.

        Raises:
            ValueError: an unknown or missing part.
        """
        from hpsearch.space import Space
        from hpsearch.strategies.stage import Stage

        unknown = sorted(set(parts) - set(_PARTS))
        if unknown:
            raise ValueError(f"unknown part {unknown[0]!r}; expected {', '.join(sorted(_PARTS))}")
        for key in ("objective", "space"):
            if key not in parts:
                raise ValueError(f"missing part {key!r}")
        if parts.get("stages") is not None:
            stages = [_stage(s) for s in parts["stages"]]
            strategy = COARSE_TO_FINE
        elif "n_trials" in parts and "budget" in parts:
            stages, strategy = [Stage(int(parts["n_trials"]), int(parts["budget"]))], "random"
        else:
            raise ValueError("give 'stages' or both 'n_trials' and 'budget'")
        space = parts["space"] if isinstance(parts["space"], Space) else Space(parts["space"])
        return cls(name=parts.get("name", "compare"), metric=parts.get("metric", "val_acc"),
                   direction=check_direction(parts.get("direction", "maximize")),
                   seed=check_seed(parts.get("seed", 0)), objective=parts["objective"], space=space,
                   search=SearchPlan(strategy, stages, points=parts.get("points")))


def _stage(stage):
    """A Stage plan (sampler by name) from a Stage or a tuple ``(n_trials, budget[, sampler])``."""
    from hpsearch.strategies.stage import Stage

    if isinstance(stage, Stage):
        return Stage(stage.n_trials, stage.budget, stage.sampler if isinstance(stage.sampler, str) else "random",
                     promote=stage.promote)
    return Stage(*stage)
