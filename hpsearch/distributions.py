"""Distributions of a search space: small, frozen, validated value objects.

Each distribution knows how to map its values to and from the unit interval
(``to_unit`` / ``from_unit``). That is the one place where the log transform
lives: samplers work on the unit cube and never see it (Optuna's habit).

- ``LogUniform(low, high)``: floats, uniform in log space (learning rates, weight decay).
- ``Uniform(low, high)``: floats, uniform.
- ``IntUniform(low, high)``: integers ``low..high`` inclusive, each equally likely.
- ``IntLogUniform(low, high)``: integers, log-uniform (layer widths).
- ``Choice(values)``: any values, lists included (``Choice([[50], [100, 100]])``); unordered.
- ``Fixed(value)``: a constant that still shows up in every trial's params.
- ``ScipyDistribution(frozen)``: a ``scipy.stats`` frozen distribution (anything with ``rvs``),
  the scikit-learn convention; random sampling (and Sobol through ``ppf``) only.

Numeric ranges carry ``bounds = (lo, hi)``: hard limits that coarse-to-fine narrowing
never crosses when it moves a range outward (default ``(0, inf)`` for log ranges and
ranges with ``low >= 0``, ``(1, inf)`` for ``IntLogUniform``, else ``(-inf, inf)``).
"""
import copy
import difflib
import math
import numbers

import numpy as np

__all__ = [
    "Distribution",
    "LogUniform",
    "Uniform",
    "IntUniform",
    "IntLogUniform",
    "Choice",
    "Fixed",
    "ScipyDistribution",
    "distribution_from_dict",
]

_INF = math.inf


def _real(cls_name, what, x):
    """``x`` as a finite float, or a ValueError naming the class, argument and value."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise ValueError(f"{cls_name} needs a number for {what}, got {what}={x!r}")
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"{cls_name} needs a finite {what}, got {what}={x!r}")
    return x


def _integer(cls_name, what, x):
    """``x`` as a Python int (integral floats accepted), else ValueError."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise ValueError(f"{cls_name} needs an integer {what}, got {what}={x!r}")
    if isinstance(x, numbers.Integral):
        return int(x)
    x = float(x)
    if not math.isfinite(x) or not x.is_integer():
        raise ValueError(f"{cls_name} needs an integer {what}, got {what}={x!r}")
    return int(x)


def value_key(value):
    """A hashable stand-in for a parameter value: lists -> tuples, dicts -> sorted item tuples.

    Choice uses it to index its values; importance and the plots use it to group trials
    by value.

    Lists and tuples freeze alike: a tuple choice comes back from a JSON storage as a
    list and must still be recognised. bools are tagged so that ``Choice([0, False])``
    keeps two different values (``0 == False`` in Python).
    """
    if isinstance(value, (list, tuple)):
        return ("seq", tuple(value_key(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((repr(k), value_key(v)) for k, v in value.items())))
    if isinstance(value, (bool, np.bool_)):
        return ("bool", bool(value))
    if isinstance(value, np.generic):
        value = value.item()
    hash(value)  # raises TypeError for other unhashable values
    return value


def _plain(value):
    """numpy scalars -> Python scalars (params must be JSON-able plain values)."""
    return value.item() if isinstance(value, np.generic) else value


def _check_jsonable(owner, value):
    if value is None or isinstance(value, (str, bool, int, float)):
        return
    if isinstance(value, (list, tuple)):
        for v in value:
            _check_jsonable(owner, v)
        return
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        for v in value.values():
            _check_jsonable(owner, v)
        return
    raise ValueError(f"{owner} holds {value!r} ({type(value).__name__}), which cannot be written to a "
                     f"study file; use str, int, float, bool, None or lists/dicts of them")


def _fmt_bound(x):
    return "inf" if x == _INF else "-inf" if x == -_INF else f"{x:g}"


def _bound_out(x):
    """Infinite bounds are written as None so the dict is strict JSON."""
    return None if math.isinf(x) else x


class Distribution:
    """Base of every distribution: frozen, hashable, compared by value.

    Subclasses set ``_key`` (a hashable tuple of their defining values) in
    ``__init__`` through ``object.__setattr__``.
    """

    ordered = False   # numeric: boundary flags and narrowing apply
    log = False
    low = None
    high = None
    bounds = None

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable; build a new one instead")

    def __delattr__(self, name):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other):
        return type(self) is type(other) and self._key == other._key

    def __hash__(self):
        return hash((type(self).__name__, self._key))

    def __reduce__(self):
        # The frozen __setattr__ breaks default unpickling; rebuild through the constructor.
        return (type(self), self._args())

    def sample(self, rng, size=None):
        """Random draws: one plain value (``size=None``) or a list of ``size`` values.

        Args:
            rng: a ``numpy.random.Generator``.
            size: None or a non-negative int.
        """
        if size is None:
            return self.from_unit(float(rng.random()))
        return [self.from_unit(float(u)) for u in rng.random(int(size))]


