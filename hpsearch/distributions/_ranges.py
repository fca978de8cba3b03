"""The numeric ranges: Uniform, LogUniform, IntUniform, IntLogUniform (log transform in one place)."""
import math
import numbers

import numpy as np

from hpsearch.distributions._base import INF, Distribution, as_integer, as_real, check_k

__all__ = ["Range", "Uniform", "LogUniform", "IntUniform", "IntLogUniform"]


def _fmt_bound(x):
    return "inf" if x == INF else "-inf" if x == -INF else f"{x:g}"


def _bound_out(x):
    """Infinite bounds are written as None so the dict is strict JSON."""
    return None if math.isinf(x) else x


class Range(Distribution):
    """Shared validation and transforms of the numeric ranges."""

    ordered = True
    _type = None          # the study-file type name
    as_integer = False

    def __init__(self, low, high, bounds=None):
        name = type(self).__name__
        conv = as_integer if self.as_integer else as_real
        got = f"got low={low!r}, high={high!r}"  # the user's values, as typed
        low, high = conv(name, "low", low), conv(name, "high", high)
        self._check_range(low, high, got)
        bounds = self._check_bounds(low, high, bounds)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "bounds", bounds)
        object.__setattr__(self, "_key", (low, high, bounds))
        lo_t, hi_t = self._transform(low, high)
        if not math.isfinite(hi_t - lo_t):   # else every draw lo + u * inf lands on an edge
            raise ValueError(f"{name} needs a range of finite width (high - low overflows a float), {got}")
        object.__setattr__(self, "_t", (lo_t, hi_t))

    # -- validation --------------------------------------------------------------------
    def _check_range(self, low, high, got):
        if not low < high:
            raise ValueError(f"{type(self).__name__} needs low < high, {got}")

    def _default_bounds(self, low):
        return (0.0, INF) if low >= 0 else (-INF, INF)

    def _check_bounds(self, low, high, bounds):
        name = type(self).__name__
        if bounds is None:
            return self._default_bounds(low)
        if isinstance(bounds, (str, bytes)) or not hasattr(bounds, "__len__") or len(bounds) != 2:
            raise ValueError(f"{name} needs bounds=(lo, hi), got bounds={bounds!r}")
        out = []
        for x, inf in zip(bounds, (-INF, INF)):
            if x is None:
                x = inf
            if isinstance(x, bool) or not isinstance(x, numbers.Real) or math.isnan(x):
                raise ValueError(f"{name} needs numeric bounds (None or inf for no limit), got bounds={bounds!r}")
            out.append(float(x))
        lo, hi = out
        if not (lo <= low and high <= hi and lo < hi):
            raise ValueError(f"{name} needs bounds[0] <= low < high <= bounds[1], got low={low!r}, "
                             f"high={high!r}, bounds={tuple(bounds)!r}")
        self._check_bounds_domain(lo, bounds)
        return (lo, hi)

    def _check_bounds_domain(self, lo, bounds):
        """Log ranges cannot extend to non-positive values."""

    # -- transforms --------------------------------------------------------------------
    def _transform(self, low, high):
        """(low, high) in the space where sampling is uniform."""
        return float(low), float(high)

    def _forward(self, x):
        return float(x)

    def _inverse(self, t):
        return float(t)

    def to_unit(self, value):
        """Position of ``value`` in the range: 0 at ``low``, 1 at ``high`` (transformed space)."""
        lo, hi = self._t
        return (self._forward(value) - lo) / (hi - lo)

    def from_unit(self, u):
        """The value at unit position ``u``; ``u`` outside [0, 1] extrapolates (clipped to ``bounds``)."""
        u = float(u)
        if u == 0.0 or u == 1.0:  # the endpoints exactly, without exp(log(x)) round-off
            return self.low if u == 0.0 else self.high
        lo, hi = self._t
        x = self._inverse(lo + u * (hi - lo))
        if 0.0 <= u <= 1.0:  # float round-off must not step outside the range
            x = min(max(x, self.low), self.high)
        return self._clip(x)

    def _clip(self, x):
        return float(min(max(x, self.bounds[0]), self.bounds[1]))

    def grid(self, k):
        """``k`` evenly spaced values (in transformed space), both endpoints included.

        ``k == 1`` gives the centre of the range.
        """
        k = check_k(k)
        if k == 1:
            return [self.from_unit(0.5)]
        points = np.geomspace(self.low, self.high, k) if self.log else np.linspace(self.low, self.high, k)
        points[0], points[-1] = self.low, self.high
        # 12 significant digits: 1e-05 rather than 9.999999999999999e-06 from exp/log round-off
        return [float(f"{x:.12g}") if self.log else float(x) for x in points]

    def _args(self):
        return (self.low, self.high, self.bounds)

    def with_range(self, low, high):
        """The same kind of distribution over ``[low, high]`` with the same ``bounds``."""
        return type(self)(low, high, bounds=self.bounds)

    def with_bounds(self, lo, hi):
        """The same range with ``bounds`` tightened to their intersection with ``[lo, hi]``.

        Used to apply the values an objective accepts (e.g. a layer width of at least 1),
        so coarse-to-fine never moves a range where every trial would fail.

        Raises:
            ValueError: ``[low, high]`` itself reaches outside ``[lo, hi]``.
        """
        lo = self.bounds[0] if lo is None else max(self.bounds[0], float(lo))
        hi = self.bounds[1] if hi is None else min(self.bounds[1], float(hi))
        if self.low < lo or self.high > hi:
            raise ValueError(f"{type(self).__name__}({self.low!r}, {self.high!r}) reaches outside the values "
                             f"the objective accepts [{_fmt_bound(lo)}, {_fmt_bound(hi)}]")
        if (lo, hi) == self.bounds:
            return self
        return type(self)(self.low, self.high, bounds=(lo, hi))

    # -- study-file form ---------------------------------------------------------------
    def to_dict(self):
        """The study-file form, e.g. ``{"type": "loguniform", "low": 1e-05, "high": 0.1}``."""
        d = {"type": self._type, "low": self.low, "high": self.high}
        if self.bounds != self._default_bounds(self.low):
            d["bounds"] = [_bound_out(b) for b in self.bounds]
        return d

    def __repr__(self):
        extra = ""
        if self.bounds != self._default_bounds(self.low):
            extra = f", bounds=({self.bounds[0]!r}, {self.bounds[1]!r})"
        return f"{type(self).__name__}({self.low!r}, {self.high!r}{extra})"


