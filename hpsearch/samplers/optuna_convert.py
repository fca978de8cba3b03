"""Speaking Optuna: quiet calls, and our distributions as Optuna's.

Shared by the Optuna samplers (:mod:`hpsearch.samplers`) and the export to an Optuna
storage (:mod:`hpsearch.integration.optuna_export`).
"""
from contextlib import contextmanager
import copy
import logging
import math
import warnings

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hpsearch.distributions import Choice, IntLogUniform, IntUniform, LogUniform, Uniform

__all__ = ["quiet_optuna", "raw_choices", "to_optuna_distribution", "suggest", "PLAIN"]

#: Values Optuna's CategoricalDistribution holds as themselves.
PLAIN = (str, int, float, bool, type(None))


@contextmanager
def quiet_optuna():
    """Silence Optuna's INFO logs ("A new study created", "Trial 0 finished") and its
    ExperimentalWarnings for the duration of our calls, then restore the user's verbosity.

    Only ever raises the threshold: a user who set WARNING or ERROR keeps it.
    """
    old = optuna.logging.get_verbosity()
    if old < logging.WARNING:
        optuna.logging.set_verbosity(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        if old < logging.WARNING:
            optuna.logging.set_verbosity(old)


def raw_choices(values):
    """True if Choice ``values`` can go to Optuna as themselves.

    They must be plain scalars (str, int, float, bool, None), finite, and pairwise unequal in
    Python's sense (Optuna finds a value with ``list.index``, so ``[1, True]`` or ``[1, 1.0]``
    would collide).
    """
    for v in values:
        if not isinstance(v, PLAIN) or (isinstance(v, float) and not math.isfinite(v)):
            return False
    return all(a != b for i, a in enumerate(values) for b in values[i + 1:])


def to_optuna_distribution(name, dist):
    """``(optuna distribution, decode)`` for one of our non-Fixed distributions.

    ``decode(value)`` turns the value Optuna suggests into the plain value of our space.

    Raises:
        ValueError: a scipy.stats distribution or another type Optuna cannot sample.
    """
    if isinstance(dist, (IntUniform, IntLogUniform)):
        return IntDistribution(dist.low, dist.high, log=dist.log), int
    if isinstance(dist, (LogUniform, Uniform)):
        return FloatDistribution(dist.low, dist.high, log=dist.log), float
    if isinstance(dist, Choice):
        values = dist.values
        if raw_choices(values):
            return CategoricalDistribution(values), lambda v: v
        return CategoricalDistribution(list(range(len(values)))), lambda i: copy.deepcopy(values[i])
    raise ValueError(f"parameter {name!r}: Optuna samplers cannot sample {dist!r}; use LogUniform, "
                     f"Uniform, IntUniform, IntLogUniform, Choice or Fixed, or the random sampler")


def suggest(trial, name, distribution):
    """``trial.suggest_*`` for an Optuna ``distribution`` (define-by-run, for spaces with branches:
    a trial is asked only for the parameters of the branches it takes)."""
    if isinstance(distribution, FloatDistribution):
        return trial.suggest_float(name, distribution.low, distribution.high, log=distribution.log)
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(name, distribution.low, distribution.high, log=distribution.log)
    return trial.suggest_categorical(name, distribution.choices)
