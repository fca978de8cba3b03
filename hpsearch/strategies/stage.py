"""Stage: one stage of a search, as planned and as it ran (one type for both).

A plan says how many trials, with what budget, from which sampler
(``Stage(48, 3, "random")``). Once the stage has run, the study records it with its
``index`` and the ``space`` it sampled from (narrowed, for later coarse-to-fine stages),
the ``repr`` of its sampler and the number of trials the sampler really proposed
(a grid may propose fewer than asked).
"""
from dataclasses import dataclass, replace
from typing import Any

from hpsearch.checks import check_budget, check_trials

__all__ = ["Stage", "StageRecord"]


@dataclass(frozen=True)
class Stage:
    """One stage of a search: how many trials, with what budget, from which sampler.

    Args:
        n_trials: positive int, the trials to propose (grid may propose fewer).
        budget: positive int handed to every trial (epochs for the MLP).
        sampler: a sampler name (``"random"``, ``"grid"``, ``"sobol"``, ``"tpe"``, ...),
            a sampler object, or an ``optuna.samplers.BaseSampler``. In a stage that has
            run (``index`` set), the ``repr`` of the sampler that ran it.
        index: the stage's position in the study (0-based), once it has run; else None.
        space: the :class:`~hpsearch.space.Space` it sampled from, once it has run; else None.
        promote: coarse-to-fine only: also continue the best ``promote`` trials of the previous
            stage to this stage's budget, from their checkpoints (they keep their parameters).

    Raises:
        ValueError: a non-positive or non-integer count/budget, a negative ``promote``, or an
            unknown sampler name.
    """

    n_trials: int
    budget: int
    sampler: Any = "random"
    index: int = None
    space: Any = None
    promote: int = 0

    def __post_init__(self):
        check_budget(self.budget, "Stage budget")
        check_trials(self.n_trials, "Stage n_trials", self.budget)
        if isinstance(self.promote, bool) or not isinstance(self.promote, int) or self.promote < 0:
            raise ValueError(f"Stage promote must be a non-negative integer, got {self.promote!r}")
        if self.index is None:
            # unknown names and objects without the sampler interface fail here, not in trial 37
            from hpsearch.samplers import check_sampler

            check_sampler(self.sampler)

    @property
    def epochs(self):
        """The stage's total budget: ``n_trials * budget``."""
        return self.n_trials * self.budget

    def ran(self, index, space, sampler, n_trials):
        """This stage as it ran: at ``index``, over ``space``, by ``sampler`` (its repr), ``n_trials`` proposed."""
        return replace(self, index=int(index), space=space, sampler=str(sampler), n_trials=int(n_trials))


def StageRecord(index, space, sampler, n_trials, budget):  # noqa: N802 - the 0.1 spelling, kept working
    """A stage as it ran, in the argument order of hpsearch 0.1: the same :class:`Stage` type."""
    return Stage(int(n_trials), budget, str(sampler), index=int(index), space=space)
