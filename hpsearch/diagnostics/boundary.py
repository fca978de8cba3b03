"""Boundary flags: warn when the metric keeps improving toward the edge of a searched range.

The lecture's advice: if the best values are concentrated at the edge of the range you
searched, the true optimum may lie beyond it, so widen the range and search again. After any
search, :func:`find_boundary_flags` checks every ordered (numeric) parameter:

- every numeric range searched at random points (random, Sobol, Optuna), float or integer,
  linear or log, is flagged at an edge when the statistical edge test of
  :mod:`hpsearch.diagnostics.edge_test` says so: the top trials are shifted toward that edge
  *and* the metric still improves toward it in the half of the range nearest it. Each edge is
  tested at the 2.5% level; the flag carries its p-value and ``evidence`` ("strong" or
  "moderate"). An integer range is read through the centres of its values' cells in unit
  (log) space: a range with many values behaves as a continuous one; with few values (under
  about 8) the trials tie on a handful of positions, the rank tests count those ties (mid-ranks)
  and keep their level, but need more trials to reject. Where the single best trial sits does
  not matter: a steady trend is caught when the best is at 85% of the range, and a lone lucky
  trial in the outer 5% is not;
- a float range searched on a grid (its values include an endpoint exactly) keeps its meaning:
  a grid is a handful of chosen points, so it is flagged when the best value is an endpoint of
  the range (``edge_fraction``, 5%, of the unit range). Such flags have ``pvalue=None`` and
  ``evidence="rule"``;
- a study with fewer than :data:`MIN_TEST_TRIALS` trials is too small for the test to detect
  anything but a steep trend (measured in ``benchmarks/bench_boundary.py``), so a parameter the
  test does not flag is still judged by the old rule, as a heuristic: best value in the outer 5%.
  Such flags say so in their text ("12 trials: too few to test edges; ...") and carry
  ``evidence="heuristic"``;
- an edge that is the parameter's hard bound (e.g. dropout's 0 on ``Uniform(0, 0.5)``, whose
  default ``bounds`` are [0, 1]) is never flagged: the range cannot be widened there, so an
  optimum at it is an answer, not a search problem;
- Choice, Fixed and scipy.stats distributions are never flagged: a choice has no edge.
"""
from dataclasses import asdict, dataclass
import math

import numpy as np

from hpsearch.checks import check_direction
from hpsearch.distributions import IntUniform, ScipyDistribution
from hpsearch.diagnostics.edge_test import EDGE_LEVEL, edge_evidence, evidence_label, top_count
from hpsearch.records import best_record, competing

__all__ = ["BoundaryFlag", "EDGES", "MIN_TEST_TRIALS", "find_boundary_flags", "edge_of", "at_hard_bound", "uses_rule", "ok_trials",
           "format_value", "widened_edge",
           "evidence_by_param", "top_indices", "tested_trials"]

EDGES = ("low", "high")
#: Below this many trials a parameter the edge test does not flag is judged by the heuristic
#: (best in the outer 5%); the benchmark's detection of an optimum a decade beyond the edge is
#: about 0.5 at 20 random trials and far lower at 12, so silence there would mislead.
MIN_TEST_TRIALS = 20


