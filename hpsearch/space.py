"""The search space: an ordered, immutable mapping of parameter names to distributions.

A :class:`Space` maps parameter dicts to and from the unit cube ``[0, 1]^d`` whose
axes are the non-Fixed parameters (``dims``). Samplers work on that cube only, so
the log transform and the integer/choice cells are defined once, in the
distributions, and every sampler gets them for free.

Example::

    >>> from hpsearch import Space, LogUniform, Choice, Fixed
    >>> space = Space({"lr": LogUniform(1e-6, 1e-1), "act": Choice(["relu", "tanh"]), "epochs": Fixed(5)})
    >>> space.dims
    ('lr', 'act')
    >>> space.from_unit([1.0, 0.9])
    {'lr': 0.1, 'act': 'tanh', 'epochs': 5}
    >>> space.to_unit({"lr": 1e-3, "act": "relu", "epochs": 5}).round(2).tolist()
    [0.6, 0.25]
"""
from collections.abc import Mapping

import numpy as np

from hpsearch.distributions import Distribution, Fixed, ScipyDistribution, distribution_from_dict

__all__ = ["Space"]


def _as_distribution(name, dist):
    if isinstance(dist, Distribution):
        return dist
    if callable(getattr(dist, "rvs", None)):  # scipy.stats frozen distribution (sklearn convention)
        try:
            return ScipyDistribution(dist)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    raise TypeError(f"parameter {name!r}: expected a distribution (LogUniform, Uniform, IntUniform, "
                    f"IntLogUniform, Choice, Fixed) or a scipy.stats frozen distribution, got {dist!r} "
                    f"({type(dist).__name__}); use Fixed({dist!r}) for a constant")


class Space(Mapping):
    """Ordered (insertion order), immutable mapping ``name -> distribution``.

    Args:
        mapping: a dict (or Mapping, or Space) of parameter names to distributions.
            Objects with an ``rvs`` method (scipy.stats frozen distributions) are wrapped
            in :class:`~hpsearch.distributions.ScipyDistribution`.

    Raises:
        TypeError: a name that is not a non-empty string, or a value that is not a distribution.
        ValueError: an empty space.
    """

    def __init__(self, mapping):
        if isinstance(mapping, Space):
            items = list(mapping.items())
        elif isinstance(mapping, Mapping):
            items = list(mapping.items())
        else:
            raise TypeError(f"Space needs a dict of parameter names to distributions, got {mapping!r}")
        if not items:
            raise ValueError("Space needs at least one parameter, got an empty dict")
        dists = {}
        for name, dist in items:
            if not isinstance(name, str) or not name:
                raise TypeError(f"parameter names must be non-empty strings, got {name!r}")
            dists[name] = _as_distribution(name, dist)
        self._dists = dists
        self._dims = tuple(n for n, d in dists.items() if not isinstance(d, Fixed))

    # -- Mapping ---------------------------------------------------------------------------
    def __getitem__(self, name):
        return self._dists[name]

    def __iter__(self):
        return iter(self._dists)

    def __len__(self):
        return len(self._dists)

    def __eq__(self, other):
        if not isinstance(other, Space):
            return NotImplemented
        return list(self._dists.items()) == list(other._dists.items())

    def __hash__(self):
        return hash(tuple(self._dists.items()))

    def __repr__(self):
        inner = ", ".join(f"{name!r}: {dist!r}" for name, dist in self._dists.items())
        return f"Space({{{inner}}})"

    # -- shape -----------------------------------------------------------------------------
    @property
    def names(self):
        """All parameter names, in order (tuple)."""
        return tuple(self._dists)

    @property
    def dims(self):
        """Names of the non-Fixed parameters: the axes of the unit cube, in order (tuple)."""
        return self._dims

    # -- unit cube -------------------------------------------------------------------------
    def from_unit(self, u):
        """The parameter dict at point ``u`` of the unit cube.

        Args:
            u: array-like of shape ``(len(dims),)``; entries outside [0, 1] extrapolate
                (clipped to each distribution's ``bounds``).

        Returns:
            dict name -> plain value for every parameter (Fixed ones included), in space order.
        """
        u = np.asarray(u, dtype=float).reshape(-1)
        if u.shape != (len(self._dims),):
            raise ValueError(f"from_unit needs a point of shape ({len(self._dims)},) for dims "
                             f"{list(self._dims)}, got shape {np.shape(u)}")
        coords = dict(zip(self._dims, u.tolist()))
        return {name: (dist.value if isinstance(dist, Fixed) else dist.from_unit(coords[name]))
                for name, dist in self._dists.items()}

    def to_unit(self, params):
        """The unit-cube point of a parameter dict: ndarray of shape ``(len(dims),)``.

        Raises:
            ValueError: a dimension missing from ``params``, or a value a Choice does not hold.
        """
        out = np.empty(len(self._dims))
        for i, name in enumerate(self._dims):
            if name not in params:
                raise ValueError(f"params are missing {name!r}; expected {list(self._dims)}")
            try:
                out[i] = self._dists[name].to_unit(params[name])
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return out

    # -- derived spaces --------------------------------------------------------------------
    def replace(self, mapping=None, **dists):
        """A new Space with some distributions replaced (same names, same order).

        Args:
            mapping: optional dict of replacements (for names that are not identifiers).
            **dists: replacements by name.

        Raises:
            ValueError: a name that is not in the space.
        """
        new = dict(mapping or {})
        new.update(dists)
        for name in new:
            if name not in self._dists:
                raise ValueError(f"unknown parameter {name!r}; expected one of {', '.join(self._dists)}")
        return Space({name: new.get(name, dist) for name, dist in self._dists.items()})

    # -- serialisation ---------------------------------------------------------------------
    def with_bounds(self, bounds):
        """A new Space whose numeric ranges respect ``bounds`` (``{name: (lo, hi)}``).

        Names not in the space and non-numeric parameters are ignored; ``None`` means
        no limit on that side. Hard bounds only constrain coarse-to-fine narrowing and
        the boundary flags, never the ranges the user gave.

        Raises:
            ValueError: a range that reaches outside its bounds (the message names it).
        """
        new = {}
        for name, limits in bounds.items():
            dist = self._dists.get(name)
            if dist is None or not hasattr(dist, "with_bounds"):
                continue
            try:
                new[name] = dist.with_bounds(*limits)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return self.replace(new) if new else self

    def to_dict(self):
        """JSON-able ``{name: distribution.to_dict()}`` in space order."""
        return {name: dist.to_dict() for name, dist in self._dists.items()}

    @classmethod
    def from_dict(cls, d):
        """The inverse of :meth:`to_dict`; errors name the parameter (``lr: ...``)."""
        if not isinstance(d, Mapping):
            raise ValueError(f"a space must be a table of parameter names to distributions, got {d!r}")
        dists = {}
        for name, spec in d.items():
            try:
                dists[name] = distribution_from_dict(spec)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return cls(dists)
