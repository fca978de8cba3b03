"""Learning curves of the best trials: the loss per iteration and the accuracies per epoch.

The lecture reads three things off these curves: a loss that falls too slowly
(learning rate too low) or explodes (too high), a noisy loss (batch too small),
and the gap between training and validation accuracy (overfitting: more
regularisation; no gap: more capacity). The curves are the per-epoch dicts the
objective passed to ``report(epoch, metrics)``.
"""
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from hpsearch.plots._style import fixed_layout, fmt, integer_ticks, message_figure, set_log_axis
from hpsearch.records import top_configurations

__all__ = ["plot_learning_curves", "top_curves", "joined_curve"]

_SKIP = {"epoch"}


def _curve_of(curves, number):
    # storage round trips may turn the keys into strings
    return curves.get(number) or curves.get(str(number)) or []


def joined_curve(curves, trials, number):
    """Trial ``number``'s curve from epoch 1: a trial that continued another's checkpoint
    reported only its own epochs, so the curves of the trials it continued come first.

    Args:
        curves: dict trial number -> list of per-epoch dicts.
        trials: the trials table indexed by number (reads ``continued_from`` when present).
        number: the trial.
    """
    parts, seen = [], set()
    while number is not None and number not in seen:
        seen.add(number)
        parts.append(_curve_of(curves, number))
        previous = trials.at[number, "continued_from"] if "continued_from" in trials and number in trials.index \
            else None
        number = None if previous is None or pd.isna(previous) else int(previous)
    return [point for part in reversed(parts) for point in part]


def top_curves(result, top=3):
    """[(trial row, curve)] of the best ``top`` configurations that have a learning curve, best
    first: among the trials the best is chosen from (the highest budget reached), one per
    configuration (a trial and its continuation are one), each curve from epoch 1."""
    trials = result.trials
    if result.metric not in trials or not len(trials):
        return []
    curves = getattr(result, "curves", None) or {}
    rows = trials.set_index("number", drop=False)
    out = []
    for record in top_configurations(result.records, result.metric, result.direction, len(result.records)):
        curve = joined_curve(curves, rows, record["number"])
        if curve:
            out.append((rows.loc[record["number"]], curve))
        if len(out) >= top:
            break
    return out


def _is_scalar(v):
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _series(curve, key):
    """(epochs, values) of a scalar key across a curve (epochs without the key skipped)."""
    pts = [(float(p.get("epoch", i + 1)), float(p[key])) for i, p in enumerate(curve) if _is_scalar(p.get(key))]
    if not pts:
        return np.array([]), np.array([])
    e, v = zip(*pts)
    return np.array(e), np.array(v)


def _iterations(curve):
    """(x, loss) with one point per iteration, x in epochs (iteration i of n in epoch e at e - 1 + (i+1)/n)."""
    xs, ys = [], []
    for i, p in enumerate(curve):
        its = p.get("loss_iters")
        if isinstance(its, (list, tuple, np.ndarray)) and len(its):
            e = float(p.get("epoch", i + 1))
            n = len(its)
            xs.extend(e - 1 + (np.arange(n) + 1) / n)
            ys.extend(float(v) for v in its)
    return np.array(xs), np.array(ys)


def _smooth(y, window):
    """A centred moving average (edges averaged over what exists)."""
    if window <= 1 or len(y) < 3:
        return y
    kernel = np.ones(window)
    num = np.convolve(np.nan_to_num(y), kernel, mode="same")
    den = np.convolve(np.isfinite(y).astype(float), kernel, mode="same")
    return num / np.maximum(den, 1)


def _label(row, result, names):
    value = row[result.metric]
    params = ", ".join(f"{n}={fmt(row[f'param_{n}'])}" for n in names)
    return f"trial {int(row['number'])}: {result.metric} {fmt(value)}  ({params})"


def _why_no_curves(result):
    """Why there is no learning curve to draw: no ok trial, or an objective that never reported."""
    ok = (result.trials["status"] == "ok").sum() if len(result.trials) else 0
    return ("No trial finished ok, so there are no best trials to show." if ok == 0 else
            "The objective reported no learning curves: it never called report(epoch, metrics), "
            "so only the final metrics are known.")