@dataclass(frozen=True)
class BoundaryFlag:
    """A parameter whose range should widen at one edge.

    Attributes:
        param: parameter name.
        edge: "low" or "high".
        value: the best trial's value of the parameter.
        low, high: the searched range.
        suggestion: one line of advice, e.g. ``"lr: the top trials crowd toward the high edge
            of [1e-06, 1e-03] and the metric keeps improving up to it (best 7.7e-04, top
            trials in the upper half: 8 of 8); widen above, e.g. to 1e-02"``.
        top_share: fraction of the top trials (best 20%, at least 3) on this edge's side: in
            the half of the range nearest it (tested flags), in its 5% zone (rule flags).
        pvalue: the edge test's p-value (None for a flag decided by the rule).
        evidence: "strong" (p at most a tenth of the level), "moderate", "rule" (a grid's best
            value on an endpoint), "heuristic" (a study too small to test, see
            :data:`MIN_TEST_TRIALS`) or "follow-up" (confirmed by a follow-up stage,
            :mod:`hpsearch.strategies.follow_up`).
    """

    param: str
    edge: str
    value: float
    low: float
    high: float
    suggestion: str
    top_share: float
    pvalue: float | None = None  # defaults: flags stored before the edge test were rule flags
    evidence: str = "rule"

    def to_dict(self):
        """Plain, JSON-able fields (``BoundaryFlag(**d)`` rebuilds it)."""
        return asdict(self)

    def __str__(self):
        """The suggestion and its evidence, as ``run`` and ``show`` print it."""
        detail = self.evidence if self.pvalue is None else f"{self.evidence}, p={self.pvalue:.1g}"
        return f"{self.suggestion} [evidence: {detail}]"


def edge_of(dist, value, edge_fraction=0.05):
    """Which edge zone of ``dist``'s range ``value`` lies in: "low", "high" or None.

    Measured in unit space (log space for log ranges); integer ranges also count their
    endpoints. Values beyond the range count as at its edge.
    """
    u = dist.to_unit(value)
    if isinstance(dist, IntUniform):
        if value <= dist.low:
            return "low"
        if value >= dist.high:
            return "high"
    if u <= edge_fraction:
        return "low"
    if u >= 1.0 - edge_fraction:
        return "high"
    return None


def at_hard_bound(dist, edge):
    """True if ``dist``'s ``edge`` ("low"/"high") is its hard bound: the range cannot widen there."""
    return dist.low <= dist.bounds[0] if edge == "low" else dist.high >= dist.bounds[1]


def uses_rule(dist, values):
    """True if the edge rule, not the test, judges ``dist``: float ranges whose trial ``values``
    include an endpoint exactly (a grid; random points never do). Integer ranges hit their
    endpoints under random search too, so they are always tested."""
    return not isinstance(dist, IntUniform) and any(v == dist.low or v == dist.high for v in values)


def format_value(dist, x):
    """A parameter value as the suggestions print it: ints plain, log ranges as ``9.3e-04``."""
    if isinstance(dist, IntUniform):
        return str(int(round(x)))
    if dist.log:
        text = f"{x:.1e}"
        mantissa, exponent = text.split("e")
        return (mantissa[:-2] if mantissa.endswith(".0") else mantissa) + "e" + exponent
    return f"{x:.3g}"


def widened_edge(dist, edge):
    """Where to move ``edge`` to: one decade past it on log ranges, half the range on linear
    ones (at least one integer), clipped to ``bounds``. Returns ``(value, hit_bound)``."""
    if dist.log:
        target = dist.low / 10.0 if edge == "low" else dist.high * 10.0
    else:
        half = (dist.high - dist.low) / 2.0
        if isinstance(dist, IntUniform):
            half = max(1, math.ceil(half))
        target = dist.low - half if edge == "low" else dist.high + half
    lo, hi = dist.bounds
    clipped = min(max(target, lo), hi)
    if isinstance(dist, IntUniform):
        clipped = int(math.floor(clipped) if edge == "high" else math.ceil(clipped))
    return clipped, clipped != target


def ok_trials(params, values, direction):
    """The trials with a finite value, as ``(params, values)`` lists.

    Raises:
        ValueError: an unknown direction, or ``params`` and ``values`` of different lengths.
    """
    check_direction(direction)
    params, values = list(params), list(values)
    if len(params) != len(values):
        raise ValueError(f"got {len(params)} params dicts but {len(values)} values; pass one value per trial")
    keep = [(p, float(v)) for p, v in zip(params, values) if v is not None and math.isfinite(float(v))]
    return [p for p, _ in keep], [v for _, v in keep]


