"""SearchCV: hpsearch's strategies as a scikit-learn search estimator.

``SearchCV(estimator, space, strategy="random", n_trials=10).fit(X, y)`` is used like
``RandomizedSearchCV`` (the same ``cv_results_``, ``best_*`` and delegated methods: the one
engine of :class:`~hpsearch.sklearn.BaseSearch`), but its candidates come from an hpsearch
strategy: random, grid, Sobol or Optuna samplers over log ranges, coarse-to-fine, successive
halving and Hyperband over a resource. A best value at the edge of its range is flagged (an
:class:`~hpsearch.errors.EdgeWarning` and ``boundary_``), and a follow-up stage settles the
edges the search left suspect (``follow_up``; on after coarse-to-fine). Every ``fit`` starts a
fresh search, unless ``storage`` holds the study ``name``, which it resumes.
"""
import numpy as np

from hpsearch.sklearn._base_search import BaseSearch
from hpsearch.sklearn._objective import N_SAMPLES
from hpsearch.sklearn._plan import check_follow_up, is_staged, make_strategy
from hpsearch.sklearn._space import SklearnSpace

__all__ = ["SearchCV"]


class SearchCV(BaseSearch):
    """Hyperparameter search of a scikit-learn estimator with hpsearch's strategies.

    Args:
        estimator: the estimator (or Pipeline) to tune; cloned, never fitted itself.
        space: dict of parameter name (``"clf__C"`` for pipelines) -> hpsearch distribution
            (``LogUniform(1e-3, 1e3)``), scipy.stats frozen distribution or list of values; or a
            list of such dicts, alternatives: ``hp.Space([...])`` (see :class:`SklearnSpace`).
        strategy: ``"random"``, ``"grid"``, ``"sobol"``, ``"tpe"`` (any hpsearch sampler name),
            ``"coarse-to-fine"``, ``"sha"`` or ``"hyperband"`` (the last two need ``resource``).
        n_trials: candidates to try (sha/hyperband: full fits worth of compute).
        stages: coarse-to-fine's stages (:class:`hpsearch.Stage`, an int of trials, or a dict);
            None splits ``n_trials`` 75/25 into a cheap wide stage and a narrowed one.
        resource: what a stage's budget gives a candidate: None (whole folds), ``"n_samples"``
            or an estimator parameter (``"max_iter"``, ``"n_estimators"``).
        max_resource, min_resource: the largest and (sha/hyperband) smallest budget; defaults:
            the smallest training fold for ``"n_samples"`` (max_resource is required for a
            parameter resource), and ``max_resource // 9``.
        scoring, cv, refit, error_score, return_train_score: as in ``RandomizedSearchCV``.
        n_jobs: parallel candidates (None: 1; -1: all cores).
        verbose: scikit-learn's ``verbose`` (> 1: a line per fit; > 2 with its scores).
        seed: the study seed (int): the same seed gives the same ``cv_results_`` for any n_jobs.
        storage: None (in memory) or an SQLite file path: interrupted or repeated fits resume.
        name: the study's name in ``storage`` (default ``"sklearn-search"``).
        progress: show a progress bar (tqdm).
        backend: where the fits run: None (the default) runs ``n_jobs=None``/1 in this process, as
            scikit-learn does, and several jobs on isolated worker processes; or a name
            (``"loky"``, ``"threading"``, ``"multiprocessing"``, ``"dask"``).
        follow_up: after the last stage, settle each edge the search left suspect (at most 2) with
            10 more candidates, the best one's with that parameter a step inside or outside the
            edge (:mod:`hpsearch.strategies.follow_up`): True, False, or None (the default: on
            for ``"coarse-to-fine"``, off for a sampler; not for sha/hyperband).

    Attributes:
        cv_results_, best_index_, best_params_, best_score_, best_estimator_, refit_time_,
        scorer_, multimetric_, n_splits_: as in ``RandomizedSearchCV``. With the follow-up on,
        ``cv_results_`` has a row per follow-up candidate too (ranked with the others: one may
        be the best) and a ``follow_up`` column (``"gamma:high"``, ``""`` for the search's own).
        boundary_: list of :class:`hpsearch.BoundaryFlag` for parameters whose best value sits at
            an edge of its range (each also warned as an :class:`~hpsearch.errors.EdgeWarning`).
        edge_report_: what the search says about its ranges' edges, as ``result_.summary()``
            words it: a search too small for the edge test (also one ``EdgeWarning``), the flags,
            each followed-up edge confirmed or cleared and the extra fits it cost.
        result_: the :class:`hpsearch.SearchResult` (trials table, stages, summary()).
    """

    def __init__(self, estimator, space, *, strategy="random", n_trials=10, stages=None, resource=None,
                 max_resource=None, min_resource=None, scoring=None, cv=None, refit=True, n_jobs=None, seed=0,
                 storage=None, name=None, progress=False, error_score=np.nan, return_train_score=False,
                 backend=None, verbose=0, follow_up=None):
        self.estimator = estimator
        self.space = space
        self.strategy = strategy
        self.n_trials = n_trials
        self.stages = stages
        self.resource = resource
        self.max_resource = max_resource
        self.min_resource = min_resource
        self.scoring = scoring
        self.cv = cv
        self.refit = refit
        self.n_jobs = n_jobs
        self.seed = seed
        self.storage = storage
        self.name = name
        self.progress = progress
        self.error_score = error_score
        self.return_train_score = return_train_score
        self.backend = backend
        self.verbose = verbose
        self.follow_up = follow_up

    def _study_seed(self):
        return self.seed

    def _staged(self):
        return is_staged(self.strategy, self.resource)

    def _follow_up(self):
        return check_follow_up(self.follow_up, self.strategy)

    def _plan(self, objective):
        space = SklearnSpace(self.space)
        strategy = make_strategy(self.strategy, self.n_trials, self.stages, self.resource,
                                 self._max_resource(objective), self.min_resource, one_candidate=space.empty,
                                 follow_up=self.follow_up)
        return space.space, strategy, space, None

    def _max_resource(self, objective):
        if self.resource is None:
            return 1
        if self.max_resource is not None:
            from hpsearch.checks import positive_int

            return positive_int(self.max_resource, "max_resource")
        if self.resource == N_SAMPLES:
            return min(len(train) for train, _ in objective.splits)
        raise ValueError(f"resource={self.resource!r} needs max_resource (the budget of a full fit, e.g. the "
                         f"estimator's default {self.resource}={self.estimator.get_params().get(self.resource)!r})")

    def _candidate_params(self, records, decoder):
        """Each candidate's params as the estimator took them (the resource parameter included), keys
        sorted as scikit-learn's samplers sort them (so the ``param_<name>`` columns come in its order)."""
        params = []
        for record in records:
            values = decoder.decode(record["params"])
            if self.resource not in (None, N_SAMPLES):
                values[self.resource] = record["budget"]
            params.append(dict(sorted(values.items())))
        return params
