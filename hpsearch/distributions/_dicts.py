"""Distributions to and from their study-file form, e.g. ``{"type": "loguniform", "low": 1e-5, "high": 0.1}``."""
import difflib

from hpsearch.distributions._discrete import Choice, Fixed
from hpsearch.distributions._ranges import IntLogUniform, IntUniform, LogUniform, Uniform
from hpsearch.distributions._scipy import ScipyDistribution

__all__ = ["distribution_from_dict", "DISTRIBUTION_TYPES"]


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