def top_indices(values, direction, top_fraction=0.2, min_top=3):
    """Indices of the top trials, best first: the best ``top_fraction``, at least ``min_top``
    (all of them when there are fewer)."""
    order = sorted(range(len(values)), key=lambda i: values[i], reverse=(direction == "maximize"))
    return order[:top_count(len(values), top_fraction, min_top)]


def tested_trials(records, stages, metric, direction, by_budget=False):
    """Which of a study's trials the edge test reads: the one rule that the strategies'
    ``boundary_trials`` apply and that the summary counts a small study by.

    Args:
        records: the search's trial records (a follow-up stage's left out by the caller).
        stages: the stages as they ran (``.index``, ``.space``).
        metric, direction: the study's.
        by_budget: successive halving and Hyperband, whose rungs are stages of a few trials
            each: read the budget level where the most ok trials compete (ties: the higher
            budget), over the first stage's space (the one every bracket samples). Otherwise
            the stage holding the best trial, over that stage's space (coarse-to-fine narrows
            it stage by stage).

    Returns:
        ``(space, ok records)``, or ``(None, [])`` when no trial competes.
    """
    ok = competing(records, metric)
    if by_budget:
        if not ok or not stages:
            return None, []
        counts = {}
        for r in ok:
            counts[r["budget"]] = counts.get(r["budget"], 0) + 1
        level = max(counts, key=lambda b: (counts[b], b))
        return stages[0].space, [r for r in ok if r["budget"] == level]
    best = best_record(records, metric, direction)
    stage = next((s for s in stages if best is not None and s.index == best["stage"]), None)
    if stage is None:
        return None, []
    return stage.space, [r for r in ok if r["stage"] == stage.index]


def _columns(space, params, values, direction):
    """Unit positions of every ordered parameter, shape (n, k), and the metric signed so that
    larger is better, shape (n,); None for the positions when some trial lacks a parameter."""
    names = [name for name, dist in space.items() if dist.ordered and not isinstance(dist, ScipyDistribution)]
    good = np.array(values, dtype=float) * (1.0 if direction == "maximize" else -1.0)
    if not all(name in p for p in params for name in names):
        return names, None, good
    unit = np.array([[space[name].to_unit(p[name]) for name in names] for p in params], dtype=float)
    return names, unit.reshape(len(params), len(names)), good


def evidence_by_param(space, params, values, direction, top_fraction=0.2, min_top=3):
    """The edge test of every parameter the test (not the rule) judges.

    Args:
        space, direction, top_fraction, min_top: as for :func:`find_boundary_flags`.
        params, values: the trials with a finite value (see :func:`ok_trials`).

    Returns:
        ``{name: {"low": EdgeEvidence, "high": EdgeEvidence}}`` for the float ranges not on a
        grid; when every trial has every ordered parameter, each trend test reads the metric
        with the other parameters' fitted effect removed.
    """
    names, unit, good = _columns(space, params, values, direction)
    out = {}
    for j, name in enumerate(names):
        column = [p[name] for p in params if name in p]
        if not column or uses_rule(space[name], column):
            continue
        if unit is None:
            rows = [i for i, p in enumerate(params) if name in p]
            u = np.array([space[name].to_unit(params[i][name]) for i in rows], dtype=float)
            out[name] = edge_evidence(u, good[rows], top_fraction, min_top)
        else:
            out[name] = edge_evidence(unit[:, j], good, top_fraction, min_top, others=np.delete(unit, j, axis=1))
    return out


