"""CVObjective: a scikit-learn estimator cross-validated, as an objective of the search protocol.

``CVObjective(estimator, X, y, cv=5, scoring=None)(params, budget, seed)`` clones the
estimator, sets ``params``, fits and scores it on every split and returns flat numbers:
``split<k>_test_<metric>``, ``mean_test_<metric>``, ``std_test_<metric>`` (and the train
scores when asked), ``split<k>_fit_time``, ``mean_fit_time``, ... and ``n_failed_fits``:
exactly the columns of scikit-learn's ``cv_results_`` for one candidate, as plain data that
crosses process boundaries and is stored with the trial.

The splits are drawn once, when the objective is built (in the parent process), so every
candidate is scored on the same folds whatever worker runs it. ``resource`` turns the
protocol's ``budget`` into what a candidate may use: ``"n_samples"`` (the first ``budget``
samples of a fixed shuffle of each training fold, as ``HalvingRandomSearchCV`` does) or the
name of an estimator parameter (``"max_iter"``, ``"n_estimators"``) set to ``budget``.
"""
import numbers
import re
import time

import numpy as np

from hpsearch.sklearn._scoring import Scoring, score_fold

__all__ = ["CVObjective", "N_SAMPLES", "SEARCH_SCORE"]

_TEST_KEY = re.compile(r"^split\d+_test_(.+)$")

#: The ``resource`` that trains each candidate on ``budget`` samples of every training fold.
N_SAMPLES = "n_samples"

#: The metric a search ranks candidates by: the mean test score of ``rank_by`` (else the first metric).
SEARCH_SCORE = "search_score"


def _rows(data, index):
    from sklearn.utils import _safe_indexing  # public: listed in sklearn.utils.__all__

    return None if data is None else _safe_indexing(data, index)


def _pairwise_rows(X, rows, columns):
    """``X[rows][:, columns]`` of a precomputed kernel or distance matrix (scikit-learn's rules)."""
    from sklearn.utils import _safe_indexing

    if not hasattr(X, "shape"):
        raise ValueError("Precomputed kernels or affinity matrices have to be passed as arrays or sparse matrices.")
    if X.shape[0] != X.shape[1]:
        raise ValueError("X should be a square kernel matrix")
    return _safe_indexing(_safe_indexing(X, rows, axis=0), columns, axis=1)


def _split_fit_params(fit_params, n_samples, index):
    """Fit parameters for one fold: per-sample arrays (``sample_weight``) cut to its rows."""
    out = {}
    for key, value in fit_params.items():
        length = getattr(value, "shape", (None,))[0] if hasattr(value, "shape") else \
            (len(value) if isinstance(value, (list, tuple)) else None)
        out[key] = _rows(value, index) if length == n_samples else value
    return out


def _check_error_score(error_score):
    if error_score == "raise" or (isinstance(error_score, numbers.Real) and not isinstance(error_score, bool)):
        return error_score
    raise ValueError("error_score must be the string 'raise' or a numeric value. (Hint: if using 'raise', please "
                     f"make sure that it has been spelled correctly.) Got {error_score!r}")


def _short_time(seconds):
    from joblib.logger import short_format_time

    return short_format_time(seconds)