class Uniform(Range):
    """Floats uniform on ``[low, high]``."""

    _type = "uniform"


class LogUniform(Range):
    """Floats uniform in log space on ``[low, high]``, ``0 < low < high``.

    ``LogUniform(1e-6, 1e-1)`` spends as many trials on [1e-6, 1e-5] as on [1e-2, 1e-1].
    """

    log = True
    _type = "loguniform"

    def _check_range(self, low, high, got):
        if not 0 < low < high:
            raise ValueError(f"LogUniform needs 0 < low < high, {got}")

    def _default_bounds(self, low):
        return (0.0, INF)

    def _check_bounds_domain(self, lo, bounds):
        if lo < 0:
            raise ValueError(f"LogUniform needs bounds[0] >= 0 (log ranges stay positive), got bounds={tuple(bounds)!r}")

    def _transform(self, low, high):
        return math.log(low), math.log(high)

    def _forward(self, x):
        return math.log(x)

    def _inverse(self, t):
        return math.exp(t)

    def _clip(self, x):
        # exp() of a far extrapolation can underflow to 0; keep log ranges positive.
        return max(super()._clip(x), math.ulp(0.0))


class IntUniform(Range):
    """Integers ``low, low + 1, ..., high`` (inclusive), each equally likely."""

    _type = "int"
    as_integer = True

    def _transform(self, low, high):
        # Each integer owns a cell of width 1: [v - 0.5, v + 0.5).
        return low - 0.5, high + 0.5

    def from_unit(self, u):
        """The integer whose cell holds ``u``: ``floor(low + u * (high - low + 1))``.

        Inside [0, 1] the result is clipped to ``[low, high]``; outside it extrapolates,
        clipped to ``bounds``.
        """
        u = float(u)
        x = math.floor(self.low + u * (self.high - self.low + 1))
        if 0.0 <= u <= 1.0:
            x = min(max(x, self.low), self.high)
        return self._clip(x)

    def _clip(self, x):
        lo, hi = self.bounds
        lo = -INF if math.isinf(lo) else math.ceil(lo)
        hi = INF if math.isinf(hi) else math.floor(hi)
        return int(min(max(x, lo), hi))

    def grid(self, k):
        """Up to ``k`` unique integers, evenly spaced, both endpoints included."""
        k = check_k(k)
        if k == 1:
            return [self.from_unit(0.5)]
        if k >= self.n_values():
            return list(range(self.low, self.high + 1))
        return sorted({int(v) for v in np.round(np.linspace(self.low, self.high, k))})

    def n_values(self):
        """How many integers the range holds."""
        return self.high - self.low + 1


class IntLogUniform(IntUniform):
    """Integers on ``[low, high]``, ``low >= 1``, log-uniform (Optuna's way).

    A value is drawn log-uniformly on ``[low - 0.5, high + 0.5]`` and rounded, so every
    integer gets the log-width of its own cell.
    """

    log = True
    _type = "intlog"

    def _check_range(self, low, high, got):
        if not 1 <= low < high:
            raise ValueError(f"IntLogUniform needs 1 <= low < high, {got}")

    def _default_bounds(self, low):
        return (1.0, INF)

    def _check_bounds_domain(self, lo, bounds):
        if lo < 1:
            raise ValueError(f"IntLogUniform needs bounds[0] >= 1, got bounds={tuple(bounds)!r}")

    def _transform(self, low, high):
        return math.log(low - 0.5), math.log(high + 0.5)

    def to_unit(self, value):
        """Centre of ``value``'s cell ``[value - 0.5, value + 0.5]`` in log space, scaled to [0, 1]."""
        lo, hi = self._t
        value = float(value)
        centre = 0.5 * (math.log(value - 0.5) + math.log(value + 0.5))
        return (centre - lo) / (hi - lo)

    def from_unit(self, u):
        """``round(exp(...))`` of the log-space point; clipped like :meth:`IntUniform.from_unit`."""
        u = float(u)
        lo, hi = self._t
        x = int(round(math.exp(lo + u * (hi - lo))))
        if 0.0 <= u <= 1.0:
            x = min(max(x, self.low), self.high)
        return self._clip(x)

    def grid(self, k):
        """Up to ``k`` unique integers, geometrically spaced, both endpoints included."""
        k = check_k(k)
        if k == 1:
            return [self.from_unit(0.5)]
        if k >= self.n_values():
            return list(range(self.low, self.high + 1))
        # Rounding can merge neighbours at the low end, so fewer than k may come back.
        return sorted({int(v) for v in np.round(np.geomspace(self.low, self.high, k))})