def find_boundary_flags(space, params, values, direction, edge_fraction=0.05, top_fraction=0.2, min_top=3,
                        level=EDGE_LEVEL):
    """Flags for the ordered parameters whose range should widen at an edge.

    Args:
        space: the :class:`~hpsearch.space.Space` that was searched.
        params: list of the "ok" trials' parameter dicts.
        values: the metric of each of those trials (same order; None/NaN entries are ignored).
        direction: "minimize" or "maximize".
        edge_fraction: width of each edge zone of the rule, as a fraction of the unit (log) range.
        top_fraction, min_top: which trials are the top ones (for the test and ``top_share``).
        level: the edge test's level per edge (a parameter's false-flag rate is at most twice it).

    Returns:
        list of :class:`BoundaryFlag`, in space order (low edge first); empty without any
        finite value. A parameter with fewer than :data:`MIN_TEST_TRIALS` trials that the test
        does not flag gets the heuristic's flag when its best value is in an edge zone.

    Raises:
        ValueError: an unknown direction or mismatched lengths.
    """
    params, values = ok_trials(params, values, direction)
    if not values:
        return []
    top = top_indices(values, direction, top_fraction, min_top)
    best = params[top[0]]
    tested = evidence_by_param(space, params, values, direction, top_fraction, min_top)
    flags = []
    for name, dist in space.items():
        if not dist.ordered or isinstance(dist, ScipyDistribution) or name not in best:
            continue
        tops = [params[i][name] for i in top if name in params[i]]
        if name not in tested:
            flags.extend(_rule_flag(name, dist, best[name], tops, edge_fraction))
            continue
        found = []
        for edge in EDGES:
            p = tested[name][edge].pvalue
            if p <= level and not at_hard_bound(dist, edge):
                found.append(_tested_flag(name, dist, edge, best[name], tops, p, evidence_label(p, level)))
        n = sum(1 for p in params if name in p)
        if not found and n < MIN_TEST_TRIALS:
            found = _rule_flag(name, dist, best[name], tops, edge_fraction, small=n)
        flags.extend(found)
    return flags


def _widen_text(dist, edge):
    target, hit_bound = widened_edge(dist, edge)
    return (f"widen {'below' if edge == 'low' else 'above'}, e.g. to {format_value(dist, target)}"
            f"{' (its hard bound)' if hit_bound else ''}")


def _rule_flag(name, dist, value, tops, edge_fraction, small=None):
    """The rule's flag (a list of zero or one): the best value in an edge zone. ``small``: the
    trial count of a study too small to test, which makes it the heuristic's flag."""
    edge = edge_of(dist, value, edge_fraction)
    if edge is None or at_hard_bound(dist, edge):
        return []
    in_zone = sum(1 for v in tops if edge_of(dist, v, edge_fraction) == edge)
    f = lambda x: format_value(dist, x)  # noqa: E731
    prefix = "" if small is None else (f"{small} trial{'' if small == 1 else 's'}: too few to test edges; the best {name} sits in the "
                                       f"{'bottom' if edge == 'low' else 'top'} {edge_fraction:.0%} of its range "
                                       f"(a heuristic, not a test): ")
    suggestion = (f"{name}: {prefix}best {f(value)} is at the {edge} edge of [{f(dist.low)}, {f(dist.high)}]; "
                  f"{_widen_text(dist, edge)}"
                  f"{f'; top trials at this edge: {in_zone} of {len(tops)}' if len(tops) > 1 else ''}")
    return [BoundaryFlag(param=name, edge=edge, value=value, low=dist.low, high=dist.high, suggestion=suggestion,
                         top_share=in_zone / len(tops), evidence="rule" if small is None else "heuristic")]


def _tested_flag(name, dist, edge, value, tops, pvalue, evidence):
    """A flag the edge test decided."""
    side = [v for v in tops if (dist.to_unit(v) >= 0.5) == (edge == "high")]
    f = lambda x: format_value(dist, x)  # noqa: E731
    suggestion = (f"{name}: the top trials crowd toward the {edge} edge of [{f(dist.low)}, {f(dist.high)}] and "
                  f"the metric keeps improving up to it (best {f(value)}; top trials in the "
                  f"{'lower' if edge == 'low' else 'upper'} half: {len(side)} of {len(tops)}); "
                  f"{_widen_text(dist, edge)}")
    return BoundaryFlag(param=name, edge=edge, value=value, low=dist.low, high=dist.high, suggestion=suggestion,
                        top_share=len(side) / len(tops), pvalue=float(pvalue), evidence=evidence)
