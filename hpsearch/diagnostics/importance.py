"""Which parameters matter: a simple main-effect importance from a trials table.

For each parameter the ``"ok"`` trials are put into groups by the parameter's value
(distinct values when there are few, as on a grid; otherwise equal-count bins of
the parameter's position in the unit cube, i.e. in log space for log parameters;
one group per value for choices). The importance is the share of the metric's
variance that the group means explain (a one-way ANOVA effect size), corrected
for the share that groups explain by chance (omega squared,
``(SS_between - (g - 1) MS_within) / (SS_total + MS_within)``, floored at 0).
The metric is clipped to its 5th-95th percentiles first, so a few huge losses
cannot dominate the variance.
The scores are normalised to sum to 1. A parameter that exists only in some branches of a
conditional space is scored over the trials that have it (missing values form no group).

This is a main-effect measure (like fANOVA's first-order terms, without a model):
it tells which parameters a plot of two of them should show, not the
interactions between them.
"""
import math

import numpy as np
import pandas as pd

from hpsearch.distributions import value_key

__all__ = ["parameter_importance"]

_MAX_BINS = 10


def _unit_positions(dist, values):
    """Unit-cube positions of numeric ``values`` (NaN where the distribution cannot place them)."""
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        try:
            out[i] = float(dist.to_unit(v)) if dist is not None else float(v)
        except (TypeError, ValueError, AttributeError):
            try:
                out[i] = float(v)
            except (TypeError, ValueError):
                pass
    return out


def _groups(dist, values, n_bins):
    """Group labels (ints) for ``values``; -1 where a value could not be grouped."""
    if _is_choice(dist) or not _all_numbers(values):
        keys = [value_key(v) for v in values]
        index = {}
        return np.array([index.setdefault(k, len(index)) for k in keys])
    x = _unit_positions(dist, values)
    finite = np.isfinite(x)
    distinct = np.unique(np.round(x[finite], 12))
    labels = np.full(len(x), -1)
    if len(distinct) <= n_bins:  # a grid or an integer range: group by value
        labels[finite] = np.searchsorted(distinct, np.round(x[finite], 12))
        return labels
    # equal-count bins: ranks split into n_bins blocks (ties stay together via the rank)
    ranks = pd.Series(x[finite]).rank(method="min").to_numpy() - 1
    labels[finite] = np.minimum((ranks * n_bins // finite.sum()).astype(int), n_bins - 1)
    return labels


def _missing(value):
    """True for a trial without the parameter (a branch it did not take): None or NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _is_choice(dist):
    # Choice: unordered with a list of values (ScipyDistribution is unordered but has none)
    return dist is not None and not getattr(dist, "ordered", False) and hasattr(dist, "values")


def _all_numbers(values):
    return all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
               for v in values if not _missing(v))


def _omega_squared(y, labels):
    keep = labels >= 0
    y, labels = y[keep], labels[keep]
    n = len(y)
    groups = np.unique(labels)
    g = len(groups)
    if n < 3 or g < 2 or g >= n:
        return 0.0
    mean = y.mean()
    ss_total = float(((y - mean) ** 2).sum())
    if ss_total <= 0:
        return 0.0
    ss_between = sum(float((labels == k).sum()) * (y[labels == k].mean() - mean) ** 2 for k in groups)
    ms_within = (ss_total - ss_between) / (n - g)
    return max(0.0, float((ss_between - (g - 1) * ms_within) / (ss_total + ms_within)))


def parameter_importance(space, trials_df, metric, direction="maximize"):
    """Main-effect importance of each searched parameter, from the ``"ok"`` trials.

    Args:
        space: the :class:`~hpsearch.space.Space` searched (its ``dims`` are scored;
            Fixed parameters are not).
        trials_df: a trials table with ``param_<name>`` columns, the ``metric`` column
            and optionally ``status`` (only ``"ok"`` rows with a finite metric count).
        metric: the metric column's name.
        direction: ``"maximize"`` or ``"minimize"``. The variance share is symmetric in
            the direction, so the scores are the same either way; it is checked so a
            typo is caught here as everywhere else.

    Returns:
        dict name -> float >= 0, in ``space.dims`` order, summing to 1. When the
        trials cannot tell the parameters apart (fewer than 3 ok trials, a constant
        metric, or no effect beyond chance) every parameter gets the same share.

    Raises:
        ValueError: an unknown direction, or a missing metric / parameter column
            (the message lists the columns there are).
    """
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
    names = list(space.dims)
    if not names:
        return {}
    if metric not in trials_df.columns:
        raise ValueError(f"metric {metric!r} is not a column of the trials table; columns are "
                         f"{', '.join(map(str, trials_df.columns))}")
    for name in names:
        if f"param_{name}" not in trials_df.columns:
            raise ValueError(f"parameter {name!r} has no column 'param_{name}' in the trials table; columns are "
                             f"{', '.join(map(str, trials_df.columns))}")
    ok = trials_df
    if "status" in ok.columns:
        ok = ok[ok["status"] == "ok"]
    y = pd.to_numeric(ok[metric], errors="coerce").to_numpy(dtype=float)
    keep = np.isfinite(y)
    ok, y = ok[keep], y[keep]
    n = len(y)
    scores = dict.fromkeys(names, 0.0)
    if n >= 3:
        clipped = np.clip(y, *np.percentile(y, [5, 95]))  # a few huge losses must not decide
        n_bins = max(2, min(_MAX_BINS, int(round(math.sqrt(n)))))
        for name in names:
            values = list(ok[f"param_{name}"])
            labels = _groups(space[name], values, n_bins)
            # a parameter of a branch is scored over the trials that have it, never with its
            # missing values as one more group
            labels[np.array([_missing(v) for v in values], dtype=bool)] = -1
            scores[name] = _omega_squared(clipped, labels)
    total = sum(scores.values())
    if total <= 0:
        return {name: 1.0 / len(names) for name in names}
    return {name: float(s / total) for name, s in scores.items()}