def _panels(chosen):
    """(panels, acc_keys, has_iters) for the chosen curves.

    Panels in order: "loss" (per iteration when ``loss_iters`` were reported), "acc" (every
    ``*acc*`` key), "lr" when it changes within a run, then at most two other scalar keys.
    """
    keys = []
    for _, curve in chosen:
        for point in curve:
            keys.extend(k for k in point if k not in keys and k not in _SKIP)
    scalar = [k for k in keys if any(_is_scalar(p.get(k)) for _, c in chosen for p in c)]
    has_iters = any(len(_iterations(c)[0]) for _, c in chosen)
    loss_keys = [k for k in scalar if k == "loss"]
    acc_keys = [k for k in scalar if "acc" in k]
    lr_varies = "lr" in scalar and any(len(set(_series(c, "lr")[1])) > 1 for _, c in chosen)
    other = [k for k in scalar if k not in loss_keys + acc_keys + ["lr"]][:2]
    panels = []
    if has_iters or loss_keys:
        panels.append("loss")
    if acc_keys:
        panels.append("acc")
    if lr_varies:
        panels.append("lr")
    return panels + other, acc_keys, has_iters


def _varied_params(trials):
    """The names of at most four parameters that take more than one value in ``trials`` (for the labels)."""
    names = [c[6:] for c in trials.columns if c.startswith("param_")]
    return [n for n in names if trials[f"param_{n}"].astype(str).nunique() > 1][:4]


