"""hpsearch's own findings about a study, for an Optuna page: study attributes and a Markdown note.

The edge flags, the confirmation of the top configurations with fresh seeds, the held-out test
metrics and the learning-rate range check (stored by ``hpsearch sanity``) are what hpsearch
adds to a search; optuna-dashboard shows study user attributes and a study note, so both carry
them: the attributes for filtering and scripts, the note as readable Markdown (tables and
lists, not a code block that clips).
"""
import json
import math

from hpsearch.diagnostics.boundary import BoundaryFlag
from hpsearch.strategies.confirmed import confirmation_report

__all__ = ["study_findings", "read_lr_range", "note_system_attrs"]

# optuna-dashboard keeps a study's note in these system attributes, split in chunks of this size
_NOTE_VERSION = "dashboard:note_ver"
_NOTE_CHUNK = "dashboard:note_str:"
_NOTE_CHUNK_SIZE = 2045
_LR_RANGE_LIMIT = 1_000_000   # bytes: a stored check is a few kilobytes


def read_lr_range(path):
    """The learning-rate range check stored in a run folder (``lr_range.json``), or None.

    A missing, unreadable, oversized or symlinked file (a run folder is data, never a path to
    follow) is None: the page then says nothing about it.
    """
    from hpsearch.errors import HpsearchError
    from hpsearch.storage.safe_files import read_bytes

    try:
        data = json.loads(read_bytes(path, limit=_LR_RANGE_LIMIT + 1))
    except (OSError, ValueError, HpsearchError):
        return None
    return data if isinstance(data, dict) else None


def _fmt(value, digits=4):
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def study_findings(metric, direction, flags=(), records=(), lr_range=None, trial_number=None):
    """``(user attributes, Markdown note)`` of a study's findings.

    Args:
        metric, direction: the study's.
        flags: the stored boundary flags (dicts, ``Storage.load_flags``).
        records: the study's confirmation and test records (``role`` ``"confirm"`` / ``"test"``);
            other records are ignored.
        lr_range: the stored learning-rate range check (:func:`read_lr_range`), or None.
        trial_number: maps an hpsearch trial number to the Optuna trial showing it (its
            configuration); None: the same number.
    """
    optuna_number = trial_number or (lambda number: number)
    attrs = {"metric": metric, "direction": direction}
    lines = ["## hpsearch findings", ""]
    parsed = [BoundaryFlag(**f) for f in flags]
    attrs["edge_flags"] = [str(f) for f in parsed]
    if parsed:
        lines += ["### Edge flags", "", "The best trials sit at the edge of these ranges: widen them and search again.",
                  ""]
        lines += [f"- **{f.param}** ({f.edge} edge): {f}" for f in parsed]
    else:
        lines += ["### Edge flags", "", "None: no range's best trials sit at its edge (checked when a study ends)."]
    confirm = [r for r in records if r.get("role") == "confirm"]
    if confirm:
        report = confirmation_report(confirm, metric, direction)
        attrs["confirmation"] = [{"candidate": c["candidate"], "trial": optuna_number(c["confirms"]),
                                  "hpsearch_trial": c["confirms"], "mean": c["mean"], "std": c["std"],
                                  "ok": c["ok"]} for c in report.candidates]
        lines += ["", "### Confirmation with fresh seeds", "",
                  f"| candidate | trial | runs ok | mean {metric} | std |", "|---|---|---|---|---|"]
        for c in report.candidates:
            lines.append(f"| {c['candidate']} | #{optuna_number(c['confirms'])} (hpsearch {c['confirms']}) | "
                         f"{c['ok']} of {len(c['values'])} | {_fmt(c['mean'])} | {_fmt(c['std'])} |")
        if report.winner is not None:
            winner = report.winner
            attrs["confirmed_winner"] = optuna_number(winner["confirms"])
            lead = "" if report.within_noise is None else \
                (" (its lead is within noise)" if report.within_noise else " (its lead is beyond noise)")
            lines += ["", f"Winner: candidate {winner['candidate']}, trial #{optuna_number(winner['confirms'])}"
                          f"{lead}."]
    test = next((r for r in records if r.get("role") == "test"), None)
    if test is not None:
        scores = {k: v for k, v in (test.get("metrics") or {}).items() if k.startswith("test_")}
        if test["status"] == "ok" and scores:
            attrs["test_metrics"] = {k: (v if isinstance(v, float) and math.isfinite(v) else None)
                                     for k, v in scores.items()}
            lines += ["", "### Held-out test set (evaluated once, for the confirmed winner)", ""]
            lines += [f"- {k}: **{_fmt(v)}**" for k, v in scores.items()]
        else:
            lines += ["", "### Held-out test set", "", f"The test run ended {test['status']}."]
    if lr_range:
        attrs["lr_range"] = {k: lr_range.get(k) for k in ("good", "best_lr", "suggested")}
        lines += ["", "### Learning-rate range check (hpsearch sanity)", ""]
        good = lr_range.get("good")
        if good:
            lines.append(f"- good zone: {_fmt(good[0], 2)} to {_fmt(good[1], 2)}; the loss falls most at "
                         f"{_fmt(lr_range.get('best_lr'), 2)}")
        else:
            lines.append("- no learning rate made the loss go down")
        advice = lr_range.get("advice") or {}
        if advice.get("line"):
            lines.append(f"- search: `{advice['line']}`")
        if advice.get("coverage") is not None:
            lines.append(f"- the study's lr range covers {advice['coverage']:.0%} of the good zone")
        lines += [f"- warning: {w}" for w in advice.get("warnings") or []]
    return attrs, "\n".join(lines) + "\n"


def note_system_attrs(body):
    """The study system attributes that hold ``body`` as optuna-dashboard's study note."""
    attrs = {_NOTE_VERSION: 1}
    for i in range(max(1, math.ceil(len(body) / _NOTE_CHUNK_SIZE))):
        attrs[f"{_NOTE_CHUNK}{i}"] = body[i * _NOTE_CHUNK_SIZE:(i + 1) * _NOTE_CHUNK_SIZE]
    return attrs
