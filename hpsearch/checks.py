"""The small checks every module needs, decided once: counts, seeds, names, directions.

User input is validated at the boundary (constructors, study files, the CLI) with
these helpers, so a seed or a study name means the same everywhere and every
message has the same shape: it names the argument, the value and what is valid.
"""
import difflib
import math
import numbers

__all__ = ["DIRECTIONS", "SEED_LIMIT", "MAX_TRIALS", "MAX_BUDGET", "check_budget", "check_trials", "NAME_CHARS", "check_direction", "is_better", "positive_int",
           "check_seed", "check_name", "one_line", "closest", "did_you_mean", "finite"]

#: The two ways a metric can be optimised.
DIRECTIONS = ("maximize", "minimize")
#: Seeds are non-negative integers below this (they fit numpy, torch and the stdlib).
SEED_LIMIT = 2 ** 32
#: The most trials a stage may plan: every finished trial stays in memory as a record (~1 KB).
MAX_TRIALS = 1_000_000
#: The largest budget a trial may have (epochs, or whatever unit the objective counts): far beyond any
#: training run, and MAX_TRIALS * MAX_BUDGET stays inside the 64-bit signed integers SQLite stores.
MAX_BUDGET = 10 ** 9
#: Characters of a study name: it names a run folder, so no separators, no spaces.
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def check_direction(direction):
    """``direction`` if it is ``"maximize"`` or ``"minimize"``, else ValueError."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
    return direction


def is_better(a, b, direction):
    """True if metric value ``a`` beats ``b`` in ``direction`` (ties are not better)."""
    return a > b if direction == "maximize" else a < b


def positive_int(value, name):
    """``value`` as an int >= 1 (bools refused), else ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_budget(value, name="budget"):
    """``value`` as a positive int at most :data:`MAX_BUDGET`, else ValueError naming ``name``."""
    value = positive_int(value, name)
    if value > MAX_BUDGET:
        raise ValueError(f"{name} must be at most {MAX_BUDGET:,} (a trial's epochs; budgets are stored as "
                         f"64-bit integers), got {value}")
    return value


def check_trials(n_trials, name="n_trials", budget=None):
    """``n_trials`` as a positive int at most :data:`MAX_TRIALS`, else ValueError (with the
    epochs it would plan, when ``budget`` is given)."""
    n_trials = positive_int(n_trials, name)
    if n_trials > MAX_TRIALS:
        epochs = f" (it would plan {n_trials * budget:.3g} epochs)" if budget else ""
        raise ValueError(f"{name}={n_trials} is more than the {MAX_TRIALS:,} trials a stage can hold{epochs}; "
                         f"plan fewer trials, or several studies")
    return n_trials


def check_seed(seed, name="seed"):
    """``seed`` as an int in ``[0, 2**32)``, else ValueError naming ``name``."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"{name} must be an integer in [0, 2**32), got {seed!r}")
    return int(seed)


def check_name(name, what="name"):
    """A study name: letters, digits, '-', '_' or '.', not starting with '.'; else ValueError.

    The name becomes a folder under ``runs/``, so it may hold no path separator, no
    space and no leading dot (``..`` would climb out of ``runs/``).
    """
    if not isinstance(name, str) or not name or not set(name) <= NAME_CHARS or name.startswith("."):
        raise ValueError(f"{what} must be letters, digits, '-', '_' or '.' and not start with '.' "
                         f"(it names the run folder), got {name!r}")
    return name


def one_line(exc):
    """An exception's message folded onto one line (its type name when it has none)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def closest(word, choices, cutoff=0.6):
    """The choice most like ``word`` (difflib), or None."""
    found = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=cutoff)
    return found[0] if found else None


def did_you_mean(word, choices, cutoff=0.6):
    """``"did you mean 'x'?"`` for the closest choice, else ``"expected one of a, b, c"``."""
    match = closest(word, choices, cutoff)
    if match is not None:
        return f"did you mean {match!r}?"
    return f"expected one of {', '.join(map(str, choices))}"


def finite(value):
    """True for a real, finite number (bools are not numbers here)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
