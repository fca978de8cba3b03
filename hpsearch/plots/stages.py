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

from hpsearch.plots._style import (BAD_COLOR, BEST_COLOR, CMAP, FLAG_COLOR, R2_X, R2_Y, STATUS_MARKERS, better_word,
                                   categories, fixed_layout, fmt, grid_shape, integer_ticks, is_choice, is_integer,
                                   message_figure, numeric, point_size, set_log_axis, spread, thin, value_key, wrap)
from hpsearch.plots.metric_axis import WORSE_MARKER, metric_range
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
    metric, direction = result.metric, result.direction
    trials, thinned = thin(result.trials, metric, direction)
    size = point_size(len(trials), 22.0)
    values = pd.to_numeric(trials[metric], errors="coerce").to_numpy(float) if metric in trials else \
        np.full(len(trials), np.nan)
    ok = (trials["status"] == "ok").to_numpy() & np.isfinite(values)
    all_values = pd.to_numeric(result.trials[metric], errors="coerce") if metric in result.trials else None
    rng = None if all_values is None else metric_range(all_values[result.trials["status"] == "ok"], direction)
    # the colour scale spans the zoomed range: worse trials take its worst colour and a triangle
    norm = None if rng is None else Normalize(rng.lo, rng.hi)
    worse = ok & (rng.worse(np.where(ok, values, np.nan)) if rng is not None else False)
    cmap = colormaps[CMAP if direction == "maximize" else CMAP + "_r"]
    # bars in shades of blue (later stages darker): the metric's colours belong to the trials
    stage_cmap = colormaps["Blues"]
    n = len(stages)
    stage_color = {st.index: stage_cmap(0.45 + 0.4 * i / max(1, n - 1)) for i, st in enumerate(stages)}
    row_of = {st.index: i for i, st in enumerate(stages)}
    best = getattr(result, "best_trial", None)
    best_number = None if best is None else best["number"]

    ncols, nrows = grid_shape(len(params))
    head = [f"{title}: the range each stage searched (rows: trials x budget), with its trials"]
    if best is not None:
        head.append(f"best {metric} {fmt(result.best_value)} in stage {best['stage']}")
    else:
        head.append("no trial has finished yet" if len(trials) == 0 else "no trial finished ok")
    if rng is not None and rng.zoomed:
        edge = fmt(rng.lo if direction == "maximize" else rng.hi)
        head.append(f"colour: {metric} from {fmt(rng.lo)} to {fmt(rng.hi)} (full range {fmt(rng.full[0])} to "
                    f"{fmt(rng.full[1])}); triangles: worse than {edge}")
    head += [wrap(thinned, 130)] if thinned else []
    head_in = 0.3 + 0.21 * len(head)
    panel_h = 0.62 * n + 0.9
    moved_lines = max([1] + [sum(len(_moved(p, c)) for p, c in zip(ds, ds[1:]) if p is not None and c is not None
                                 and getattr(p, "ordered", False) and getattr(c, "ordered", False))
                             for _, ds in params])
    height = head_in + nrows * panel_h + (nrows - 1) * (0.95 + 0.15 * moved_lines) + 1.15 + 0.15 * moved_lines
    width = max(6.0, 4.6 * ncols + 1.6)
    fig = Figure(figsize=(width, height))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    box = fixed_layout(fig, ncols, nrows, left=0.85, right=1.35, top=head_in + 0.15 * moved_lines + 0.15,
                       bottom=1.05, wspace=0.95, hspace=0.95 + 0.15 * moved_lines)
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
                    for side in _moved(prev, dist):
                        # an outward arrow on the bar's end; the words go in the title
                        x = dist.high if side == "high" else dist.low
                        ax.plot([x], [i], marker=">" if side == "high" else "<", color=FLAG_COLOR, ms=10,
                                zorder=5, clip_on=False, gid="moved")
                        moved.append(f"stage {st.index} moved out past the {side} edge")
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
        inside = ok & ~worse
        if inside.any():
            mappable = ax.scatter(x[inside], y[inside], c=values[inside], cmap=cmap, norm=norm, s=size,
                                  edgecolor="black", linewidth=0.3 if size > 10 else 0.0, zorder=3, gid="trials")
        if worse.any():
            ax.scatter(x[worse], y[worse], marker=WORSE_MARKER[direction], color=cmap(0.0), s=size * 0.8,
                       linewidths=0, alpha=0.8, zorder=3, gid="worse-trials", label=f"worse than {edge}")
        status = trials["status"].to_numpy()
        for st, marker in STATUS_MARKERS.items():
            m = status == st
            if m.any():
                ax.scatter(x[m], y[m], marker=marker, color=BAD_COLOR, s=max(size, 18), zorder=3,
                           gid=f"{st}-trials", label=f"{st} (no value)")
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
        elif is_integer(last) and not last.log:
            integer_ticks(ax, "x")
        ax.set_xlabel(f"{name} (log scale)" if not choice and last.log else name)
        ax.set_title("\n".join([name] + moved), fontsize=11 if not moved else 9.5,
                     color=FLAG_COLOR if moved else "black")
        ax.grid(True, axis="x", alpha=0.25)
    for ax in list(axes.flat)[len(params):]:
        ax.set_axis_off()
    if mappable is not None:
        cax = fig.add_axes([1 - 1.0 / width, box["bottom"] + 0.1 * (box["top"] - box["bottom"]), 0.16 / width,
                            0.8 * (box["top"] - box["bottom"])])
        cbar = fig.colorbar(mappable, cax=cax, extend="min" if direction == "maximize" else "max")
        cbar.set_label(f"{metric} ({better_word(direction)})")
    handles = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="lower center", bbox_to_anchor=(0.5, 0.005),
                   ncols=len(handles), fontsize=9, frameon=False)
    fig.suptitle("\n".join(head), fontsize=11, y=1 - 0.12 / height, va="top")
    return fig
