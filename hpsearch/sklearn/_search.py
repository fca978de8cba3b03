"""SearchCV: a scikit-learn meta-estimator that runs an hpsearch study of a CVObjective.

``SearchCV(estimator, space, strategy="random", n_trials=10).fit(X, y)`` is used like
``RandomizedSearchCV``: the same ``cv_results_``, ``best_params_``, ``best_estimator_`` and
delegated ``predict``/``score``/... Underneath, a :class:`~hpsearch.study.Study` proposes the
candidates (every hpsearch strategy), runs them on a worker pool, stores them (resumable with
``storage``) and flags a best value at the edge of its range (a ``UserWarning`` and
``boundary_``). Nothing is validated or computed in ``__init__`` (scikit-learn's rule); every
``fit`` starts a fresh search, unless ``storage`` holds the study ``name``, which it resumes.
"""
import warnings

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from hpsearch.sklearn._objective import N_SAMPLES, CVObjective
from hpsearch.sklearn._plan import is_staged, make_strategy
from hpsearch.sklearn._results import best_index, cv_results, metric_names
from hpsearch.sklearn._scoring import refit_metric
from hpsearch.sklearn._space import SklearnSpace

__all__ = ["SearchCV"]

#: The name of the study in ``storage`` when ``name`` is None.
DEFAULT_NAME = "sklearn-search"


def _estimator_has(attr):
    """For ``available_if``: the fitted best estimator (else the estimator) has ``attr``; refit is on."""

    def check(self):
        if not self.refit:
            raise AttributeError(f"This {type(self).__name__} instance was initialized with refit=False; {attr} "
                                 f"is available only after refitting on the best parameters")
        getattr(self.best_estimator_ if hasattr(self, "best_estimator_") else self.estimator, attr)
        return True

    return check


