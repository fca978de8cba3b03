"""Study specs: the JSON settings that identify a study, and how two of them differ.

A stored study keeps its spec (space, metric, direction, strategy, seed, objective
settings). Running it again with another spec is refused with the differences spelled
out as dotted keys, e.g. ``space.lr.low: 1e-06 -> 1e-05``.
"""
import json
import math

__all__ = ["spec_differences", "json_roundtrip", "spec_extension"]


def json_roundtrip(value):
    """``value`` as it comes back from storage: after a JSON round trip (tuples become lists,
    numpy values plain ones, anything else its ``str``)."""
    return json.loads(json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))


def _flatten(value, prefix=""):
    """Nested dicts -> {"a.b.c": leaf}; lists and scalars are leaves."""
    if isinstance(value, dict) and value:
        flat = {}
        for key, sub in value.items():
            flat.update(_flatten(sub, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: value}


def _same(a, b):
    """Equality of JSON values where NaN equals NaN and True is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _short(value, width=60):
    text = "(absent)" if value is _ABSENT else repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


_ABSENT = object()


def spec_differences(old, new):
    """Human-readable differences between two study specs, dotted keys, in key order.

    Returns:
        list of "key: old -> new" strings (empty when the specs are the same).
    """
    old_flat, new_flat = _flatten(old), _flatten(new)
    keys = list(old_flat) + [k for k in new_flat if k not in old_flat]
    diffs = []
    for key in keys:
        a, b = old_flat.get(key, _ABSENT), new_flat.get(key, _ABSENT)
        if a is _ABSENT or b is _ABSENT or not _same(a, b):
            diffs.append(f"{key}: {_short(a)} -> {_short(b)}")
    return diffs




def spec_extension(old, new):
    """How ``new`` extends the stored study ``old``, or None when it is another study.

    A study grows when only its last stage asks for more trials (not a grid, whose values would
    change), when stages are appended, or when a multi-fidelity ``total_budget`` rises: the
    stored trials are then the first trials of the new plan, since samplers propose the same
    first ``n`` trials whatever ``n_trials`` is (the run loop still checks every stored trial).

    Returns:
        a list of "key: old -> new" strings, or None.
    """
    old_flat, new_flat = _flatten(old), _flatten(new)
    old_stages = sorted({int(k.split(".")[1]) for k in old_flat if k.startswith("stages.")})
    last = old_stages[-1] if old_stages else None
    changes = []
    for key in dict.fromkeys(list(old_flat) + list(new_flat)):
        a, b = old_flat.get(key, _ABSENT), new_flat.get(key, _ABSENT)
        if a is not _ABSENT and b is not _ABSENT and _same(a, b):
            continue
        if not _grows(key, a, b, last, old_flat):
            return None
        changes.append(f"{key}: {_short(a)} -> {_short(b)}")
    return changes or None


def _grows(key, a, b, last, old_flat):
    parts = key.split(".")
    if parts[0] == "stages" and len(parts) == 3:
        index = int(parts[1])
        if a is _ABSENT and last is not None and index > last:
            return True  # an appended stage
        if index == last and parts[2] == "n_trials" and isinstance(a, int) and isinstance(b, int) and b > a:
            return not str(old_flat.get(f"stages.{index}.sampler", "")).startswith("GridSampler")
        return False
    if parts[0] == "confirm":
        return a is _ABSENT  # confirming a finished search
    if key == "total_budget":
        return isinstance(a, int) and isinstance(b, int) and b > a
    return False
