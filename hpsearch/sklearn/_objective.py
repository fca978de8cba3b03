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

from hpsearch.sklearn._scoring import resolve_scoring, score_all

__all__ = ["CVObjective", "N_SAMPLES"]

_TEST_KEY = re.compile(r"^split\d+_test_(.+)$")

#: The ``resource`` that trains each candidate on ``budget`` samples of every training fold.
N_SAMPLES = "n_samples"


def _rows(data, index):
    from sklearn.utils import _safe_indexing  # public: listed in sklearn.utils.__all__

    return None if data is None else _safe_indexing(data, index)


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
    raise ValueError(f"error_score must be 'raise' or a number (np.nan by default), got {error_score!r}")


class CVObjective:
    """Cross-validated scores of ``estimator`` with a trial's params (the search protocol).

    Args:
        estimator: a scikit-learn estimator (cloned; never fitted itself).
        X, y: the data (anything scikit-learn's ``indexable`` takes); ``y`` None for
            unsupervised estimators.
        cv: an int, a splitter or an iterable of (train, test) indices (``check_cv``; stratified
            folds for classifiers).
        scoring: None (the estimator's ``score``), a scorer name, a callable, or several
            (a list of names or a dict), as in scikit-learn.
        resource: None (every candidate fits on whole folds, budget ignored), ``"n_samples"``,
            or the name of an estimator parameter that takes the budget (``"max_iter"``).
        groups: group labels for the splitter.
        fit_params: keyword arguments of ``estimator.fit`` (per-sample arrays are cut per fold).
        error_score: the score of a fit that raises (np.nan), or ``"raise"`` to fail the trial.
            A trial whose every fit raises fails in any case (its error is stored).
        return_train_score: also score each fold's training rows.
        decode: an object with ``decode(params) -> params`` turning stored params into the values
            ``set_params`` takes (SearchCV's choices of estimators); None keeps them.
        subsample_seed: the seed of the fixed shuffle behind ``resource="n_samples"``.

    Raises:
        ValueError: a bad cv, scoring, resource or error_score (the message names it).
    """

    def __init__(self, estimator, X, y=None, cv=5, scoring=None, resource=None, *, groups=None, fit_params=None,
                 error_score=np.nan, return_train_score=False, decode=None, subsample_seed=0):
        from sklearn.base import clone, is_classifier
        from sklearn.model_selection import check_cv
        from sklearn.utils import indexable

        self.estimator = clone(estimator)
        self.X, self.y, self.groups = indexable(X, y, groups)
        self.n_samples = len(self.X) if not hasattr(self.X, "shape") else self.X.shape[0]
        splitter = check_cv(cv, self.y, classifier=is_classifier(self.estimator))
        self.splits = [(np.asarray(train), np.asarray(test))
                       for train, test in splitter.split(self.X, self.y, self.groups)]
        if not self.splits:
            raise ValueError(f"cv={cv!r} gave no splits")
        self.cv_description = repr(splitter)
        self.scoring = scoring
        self.scorers, self.multimetric = resolve_scoring(self.estimator, scoring)
        self.resource = self._check_resource(resource)
        self.fit_params = dict(fit_params or {})
        self.error_score = _check_error_score(error_score)
        self.return_train_score = bool(return_train_score)
        self.decode = decode
        self.subsample_seed = int(subsample_seed)

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
        out, failed, first_error = {}, 0, None
        for k, (train, test) in enumerate(self.splits):
            try:
                scores = self._fit_and_score(clone(estimator), self._train_rows(k, train, budget), test)
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
        if report is not None:
            report(int(budget), {k: v for k, v in out.items() if k.startswith("mean_test_")})
        return out

    def _train_rows(self, k, train, budget):
        if self.resource != N_SAMPLES or budget >= len(train):
            return train
        rng = np.random.default_rng(np.random.SeedSequence(self.subsample_seed, spawn_key=(k,)))
        return np.sort(rng.permutation(train)[:max(1, int(budget))])

    def _fit_and_score(self, estimator, train, test):
        """``{"fit_time", "score_time", "test": {...}, "train": {...}}`` of one fold."""
        fit_params = _split_fit_params(self.fit_params, self.n_samples, train)
        X_train, y_train = _rows(self.X, train), _rows(self.y, train)
        t0 = time.perf_counter()
        if y_train is None:
            estimator.fit(X_train, **fit_params)
        else:
            estimator.fit(X_train, y_train, **fit_params)
        fit_time = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = {"test": score_all(self.scorers, estimator, _rows(self.X, test), _rows(self.y, test), {})}
        score_time = time.perf_counter() - t0
        if self.return_train_score:
            result["train"] = score_all(self.scorers, estimator, X_train, y_train, {})
        result.update(fit_time=fit_time, score_time=score_time)
        return result

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
        """JSON-able settings (a fingerprint of the data included), stored to catch changes on resume."""
        import joblib

        estimator = {k: repr(v) for k, v in sorted(self.estimator.get_params(deep=True).items())}
        return {"objective": "hpsearch.sklearn.CVObjective", "estimator": type(self.estimator).__name__,
                "estimator_params": estimator, "data": joblib.hash((self.X, self.y, self.groups)),
                "cv": self.cv_description, "splits": joblib.hash(self.splits), "scoring": repr(self.scoring),
                "resource": self.resource, "fit_params": joblib.hash(self.fit_params),
                "error_score": repr(self.error_score), "return_train_score": self.return_train_score,
                "choices": self.decode.describe() if self.decode is not None else {},
                "subsample_seed": self.subsample_seed}

    def __repr__(self):
        return (f"CVObjective({self.estimator!r}, n_samples={self.n_samples}, splits={self.n_splits}, "
                f"scoring={self.scoring!r}, resource={self.resource!r})")
