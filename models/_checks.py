"""Argument checks shared by the modules of ``models`` (which never imports ``hpsearch.checks``).

Each returns the value normalised (a Python int, float or bool) or raises an error whose one-line
message names the argument, what is valid and the value given.
"""
import math
import numbers

import numpy as np


def is_int(value):
    """True for an integer (Python or NumPy), False for bools and everything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def int_at_least(name, value, minimum, error=ValueError):
    """``value`` as an int >= ``minimum``, else ``error("{name} must be an integer >= {minimum}, ...")``."""
    if not is_int(value) or value < minimum:
        raise error(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def positive_int(name, value):
    """``value`` as an int >= 1, else ValueError "{name} must be a positive integer, got ..."."""
    if not is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def seed_int(value, name="seed"):
    """A seed: an int >= 0, else ValueError "seed must be a non-negative integer, got ..."."""
    if not is_int(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def real(name, value, low=None, high=None, low_open=False, high_open=False):
    """``value`` as a finite Python float inside the given bounds (None: unbounded), else ValueError
    "{name} must be a finite number in [low, high), got ..." (brackets as the bounds are open)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    ok = math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "-inf" if low is None else repr(float(low))
        hi = "inf" if high is None else repr(float(high))
        left = "(" if low_open or low is None else "["
        right = ")" if high_open or high is None else "]"
        raise ValueError(f"{name} must be a finite number in {left}{lo}, {hi}{right}, got {value!r}")
    return value


def flag(name, value):
    """``value`` as a bool, accepting only True / False (NumPy's too), else ValueError naming it."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)
