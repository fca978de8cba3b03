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
from hpsearch.distributions._base import Distribution, value_key
from hpsearch.distributions._dicts import DISTRIBUTION_TYPES, distribution_from_dict
from hpsearch.distributions._discrete import Choice, Fixed
from hpsearch.distributions._ranges import IntLogUniform, IntUniform, LogUniform, Range, Uniform
from hpsearch.distributions._scipy import ScipyDistribution

__all__ = [
    "Distribution",
    "Range",
    "LogUniform",
    "Uniform",
    "IntUniform",
    "IntLogUniform",
    "Choice",
    "Fixed",
    "ScipyDistribution",
    "distribution_from_dict",
    "DISTRIBUTION_TYPES",
    "value_key",
]
