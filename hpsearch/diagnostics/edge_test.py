"""The statistical edge test: does the metric keep improving toward an edge of a range?

One parameter, one edge, all ok trials, positions ``u`` in unit space (log space for log
ranges; 0 at ``low``, 1 at ``high``) and ``good`` = the metric signed so that larger is
better. Two one-sided rank tests must both reject:

- **shift**: the top trials (best ``top_fraction``, at least ``min_top``) lie closer to the
  edge than the other trials (Mann-Whitney U, ``scipy.stats.mannwhitneyu``);
- **trend**: among the trials in the half of the range nearest the edge, the metric still
  improves toward the edge (Kendall's tau, ``scipy.stats.kendalltau``).

The shift alone also fires on an interior optimum that is off-centre (the top trials sit
at 0.7, say); the trend alone fires on noise more easily with few trials. Requiring both is
an intersection-union test: its p-value is the larger of the two, and it keeps the level of
each, whatever their dependence. The benchmark ``benchmarks/bench_boundary.py`` measures
the resulting detection and false-flag rates.

The other parameters' effects are noise to the trend test. With enough trials (ten per
coefficient) the trend reads the metric's ranks after removing an additive quadratic fit on
the other ordered parameters: a parameter that does nothing stays independent of these
residuals, so the test keeps its level, and a real trend stands out more clearly.

The level is per edge (:data:`EDGE_LEVEL`, 2.5%): a parameter has two edges, so by
construction it is falsely flagged at most 5% of the time; measured, under 1% (both parts must
agree, and they rarely do by chance). 2.5% was chosen on the benchmark: at 1% detection of an
optimum beyond the edge from 40 trials fell to 0.78-0.86, at 10% false flags passed 2%. Rank tests make the result invariant to any monotone change
of the metric (loss or log-loss, accuracy or error) and robust to outliers; ties are handled
by scipy (mid-ranks, tie-corrected normal approximations).
"""
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["EdgeEvidence", "edge_evidence", "evidence_label", "top_count", "EDGE_LEVEL", "residual_ranks", "holm"]

EDGE_LEVEL = 0.025      # per edge: at most 5% false flags per parameter by construction, < 1% measured
STRONG = 10.0           # "strong" evidence: a p-value at least this many times below the level
_PER_COEFFICIENT = 10   # trials per fitted coefficient before the trend reads residuals

_MIN_GROUP = 2          # the shift test needs two top trials and two others
_MIN_HALF = 4           # the trend test needs four trials in the zone nearest the edge
TREND_ZONE = 0.48       # the trend test reads the trials in this share of the range nearest the edge


@dataclass(frozen=True)
class EdgeEvidence:
    """The test of one edge: the p-values of its two parts and the combined one (their max)."""

    shift: float
    trend: float

    @property
    def pvalue(self):
        return max(self.shift, self.trend)


def top_count(n, top_fraction=0.2, min_top=3):
    """How many of ``n`` trials are the top ones: the best ``top_fraction``, at least ``min_top``."""
    return min(n, max(int(min_top), math.ceil(top_fraction * n)))


def evidence_label(pvalue, level):
    """``"strong"`` (p <= level / 10) or ``"moderate"`` (p <= level) for a flagged edge."""
    return "strong" if pvalue <= level / STRONG else "moderate"


def _p(result):
    p = float(result.pvalue)
    return p if math.isfinite(p) else 1.0  # constant inputs: no evidence either way


def _shift(u, good, top_fraction, min_top):
    """One-sided Mann-Whitney p-values ``(low, high)``: top trials nearer that edge than the rest."""
    m = top_count(len(good), top_fraction, min_top)
    threshold = np.sort(good)[::-1][m - 1]
    top = good >= threshold  # metric ties at the threshold all count as top
    if top.sum() < _MIN_GROUP or (~top).sum() < _MIN_GROUP or np.ptp(u) == 0:
        return 1.0, 1.0
    from scipy import stats  # scipy.stats costs most of a second to import: only when a test runs
    low = _p(stats.mannwhitneyu(u[top], u[~top], alternative="less"))
    high = _p(stats.mannwhitneyu(u[top], u[~top], alternative="greater"))
    return low, high


def _trend(u, good, edge):
    """One-sided Kendall p-value: within the half nearest ``edge`` the metric improves toward it."""
    half = u >= 1.0 - TREND_ZONE if edge == "high" else u <= TREND_ZONE
    if half.sum() < _MIN_HALF or np.ptp(u[half]) == 0 or np.ptp(good[half]) == 0:
        return 1.0
    from scipy import stats
    return _p(stats.kendalltau(u[half], good[half], alternative="greater" if edge == "high" else "less"))


def residual_ranks(good, others):
    """Ranks of ``good`` minus their least-squares fit on ``[1, others, others**2]``.

    ``others``: shape (n, k), the other parameters' unit positions. Returns plain ranks when
    there are fewer than ten trials per coefficient (the fit would chase noise).
    """
    from scipy import stats
    ranks = stats.rankdata(good)
    if others is None or others.shape[1] == 0 or len(good) < _PER_COEFFICIENT * (1 + 2 * others.shape[1]):
        return ranks
    design = np.column_stack([np.ones(len(good)), others, others ** 2])
    beta, *_ = np.linalg.lstsq(design, ranks, rcond=None)
    return ranks - design @ beta


def edge_evidence(u, good, top_fraction=0.2, min_top=3, others=None):
    """The test of both edges of one parameter.

    Args:
        u: positions of the trials in unit space, shape (n,) (may stray outside [0, 1]).
        good: their metric, signed so that larger is better, shape (n,); finite.
        top_fraction, min_top: which trials are the top ones (see :func:`top_count`).
        others: optional, shape (n, k): the same trials' positions on the other ordered
            parameters, whose fitted effect the trend test removes (see the module docstring).

    Returns:
        ``{"low": EdgeEvidence, "high": EdgeEvidence}``; p-values are 1.0 where a part has
        too few trials to say anything (fewer than 4 per half, 2 top or 2 other trials).
    """
    u, good = np.asarray(u, dtype=float), np.asarray(good, dtype=float)
    if u.shape != good.shape or u.ndim != 1:
        raise ValueError(f"u and good must be 1-d arrays of one length, got shapes {u.shape} and {good.shape}")
    if len(u) < 2 * _MIN_GROUP or np.ptp(good) == 0:  # all metrics tied: nothing points anywhere
        return {edge: EdgeEvidence(1.0, 1.0) for edge in ("low", "high")}
    low, high = _shift(u, good, top_fraction, min_top)
    trend = residual_ranks(good, None if others is None else np.asarray(others, dtype=float).reshape(len(u), -1))
    return {"low": EdgeEvidence(low, _trend(u, trend, "low")), "high": EdgeEvidence(high, _trend(u, trend, "high"))}


def holm(pvalues):
    """Holm's step-down adjustment of ``pvalues`` (a sequence): reject those whose adjusted p-value
    is at most the level, and the chance of any false rejection among them all stays at most
    the level, whatever their dependence. Returns a list in the input order."""
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return [float(x) for x in out]
