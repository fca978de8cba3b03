"""Coarse-to-fine: the next stage's space from the trials of the last one.

:func:`narrow_space` shrinks every numeric range to the span of the top trials (the best
20%, at least 3), measured in unit space (log space for log ranges) and padded by a
margin, and keeps only the Choice values that the top trials used.

A range never shrinks away from an edge the good trials crowd toward: when the edge test of
:mod:`hpsearch.diagnostics.edge_test` points at the edge (the metric improving toward it in the
half nearest it), the range moves outward past that edge (the lecture's advice, automated),
never past the distribution's hard ``bounds``. A study tests many edges at once (two per
numeric parameter), so a per-edge level would move some range of a wide space by chance alone
(43 no-effect parameters at 5% each: two moved on average); the evidence therefore passes
Holm's adjustment over every tested edge of the space, which keeps the chance that any range
moves without cause at ``edge_level``. A grid's range (no test) still moves when its best
value is an endpoint: a grid names its points, so an endpoint best is the evidence it has.
"""
import math

from hpsearch.diagnostics.boundary import at_hard_bound, edge_of, ok_trials, evidence_by_param, top_indices, widened_edge
from hpsearch.diagnostics.edge_test import holm
from hpsearch.distributions import Choice, Fixed, IntUniform, ScipyDistribution

__all__ = ["narrow_space"]


def _check_fraction(name, x, low, high, low_open=False):
    ok = isinstance(x, (int, float)) and not isinstance(x, bool) and (low < x if low_open else low <= x) and x <= high
    if not ok:
        side = "(" if low_open else "["
        raise ValueError(f"{name} must be a number in {side}{low}, {high}], got {name}={x!r}")


def narrow_space(space, params, values, direction, top_fraction=0.2, min_top=3, margin=0.25,
                 move_edges=True, edge_fraction=0.05, min_width=0.1, edge_step=0.25, edge_level=0.05):
    """The space of the next coarse-to-fine stage.

    For each parameter:

    - numeric range: the unit-space span ``[a, b]`` of the top trials' values, widened by
      ``margin * (b - a)`` on each side and to at least ``min_width`` of the old unit range
      (so it never collapses to a point), kept inside the old range, mapped back through
      ``from_unit`` (log ranges stay log). Integer ranges stay integer with ``low < high``
      (widened by one if they collapse, so they never become Fixed).
    - numeric range with an edge the good trials point at, when ``move_edges``: for a tested
      range (every range not on a grid), the edge's pointing p-value (see :func:`_move_pvalues`)
      is at most ``edge_level`` after Holm's adjustment over all the space's tested edges; for a
      grid's range, the best value lies in that edge's zone (``edge_fraction`` of the unit
      range). The range then moves outward: with
      ``h = max(w / 2, edge_step, s)`` (``w`` the shrunk width above, ``s`` the step of the
      flags' suggestion: one decade on log ranges, half the range on linear ones) the new
      unit range at the high edge is ``[max(u_best - h, 0), 1 + h]``, symmetrically at the
      low edge; it reaches ``h`` past the old edge (e.g. on a 5-decade log range, at least
      1.25 decades), clipped to ``bounds``. An edge that is already the hard bound never moves.
    - Choice: only the values used by the top trials, in their original order. A single
      survivor stays a one-value Choice (not Fixed), so the space keeps its dimensions and
      later stages' unit cubes line up with earlier ones.
    - Fixed and scipy.stats distributions: unchanged.

    Args:
        space: the :class:`~hpsearch.space.Space` of the finished stage.
        params: the "ok" trials' parameter dicts.
        values: their metric values (same order; None/NaN entries are ignored).
        direction: "minimize" or "maximize".
        top_fraction, min_top: which trials count as the top ones.
        margin: padding on each side, as a fraction of the top trials' span.
        move_edges: move a range outward at an edge the good trials point at.
        edge_fraction: width of an edge zone in unit space.
        min_width: smallest new width, as a fraction of the old unit range.
        edge_step: smallest move past an edge, as a fraction of the old unit range.
        edge_level: the chance, over the whole space, that some range moves outward without
            cause (Holm-adjusted pointing p-values at or below it move their edge); 0 leaves the
            test out (every range then moves only when its best value is in an edge zone: the old rule).

    Returns:
        a new :class:`~hpsearch.space.Space` with the same names in the same order; the input
        space itself when no trial has a finite value (nothing to narrow from).
    """
    _check_fraction("top_fraction", top_fraction, 0, 1, low_open=True)
    _check_fraction("margin", margin, 0, math.inf)
    _check_fraction("min_width", min_width, 0, 1, low_open=True)
    _check_fraction("edge_fraction", edge_fraction, 0, 0.5)
    _check_fraction("edge_step", edge_step, 0, math.inf)
    _check_fraction("edge_level", edge_level, 0, 1)
    params, values = ok_trials(params, values, direction)
    if not values:
        return space
    top = [params[i] for i in top_indices(values, direction, top_fraction, min_top)]
    tested = {} if not (move_edges and edge_level > 0) else \
        evidence_by_param(space, params, values, direction, top_fraction, min_top)
    moving = _moving_edges(tested, edge_level)
    new = {}
    for name, dist in space.items():
        if isinstance(dist, (Fixed, ScipyDistribution)) or any(name not in p for p in top):
            continue
        if isinstance(dist, Choice):
            try:
                used = {dist.index(p[name]) for p in top}
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
            new[name] = Choice([v for i, v in enumerate(dist.values) if i in used])
        elif dist.ordered:
            evidence = tested.get(name, {})
            pointed = _pointed(dist, top[0][name], name in tested, moving.get(name, set()), edge_fraction) \
                if move_edges else set()
            held = {e for e, ev in evidence.items() if ev.shift <= edge_level} - pointed
            new[name] = _narrow_range(dist, [p[name] for p in top], pointed, margin, min_width, edge_step, held)
    return space.replace(new)