class _Range(Distribution):
    """Shared validation and transforms of the numeric ranges."""

    ordered = True
    _type = None          # the study-file type name
    _integer = False

    def __init__(self, low, high, bounds=None):
        name = type(self).__name__
        conv = _integer if self._integer else _real
        got = f"got low={low!r}, high={high!r}"  # the user's values, as typed
        low, high = conv(name, "low", low), conv(name, "high", high)
        self._check_range(low, high, got)
        bounds = self._check_bounds(low, high, bounds)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "bounds", bounds)
        object.__setattr__(self, "_key", (low, high, bounds))
        lo_t, hi_t = self._transform(low, high)
        object.__setattr__(self, "_t", (lo_t, hi_t))

    # -- validation --------------------------------------------------------------------
    def _check_range(self, low, high, got):
        if not low < high:
            raise ValueError(f"{type(self).__name__} needs low < high, {got}")

    def _default_bounds(self, low):
        return (0.0, _INF) if low >= 0 else (-_INF, _INF)

    def _check_bounds(self, low, high, bounds):
        name = type(self).__name__
        if bounds is None:
            return self._default_bounds(low)
        if isinstance(bounds, (str, bytes)) or not hasattr(bounds, "__len__") or len(bounds) != 2:
            raise ValueError(f"{name} needs bounds=(lo, hi), got bounds={bounds!r}")
        out = []
        for x, inf in zip(bounds, (-_INF, _INF)):
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
        k = _check_k(k)
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


def _check_k(k):
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"grid needs a positive integer number of points, got k={k!r}")
    return int(k)


class Uniform(_Range):
    """Floats uniform on ``[low, high]``."""

    _type = "uniform"


class LogUniform(_Range):
    """Floats uniform in log space on ``[low, high]``, ``0 < low < high``.

    ``LogUniform(1e-6, 1e-1)`` spends as many trials on [1e-6, 1e-5] as on [1e-2, 1e-1].
    """

    log = True
    _type = "loguniform"

    def _check_range(self, low, high, got):
        if not 0 < low < high:
            raise ValueError(f"LogUniform needs 0 < low < high, {got}")

    def _default_bounds(self, low):
        return (0.0, _INF)

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


class IntUniform(_Range):
    """Integers ``low, low + 1, ..., high`` (inclusive), each equally likely."""

    _type = "int"
    _integer = True

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
        lo = -_INF if math.isinf(lo) else math.ceil(lo)
        hi = _INF if math.isinf(hi) else math.floor(hi)
        return int(min(max(x, lo), hi))

    def grid(self, k):
        """Up to ``k`` unique integers, evenly spaced, both endpoints included."""
        k = _check_k(k)
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
        return (1.0, _INF)

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
        k = _check_k(k)
        if k == 1:
            return [self.from_unit(0.5)]
        if k >= self.n_values():
            return list(range(self.low, self.high + 1))
        # Rounding can merge neighbours at the low end, so fewer than k may come back.
        return sorted({int(v) for v in np.round(np.geomspace(self.low, self.high, k))})