def _draw_loss(ax, curve, color):
    """Every iteration's loss faintly with a bold moving average, else the per-epoch loss; returns the line."""
    x, y = _iterations(curve)
    if len(x):
        ax.plot(x, y, color=color, lw=0.6, alpha=0.3)
        window = max(1, len(x) // 25) | 1  # odd, ~4% of the run
        line, = ax.plot(x, _smooth(y, window), color=color, lw=1.8, gid="loss-iters")
        return line
    e, v = _series(curve, "loss")
    line, = ax.plot(e, v, "o-", color=color, lw=1.8, ms=4, gid="loss-epochs")
    return line


def _draw_gap(ax, curve, color, acc_keys):
    """A bracket right of the last epoch: the overfitting gap between training and validation accuracy."""
    train = [k for k in acc_keys if k.startswith("train")]
    val = [k for k in acc_keys if k.startswith("val")]
    if not (train and val):
        return
    et, vt = _series(curve, train[0])
    ev, vv = _series(curve, val[0])
    if len(vt) and len(vv):
        gap = vt[-1] - vv[-1]
        xg = max(et[-1], ev[-1])
        ax.annotate("", xy=(xg, vt[-1]), xytext=(xg, vv[-1]),
                    arrowprops=dict(arrowstyle="<->", color=color, lw=1.2, shrinkA=0, shrinkB=0),
                    xycoords=("data", "data"))
        ax.text(xg, (vt[-1] + vv[-1]) / 2, f"  gap {gap:+.3f}\n  (train - val)", ha="left",
                va="center", fontsize=8.5, color=color, gid="gap")
        ax.set_xlim(right=xg + 0.22 * max(1.0, xg - min(et[0], ev[0])) + 0.5)


def _draw_acc(ax, curve, color, acc_keys, with_gap):
    """Each accuracy key per epoch (training dashed, validation solid); returns the last line."""
    for key in acc_keys:
        e, v = _series(curve, key)
        style = "--" if key.startswith("train") else "-"
        line, = ax.plot(e, v, style, marker="o", ms=3.5, color=color, lw=1.6, gid=key)
    if with_gap:
        _draw_gap(ax, curve, color, acc_keys)
    return line


def _draw_curve(ax, panel, curve, color, acc_keys, rank):
    """One trial's curve on one panel; returns its line."""
    if panel == "loss":
        return _draw_loss(ax, curve, color)
    if panel == "acc":
        return _draw_acc(ax, curve, color, acc_keys, with_gap=rank == 0)
    e, v = _series(curve, panel)
    line, = ax.plot(e, v, "o-", color=color, ms=3.5, lw=1.6)
    return line


def _label_panel(ax, panel, has_iters):
    """A panel's gid, grid, axis labels and title (and the loss panel's key to its two lines)."""
    ax.set_gid(f"curves-{panel}")
    ax.grid(True, alpha=0.25)
    ax.set_xlabel("epoch")
    # epochs are whole: integer ticks, and room for at least two of them (else matplotlib falls
    # back to ticks like 0.96 ... 1.04 around a one-epoch run)
    integer_ticks(ax, "x")
    low, high = ax.get_xlim()
    if high - low < 2:
        ax.set_xlim(min(low, 0.0), max(high, 2.0))
    if panel == "loss":
        ax.set_title("training loss per iteration" if has_iters else "training loss per epoch")
        ax.set_ylabel("loss")
        if has_iters:
            ax.text(0.99, 0.98, "faint: every iteration\nbold: moving average", transform=ax.transAxes,
                    ha="right", va="top", fontsize=8, color="#555555")
    elif panel == "acc":
        ax.set_title("accuracy per epoch: training (dashed) vs validation (solid)", fontsize=10.5)
        ax.set_ylabel("accuracy")
    elif panel == "lr":
        ax.set_title("learning rate per epoch")
        ax.set_ylabel("lr (log scale)")
        set_log_axis(ax, "y")
    else:
        ax.set_title(f"{panel} per epoch")
        ax.set_ylabel(panel)


def plot_learning_curves(result, top=3):
    """Loss per iteration and train/validation accuracy per epoch of the best ``top`` trials.

    Args:
        result: a :class:`~hpsearch.results.search_result.SearchResult` (reads ``curves``, ``trials``, ``metric``).
        top: how many of the best ok trials with a curve to draw (positive int).

    Returns:
        matplotlib Figure with a loss panel (concatenated ``loss_iters`` with a moving
        average, else the per-epoch ``loss``), an accuracy panel (``*acc*`` keys, training
        dashed, validation solid, the final gap written), a learning-rate panel when it
        changes within a run, and one panel per other reported metric (at most two). When
        no trial has a curve, a figure that says why instead of raising.

    Raises:
        ValueError: ``top`` is not a positive integer.
    """
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ValueError(f"top must be a positive integer, got {top!r}")
    title = getattr(result, "name", None) or "study"
    chosen = top_curves(result, top)
    if not chosen:
        return message_figure(f"{title}: learning curves", _why_no_curves(result))
    panels, acc_keys, has_iters = _panels(chosen)
    if not panels:
        return message_figure(f"{title}: learning curves",
                              "The learning curves hold no numeric metrics to draw.")

    height = 4.6 + 0.25 * len(chosen)
    fig = Figure(figsize=(max(6.0, 5.0 * len(panels)), height))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    fixed_layout(fig, len(panels), 1, left=0.75, right=0.2, top=0.7, bottom=0.75 + 0.2 * len(chosen), wspace=0.75)
    colors = colormaps["tab10"]
    names = _varied_params(result.trials)
    handles = []
    for rank, (row, curve) in enumerate(chosen):
        color = colors(rank % 10)
        label = _label(row, result, names)
        for ax, panel in zip(axes, panels):
            line = _draw_curve(ax, panel, curve, color, acc_keys, rank)
            # the legend's line of a trial: from its first panel that is not the learning rate's
            if panel != "lr" and rank == len(handles):
                handles.append((line, label))
    for ax, panel in zip(axes, panels):
        _label_panel(ax, panel, has_iters)
    fig.legend([h for h, _ in handles], [lab for _, lab in handles], loc="lower center", bbox_to_anchor=(0.5, 0.005),
               ncols=1, fontsize=8.5, frameon=False)
    fig.suptitle(f"{title}: learning curves of the {len(chosen)} best configuration(s)", fontsize=12, y=1 - 0.08 / height,
                 va="top")
    return fig
