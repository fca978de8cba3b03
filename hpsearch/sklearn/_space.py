"""A scikit-learn ``param_distributions``-style space as an hpsearch :class:`~hpsearch.space.Space`.

scikit-learn users write spaces as ``{"clf__C": scipy.stats.loguniform(1e-3, 1e3),
"clf__kernel": ["rbf", "linear"]}``. Here:

- hpsearch distributions are kept as they are;
- lists become a :class:`~hpsearch.distributions.Choice`; a list holding values that cannot be
  stored (estimators, functions) becomes a Choice of positions, decoded before ``set_params``;
- ``scipy.stats`` ``loguniform``/``reciprocal``, ``uniform`` and ``randint`` become
  :class:`LogUniform`, :class:`Uniform` and :class:`IntUniform` over the same values, so that
  edge warnings and coarse-to-fine apply to them; any other frozen distribution stays a
  scipy distribution (random search only).
"""
from collections.abc import Mapping

from hpsearch.distributions import Choice, Distribution, IntUniform, LogUniform, Uniform
from hpsearch.space import Space

__all__ = ["SklearnSpace", "range_of"]


def _plain(value):
    """True for a value a trial record can store (JSON: str, int, float, bool, None, lists of them)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return type(value).__module__ == "numpy" and hasattr(value, "item") and _plain(value.item())


def _from_scipy(frozen):
    """The hpsearch range equal to a scipy.stats frozen distribution, or None."""
    name = getattr(getattr(frozen, "dist", None), "name", None)
    args, kwds = tuple(getattr(frozen, "args", ())), dict(getattr(frozen, "kwds", {}))
    if name in ("loguniform", "reciprocal", "randint") and not kwds and len(args) == 2:
        low, high = (float(a) for a in args)
        if name == "randint":
            return IntUniform(int(low), int(high) - 1) if int(high) - 1 > int(low) else None
        return LogUniform(low, high)
    if name == "uniform":
        loc = kwds.pop("loc", args[0] if args else 0.0)
        scale = kwds.pop("scale", args[1] if len(args) > 1 else 1.0)
        if not kwds and len(args) <= 2 and scale > 0:
            return Uniform(float(loc), float(loc) + float(scale))
    return None


def range_of(value):
    """The hpsearch distribution a space value stands for: itself, the range equal to a scipy.stats
    ``loguniform``/``uniform``/``randint``, or None (a list, another scipy distribution)."""
    if isinstance(value, Distribution):
        return value
    if callable(getattr(value, "rvs", None)):
        return _from_scipy(value)
    return None


class SklearnSpace:
    """A search space given the scikit-learn way, and how to decode its trials' params.

    Args:
        space: a dict (or :class:`~hpsearch.space.Space`) of parameter names (nested with
            ``__`` for pipelines) to hpsearch distributions, scipy.stats frozen distributions
            or lists of values.

    Attributes:
        space: the :class:`~hpsearch.space.Space` the study searches.
        objects: name -> the list of values a Choice of positions stands for.

    Raises:
        ValueError: not a dict, an empty dict, an empty list, or a value of another kind
            (the message names the parameter).
    """

    def __init__(self, space):
        if isinstance(space, Space):
            self.space, self.objects = space, {}
            return
        if not isinstance(space, Mapping):
            kind = "a list of dicts" if isinstance(space, (list, tuple)) else type(space).__name__
            hint = " (a space with alternatives: RandomizedSearchCV and GridSearchCV take one; SearchCV's " \
                   "strategies narrow one dict of ranges)" if kind == "a list of dicts" else ""
            raise ValueError(f"space must be a dict of parameter names to distributions or lists, got {kind}{hint}")
        dists, self.objects = {}, {}
        for name, value in space.items():
            dists[name] = self._distribution(name, value)
        try:
            self.space = Space(dists)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"space: {exc}") from None

    def _distribution(self, name, value):
        if isinstance(value, Distribution):
            return value
        if callable(getattr(value, "rvs", None)):
            return _from_scipy(value) or value
        if isinstance(value, (list, tuple, range)) or type(value).__name__ == "ndarray":
            values = list(value)
            if not values:
                raise ValueError(f"space[{name!r}] is an empty list; give at least one value")
            distinct = len({repr(v) for v in values}) == len(values)
            if distinct and all(_plain(v) for v in values):
                try:
                    return Choice(values)
                except ValueError as exc:
                    raise ValueError(f"space[{name!r}]: {exc}") from None
            self.objects[name] = values  # estimators, arrays, repeated values: searched by position
            return Choice(list(range(len(values))))
        raise ValueError(f"space[{name!r}] must be a list of values, an hpsearch distribution or a "
                         f"scipy.stats frozen distribution, got {value!r} ({type(value).__name__})")

    def decode(self, params):
        """A trial's stored params as the estimator takes them (positions -> the objects)."""
        if not self.objects:
            return dict(params)
        return {k: (self.objects[k][v] if k in self.objects else v) for k, v in params.items()}

    def describe(self):
        """JSON-able identity of the object choices (their reprs), for the study's spec."""
        return {name: [repr(v) for v in values] for name, values in self.objects.items()}
