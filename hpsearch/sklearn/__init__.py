"""hpsearch for scikit-learn users: a search estimator and a cross-validation objective.

- :class:`SearchCV`: a drop-in for ``RandomizedSearchCV`` (same ``cv_results_``, ``best_*``,
  delegated ``predict``/``score``) running hpsearch's strategies: log ranges, coarse-to-fine,
  successive halving over a resource, edge warnings, progress, resume from a storage, the
  same results for any ``n_jobs``.
- :class:`CVObjective`: an estimator cross-validated as an objective of the search protocol,
  for :class:`hpsearch.Study`; :func:`cv_objective` builds one from a study file's
  ``[trainer.settings]``.

Only scikit-learn's public API is used.
"""
from hpsearch.sklearn._factory import DATASETS, cv_objective
from hpsearch.sklearn._objective import N_SAMPLES, CVObjective
from hpsearch.sklearn._search import SearchCV
from hpsearch.sklearn._space import SklearnSpace

__all__ = ["SearchCV", "CVObjective", "cv_objective", "SklearnSpace", "DATASETS", "N_SAMPLES"]
