"""Slices: the metric against each parameter, one panel per parameter.

Each panel shows every ``"ok"`` trial (coloured by stage for coarse-to-fine), the
edges of the range each stage searched (the last stage's range shaded), the best
trial as a star, and trials that diverged or failed as grey crosses along the
bottom. A parameter with a boundary flag gets its edge drawn in red, an arrow
pointing outward and the flag's suggestion written on the panel: the best value
sits at the edge, so the optimum may lie outside the range.
"""
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.transforms import offset_copy

from hpsearch.plots._style import (set_log_axis, BAD_COLOR, BEST_COLOR, EDGE_COLOR, FLAG_COLOR, OK_COLOR, OLD_EDGE_COLOR,
                                   STAGE_CMAP, STATUS_MARKERS, better_word, categories, fmt, grid_shape,
                                   is_choice, is_fixed, message_figure, metric_scale, numeric, spread,
                                   value_key, wrap)

__all__ = ["plot_slices", "result_params"]


def _stage_spaces(result):
    return [st.space for st in getattr(result, "stages", []) if hasattr(st.space, "dims")]


def result_params(result):
    """[(name, [distribution of each stage or None])] of the parameters a result searched.

    Names come from the stages' spaces (Fixed parameters dropped), then any other
    ``param_<name>`` column of the trials table.
    """
    spaces = _stage_spaces(result)
    names = []
    for space in spaces:
        names.extend(n for n in space.dims if n not in names)
    for col in result.trials.columns:
        name = col[6:]
        # a parameter no stage records still gets a panel, unless a stage fixed it
        if col.startswith("param_") and name not in names and not any(
                name in s and is_fixed(s[name]) for s in spaces):
            names.append(name)
    return [(n, [s[n] if n in s else None for s in spaces]) for n in names]


def _span(dists):
    """(lowest low, highest high) over the stages' ranges of one parameter."""
    ranges = [(d.low, d.high) for d in dists if d is not None and getattr(d, "ordered", False)]
    return (min(r[0] for r in ranges), max(r[1] for r in ranges)) if ranges else (None, None)


def _edges(ax, dists, flags, data, log):
    """Draw each stage's low/high; the last stage's range shaded; flagged edges red."""
    ranges = [(d.low, d.high) for d in dists if d is not None and getattr(d, "ordered", False)]
    if not ranges:
        return
    # limits first, covering every range and trial: lines drawn on an empty log axis
    # would otherwise meet its default (0, 1) limits
    data = np.asarray(data, dtype=float)
    data = data[np.isfinite(data) & ((data > 0) if log else True)]
    lo = min([r[0] for r in ranges] + list(data))
    hi = max([r[1] for r in ranges] + list(data))
    if log:
        pad = (hi / lo) ** 0.04 if hi > lo else 2.0
        ax.set_xlim(lo / pad, hi * pad)
    else:
        pad = 0.04 * (hi - lo) if hi > lo else 1.0
        ax.set_xlim(lo - pad, hi + pad)
    for low, high in ranges[:-1]:
        for edge in (low, high):
            ax.axvline(edge, color=OLD_EDGE_COLOR, lw=1.0, ls="--", zorder=1)
    low, high = ranges[-1]
    if len(ranges) > 1:
        ax.axvspan(low, high, color=EDGE_COLOR, alpha=0.08, zorder=0, label="last stage's range")
    flagged = {f.edge for f in flags}
    for edge, value in (("low", low), ("high", high)):
        red = edge in flagged
        ax.axvline(value, color=FLAG_COLOR if red else EDGE_COLOR, lw=2.2 if red else 1.3,
                   ls="-", zorder=1, gid=f"edge-{edge}", label="flagged edge: widen the range" if red else None)
    for f in flags:
        # an arrow just outside the flagged edge, pointing where to widen: outside the
        # range there are no trials of the last stage for it to hide
        x = high if f.edge == "high" else low
        sign = 1 if f.edge == "high" else -1
        where = offset_copy(ax.get_xaxis_transform(), fig=ax.figure, x=8 * sign, y=0, units="points")
        ax.plot([x], [0.5], marker=">" if sign > 0 else "<", color=FLAG_COLOR, ms=10, transform=where,
                clip_on=False, zorder=5, gid="flag-arrow")

