"""Search strategies: what to try next, round by round; the run loop runs, stores and resumes.

- :class:`CoarseToFine`: stages in order, each in the space narrowed around the last one's
  best trials; one stage is plain random / grid / Sobol / Optuna search.
- :class:`SuccessiveHalving`, :class:`Hyperband`: brackets that keep the best
  configurations and continue them from their checkpoints at larger budgets.

A new strategy subclasses :class:`Strategy` (see :mod:`hpsearch.strategies._base` for the
protocol) and goes in its own module here, re-exported below.
"""
from hpsearch.strategies._base import DEFAULT_BATCH, PlanDescription, RunContext, Strategy, TrialRequest
from hpsearch.strategies._coarse_to_fine import CoarseToFine, Narrowing
from hpsearch.strategies._halving import (DEFAULT_ETA, Bracket, Hyperband, SuccessiveHalving, plan_brackets,
                                         rung_budgets, rung_stages)

__all__ = ["Strategy", "TrialRequest", "RunContext", "PlanDescription", "DEFAULT_BATCH", "DEFAULT_ETA", "CoarseToFine", "Narrowing",
           "SuccessiveHalving", "Hyperband", "Bracket", "rung_budgets", "plan_brackets", "rung_stages"]