class Choice(Distribution):
    """One of ``values`` (any values, lists included), each equally likely; unordered.

    ``Choice([[50], [100, 100]])`` chooses between two hidden-layer layouts. Values are
    stored frozen (lists as tuples) so the distribution hashes, and given back as the
    user wrote them (fresh copies, so callers cannot change the space).
    """

    def __init__(self, values):
        if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
            raise ValueError(f"Choice needs a list of values, got {values!r}")
        values = [_plain(v) for v in values]
        if not values:
            raise ValueError("Choice needs at least one value, got an empty list")
        keys = []
        for v in values:
            try:
                keys.append(value_key(v))
            except TypeError:
                raise ValueError(f"Choice values must be plain values or lists of them, got {v!r} "
                                 f"({type(v).__name__})") from None
        if len(set(keys)) != len(keys):
            seen, dup = set(), None
            for v, key in zip(values, keys):
                if key in seen:
                    dup = v
                    break
                seen.add(key)
            raise ValueError(f"Choice needs distinct values, got {dup!r} twice in {values!r}")
        object.__setattr__(self, "_values", tuple(copy.deepcopy(values)))
        object.__setattr__(self, "_key", tuple(keys))
        object.__setattr__(self, "_index", {key: i for i, key in enumerate(keys)})

    def _args(self):
        return (list(self._values),)

    @property
    def values(self):
        """The choices, as given (a fresh list of copies)."""
        return copy.deepcopy(list(self._values))

    def __len__(self):
        return len(self._values)

    def index(self, value):
        """Position of ``value`` among the choices; ValueError if it is not one of them."""
        try:
            return self._index[value_key(_plain(value))]
        except (KeyError, TypeError):
            raise ValueError(f"{value!r} is not one of the choices {list(self._values)!r}") from None

    def to_unit(self, value):
        """Centre of the value's cell: ``(index + 0.5) / n``."""
        return (self.index(value) + 0.5) / len(self._values)

    def from_unit(self, u):
        """The value in cell ``floor(u * n)`` (clipped to a valid index)."""
        n = len(self._values)
        i = min(max(int(math.floor(float(u) * n)), 0), n - 1)
        return copy.deepcopy(self._values[i])

    def grid(self, k=None):
        """Every value, in the given order (``k`` is ignored)."""
        return self.values

    def to_dict(self):
        _check_jsonable("Choice", list(self._values))
        return {"type": "choice", "values": self.values}

    def __repr__(self):
        return f"Choice({list(self._values)!r})"


class Fixed(Distribution):
    """A constant: every trial gets ``value``; not a dimension of the unit cube."""

    def __init__(self, value):
        value = _plain(value)
        try:
            key = value_key(value)
        except TypeError:
            raise ValueError(f"Fixed needs a plain value or a list of them, got {value!r} "
                             f"({type(value).__name__})") from None
        object.__setattr__(self, "_value", copy.deepcopy(value))
        object.__setattr__(self, "_key", key)

    def _args(self):
        return (self._value,)

    @property
    def value(self):
        return copy.deepcopy(self._value)

    def to_unit(self, value):
        return 0.5

    def from_unit(self, u):
        return self.value

    def sample(self, rng, size=None):
        return self.value if size is None else [self.value for _ in range(int(size))]

    def grid(self, k=None):
        return [self.value]

    def to_dict(self):
        _check_jsonable("Fixed", self._value)
        return {"type": "fixed", "value": self.value}

    def __repr__(self):
        return f"Fixed({self._value!r})"


class ScipyDistribution(Distribution):
    """A ``scipy.stats`` frozen distribution (anything with ``rvs``), the scikit-learn way.

    Random sampling draws with ``rvs(random_state=rng)``. ``from_unit`` uses ``ppf`` when
    the object has one (so Sobol can use it); grids, boundary flags and narrowing never
    apply (``ordered`` is False).
    """

    def __init__(self, frozen):
        if not callable(getattr(frozen, "rvs", None)):
            raise ValueError(f"ScipyDistribution needs an object with an rvs method "
                             f"(a scipy.stats frozen distribution), got {frozen!r}")
        object.__setattr__(self, "frozen", frozen)
        object.__setattr__(self, "_key", self._identity(frozen))

    @staticmethod
    def _identity(frozen):
        dist = getattr(frozen, "dist", None)
        name = getattr(dist, "name", None)
        args, kwds = getattr(frozen, "args", None), getattr(frozen, "kwds", None)
        if name is not None and args is not None and kwds is not None:
            try:
                key = (name, value_key(list(args)), value_key(dict(kwds)))
                hash(key)
                return key
            except TypeError:
                pass
        return ("id", id(frozen))

    @property
    def has_ppf(self):
        return callable(getattr(self.frozen, "ppf", None))

    def sample(self, rng, size=None):
        x = self.frozen.rvs(size=size, random_state=rng)
        if size is None:
            return _plain(np.asarray(x)[()]) if np.ndim(x) == 0 else np.asarray(x).tolist()
        return np.asarray(x).reshape(-1).tolist()

    def from_unit(self, u):
        if not self.has_ppf:
            raise ValueError(f"{self!r} has no ppf, so it can only be sampled at random")
        return _plain(np.asarray(self.frozen.ppf(float(u)))[()])

    def to_unit(self, value):
        cdf = getattr(self.frozen, "cdf", None)
        if not callable(cdf):
            raise ValueError(f"{self!r} has no cdf, so it has no unit-cube position")
        return float(cdf(value))

    def grid(self, k=None):
        raise ValueError("a scipy.stats distribution has no grid; only the random sampler can sample it")

    def to_dict(self):
        """``{"type": "scipy", "name": "norm", "args": [...], "kwds": {...}}`` when rebuildable."""
        if self._key[0] != "id":
            name, args, kwds = self._key[0], list(self.frozen.args), dict(self.frozen.kwds)
            args, kwds = [_plain(a) for a in args], {k: _plain(v) for k, v in kwds.items()}
            try:
                _check_jsonable("ScipyDistribution", [args, kwds])
                return {"type": "scipy", "name": name, "args": args, "kwds": kwds}
            except ValueError:
                pass
        return {"type": "scipy", "repr": repr(self.frozen)}

    def __repr__(self):
        if self._key[0] != "id":
            parts = [repr(a) for a in self.frozen.args] + [f"{k}={v!r}" for k, v in self.frozen.kwds.items()]
            return f"ScipyDistribution({self._key[0]}({', '.join(parts)}))"
        return f"ScipyDistribution({self.frozen!r})"

    def _args(self):
        return (self.frozen,)


