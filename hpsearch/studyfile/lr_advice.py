"""The learning-rate range check read against a study: the range to search, and warnings.

``models.lr_range_check`` trains one configuration briefly at learning rates spaced on a
log grid and classifies each (too low / good / too high). This module turns that into what
a user of a study file acts on: the ``lr = { type = "loguniform", ... }`` line to search, and
a warning when the study's own ``lr`` range misses most of the good zone or reaches deep
into the divergent one.
"""
import math

__all__ = ["lr_advice", "study_file_line"]

#: A study range covering less than this share of the good zone (in decades) misses most of it.
MIN_COVERAGE = 0.5
#: A study range reaching more than this many decades past the first diverging rate goes too deep.
MAX_DIVERGENT_DECADES = 0.5


def _round(x):
    """One significant digit, as a person writes a range bound (3e-04 -> 0.0003)."""
    return float(f"{x:.0e}")


def study_file_line(low, high, name="lr"):
    """``lr = { type = "loguniform", low = 0.0003, high = 0.03 }`` for ``[low, high]``."""
    return f'{name} = {{ type = "loguniform", low = {_round(low):g}, high = {_round(high):g} }}'


def _decades(low, high):
    return math.log10(high / low) if high > low else 0.0


def lr_advice(check, current=None):
    """What to search, given a ``models.lr_range_check`` result and the study's ``lr`` range.

    Args:
        check: the dict ``lr_range_check`` returns.
        current: the study's ``lr`` distribution (a LogUniform or Uniform), or None.

    Returns:
        dict: ``line`` (the study-file line to search, or None when no rate learns), ``warnings``
        (list of one-line strings), ``coverage`` (share of the good zone's decades the current
        range covers, or None) and ``ok`` (some learning rate made the loss go down).
    """
    good, suggested = check.get("good"), check.get("suggested")
    out = {"line": None if suggested is None else study_file_line(*suggested), "warnings": [], "coverage": None,
           "ok": good is not None}
    if good is None:
        out["warnings"].append("no learning rate made the loss go down within "
                               f"{check.get('iterations')} iterations: check the data, the initialisation and "
                               f"the checks above before searching")
        return out
    if current is None or not getattr(current, "ordered", False):
        return out
    low, high = float(current.low), float(current.high)
    lo, hi = max(low, good[0]), min(high, good[1])
    width = _decades(*good)
    out["coverage"] = 1.0 if width == 0 else max(0.0, _decades(lo, hi)) / width if hi > lo else 0.0
    shown = f"[{low:.0e}, {high:.0e}]"
    if out["coverage"] < MIN_COVERAGE:
        out["warnings"].append(f"the study's lr range {shown} covers {out['coverage']:.0%} of the good zone "
                               f"[{good[0]:.0e}, {good[1]:.0e}]; search {out['line']}")
    too_high = [row["lr"] for row in check["table"] if row["zone"] == "too high" and row["lr"] > good[1]]
    if too_high and _decades(too_high[0], high) > MAX_DIVERGENT_DECADES:
        out["warnings"].append(f"the study's lr range {shown} reaches {_decades(too_high[0], high):.1f} decades "
                               f"into the rates that diverge (from {too_high[0]:.0e}): trials there are wasted")
    return out