class CVObjective:
    """Cross-validated scores of ``estimator`` with a trial's params (the search protocol).

    Args:
        estimator: a scikit-learn estimator (cloned; never fitted itself).
        X, y: the data (anything scikit-learn's ``indexable`` takes); ``y`` None for
            unsupervised estimators. A pairwise estimator (``kernel="precomputed"``) gets its
            test rows' columns of the training rows, as in scikit-learn.
        cv: an int, a splitter or an iterable of (train, test) indices (``check_cv``; stratified
            folds for classifiers).
        scoring: None (the estimator's ``score``), a scorer name, a callable, several (a list of
            names or a dict), as in scikit-learn, or a resolved :class:`~hpsearch.sklearn._scoring.Scoring`.
        resource: None (every candidate fits on whole folds, budget ignored), ``"n_samples"``,
            or the name of an estimator parameter that takes the budget (``"max_iter"``).
        groups: group labels for the splitter (same as ``split_params={"groups": groups}``).
        fit_params: keyword arguments of ``estimator.fit`` (per-sample arrays are cut per fold).
        score_params: keyword arguments of the scorer (per-sample arrays are cut per fold).
        split_params: keyword arguments of the splitter's ``split``.
        error_score: the score of a fit that raises (np.nan), or ``"raise"`` to fail the trial.
            A trial whose every fit raises fails in any case (its error is stored).
        return_train_score: also score each fold's training rows.
        decode: an object with ``decode(params) -> params`` turning stored params into the values
            ``set_params`` takes (and optionally ``index(params)``: the candidate's position, for
            ``callback_contexts``); None keeps them.
        subsample_seed: the seed of the fixed shuffle behind ``resource="n_samples"``.
        rank_by: also return :data:`SEARCH_SCORE`, the mean test score of this metric (the first
            metric when the scores hold no such name); None does not.
        verbose: scikit-learn's ``verbose``: > 1 prints a line per fit, > 2 with its scores.
        callback_contexts: scikit-learn callback contexts, ``[candidate][split]``, and
        caller: the search estimator the callbacks are told about.
        identify: put fingerprints of the data and fit parameters in :meth:`get_params` (for a
            stored study's identity); False skips hashing them (nothing is stored).

    Raises:
        ValueError: a bad cv, scoring, resource or error_score (the message names it).
    """

    def __init__(self, estimator, X, y=None, cv=5, scoring=None, resource=None, *, groups=None, fit_params=None,
                 score_params=None, split_params=None, error_score=np.nan, return_train_score=False, decode=None,
                 subsample_seed=0, rank_by=None, verbose=0, callback_contexts=None, caller=None, identify=True):
        from sklearn.base import clone, is_classifier
        from sklearn.model_selection import check_cv
        from sklearn.utils import get_tags, indexable

        self.estimator = clone(estimator)
        self.X, self.y = indexable(X, y)
        self.groups = groups
        self.n_samples = len(self.X) if not hasattr(self.X, "shape") else self.X.shape[0]
        self.pairwise = get_tags(self.estimator).input_tags.pairwise
        split_params = dict(split_params or {})
        if groups is not None:
            split_params["groups"] = groups
        splitter = check_cv(cv, self.y, classifier=is_classifier(self.estimator))
        n_splits = splitter.get_n_splits(self.X, self.y, **split_params)
        self.splits = [(np.asarray(train), np.asarray(test))
                       for train, test in splitter.split(self.X, self.y, **split_params)]
        if len(self.splits) != n_splits:
            raise ValueError(f"cv.split and cv.get_n_splits return inconsistent results. Expected {n_splits} "
                             f"splits, got {len(self.splits)}")
        if not self.splits:
            raise ValueError("No fits were performed. Was the CV iterator empty? Were there no candidates?")
        self.cv_description = repr(splitter)
        self.error_score = _check_error_score(error_score)
        self.scoring = scoring.scoring if isinstance(scoring, Scoring) else scoring
        resolved = scoring if isinstance(scoring, Scoring) else Scoring(self.estimator, scoring, refit=False,
                                                                        error_score=self.error_score)
        self.scorer, self.scorers = resolved.scorer, resolved.scorers
        self.multimetric = isinstance(resolved.scorers, dict)
        self.resource = self._check_resource(resource)
        self.fit_params = dict(fit_params or {})
        self.score_params = dict(score_params or {})
        self.return_train_score = bool(return_train_score)
        self.decode = decode
        self.subsample_seed = int(subsample_seed)
        self.rank_by = rank_by
        self.verbose = verbose or 0
        self.callback_contexts = callback_contexts
        self.caller = caller
        self.identify = bool(identify)

    def _check_resource(self, resource):
        if resource is None or resource == N_SAMPLES:
            return resource
        valid = sorted(self.estimator.get_params(deep=True))
        if not isinstance(resource, str) or resource not in valid:
            from hpsearch.checks import did_you_mean

            raise ValueError(f"resource must be None, 'n_samples' or a parameter of {type(self.estimator).__name__} "
                             f"that takes the budget (max_iter, n_estimators, ...), got {resource!r}; "
                             f"{did_you_mean(resource, valid + [N_SAMPLES])}")
        return resource

    @property
    def n_splits(self):
        return len(self.splits)

    # ------------------------------------------------------------------ the protocol
    def __call__(self, params, budget=1, seed=0, report=None):
        """Fit and score one candidate on every split; returns the flat metrics (see the module docstring).

        Raises:
            Exception: the estimator's own error when ``error_score="raise"`` or when every fit raised.
        """
        from sklearn.base import clone

        values = self.decode.decode(params) if self.decode is not None else dict(params)
        estimator = clone(self.estimator).set_params(**clone(values, safe=False))
        if self.resource not in (None, N_SAMPLES):
            estimator.set_params(**{self.resource: int(budget)})
        contexts = self._contexts(params)
        out, failed, first_error = {}, 0, None
        for k, (train, test) in enumerate(self.splits):
            try:
                scores = self._fit_and_score(clone(estimator), k, self._train_rows(k, train, budget), test, values,
                                             contexts[k])
            except Exception as exc:  # the fold's failure is a score, as in scikit-learn
                if self.error_score == "raise":
                    raise
                failed, first_error = failed + 1, first_error or exc
                scores = None
            self._store_split(out, k, scores)
        if failed == self.n_splits:
            raise first_error
        self._aggregate(out)
        out["n_failed_fits"] = float(failed)
        if self.rank_by is not None:
            key = f"mean_test_{self.rank_by}"
            out[SEARCH_SCORE] = out[key] if key in out else next(v for k, v in out.items() if k.startswith("mean_test_"))
        if report is not None:
            report(int(budget), {k: v for k, v in out.items() if k.startswith("mean_test_")})
        return out

    def _contexts(self, params):
        index = getattr(self.decode, "index", None)
        if self.callback_contexts is None or index is None or index(params) is None:
            return [None] * self.n_splits
        return self.callback_contexts[index(params)]

    def _train_rows(self, k, train, budget):
        if self.resource != N_SAMPLES or budget >= len(train):
            return train
        rng = np.random.default_rng(np.random.SeedSequence(self.subsample_seed, spawn_key=(k,)))
        return np.sort(rng.permutation(train)[:max(1, int(budget))])

    def _X(self, rows, train):
        return _pairwise_rows(self.X, rows, train) if self.pairwise else _rows(self.X, rows)

    def _fit_and_score(self, estimator, k, train, test, values, context):
        """``{"fit_time", "score_time", "test": {...}, "train": {...}}`` of one fold (scikit-learn's
        ``_fit_and_score``: the same slicing, callback hooks and verbose lines)."""
        fit_params = _split_fit_params(self.fit_params, self.n_samples, train)
        X_train, y_train = self._X(train, train), _rows(self.y, train)
        X_test, y_test = self._X(test, train), _rows(self.y, test)
        weight = fit_params.get("sample_weight")
        metadata = None if weight is None else {"sample_weight": weight}
        t0 = time.perf_counter()
        try:
            if context is None:
                self._fit(estimator, X_train, y_train, fit_params)
            else:
                with context.propagate_callback_context(estimator):
                    context.call_on_fit_task_begin(estimator=self.caller, X=X_train, y=y_train, metadata=metadata)
                    self._fit(estimator, X_train, y_train, fit_params)
        except Exception:
            self._say(k, values, None, time.perf_counter() - t0)
            raise
        finally:
            if context is not None:
                context.call_on_fit_task_end(estimator=self.caller, X=X_train, y=y_train, metadata=metadata)
        fit_time = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = {"test": score_fold(self.scorer, estimator, X_test, y_test,
                                     _split_fit_params(self.score_params, self.n_samples, test), self.error_score)}
        score_time = time.perf_counter() - t0
        if self.return_train_score:
            result["train"] = score_fold(self.scorer, estimator, X_train, y_train,
                                         _split_fit_params(self.score_params, self.n_samples, train), self.error_score)
        result.update(fit_time=fit_time, score_time=score_time)
        self._say(k, values, result, fit_time + score_time)
        return result

    @staticmethod
    def _fit(estimator, X, y, fit_params):
        if y is None:
            estimator.fit(X, **fit_params)
        else:
            estimator.fit(X, y, **fit_params)

    def _say(self, k, values, result, seconds):
        """scikit-learn's per-fit line (``verbose > 1``), with the scores from ``verbose > 2``."""
        if self.verbose <= 1:
            return
        progress = f" {k + 1}/{self.n_splits}" if self.verbose > 2 else ""
        message = ", ".join(f"{name}={values[name]}" for name in sorted(values))
        message += ";" if message else ""
        if self.verbose > 2:
            test = result["test"] if result is not None else {"score": self.error_score}
            train = result.get("train", {}) if result is not None else {"score": self.error_score}
            if list(test) != ["score"]:
                for name in sorted(test):
                    message += f" {name}: ("
                    message += f"train={train[name]:.3f}, " if self.return_train_score else ""
                    message += f"test={test[name]:.3f})"
            elif self.return_train_score:
                message += f", score=(train={train['score']:.3f}, test={test['score']:.3f})"
            else:
                message += f", score={test['score']:.3f}"
        message += f" total time={_short_time(seconds)}"
        end = f"[CV{progress}] END "
        print(end + "." * (80 - len(end) - len(message)) + message)

    def _store_split(self, out, k, scores):
        if scores is None:  # a failed fit: error_score for each metric (known from the other folds)
            out.setdefault("_failed", []).append(k)
            out[f"split{k}_fit_time"], out[f"split{k}_score_time"] = 0.0, 0.0
            return
        out[f"split{k}_fit_time"], out[f"split{k}_score_time"] = scores["fit_time"], scores["score_time"]
        for part in ("test", "train"):
            for name, value in scores.get(part, {}).items():
                out[f"split{k}_{part}_{name}"] = value

    def _aggregate(self, out):
        """Fill failed folds with ``error_score`` and add the means and standard deviations."""
        failed = out.pop("_failed", [])
        names = list(dict.fromkeys(m.group(1) for m in map(_TEST_KEY.match, out) if m))
        for k in failed:
            for name in names:
                out[f"split{k}_test_{name}"] = float(self.error_score)
                if self.return_train_score:
                    out[f"split{k}_train_{name}"] = float(self.error_score)
        columns = ["fit_time", "score_time"] + [f"test_{n}" for n in names] + \
            ([f"train_{n}" for n in names] if self.return_train_score else [])
        for column in columns:
            values = np.array([out[f"split{k}_{column}"] for k in range(self.n_splits)], dtype=np.float64)
            mean = np.average(values)
            out[f"mean_{column}"] = float(mean)
            out[f"std_{column}"] = float(np.sqrt(np.average((values - mean) ** 2)))

    # ------------------------------------------------------------------ identity, for resume
    def metric_names(self):
        """The metrics a study may optimise: ``mean_test_<name>`` for each scorer."""
        names = list(self.scorers) if isinstance(self.scorers, dict) else ["score"]
        return [f"mean_test_{n}" for n in names]

    def valid_settings(self):
        """The parameters a space may search: the estimator's (nested with ``__``)."""
        return sorted(self.estimator.get_params(deep=True))

    def get_params(self):
        """JSON-able settings, stored to catch changes on resume; with ``identify`` (a stored
        study) also fingerprints of the data, splits and fit parameters."""
        estimator = {k: repr(v) for k, v in sorted(self.estimator.get_params(deep=True).items())}
        out = {"objective": "hpsearch.sklearn.CVObjective", "estimator": type(self.estimator).__name__,
               "estimator_params": estimator, "cv": self.cv_description, "scoring": repr(self.scoring),
               "resource": self.resource, "error_score": repr(self.error_score),
               "return_train_score": self.return_train_score,
               "choices": self.decode.describe() if self.decode is not None else {},
               "subsample_seed": self.subsample_seed}
        if self.identify:
            import joblib

            out.update(data=joblib.hash((self.X, self.y, self.groups)), splits=joblib.hash(self.splits),
                       fit_params=joblib.hash((self.fit_params, self.score_params)))
        return out

    def __repr__(self):
        return (f"CVObjective({self.estimator!r}, n_samples={self.n_samples}, splits={self.n_splits}, "
                f"scoring={self.scoring!r}, resource={self.resource!r})")