# The study-file form: type name -> (constructor, required keys, optional keys).
_FROM_DICT = {
    "loguniform": (LogUniform, ("low", "high"), ("bounds",)),
    "uniform": (Uniform, ("low", "high"), ("bounds",)),
    "int": (IntUniform, ("low", "high"), ("bounds",)),
    "intlog": (IntLogUniform, ("low", "high"), ("bounds",)),
    "choice": (Choice, ("values",), ()),
    "fixed": (Fixed, ("value",), ()),
    "scipy": (None, ("name",), ("args", "kwds")),
}
DISTRIBUTION_TYPES = tuple(sorted(k for k in _FROM_DICT if k != "scipy"))


def _did_you_mean(word, choices):
    # 0.7: typos ('logunifrom', 'hihg') get a suggestion, different words ('normal', 'log') do not
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.7) if isinstance(word, str) else []
    return f" (did you mean {close[0]!r}?)" if close else ""


def distribution_from_dict(d):
    """A distribution from its study-file form (the inverse of ``to_dict``).

    ``{"type": "loguniform", "low": 1e-5, "high": 0.1}``; types ``loguniform``, ``uniform``,
    ``int``, ``intlog`` (``low``, ``high``, optional ``bounds = [lo, hi]``), ``choice``
    (``values``), ``fixed`` (``value``).

    Raises:
        ValueError: not a dict, unknown type, a missing or unknown key, or bad values.
    """
    if not isinstance(d, dict):
        raise ValueError(f"a distribution must be a table like {{type = \"loguniform\", low = 1e-5, "
                         f"high = 0.1}}, got {d!r}")
    if "type" not in d:
        raise ValueError(f"distribution is missing key 'type'; expected one of {', '.join(DISTRIBUTION_TYPES)}")
    kind = d["type"]
    if not isinstance(kind, str) or kind not in _FROM_DICT:
        raise ValueError(f"unknown distribution type {kind!r}{_did_you_mean(kind, DISTRIBUTION_TYPES)}; "
                         f"expected one of {', '.join(DISTRIBUTION_TYPES)}")
    if kind == "scipy" and "repr" in d:
        raise ValueError(f"the scipy distribution {d['repr']} cannot be rebuilt from a file; "
                         f"only scipy.stats distributions given by name can")
    cls, required, optional = _FROM_DICT[kind]
    keys = set(d) - {"type"}
    for key in required:
        if key not in keys:
            raise ValueError(f"distribution type {kind!r} is missing key {key!r}")
    extra = sorted(keys - set(required) - set(optional))
    if extra:
        raise ValueError(f"unknown key {extra[0]!r} for distribution type {kind!r}"
                         f"{_did_you_mean(extra[0], required + optional)}; expected {', '.join(required + optional)}")
    kwargs = {k: d[k] for k in keys}
    if kind == "scipy":
        import scipy.stats

        frozen_cls = getattr(scipy.stats, str(d["name"]), None)
        if frozen_cls is None or not hasattr(frozen_cls, "freeze"):
            raise ValueError(f"unknown scipy.stats distribution {d['name']!r}")
        return ScipyDistribution(frozen_cls(*d.get("args", []), **d.get("kwds", {})))
    return cls(**kwargs)
