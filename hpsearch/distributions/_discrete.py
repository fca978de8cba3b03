"""Unordered distributions: Choice (any values, lists too) and Fixed (a constant)."""
import copy
import math

from hpsearch.distributions._base import Distribution, check_jsonable, python_scalar, value_key

__all__ = ["Choice", "Fixed"]


class Choice(Distribution):
    """One of ``values`` (any values, lists included), each equally likely; unordered.

    ``Choice([[50], [100, 100]])`` chooses between two hidden-layer layouts. Values are
    stored frozen (lists as tuples) so the distribution hashes, and given back as the
    user wrote them (fresh copies, so callers cannot change the space).
    """

    def __init__(self, values):
        if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
            raise ValueError(f"Choice needs a list of values, got {values!r}")
        values = [python_scalar(v) for v in values]
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
            return self._index[value_key(python_scalar(value))]
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
        check_jsonable("Choice", list(self._values))
        return {"type": "choice", "values": self.values}

    def __repr__(self):
        return f"Choice({list(self._values)!r})"


class Fixed(Distribution):
    """A constant: every trial gets ``value``; not a dimension of the unit cube."""

    def __init__(self, value):
        value = python_scalar(value)
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
        check_jsonable("Fixed", self._value)
        return {"type": "fixed", "value": self.value}

    def __repr__(self):
        return f"Fixed({self._value!r})"
