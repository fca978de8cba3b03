"""Coarse-to-fine: the next stage's space from the trials of the last one.

:func:`narrow_space` shrinks every numeric range to the span of the top trials (the best
20%, at least 3), measured in unit space (log space for log ranges) and padded by a
margin, and keeps only the Choice values that the top trials used. When the best trial
sits in an edge zone of its range (see :mod:`hpsearch.boundary`), the range is not shrunk
onto that edge: it is moved outward past it (the lecture's advice, automated), never past
the distribution's hard ``bounds``.
"""
import math

from hpsearch.boundary import _check, at_hard_bound, edge_of, top_indices
from hpsearch.distributions import Choice, Fixed, IntUniform, ScipyDistribution

__all__ = ["narrow_space"]


def _check_fraction(name, x, low, high, low_open=False):
    ok = isinstance(x, (int, float)) and not isinstance(x, bool) and (low < x if low_open else low <= x) and x <= high
    if not ok:
        side = "(" if low_open else "["
        raise ValueError(f"{name} must be a number in {side}{low}, {high}], got {name}={x!r}")


def narrow_space(space, params, values, direction, top_fraction=0.2, min_top=3, margin=0.25,
                 move_edges=True, edge_fraction=0.05, min_width=0.1, edge_step=0.25):
    """The space of the next coarse-to-fine stage.

    For each parameter:

    - numeric range: the unit-space span ``[a, b]`` of the top trials' values, widened by
      ``margin * (b - a)`` on each side and to at least ``min_width`` of the old unit range
      (so it never collapses to a point), kept inside the old range, mapped back through
      ``from_unit`` (log ranges stay log). Integer ranges stay integer with ``low < high``
      (widened by one if they collapse, so they never become Fixed).
    - numeric range whose best value lies in an edge zone (``edge_fraction`` of the unit
      range, or an integer endpoint), when ``move_edges``: the range moves outward. With
      ``h = max(w / 2, edge_step)`` (``w`` the shrunk width above) the new unit range is
      ``[u_best - h, 1 + h]`` at the high edge and ``[-h, u_best + h]`` at the low edge:
      it reaches ``h`` past the old edge (e.g. on a 5-decade log range, at least 1.25
      decades), clipped to ``bounds``. An edge that is already the hard bound shrinks
      normally.
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
        move_edges: move a range outward when its best sits at an edge.
        edge_fraction: width of an edge zone in unit space.
        min_width: smallest new width, as a fraction of the old unit range.
        edge_step: smallest move past an edge, as a fraction of the old unit range.

    Returns:
        a new :class:`~hpsearch.space.Space` with the same names in the same order; the input
        space itself when no trial has a finite value (nothing to narrow from).
    """
    _check_fraction("top_fraction", top_fraction, 0, 1, low_open=True)
    _check_fraction("margin", margin, 0, math.inf)
    _check_fraction("min_width", min_width, 0, 1, low_open=True)
    _check_fraction("edge_fraction", edge_fraction, 0, 0.5)
    _check_fraction("edge_step", edge_step, 0, math.inf)
    params, values = _check(params, values, direction)
    if not values:
        return space
    top = [params[i] for i in top_indices(values, direction, top_fraction, min_top)]
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
            new[name] = _narrow_range(dist, [p[name] for p in top], margin, move_edges, edge_fraction,
                                      min_width, edge_step)
    return space.replace(new)


def _narrow_range(dist, top_values, margin, move_edges, edge_fraction, min_width, edge_step):
    """The next range of one numeric distribution; ``top_values[0]`` is the best trial's."""
    us = [dist.to_unit(v) for v in top_values]
    a, b = min(us), max(us)
    width = min(max((b - a) * (1 + 2 * margin), min_width), 1.0)
    edge = edge_of(dist, top_values[0], edge_fraction) if move_edges else None
    if edge is not None and at_hard_bound(dist, edge):
        edge = None  # nothing lies beyond a hard bound: shrink onto it instead
    if edge is not None:
        h = max(width / 2, edge_step)
        u_best = us[0]
        lo_u, hi_u = (min(u_best, 1.0) - h, max(u_best, 1.0) + h) if edge == "high" else \
                     (min(u_best, 0.0) - h, max(u_best, 0.0) + h)
    else:
        centre = (a + b) / 2
        lo_u, hi_u = centre - width / 2, centre + width / 2
        if lo_u < 0.0:  # slide (not cut) into the old range so the width is kept
            lo_u, hi_u = 0.0, width
        elif hi_u > 1.0:
            lo_u, hi_u = 1.0 - width, 1.0
    low, high = dist.from_unit(lo_u), dist.from_unit(hi_u)
    if isinstance(dist, IntUniform):
        return _int_range(dist, low, high)
    if not low < high:  # squeezed against a bound by round-off: keep the old range
        return dist
    return dist.with_range(low, high)


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
