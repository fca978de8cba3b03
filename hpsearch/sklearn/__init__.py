"""hpsearch for scikit-learn users: search estimators and a cross-validation objective.

- :class:`RandomizedSearchCV`, :class:`GridSearchCV`: scikit-learn's, with the same signatures,
  candidates and results (change one import line), plus hpsearch's extras as keyword arguments:
  ``storage=`` (resume), ``progress``, ``follow_up``, edge warnings (:class:`hpsearch.EdgeWarning`),
  the same results for any ``n_jobs``.
- :class:`SearchCV`: hpsearch's strategies as a search estimator: log ranges, coarse-to-fine,
  successive halving over a resource, Sobol and Optuna samplers.
- :class:`BaseSearch`: the one engine the three share (a study of a :class:`CVObjective`).
- :class:`CVObjective`: an estimator cross-validated as an objective of the search protocol,
  for :class:`hpsearch.Study`; :func:`cv_objective` builds one from a study file's
  ``[trainer.settings]``.
"""
from hpsearch.sklearn._base_search import BaseSearch
from hpsearch.sklearn._drop_in import GridSearchCV, RandomizedSearchCV
from hpsearch.sklearn._factory import DATASETS, cv_objective
from hpsearch.sklearn._objective import N_SAMPLES, CVObjective
from hpsearch.sklearn._search import SearchCV
from hpsearch.sklearn._space import SklearnSpace

__all__ = ["RandomizedSearchCV", "GridSearchCV", "SearchCV", "BaseSearch", "CVObjective", "cv_objective",
           "SklearnSpace", "DATASETS", "N_SAMPLES"]
