"""The base of every distribution and the value checks the distributions share."""
import math
import numbers

import numpy as np

__all__ = ["Distribution", "INF", "as_real", "as_integer", "value_key", "python_scalar", "check_jsonable",
           "check_k"]

INF = math.inf


def as_real(cls_name, what, x):
    """``x`` as a finite float, or a ValueError naming the class, argument and value."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise ValueError(f"{cls_name} needs a number for {what}, got {what}={x!r}")
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"{cls_name} needs a finite {what}, got {what}={x!r}")
    return x


def as_integer(cls_name, what, x):
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


def python_scalar(value):
    """numpy scalars -> Python scalars (params must be JSON-able plain values)."""
    return value.item() if isinstance(value, np.generic) else value


def check_jsonable(owner, value):
    if value is None or isinstance(value, (str, bool, int, float)):
        return
    if isinstance(value, (list, tuple)):
        for v in value:
            check_jsonable(owner, v)
        return
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        for v in value.values():
            check_jsonable(owner, v)
        return
    raise ValueError(f"{owner} holds {value!r} ({type(value).__name__}), which cannot be written to a "
                     f"study file; use str, int, float, bool, None or lists/dicts of them")


def check_k(k):
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"grid needs a positive integer number of points, got k={k!r}")
    return int(k)


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