def _panel(ax, name, dists, result, ok, bad, stage_colors, flags):
    metric = result.metric
    col = f"param_{name}"
    ax.set_gid(f"slice-{name}")
    last = next((d for d in reversed(dists) if d is not None), None)
    values = list(result.trials[col])
    choice = (last is not None and is_choice(last)) or not all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
        for v in values if v is not None and not (isinstance(v, float) and np.isnan(v)))
    log = bool(getattr(last, "log", False)) and not choice
    if choice:
        keys, labels = categories(dists, values)
        index = {k: i for i, k in enumerate(keys)}

        def pos(vals):
            g = np.array([index.get(value_key(v), np.nan) for v in vals], dtype=float)
            return g + spread(np.nan_to_num(g, nan=-1), 0.45)
    else:
        def pos(vals):
            return numeric(vals)
    if log:
        set_log_axis(ax, "x", *_span(dists))
    y = ok[metric].to_numpy(float)
    x = pos(ok[col])
    stages = ok["stage"].to_numpy()
    for s in np.unique(stages):
        m = stages == s
        label = f"stage {s}" if len(stage_colors) > 1 else None
        ax.scatter(x[m], y[m], s=26, color=stage_colors.get(s, OK_COLOR), alpha=0.85, edgecolor="white",
                   linewidth=0.5, zorder=3, label=label, gid="ok-trials")
    if len(bad):
        xb = pos(bad[col])
        for status, marker in STATUS_MARKERS.items():
            m = (bad["status"] == status).to_numpy()
            if m.any():
                ax.scatter(xb[m], np.full(m.sum(), 0.03), marker=marker, color=BAD_COLOR, s=36, zorder=3,
                           transform=ax.get_xaxis_transform(), label=status, gid=f"{status}-trials")
    best = getattr(result, "best_trial", None)
    if best is not None:
        at = np.flatnonzero(ok["number"].to_numpy() == best["number"])
        if len(at):  # the star sits on the best trial's own point (spread included)
            ax.scatter(x[at], y[at], marker="*", s=230, color=BEST_COLOR, edgecolor="black",
                       linewidth=0.8, zorder=4, label="best", gid="best")
    if choice:
        ax.set_xticks(np.arange(len(labels)), labels, rotation=30 if max(map(len, labels)) > 6 else 0,
                      ha="right" if max(map(len, labels)) > 6 else "center")
        ax.set_xlim(-0.6, len(labels) - 0.4)
    else:
        _edges(ax, dists, flags, numeric(result.trials[col]), log)
    ax.set_xlabel(f"{name} (log scale)" if log else name)
    ax.set_ylabel(metric)
    if flags:
        # the suggestion goes in the title area, where it hides no trial
        advice = flags[0].suggestion
        advice = advice[len(name) + 2:] if advice.startswith(f"{name}: ") else advice
        ax.set_title(f"{name}: flagged at the {flags[0].edge} edge\n{wrap(advice, 56)}",
                     color=FLAG_COLOR, fontsize=8.5, gid="flag-suggestion")
    else:
        ax.set_title(name, fontsize=11)

def plot_slices(result):
    """The metric against each parameter, one panel per searched parameter.

    Args:
        result: a :class:`~hpsearch.result.SearchResult` (reads ``trials``, ``metric``,
            ``direction``, ``best_trial``, ``best_value``, ``boundary``, ``stages``).

    Returns:
        matplotlib Figure. Log parameters get a log x-axis, choices a category axis.
        Numeric panels draw each stage's range edges (the last stage's as lines with gid
        ``"edge-low"`` / ``"edge-high"``, red when flagged) and a flagged parameter's
        suggestion as a text (gid ``"flag-suggestion"``). With no trials or no
        parameters, a figure that says so.
    """
    trials = result.trials
    params = result_params(result)
    title = getattr(result, "name", None) or "study"
    if trials is None or len(trials) == 0:
        return message_figure(f"{title}: slices", "No trials have finished yet, so there is nothing to plot.")
    if not params:
        return message_figure(f"{title}: slices", "The study searched no parameters (every parameter is fixed).")
    metric = result.metric
    status = trials["status"]
    values = pd.to_numeric(trials[metric], errors="coerce") if metric in trials else pd.Series(np.nan,
                                                                                                index=trials.index)
    ok_mask = (status == "ok") & np.isfinite(values)
    ok = trials[ok_mask].assign(**{metric: values[ok_mask]})
    bad = trials[~ok_mask]
    n_stages = int(trials["stage"].max()) + 1 if len(trials) else 1
    n_stages = max(n_stages, len(getattr(result, "stages", [])))
    cmap = colormaps[STAGE_CMAP]
    stage_colors = ({s: cmap(0.1 + 0.75 * s / max(1, n_stages - 1)) for s in range(n_stages)}
                    if n_stages > 1 else {0: OK_COLOR})
    flags_by_param = {}
    for f in getattr(result, "boundary", []) or []:
        flags_by_param.setdefault(f.param, []).append(f)

    ncols, nrows = grid_shape(len(params))
    fig = Figure(figsize=(max(5.0, 4.4 * ncols), 3.6 * nrows + 0.7), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    for ax, (name, dists) in zip(axes.flat, params):
        _panel(ax, name, dists, result, ok, bad, stage_colors, flags_by_param.get(name, []))
        ax.grid(True, alpha=0.25)
        ax.tick_params(labelleft=True)
    for ax in list(axes.flat)[len(params):]:
        ax.set_axis_off()
    if len(ok):
        metric_scale(axes.flat[0], ok[metric], result.direction)
    else:
        counts = bad["status"].value_counts()
        msg = "no trial finished ok (" + ", ".join(f"{n} {s}" for s, n in counts.items()) + ")"
        for ax, _ in zip(axes.flat, params):
            ax.text(0.5, 0.5, msg, transform=ax.transAxes, ha="center", va="center", fontsize=9,
                    color=FLAG_COLOR, gid="no-ok")
    # one legend for the figure: stages, best, diverged/failed
    handles, labels = {}, {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in handles:
                handles[lab] = h
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                   ncols=min(6, len(handles)), fontsize=9, frameon=False)
    best = getattr(result, "best_value", None)
    headline = f"{title}: {metric} against each parameter ({better_word(result.direction)})"
    if best is not None:
        headline += f"; best {fmt(best)} (trial {result.best_trial['number']})"
    n_ok, n = len(ok), len(trials)
    headline += f"\n{n} trials, {n_ok} ok"
    if getattr(result, "boundary", None):
        headline += f"; {len(result.boundary)} parameter(s) flagged at the edge of their range (red)"
    fig.suptitle(headline, fontsize=12)
    return fig
