"""BaseSearch: the one engine behind SearchCV, RandomizedSearchCV and GridSearchCV.

``fit`` does what scikit-learn's ``BaseSearchCV.fit`` does (scorers from ``check_scoring``,
fit/score/split parameters routed by ``process_routing`` when metadata routing is on, else
``groups`` to the splitter and ``sample_weight`` to the scorers that take it; scikit-learn
callbacks; the refit), but the candidates run as an hpsearch :class:`~hpsearch.study.Study` of a
:class:`~hpsearch.sklearn.CVObjective`: on a worker pool with the same results for any
``n_jobs``, stored and resumable with ``storage``, with a progress bar and edge warnings.
A subclass says only which candidates to run: :meth:`BaseSearch._plan` (a space, a strategy
and the decoder of the stored params). Nothing is validated or computed in ``__init__``
(scikit-learn's rule).
"""
import time
import warnings

from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.callback import CallbackSupportMixin, with_callbacks
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from hpsearch.results.summary import edge_lines, small_study_lines
from hpsearch.sklearn._objective import SEARCH_SCORE, CVObjective
from hpsearch.sklearn._results import best_index, cv_results, metric_names
from hpsearch.sklearn._scoring import Scoring, check_refit_for_multimetric

__all__ = ["BaseSearch", "DEFAULT_NAME"]

#: The name of the study in ``storage`` when ``name`` is None.
DEFAULT_NAME = "sklearn-search"


def _check_refit(search, attr):
    if not search.refit:
        raise AttributeError(f"This {type(search).__name__} instance was initialized with `refit=False`. {attr} is "
                             f"available only after refitting on the best parameters. You can refit an estimator "
                             f"manually using the `best_params_` attribute")


def _estimator_has(attr):
    """For ``available_if``: refit is on and the best estimator (else the estimator) has ``attr``."""

    def check(self):
        _check_refit(self, attr)
        getattr(self.best_estimator_ if hasattr(self, "best_estimator_") else self.estimator, attr)
        return True

    return check


def _n_jobs(n_jobs):
    """scikit-learn's ``n_jobs``: None -> 1, -1 -> every core, -2 -> all but one, ..."""
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, int) and not isinstance(n_jobs, bool) and n_jobs < 0:
        import joblib

        return max(1, joblib.cpu_count() + 1 + n_jobs)
    return n_jobs


