"""Boundary flags: distrust a best value that sits on the edge of its searched range.

The lecture's advice: if the best learning rate is at the top of the range you searched,
the true optimum may lie beyond it, so widen the range and search again. After any
search, :func:`find_boundary_flags` checks every ordered (numeric) parameter:

- a float range is flagged when the best trial lies in the outer ``edge_fraction`` (5%) of
  the range, measured in the unit space (log space for log ranges, so on
  ``LogUniform(1e-6, 1e-1)`` the low zone is ``[1e-6, ~1.8e-6]``, not 5% of the linear span);
- an integer range also when the best equals ``low`` or ``high`` (a narrow int range has no
  5% zone); grid values sit exactly on the endpoints, so grids are caught by the same rule;
- an edge that is the parameter's hard bound (e.g. dropout's 0 on ``Uniform(0, 0.5)``, whose
  default ``bounds`` start at 0) is NOT flagged: the range cannot be widened there, so an
  optimum at it is an answer, not a search problem;
- Choice, Fixed and scipy.stats distributions are never flagged.

``top_share`` tells whether the best is alone at the edge or the top trials (the best 20%,
at least 3) cluster there too; the suggestion says it.
"""
from dataclasses import asdict, dataclass
import math

from hpsearch.distributions import IntUniform, ScipyDistribution

__all__ = ["BoundaryFlag", "find_boundary_flags", "edge_of"]

_DIRECTIONS = ("minimize", "maximize")


@dataclass(frozen=True)
class BoundaryFlag:
    """A parameter whose best value lies at an edge of its searched range.

    Attributes:
        param: parameter name.
        edge: "low" or "high".
        value: the best trial's value of the parameter.
        low, high: the searched range.
        suggestion: one line of advice, e.g. ``"lr: best 9.3e-04 is at the high edge of
            [1e-06, 1e-03]; widen above, e.g. to 1e-02; top trials at this edge: 3 of 5"``.
        top_share: fraction of the top trials (best 20%, at least 3) in the same edge zone.
    """

    param: str
    edge: str
    value: float
    low: float
    high: float
    suggestion: str
    top_share: float

    def to_dict(self):
        """Plain, JSON-able fields (``BoundaryFlag(**d)`` rebuilds it)."""
        return asdict(self)

    def __str__(self):
        return self.suggestion


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


def _check(params, values, direction):
    if direction not in _DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; expected one of {', '.join(_DIRECTIONS)}")
    params, values = list(params), list(values)
    if len(params) != len(values):
        raise ValueError(f"got {len(params)} params dicts but {len(values)} values; pass one value per trial")
    keep = [(p, float(v)) for p, v in zip(params, values) if v is not None and math.isfinite(float(v))]
    return [p for p, _ in keep], [v for _, v in keep]


def top_indices(values, direction, top_fraction=0.2, min_top=3):
    """Indices of the top trials, best first: the best ``top_fraction``, at least ``min_top``
    (all of them when there are fewer)."""
    n = len(values)
    m = min(n, max(int(min_top), math.ceil(top_fraction * n)))
    order = sorted(range(n), key=lambda i: values[i], reverse=(direction == "maximize"))
    return order[:m]


def find_boundary_flags(space, params, values, direction, edge_fraction=0.05, top_fraction=0.2, min_top=3):
    """Flags for the ordered parameters whose best value sits at an edge of the range.

    Args:
        space: the :class:`~hpsearch.space.Space` that was searched.
        params: list of the "ok" trials' parameter dicts.
        values: the metric of each of those trials (same order; None/NaN entries are ignored).
        direction: "minimize" or "maximize".
        edge_fraction: width of each edge zone, as a fraction of the unit (log) range.
        top_fraction, min_top: the top trials counted for ``top_share``.

    Returns:
        list of :class:`BoundaryFlag`, in space order; empty without any finite value.
    """
    params, values = _check(params, values, direction)
    if not values:
        return []
    top = top_indices(values, direction, top_fraction, min_top)
    best = params[top[0]]
    flags = []
    for name, dist in space.items():
        if not dist.ordered or isinstance(dist, ScipyDistribution) or name not in best:
            continue
        value = best[name]
        edge = edge_of(dist, value, edge_fraction)
        if edge is None or at_hard_bound(dist, edge):
            continue
        in_zone = sum(1 for i in top if name in params[i] and edge_of(dist, params[i][name], edge_fraction) == edge)
        target, hit_bound = widened_edge(dist, edge)
        f = lambda x: format_value(dist, x)  # noqa: E731
        suggestion = (f"{name}: best {f(value)} is at the {edge} edge of [{f(dist.low)}, {f(dist.high)}]; "
                      f"widen {'below' if edge == 'low' else 'above'}, e.g. to {f(target)}"
                      f"{' (its hard bound)' if hit_bound else ''}"
                      f"{f'; top trials at this edge: {in_zone} of {len(top)}' if len(top) > 1 else ''}")
        flags.append(BoundaryFlag(param=name, edge=edge, value=value, low=dist.low, high=dist.high,
                                  suggestion=suggestion, top_share=in_zone / len(top)))
    return flags
