"""``cv_results_`` from a study's trial records, with the keys and dtypes of scikit-learn's searches.

Each trial record of a :class:`~hpsearch.sklearn.CVObjective` study already holds one
candidate's columns (``split<k>_test_<m>``, ``split<k>_fit_time``, ...); this module lays
them out as ``RandomizedSearchCV.cv_results_`` does: float64 arrays of means and standard
deviations over the splits, ``param_<name>`` masked arrays, ``params`` (a list of dicts) and
``rank_test_<m>`` (int32, non-finite means tied last). A trial whose every fit failed has no
columns: its scores are ``error_score`` and its times 0, as scikit-learn records them.
"""
import re
import warnings

import numpy as np

__all__ = ["cv_results", "metric_names", "best_index"]

_MEAN_TEST = re.compile(r"^mean_test_(.+)$")


def metric_names(records):
    """The scorer names in the records' ``mean_test_<name>`` columns, in their order."""
    for record in records:
        names = [m.group(1) for m in map(_MEAN_TEST.match, record.get("metrics", {})) if m]
        if names:
            return names
    return []


def _param_arrays(candidate_params):
    """``param_<name>`` masked arrays, as scikit-learn builds them (object dtype for strings)."""
    n = len(candidate_params)
    by_name = {}
    for i, params in enumerate(candidate_params):
        for name, value in params.items():
            by_name.setdefault(f"param_{name}", {})[i] = value
    for key, values in by_name.items():
        try:
            arr = np.array(list(values.values()))
        except ValueError:  # lists of different lengths
            dtype = np.dtype(object)
        else:
            dtype = arr.dtype if arr.dtype.kind != "U" and arr.ndim == 1 else np.dtype(object)
        column = np.ma.MaskedArray(np.empty(n, dtype=dtype), mask=True)
        for i, value in values.items():
            column[i] = value
        yield key, column


def _rank(means):
    """Ranks of ``means`` (1 best, ties share the lowest rank); non-finite means tie last."""
    from scipy.stats import rankdata

    if np.isnan(means).all():
        return np.ones_like(means, dtype=np.int32)
    filled = np.where(np.isnan(means), np.nanmin(means) - 1, means)
    return rankdata(-filled, method="min").astype(np.int32, copy=False)


def _split_array(records, n_splits, column, fill):
    """``(n_candidates, n_splits)`` float64 of ``split<k>_<column>`` (``fill`` for failed trials)."""
    out = np.empty((len(records), n_splits), dtype=np.float64)
    for i, record in enumerate(records):
        metrics = record.get("metrics", {})
        for k in range(n_splits):
            out[i, k] = metrics.get(f"split{k}_{column}", fill)
    return out


def _store(results, key, array, splits=False, rank=False):
    if splits:
        for k in range(array.shape[1]):
            results[f"split{k}_{key}"] = array[:, k]
    means = np.average(array, axis=1)
    results[f"mean_{key}"] = means
    if key.startswith(("train_", "test_")) and np.any(~np.isfinite(means)):
        warnings.warn(f"One or more of the {key.split('_')[0]} scores are non-finite: {means}", UserWarning,
                      stacklevel=4)
    results[f"std_{key}"] = np.sqrt(np.average((array - means[:, np.newaxis]) ** 2, axis=1))
    if rank:
        results[f"rank_{key}"] = _rank(means)


def cv_results(records, params, n_splits, names, error_score, return_train_score, stages=False, follow_up=False):
    """The ``cv_results_`` dict of a search.

    Args:
        records: the trial records, in trial order (one per candidate).
        params: each candidate's params as the estimator took them (same order).
        n_splits: the number of cross-validation splits.
        names: the scorer names (``["score"]`` for one metric).
        error_score: the score recorded for failed fits.
        return_train_score: add the ``split<k>_train_<m>`` columns.
        stages: add ``stage`` and ``n_resources`` (the budget) columns, for staged searches.
        follow_up: add the ``follow_up`` column: the edge a follow-up candidate probes
            (``"gamma:high"``), ``""`` for the search's own candidates.

    Returns:
        dict of column name -> array (``params`` is a list of dicts).
    """
    fill = float(error_score) if error_score != "raise" else np.nan
    results = {}
    for column in ("fit_time", "score_time"):
        _store(results, column, _split_array(records, n_splits, column, 0.0))
    for key, column in _param_arrays(params):
        results[key] = column
    results["params"] = list(params)
    for name in names:
        _store(results, f"test_{name}", _split_array(records, n_splits, f"test_{name}", fill), splits=True, rank=True)
        if return_train_score:
            _store(results, f"train_{name}", _split_array(records, n_splits, f"train_{name}", fill), splits=True)
    if stages:
        results["stage"] = np.array([r["stage"] for r in records], dtype=np.int64)
        results["n_resources"] = np.array([r["budget"] for r in records], dtype=np.int64)
    if follow_up:
        from hpsearch.strategies.follow_up import LABEL

        results["follow_up"] = np.array([r.get(LABEL) or "" for r in records], dtype=object)
    return results


def best_index(results, records, metric, refit):
    """The index of the best candidate: ``refit(results)`` for a callable refit, else the best rank
    of ``metric`` among the candidates at the highest budget (a staged search compares the
    candidates that got the most resource, as ``HalvingRandomSearchCV`` does).

    Raises:
        TypeError, IndexError: a callable refit that returns no valid index.
    """
    import numbers

    if callable(refit):
        index = refit(results)
        if not isinstance(index, numbers.Integral) or isinstance(index, bool):
            raise TypeError("best_index_ returned is not an integer")
        if index < 0 or index >= len(results["params"]):
            raise IndexError("best_index_ index out of range")
        return int(index)
    budgets = np.array([r.get("budget") or 0 for r in records])
    ranks = np.where(budgets == budgets.max(), results[f"rank_test_{metric}"], np.iinfo(np.int32).max)
    return int(np.argmin(ranks))