class SearchCV(MetaEstimatorMixin, BaseEstimator):
    """Hyperparameter search of a scikit-learn estimator with hpsearch's strategies.

    Args:
        estimator: the estimator (or Pipeline) to tune; cloned, never fitted itself.
        space: dict of parameter name (``"clf__C"`` for pipelines) -> hpsearch distribution
            (``LogUniform(1e-3, 1e3)``), scipy.stats frozen distribution or list of values.
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
        seed: the study seed (int): the same seed gives the same ``cv_results_`` for any n_jobs.
        storage: None (in memory) or an SQLite file path: interrupted or repeated fits resume.
        name: the study's name in ``storage`` (default ``"sklearn-search"``).
        progress: show a progress bar (tqdm).
        backend: the joblib backend of the workers (``"loky"``, ``"threading"``, ...).

    Attributes:
        cv_results_, best_index_, best_params_, best_score_, best_estimator_, refit_time_,
        scorer_, multimetric_, n_splits_: as in ``RandomizedSearchCV``.
        boundary_: list of :class:`hpsearch.BoundaryFlag` for parameters whose best value sits at
            an edge of its range (each also warned as a ``UserWarning``).
        result_: the :class:`hpsearch.SearchResult` (trials table, stages, summary()).
    """

    def __init__(self, estimator, space, *, strategy="random", n_trials=10, stages=None, resource=None,
                 max_resource=None, min_resource=None, scoring=None, cv=None, refit=True, n_jobs=None, seed=0,
                 storage=None, name=None, progress=False, error_score=np.nan, return_train_score=False,
                 backend="loky"):
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

    def __sklearn_tags__(self):
        from copy import deepcopy

        from sklearn.utils import get_tags

        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = deepcopy(inner.classifier_tags)
        tags.regressor_tags = deepcopy(inner.regressor_tags)
        tags.target_tags = deepcopy(inner.target_tags)  # e.g. multi-output: what y the search accepts
        tags.input_tags.pairwise = inner.input_tags.pairwise
        tags.input_tags.sparse = inner.input_tags.sparse
        return tags

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, **fit_params):
        """Search ``space`` by cross-validation on ``(X, y)``, then refit the best candidate on all of it.

        Args:
            X, y: the data, as for the estimator's ``fit``.
            **fit_params: passed to the estimator's ``fit`` (per-sample arrays are cut per fold);
                ``groups`` goes to the splitter.

        Returns:
            self.

        Raises:
            ValueError: bad settings (named in the message), or every fit failed.
            Exception: with ``error_score="raise"``, the first failing fit's own error.
        """
        from sklearn.utils import get_tags

        if y is None and get_tags(self.estimator).target_tags.required:
            raise ValueError(f"{type(self.estimator).__name__} requires y to be passed, but the target y is None")
        fit_params = dict(fit_params)
        groups = fit_params.pop("groups", None)
        space = SklearnSpace(self.space)
        objective = CVObjective(self.estimator, X, y, cv=5 if self.cv is None else self.cv, scoring=self.scoring,
                                resource=self.resource, groups=groups, fit_params=fit_params,
                                error_score=self.error_score, return_train_score=self.return_train_score,
                                decode=space, subsample_seed=self.seed)
        names = list(objective.scorers) if objective.multimetric else ["score"]
        metric = refit_metric(self.refit, names, objective.multimetric)
        result = self._run(objective, space, metric)
        self._set_results(objective, space, result, metric)
        if self.refit:
            self._refit(X, y, fit_params)
        return self

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

    def _run(self, objective, space, metric):
        from hpsearch.study import Study

        strategy = make_strategy(self.strategy, self.n_trials, self.stages, self.resource,
                                 self._max_resource(objective), self.min_resource)
        study = Study(objective, space.space, metric=f"mean_test_{metric}", direction="maximize",
                      storage=self.storage, name=DEFAULT_NAME if self.name is None else self.name)
        callbacks = [_Reraise(objective)] if self.error_score == "raise" else []
        with warnings.catch_warnings():
            # a fit cannot be continued: sha/hyperband refit promoted candidates from scratch, as Halving*SearchCV
            warnings.filterwarnings("ignore", message=".*cannot continue trials from checkpoints.*")
            return study.run(strategy, n_jobs=1 if self.n_jobs is None else self.n_jobs, seed=self.seed,
                             backend=self.backend, progress=self.progress, callbacks=callbacks, fail_fast=None)

    def _candidates(self, records, space):
        """Each candidate's params as the estimator took them (the resource parameter included), keys
        sorted as scikit-learn's samplers sort them (so the ``param_<name>`` columns come in its order)."""
        params = []
        for record in records:
            values = space.decode(record["params"])
            if self.resource not in (None, N_SAMPLES):
                values[self.resource] = record["budget"]
            params.append(dict(sorted(values.items())))
        return params

    def _set_results(self, objective, space, result, metric):
        records = result.records
        _check_failures(records, objective)
        names = metric_names(records) or (list(objective.scorers) if objective.multimetric else ["score"])
        self.multimetric_ = objective.multimetric or names != ["score"]
        self.n_splits_ = objective.n_splits
        self.cv_results_ = cv_results(records, self._candidates(records, space), objective.n_splits, names,
                                      self.error_score, self.return_train_score,
                                      stages=is_staged(self.strategy, self.resource))
        if self.refit or not self.multimetric_:
            self.best_index_ = best_index(self.cv_results_, records, metric, self.refit)
            if not callable(self.refit):
                self.best_score_ = float(self.cv_results_[f"mean_test_{metric}"][self.best_index_])
            self.best_params_ = self.cv_results_["params"][self.best_index_]
        self.scorer_ = objective.scorers
        self.boundary_ = list(result.boundary)
        for flag in self.boundary_:
            warnings.warn(f"{type(self).__name__}: {flag.suggestion}", UserWarning, stacklevel=3)
        self.result_ = result

    def _refit(self, X, y, fit_params):
        import time

        self.best_estimator_ = clone(self.estimator).set_params(**clone(self.best_params_, safe=False))
        start = time.perf_counter()
        if y is None:
            self.best_estimator_.fit(X, **fit_params)
        else:
            self.best_estimator_.fit(X, y, **fit_params)
        self.refit_time_ = time.perf_counter() - start
        if hasattr(self.best_estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.best_estimator_.feature_names_in_

    # ------------------------------------------------------------------ the best estimator's methods
    def score(self, X, y=None):
        """The ``scoring`` of ``best_estimator_`` on ``(X, y)`` (the refit metric's when several)."""
        check_is_fitted(self)
        if not self.refit:
            raise AttributeError(f"This {type(self).__name__} instance was initialized with refit=False; score "
                                 f"is available only after refitting on the best parameters")
        if isinstance(self.scorer_, dict):
            return self.scorer_[self.refit](self.best_estimator_, X, y)
        value = self.scorer_(self.best_estimator_, X, y)
        return value[self.refit] if isinstance(value, dict) else value

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """``best_estimator_.predict(X)``."""
        check_is_fitted(self)
        return self.best_estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """``best_estimator_.predict_proba(X)``."""
        check_is_fitted(self)
        return self.best_estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """``best_estimator_.predict_log_proba(X)``."""
        check_is_fitted(self)
        return self.best_estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """``best_estimator_.decision_function(X)``."""
        check_is_fitted(self)
        return self.best_estimator_.decision_function(X)

    @available_if(_estimator_has("score_samples"))
    def score_samples(self, X):
        """``best_estimator_.score_samples(X)``."""
        check_is_fitted(self)
        return self.best_estimator_.score_samples(X)

    @available_if(_estimator_has("transform"))
    def transform(self, X):
        """``best_estimator_.transform(X)``."""
        check_is_fitted(self)
        return self.best_estimator_.transform(X)

    @available_if(_estimator_has("inverse_transform"))
    def inverse_transform(self, X):
        """``best_estimator_.inverse_transform(X)``."""
        check_is_fitted(self)
        return self.best_estimator_.inverse_transform(X)

    @property
    def n_features_in_(self):
        """Number of features seen during fit (after a refit)."""
        from sklearn.exceptions import NotFittedError

        try:
            check_is_fitted(self)
        except NotFittedError as exc:
            raise AttributeError(f"{type(self).__name__} object has no n_features_in_ attribute") from exc
        return self.best_estimator_.n_features_in_

    @property
    def classes_(self):
        """The class labels (a classifier, after a refit)."""
        _estimator_has("classes_")(self)
        return self.best_estimator_.classes_


def _check_failures(records, objective):
    """ValueError when every fit failed; a ``FitFailedWarning`` when some did (scikit-learn's rules)."""
    from sklearn.exceptions import FitFailedWarning

    n_splits = objective.n_splits
    failed_trials = [r for r in records if r["status"] == "failed"]
    failed = n_splits * len(failed_trials) + sum(int(r["metrics"].get("n_failed_fits", 0)) for r in records
                                                 if r["status"] != "failed")
    total = n_splits * len(records)
    if not failed:
        return
    examples = "; ".join(dict.fromkeys(r["error"] for r in failed_trials[:3])) or "see the estimator's fit"
    if failed == total:
        raise ValueError(f"All the {total} fits failed (every candidate, every split); the estimator is likely "
                         f"misconfigured. Errors: {examples}")
    warnings.warn(f"{failed} fits failed out of a total of {total}; the score of each failed fit is "
                  f"error_score={objective.error_score!r}. Errors of candidates whose every fit failed: {examples}",
                  FitFailedWarning, stacklevel=3)


class _Reraise:
    """With ``error_score="raise"``: a failed trial is fitted again here, so that its own
    exception (type, message, traceback) reaches the caller, as scikit-learn raises it."""

    def __init__(self, objective):
        self.objective = objective

    def __call__(self, record):
        if record["status"] != "failed":
            return
        self.objective(record["params"], record["budget"], record["seed"])
        raise RuntimeError(f"trial {record['number']} failed in its worker but not when fitted again here "
                           f"(a fit that fails at random?): {record['error']}")