def _move_pvalue(ev):
    """One edge's pointing p-value: the edge is pointed at when the metric improves toward it in
    the half nearest it (the trend part), or when the top trials are shifted toward it (the shift
    part) while the metric does not fall toward it there (trend p-value below 0.5). Either route
    may fire, so the smaller p-value is doubled (Bonferroni) to stay a p-value. The shift alone is
    not enough: it also fires on an interior optimum off-centre (top trials at 70% of the range),
    and moving the range out there would spend the next stage beyond the optimum."""
    shift = ev.shift if ev.trend < 0.5 else 1.0
    return min(1.0, 2.0 * min(ev.trend, shift))


def _moving_edges(tested, edge_level):
    """``{name: edges}`` whose pointing p-values survive Holm's adjustment over every tested
    edge at ``edge_level``."""
    keys = [(name, edge) for name, evidence in tested.items() for edge in evidence]
    adjusted = holm([_move_pvalue(tested[name][edge]) for name, edge in keys])
    moving = {}
    for (name, edge), p in zip(keys, adjusted):
        if p <= edge_level:
            moving.setdefault(name, set()).add(edge)
    return moving


def _pointed(dist, best, is_tested, moving, edge_fraction):
    """The edges to move out past: for a tested range, those in ``moving``; for a grid's range,
    the best value's edge zone. Hard-bound edges never move."""
    pointed = set(moving) if is_tested else {edge_of(dist, best, edge_fraction)} - {None}
    return {e for e in pointed if not at_hard_bound(dist, e)}


def _narrow_range(dist, top_values, pointed, margin, min_width, edge_step, held=frozenset()):
    """The next range of one numeric distribution; ``top_values[0]`` is the best trial's.

    ``pointed``: edges to move out past; ``held``: edges the top trials are shifted toward
    (the shift part of the edge test) without a trend up to them: that end stays where it was,
    since the optimum may lie between the top trials and the edge, but the range does not move
    out (the shift alone also marks an interior optimum off-centre)."""
    us = [dist.to_unit(v) for v in top_values]
    a, b = min(us), max(us)
    width = min(max((b - a) * (1 + 2 * margin), min_width), 1.0)
    centre = (a + b) / 2
    lo_u, hi_u = centre - width / 2, centre + width / 2
    if pointed:
        # outward past each pointed edge, at least as far as the flags' suggestion; the other
        # end stays inside the old range, ``h`` from the best
        h, u_best = max(width / 2, edge_step, _suggested_step(dist, pointed)), us[0]
        lo_u = min(u_best, 0.0) - h if "low" in pointed else max(0.0, u_best - h)
        hi_u = max(u_best, 1.0) + h if "high" in pointed else min(1.0, u_best + h)
    elif lo_u < 0.0:  # slide (not cut) into the old range so the width is kept
        lo_u, hi_u = 0.0, width
    elif hi_u > 1.0:
        lo_u, hi_u = 1.0 - width, 1.0
    if not pointed:
        lo_u = 0.0 if "low" in held else lo_u
        hi_u = 1.0 if "high" in held else hi_u
    low, high = dist.from_unit(lo_u), dist.from_unit(hi_u)
    if isinstance(dist, IntUniform):
        return _int_range(dist, low, high)
    if not low < high:  # squeezed against a bound by round-off: keep the old range
        return dist
    return dist.with_range(low, high)


def _suggested_step(dist, pointed):
    """How far past an edge the flags' suggestion widens (see ``widened_edge``), in unit space."""
    steps = []
    for edge in pointed:
        target, _ = widened_edge(dist, edge)
        steps.append(abs(dist.to_unit(target) - (0.0 if edge == "low" else 1.0)))
    return max(steps)


def _int_range(dist, low, high):
    """An integer range with ``low < high`` inside ``bounds``.

    A collapsed range (``low == high``) gains a neighbour: above if the bounds allow, else
    below. One of them always fits, since the old range held two integers inside the bounds.
    """
    if low == high:
        hi_bound = dist.bounds[1]
        if high + 1 <= hi_bound:
            high += 1
        else:
            low -= 1
    return dist.with_range(low, high)
