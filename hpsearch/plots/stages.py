"""Coarse-to-fine at a glance: each stage's range per parameter, with the stage's trials.

One panel per parameter, one row per stage (stage 0 on top). A shaded bar spans the
range the stage sampled; its trials sit on it, coloured by the metric. Reading
down a panel shows the range narrowing around the good values, or moving outward
when the previous stage's best sat on an edge (written next to the bar).
Choices show, per stage, the values still in play.
"""
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from hpsearch.plots._style import (set_log_axis, R2_X, R2_Y, BAD_COLOR, BEST_COLOR, CMAP, FLAG_COLOR, better_word,
                                   categories, fmt, grid_shape, is_choice, message_figure, numeric, spread,
                                   value_key)
from hpsearch.plots.slices import result_params

__all__ = ["plot_stages"]


def _moved(prev, cur):
    """Which edges of ``cur`` lie outside ``prev`` (the range moved outward there)."""
    out = []
    if cur.low < prev.low * (1 - 1e-9) - 1e-12:
        out.append("low")
    if cur.high > prev.high * (1 + 1e-9) + 1e-12:
        out.append("high")
    return out


def plot_stages(result):
    """Each stage's searched range per parameter, with the trials of each stage.

    Args:
        result: a :class:`~hpsearch.result.SearchResult` with ``stages`` (their spaces)
            and ``trials``.

    Returns:
        matplotlib Figure, one panel per searched parameter (log x-axis for log
        parameters); the range bars are LineCollections with gid ``"stage-range"``. A
        result without stage records gets a figure that says so.
    """
    title = getattr(result, "name", None) or "study"
    stages = [st for st in getattr(result, "stages", []) or [] if hasattr(st.space, "dims")]
    if not stages:
        return message_figure(f"{title}: stages", "The result has no stage records, so there are no ranges to draw.")
    # parameters with a range (numeric) or a set of values (choice) in some stage; a
    # scipy.stats distribution has neither, so it has nothing to narrow or draw
    params = [(n, d) for n, d in result_params(result)
              if any(x is not None and (getattr(x, "ordered", False) or is_choice(x)) for x in d)]
    if not params:
        return message_figure(f"{title}: stages", "The study has no numeric range or choice to narrow, "
                                                  "so there are no stage ranges to draw.")
    trials = result.trials
    metric, direction = result.metric, result.direction
    values = pd.to_numeric(trials[metric], errors="coerce").to_numpy(float) if metric in trials else \
        np.full(len(trials), np.nan)
    ok = (trials["status"] == "ok").to_numpy() & np.isfinite(values)
    norm = Normalize(np.nanmin(values[ok]), np.nanmax(values[ok])) if ok.any() else None
    if norm is not None and norm.vmin == norm.vmax:
        norm = Normalize(norm.vmin - 0.5, norm.vmax + 0.5)
    cmap = colormaps[CMAP if direction == "maximize" else CMAP + "_r"]
    # bars in shades of blue (later stages darker): the metric's colours belong to the trials
    stage_cmap = colormaps["Blues"]
    n = len(stages)
    stage_color = {st.index: stage_cmap(0.45 + 0.4 * i / max(1, n - 1)) for i, st in enumerate(stages)}
    row_of = {st.index: i for i, st in enumerate(stages)}
    best = getattr(result, "best_trial", None)
    best_number = None if best is None else best["number"]

    ncols, nrows = grid_shape(len(params))
    fig = Figure(figsize=(max(6.0, 4.6 * ncols + 1.0), (0.75 * n + 1.6) * nrows + 0.8), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    mappable = None
    for ax, (name, dists) in zip(axes.flat, params):
        col = f"param_{name}"
        ax.set_gid(f"stage-{name}")
        last = next(d for d in reversed(dists) if d is not None)
        choice = is_choice(last)
        if choice:
            keys, labels = categories(dists, trials[col])
            index = {k: i for i, k in enumerate(keys)}
        elif last.log:
            set_log_axis(ax, "x", min(d.low for d in dists if d is not None),
                         max(d.high for d in dists if d is not None))
        moved = []
        for i, (st, dist) in enumerate(zip(stages, dists)):
            if dist is None:
                continue
            color = stage_color[st.index]
            if choice:
                kept = [index[value_key(v)] for v in dist.values]
                ax.hlines([i] * len(kept), np.array(kept) - 0.38, np.array(kept) + 0.38, lw=14, color=color,
                          alpha=0.3, gid="stage-range")
            elif getattr(dist, "ordered", False):
                ax.hlines([i], [dist.low], [dist.high], lw=14, color=color, alpha=0.3, gid="stage-range")
                ax.plot([dist.low, dist.high], [i, i], "|", color=color, ms=16, mew=2)
                prev = dists[i - 1] if i > 0 else None
                if prev is not None and getattr(prev, "ordered", False):
                    for edge in _moved(prev, dist):
                        # an outward arrow on the bar's end; the words go in the title
                        x = dist.high if edge == "high" else dist.low
                        ax.plot([x], [i], marker=">" if edge == "high" else "<", color=FLAG_COLOR, ms=10,
                                zorder=5, clip_on=False, gid="moved")
                        moved.append(f"stage {st.index} moved out past the {edge} edge")
        rows = trials["stage"].map(row_of).to_numpy(dtype=float)
        # points sharing a stage row (and a category) are spread over the bar's strip
        group = np.nan_to_num(rows, nan=-1)
        if choice:
            cat = np.array([index.get(value_key(v), np.nan) for v in trials[col]], dtype=float)
            group = group + 1000 * np.nan_to_num(cat, nan=-1)
            x = cat + spread(group, 0.55, R2_X)
        else:
            x = numeric(trials[col])
        y = rows + spread(group, 0.5, R2_Y)
        if ok.any():
            mappable = ax.scatter(x[ok], y[ok], c=values[ok], cmap=cmap, norm=norm, s=22, edgecolor="black",
                                  linewidth=0.3, zorder=3, gid="trials")
        if (~ok).any():
            ax.scatter(x[~ok], y[~ok], marker="x", color=BAD_COLOR, s=22, zorder=3, gid="not-ok",
                       label="diverged / failed")
        if best_number is not None:
            at = np.flatnonzero(trials["number"].to_numpy() == best_number)
            ax.scatter(x[at], y[at], marker="*", s=200, color=BEST_COLOR, edgecolor="black", zorder=4,
                       label="best")
        ax.set_yticks(range(n), [f"stage {st.index}\n{st.n_trials} x {st.budget}" for st in stages], fontsize=8)
        ax.set_ylim(n - 0.45, -0.55)  # stage 0 on top: read down to follow the search
        if choice:
            ax.set_xticks(np.arange(len(labels)), labels, fontsize=8, rotation=30 if max(map(len, labels)) > 6
                          else 0, ha="right" if max(map(len, labels)) > 6 else "center")
            ax.set_xlim(-0.6, len(labels) - 0.4)
        ax.set_xlabel(f"{name} (log scale)" if not choice and last.log else name)
        ax.set_title("\n".join([name] + moved), fontsize=11 if not moved else 9.5,
                     color=FLAG_COLOR if moved else "black")
        ax.grid(True, axis="x", alpha=0.25)
    for ax in list(axes.flat)[len(params):]:
        ax.set_axis_off()
    if mappable is not None:
        cbar = fig.colorbar(mappable, ax=axes.ravel().tolist(), shrink=0.8, pad=0.01)
        cbar.set_label(f"{metric} ({better_word(direction)})")
    handles = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=len(handles),
                   fontsize=9, frameon=False)
    head = f"{title}: the range each stage searched (rows: trials x budget), with its trials"
    if best is not None:
        head += f"\nbest {metric} {fmt(result.best_value)} in stage {best['stage']}"
    elif len(trials) == 0:
        head += "\nno trial has finished yet"
    else:
        head += "\nno trial finished ok"
    fig.suptitle(head, fontsize=12)
    return fig
