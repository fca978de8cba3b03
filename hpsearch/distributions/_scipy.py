"""scipy.stats frozen distributions as search-space dimensions (random sampling, Sobol via ppf)."""
import numpy as np

from hpsearch.distributions._base import Distribution, check_jsonable, python_scalar, value_key

__all__ = ["ScipyDistribution"]


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
            return python_scalar(np.asarray(x)[()]) if np.ndim(x) == 0 else np.asarray(x).tolist()
        return np.asarray(x).reshape(-1).tolist()

    def from_unit(self, u):
        if not self.has_ppf:
            raise ValueError(f"{self!r} has no ppf, so it can only be sampled at random")
        return python_scalar(np.asarray(self.frozen.ppf(float(u)))[()])

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
            args, kwds = [python_scalar(a) for a in args], {k: python_scalar(v) for k, v in kwds.items()}
            try:
                check_jsonable("ScipyDistribution", [args, kwds])
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