class BaseSearch(MetaEstimatorMixin, CallbackSupportMixin, BaseEstimator):
    """What every hpsearch search estimator shares (see the module docstring).

    Subclasses set the attributes ``estimator, scoring, n_jobs, refit, cv, verbose, error_score,
    return_train_score, storage, name, progress, backend`` in ``__init__`` and implement
    :meth:`_plan`.
    """

    #: the seed of the study (trial seeds; SearchCV's proposals): overridden where the user gives one
    def _study_seed(self):
        return 0

    def _plan(self, objective):
        """``(space, strategy, decoder, n_candidates)``: the study's Space, the Strategy to run, the
        decoder of stored params (``decode(params)``, ``describe()``, optionally ``index(params)``) and
        the number of candidates when known before running (else None)."""
        raise NotImplementedError

    def _candidate_params(self, records, decoder):
        """Each record's params as the estimator took them (``cv_results_["params"]``)."""
        return [decoder.decode(r["params"]) for r in records]

    def _staged(self):
        return False

    def _follow_up(self):
        """True when the strategy ends with a follow-up stage (``cv_results_`` then has its column)."""
        return False

    def __sklearn_tags__(self):
        from copy import deepcopy

        from sklearn.utils import get_tags

        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = deepcopy(inner.classifier_tags)
        tags.regressor_tags = deepcopy(inner.regressor_tags)
        tags.target_tags = deepcopy(inner.target_tags)  # e.g. multi-output: what y the search accepts
        tags.input_tags.pairwise = inner.input_tags.pairwise  # precomputed kernels: folds cut on columns too
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.array_api_support = inner.array_api_support
        return tags

    # ------------------------------------------------------------------ fit
    @with_callbacks
    def fit(self, X, y=None, **params):
        """Search the candidates by cross-validation on ``(X, y)``, then refit the best one on all of it.

        Args:
            X, y: the data, as for the estimator's ``fit`` (``y`` None for unsupervised estimators).
            **params: for the estimator's ``fit`` (per-sample arrays are cut per fold), the
                splitter (``groups``) and the scorer (``sample_weight``); with metadata routing
                on, routed as each of them requests.

        Returns:
            self.

        Raises:
            ValueError: bad settings (scikit-learn's messages), or every fit failed.
            Exception: with ``error_score="raise"``, the first failing fit's own error.
        """
        from sklearn.utils import get_tags, indexable

        scoring = Scoring(self.estimator, self.scoring, self.refit, self.error_score)
        if y is None and get_tags(self.estimator).target_tags.required:
            raise ValueError(f"{type(self.estimator).__name__} requires y to be passed, but the target y is None")
        X, y = indexable(X, y)
        fit_params, score_params, split_params = self._route(scoring, params)
        weight = fit_params.get("sample_weight")
        metadata = None if weight is None else {"sample_weight": weight}
        root = self._init_callback_context(max_subtasks=1 + (self.refit is not False)) \
            .call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)
        refit_metric = scoring.refit_metric
        rank_by = self.refit if isinstance(self.refit, str) else "score"   # else the first metric
        objective = CVObjective(self.estimator, X, y, cv=5 if self.cv is None else self.cv, scoring=scoring,
                                resource=getattr(self, "resource", None), fit_params=fit_params,
                                score_params=score_params, split_params=split_params, error_score=self.error_score,
                                return_train_score=self.return_train_score, subsample_seed=self._study_seed(),
                                rank_by=rank_by, verbose=self.verbose, caller=self,
                                identify=self.storage is not None)
        self.n_splits_ = objective.n_splits
        space, strategy, decoder, n_candidates = self._plan(objective)
        objective.decode = decoder
        search = root.subcontext(task_name="search", max_subtasks=None if n_candidates is None else
                                 n_candidates * objective.n_splits, sequential_subtasks=False) \
            .call_on_fit_task_begin(estimator=self)
        if n_candidates is not None:
            if self.verbose > 0:
                print(f"Fitting {objective.n_splits} folds for each of {n_candidates} candidates, totalling "
                      f"{n_candidates * objective.n_splits} fits")
            tasks = iter(range(n_candidates * objective.n_splits))
            objective.callback_contexts = [
                [search.subcontext(task_name="candidate-split-evaluation", task_id=next(tasks))
                 for _ in range(objective.n_splits)] for _ in range(n_candidates)]
        result = self._run(objective, space, strategy)
        search.call_on_fit_task_end(estimator=self)
        refit_metric = self._set_results(objective, decoder, result, scoring, refit_metric)
        if self.refit:
            self._refit(X, y, fit_params, root, metadata)
        self.scorer_ = scoring.scorers
        root.call_on_fit_task_end(estimator=self, X=X, y=y, metadata=metadata)
        return self

    def _route(self, scoring, params):
        """``(fit, score, split)`` keyword arguments, as scikit-learn's searches route them."""
        from sklearn import get_config

        if get_config().get("enable_metadata_routing", False):
            from sklearn.utils.metadata_routing import process_routing

            routed = process_routing(self, "fit", **params)
            return dict(routed.estimator.fit), dict(routed.scorer.score), dict(routed.splitter.split)
        params = dict(params)
        groups = params.pop("groups", None)
        score = {}
        if params.get("sample_weight") is not None and scoring.accepts_sample_weight(self):
            score["sample_weight"] = params["sample_weight"]
        return params, score, {"groups": groups}

    def get_metadata_routing(self):
        """The metadata routing of the search (scikit-learn's ``MetadataRouter``): ``fit`` params go
        to the estimator's ``fit``, the scorer's ``score`` and the splitter's ``split`` as they request.

        Returns:
            sklearn.utils.metadata_routing.MetadataRouter
        """
        from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping

        router = MetadataRouter(owner=self)
        router.add(estimator=self.estimator, method_mapping=MethodMapping().add(caller="fit", callee="fit"))
        scorer = Scoring(self.estimator, self.scoring, self.refit, self.error_score).scorer
        router.add(scorer=scorer, method_mapping=MethodMapping().add(caller="score", callee="score")
                   .add(caller="fit", callee="score"))
        router.add(splitter=self.cv, method_mapping=MethodMapping().add(caller="fit", callee="split"))
        return router

    def _run(self, objective, space, strategy):
        from hpsearch.study import Study

        study = Study(objective, space, metric=SEARCH_SCORE, direction="maximize", storage=self.storage,
                      name=DEFAULT_NAME if self.name is None else self.name)
        callbacks = [_Reraise(objective)] if self.error_score == "raise" else []
        with warnings.catch_warnings():
            # a fit cannot be continued: sha/hyperband refit promoted candidates from scratch, as Halving*SearchCV
            warnings.filterwarnings("ignore", message=".*cannot continue trials from checkpoints.*")
            return study.run(strategy, n_jobs=_n_jobs(self.n_jobs), seed=self._study_seed(), backend=self.backend,
                             progress=self.progress, callbacks=callbacks, fail_fast=None)

    def _set_results(self, objective, decoder, result, scoring, refit_metric):
        """Set ``cv_results_`` and the ``best_*`` attributes; returns the metric that ranked them."""
        records = result.records
        _check_failures(records, objective)
        names = metric_names(records) or (scoring.names or ["score"])
        self.multimetric_ = scoring.names is not None or names != ["score"]
        if self.multimetric_ and scoring.names is None:
            # a callable scorer returned a dict: only now is it known that refit must name a metric
            check_refit_for_multimetric(self.refit, names)
            refit_metric = self.refit
        self.cv_results_ = cv_results(records, self._candidate_params(records, decoder), objective.n_splits, names,
                                      self.error_score, self.return_train_score, stages=self._staged(),
                                      follow_up=self._follow_up())
        if self.refit or not self.multimetric_:
            self.best_index_ = best_index(self.cv_results_, records, refit_metric, self.refit)
            if not callable(self.refit):
                self.best_score_ = self.cv_results_[f"mean_test_{refit_metric}"][self.best_index_]
            self.best_params_ = self.cv_results_["params"][self.best_index_]
        self.boundary_ = list(result.boundary)
        self.edge_report_ = "\n".join(edge_lines(result, fits_per_trial=objective.n_splits))
        _warn_edges(type(self).__name__, result)
        self.result_ = result
        return refit_metric

    def _refit(self, X, y, fit_params, root, metadata):
        # the parameters are cloned too: they may be estimators (a step chosen in a pipeline)
        self.best_estimator_ = clone(self.estimator).set_params(**clone(self.best_params_, safe=False))
        context = root.subcontext(task_name="refit-with-best-params")
        with context.propagate_callback_context(self.best_estimator_):
            context.call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)
            start = time.perf_counter()
            if y is None:
                self.best_estimator_.fit(X, **fit_params)
            else:
                self.best_estimator_.fit(X, y, **fit_params)
            self.refit_time_ = time.perf_counter() - start
        if hasattr(self.best_estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.best_estimator_.feature_names_in_
        context.call_on_fit_task_end(estimator=self, X=X, y=y, metadata=metadata)

    # ------------------------------------------------------------------ the best estimator's methods
    def score(self, X, y=None, **params):
        """The ``scoring`` of ``best_estimator_`` on ``(X, y)`` (the refit metric's when several).

        Args:
            X, y: the data to score.
            **params: for the scorer; only with metadata routing on (scikit-learn's rule).

        Raises:
            AttributeError: ``refit=False``.
            ValueError: ``params`` without metadata routing.
        """
        from sklearn import get_config

        _check_refit(self, "score")
        check_is_fitted(self)
        routing = get_config().get("enable_metadata_routing", False)
        if params and not routing:
            raise ValueError(f"Passing extra keyword arguments to {type(self).__name__}.score is only supported if "
                             f"enable_metadata_routing=True, which you can set using `sklearn.set_config`. See the "
                             f"User Guide <https://scikit-learn.org/stable/metadata_routing.html> for more details. "
                             f"Extra parameters passed are: {set(params)}")
        score_params = {}
        if routing:
            from sklearn.utils.metadata_routing import process_routing

            score_params = process_routing(self, "score", **params).scorer["score"]
        if isinstance(self.scorer_, dict):
            scorer = self.scorer_[self.refit] if self.multimetric_ else self.scorer_
            return scorer(self.best_estimator_, X, y, **score_params)
        value = self.scorer_(self.best_estimator_, X, y, **score_params)
        return value[self.refit] if self.multimetric_ else value

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
            raise AttributeError(f"{type(self).__name__} object has no n_features_in_ attribute.") from exc
        return self.best_estimator_.n_features_in_

    @property
    def classes_(self):
        """The class labels (a classifier, after a refit)."""
        _estimator_has("classes_")(self)
        return self.best_estimator_.classes_

    def _sk_visual_block_(self):
        # scikit-learn's HTML repr: the best estimator once refitted, else the estimator
        # (its only hook for this, so the one private scikit-learn name used here)
        from sklearn.utils._repr_html.estimator import _VisualBlock

        key, estimator = ("best_estimator_", self.best_estimator_) if hasattr(self, "best_estimator_") else \
            ("estimator", self.estimator)
        return _VisualBlock("parallel", [estimator], names=[f"{key}: {type(estimator).__name__}"],
                            name_details=[str(estimator)])


def _check_failures(records, objective):
    """ValueError when every fit failed; a ``FitFailedWarning`` when some did (scikit-learn's texts)."""
    from collections import Counter

    from sklearn.exceptions import FitFailedWarning

    n_splits = objective.n_splits
    errors = Counter()
    for record in records:
        if record["status"] == "failed":
            errors[record["error"]] += n_splits
        elif record["metrics"].get("n_failed_fits"):
            errors["(the error of a fit whose candidate's other folds succeeded is not recorded)"] += \
                int(record["metrics"]["n_failed_fits"])
    failed, total = sum(errors.values()), n_splits * len(records)
    if not failed:
        return
    summary = "\n".join(f"{'-' * 80}\n{n} fits failed with the following error:\n{error}"
                        for error, n in errors.items())
    if failed == total:
        raise ValueError(f"All the {total} fits failed.\nIt is very likely that your model is misconfigured.\n"
                         f"You can try to debug the error by setting error_score='raise'.\n\n"
                         f"Below are more details about the failures:\n{summary}")
    warnings.warn(f"\n{failed} fits failed out of a total of {total}.\nThe score on these train-test partitions "
                  f"for these parameters will be set to {objective.error_score}.\nIf these failures are not "
                  f"expected, you can try to debug them by setting error_score='raise'.\n\n"
                  f"Below are more details about the failures:\n{summary}", FitFailedWarning, stacklevel=4)


def _warn_edges(owner, result):
    """An :class:`~hpsearch.errors.EdgeWarning` per boundary flag, with its evidence, as the summary
    prints it; a search too small for the edge test gets one, the summary's line with the
    heuristic's flags below it (``[evidence: heuristic]``)."""
    from hpsearch.errors import EdgeWarning

    small = small_study_lines(result)
    heuristic = [f for f in result.boundary if f.evidence == "heuristic"] if small else []
    if small:
        text = "".join([small[0]] + [f"\n  {flag}" for flag in heuristic])
        warnings.warn(f"{owner}: {text}", EdgeWarning, stacklevel=5)
    for flag in result.boundary:
        if flag not in heuristic:
            warnings.warn(f"{owner}: {flag}", EdgeWarning, stacklevel=5)


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
