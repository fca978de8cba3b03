"""Coarse-to-fine at a glance: each stage's range per parameter, with the stage's trials.

One panel per parameter, one row per stage (stage 0 on top). A shaded bar spans the
range the stage sampled; its trials sit on it, coloured by the metric. Reading
down a panel shows the range narrowing around the good values, or moving outward
when the previous stage's best sat on an edge (written next to the bar).
Choices show, per stage, the values still in play.
"""
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from hpsearch.plots._style import (BAD_COLOR, BEST_COLOR, CMAP, FLAG_COLOR, R2_X, R2_Y, STATUS_MARKERS, better_word,
                                   categories, figure_legend, fixed_layout, fmt, grid_shape, integer_ticks, is_choice,
                                   is_integer, message_figure, numeric, point_size, set_log_axis, spread, thin,
                                   value_key, wrap)
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


@dataclass(frozen=True)
class _Trials:
    """The drawn trials and how they look, the same in every panel."""

    table: object       # the drawn rows of the trials table (thinned)
    values: np.ndarray  # metric values (NaN when not ok)
    ok: np.ndarray      # finished ok with a finite value
    worse: np.ndarray   # ok, but worse than the zoomed range: triangles
    cmap: object
    norm: object
    size: float
    direction: str
    worse_label: str
    best_number: object


def _stage_params(result):
    """[(name, dists)] with a range (numeric) or a set of values (choice) in some stage.

    A scipy.stats distribution has neither, so it has nothing to narrow or draw.
    """
    return [(n, d) for n, d in result_params(result)
            if any(x is not None and (getattr(x, "ordered", False) or is_choice(x)) for x in d)]


def _trials_look(result, trials, rng):
    """The :class:`_Trials` of the drawn ``trials``; ``rng`` is the metric range of every ok trial."""
    metric, direction = result.metric, result.direction
    values = pd.to_numeric(trials[metric], errors="coerce").to_numpy(float) if metric in trials else \
        np.full(len(trials), np.nan)
    ok = (trials["status"] == "ok").to_numpy() & np.isfinite(values)
    # the colour scale spans the zoomed range: worse trials take its worst colour and a triangle
    norm = None if rng is None else Normalize(rng.lo, rng.hi)
    worse = ok & (rng.worse(np.where(ok, values, np.nan)) if rng is not None else False)
    best = getattr(result, "best_trial", None)
    return _Trials(trials, values, ok, worse, colormaps[CMAP if direction == "maximize" else CMAP + "_r"], norm,
                   point_size(len(trials), 22.0), direction,
                   f"worse than {_worse_edge(rng, direction)}" if rng is not None else "",
                   None if best is None else best["number"])


def _metric_range(result):
    """The zoomed :class:`~hpsearch.plots.metric_axis.MetricRange` of every ok trial (None without one)."""
    metric = result.metric
    all_values = pd.to_numeric(result.trials[metric], errors="coerce") if metric in result.trials else None
    return None if all_values is None else metric_range(all_values[result.trials["status"] == "ok"],
                                                        result.direction)


def _worse_edge(rng, direction):
    """The metric value past which a trial is drawn as a worse-than triangle."""
    return fmt(rng.lo if direction == "maximize" else rng.hi)


def _headline(title, result, n_trials, rng, thinned):
    """The lines of the figure's title: what is drawn, the best, the colour scale, thinning."""
    metric, best = result.metric, getattr(result, "best_trial", None)
    head = [f"{title}: the range each stage searched (rows: trials x budget), with its trials"]
    if best is not None:
        head.append(f"best {metric} {fmt(result.best_value)} in stage {best['stage']}")
    else:
        head.append("no trial has finished yet" if n_trials == 0 else "no trial finished ok")
    if rng is not None and rng.zoomed:
        head.append(f"colour: {metric} from {fmt(rng.lo)} to {fmt(rng.hi)} (full range {fmt(rng.full[0])} to "
                    f"{fmt(rng.full[1])}); triangles: worse than {_worse_edge(rng, result.direction)}")
    return head + ([wrap(thinned, 130)] if thinned else [])


def _moved_lines(params):
    """The most outward moves of one parameter (at least 1): each adds a line to its panel's title."""
    return max([1] + [sum(len(_moved(p, c)) for p, c in zip(ds, ds[1:]) if p is not None and c is not None
                          and getattr(p, "ordered", False) and getattr(c, "ordered", False))
                      for _, ds in params])


def _figure(n_params, n_stages, n_head, moved_lines):
    """(fig, axes, box, width, height): the panel grid, sized for the stage rows and the title lines."""
    ncols, nrows = grid_shape(n_params)
    head_in = 0.3 + 0.21 * n_head
    panel_h = 0.62 * n_stages + 0.9
    height = head_in + nrows * panel_h + (nrows - 1) * (0.95 + 0.15 * moved_lines) + 1.15 + 0.15 * moved_lines
    width = max(6.0, 4.6 * ncols + 1.6)
    fig = Figure(figsize=(width, height))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    box = fixed_layout(fig, ncols, nrows, left=0.85, right=1.35, top=head_in + 0.15 * moved_lines + 0.15,
                       bottom=1.05, wspace=0.95, hspace=0.95 + 0.15 * moved_lines)
    return fig, axes, box, width, height


def _draw_ranges(ax, stages, dists, stage_color, index):
    """One bar per stage over its range (over the values still in play for a choice, whose
    categories ``index`` numbers), an arrow where the range moved outward.

    Returns:
        the title lines naming each outward move.
    """
    moved = []
    for i, (st, dist) in enumerate(zip(stages, dists)):
        if dist is None:
            continue
        color = stage_color[st.index]
        if index is not None:
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
    return moved


def _positions(trials, col, row_of, index):
    """(x, y) of every trial: its value (or category) and its stage's row."""
    rows = trials["stage"].map(row_of).to_numpy(dtype=float)
    # points sharing a stage row (and a category) are spread over the bar's strip
    group = np.nan_to_num(rows, nan=-1)
    if index is not None:
        cat = np.array([index.get(value_key(v), np.nan) for v in trials[col]], dtype=float)
        group = group + 1000 * np.nan_to_num(cat, nan=-1)
        x = cat + spread(group, 0.55, R2_X)
    else:
        x = numeric(trials[col])
    return x, rows + spread(group, 0.5, R2_Y)


def _draw_trials(ax, x, y, look):
    """The trials on their bars: coloured in range, triangles if worse, markers if not ok, the best a star.

    Returns:
        the coloured scatter, or None when no trial is in the colour range.
    """
    mappable = None
    size, inside, worse = look.size, look.ok & ~look.worse, look.worse
    if inside.any():
        mappable = ax.scatter(x[inside], y[inside], c=look.values[inside], cmap=look.cmap, norm=look.norm, s=size,
                              edgecolor="black", linewidth=0.3 if size > 10 else 0.0, zorder=3, gid="trials")
    if worse.any():
        ax.scatter(x[worse], y[worse], marker=WORSE_MARKER[look.direction], color=look.cmap(0.0), s=size * 0.8,
                   linewidths=0, alpha=0.8, zorder=3, gid="worse-trials", label=look.worse_label)
    status = look.table["status"].to_numpy()
    for st, marker in STATUS_MARKERS.items():
        m = status == st
        if m.any():
            ax.scatter(x[m], y[m], marker=marker, color=BAD_COLOR, s=max(size, 18), zorder=3,
                       gid=f"{st}-trials", label=f"{st} (no value)")
    if look.best_number is not None:
        at = np.flatnonzero(look.table["number"].to_numpy() == look.best_number)
        ax.scatter(x[at], y[at], marker="*", s=200, color=BEST_COLOR, edgecolor="black", zorder=4,
                   label="best")
    return mappable


def _label_axes(ax, name, stages, last, labels, moved):
    """Stage rows (stage 0 on top), the parameter's ticks and label, the title with the moves."""
    n = len(stages)
    ax.set_yticks(range(n), [f"stage {st.index}\n{st.n_trials} x {st.budget}" for st in stages], fontsize=8)
    ax.set_ylim(n - 0.45, -0.55)  # stage 0 on top: read down to follow the search
    if labels is not None:
        long = max(map(len, labels)) > 6
        ax.set_xticks(np.arange(len(labels)), labels, fontsize=8, rotation=30 if long else 0,
                      ha="right" if long else "center")
        ax.set_xlim(-0.6, len(labels) - 0.4)
    elif is_integer(last) and not last.log:
        integer_ticks(ax, "x")
    ax.set_xlabel(f"{name} (log scale)" if labels is None and last.log else name)
    ax.set_title("\n".join([name] + moved), fontsize=11 if not moved else 9.5,
                 color=FLAG_COLOR if moved else "black")
    ax.grid(True, axis="x", alpha=0.25)


def _panel(ax, name, dists, stages, stage_color, look):
    """One parameter's panel: each stage's range and trials. Returns the coloured scatter (or None)."""
    col = f"param_{name}"
    ax.set_gid(f"stage-{name}")
    last = next(d for d in reversed(dists) if d is not None)
    index = labels = None
    if is_choice(last):
        keys, labels = categories(dists, look.table[col])
        index = {k: i for i, k in enumerate(keys)}
    elif last.log:
        set_log_axis(ax, "x", min(d.low for d in dists if d is not None),
                     max(d.high for d in dists if d is not None))
    moved = _draw_ranges(ax, stages, dists, stage_color, index)
    x, y = _positions(look.table, col, {st.index: i for i, st in enumerate(stages)}, index)
    mappable = _draw_trials(ax, x, y, look)
    _label_axes(ax, name, stages, last, labels, moved)
    return mappable


def _colorbar(fig, mappable, box, width, metric, direction):
    """The metric's colour bar right of the panels (extended at the worse end: the triangles)."""
    cax = fig.add_axes([1 - 1.0 / width, box["bottom"] + 0.1 * (box["top"] - box["bottom"]), 0.16 / width,
                        0.8 * (box["top"] - box["bottom"])])
    cbar = fig.colorbar(mappable, cax=cax, extend="min" if direction == "maximize" else "max")
    cbar.set_label(f"{metric} ({better_word(direction)})")


def plot_stages(result):
    """Each stage's searched range per parameter, with the trials of each stage.

    Args:
        result: a :class:`~hpsearch.results.search_result.SearchResult` with ``stages`` (their spaces)
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
    params = _stage_params(result)
    if not params:
        return message_figure(f"{title}: stages", "The study has no numeric range or choice to narrow, "
                                                  "so there are no stage ranges to draw.")
    trials, thinned = thin(result.trials, result.metric, result.direction)
    rng = _metric_range(result)
    look = _trials_look(result, trials, rng)
    # bars in shades of blue (later stages darker): the metric's colours belong to the trials
    stage_cmap = colormaps["Blues"]
    stage_color = {st.index: stage_cmap(0.45 + 0.4 * i / max(1, len(stages) - 1)) for i, st in enumerate(stages)}
    head = _headline(title, result, len(trials), rng, thinned)
    fig, axes, box, width, height = _figure(len(params), len(stages), len(head), _moved_lines(params))
    mappable = None
    for ax, (name, dists) in zip(axes.flat, params):
        mappable = _panel(ax, name, dists, stages, stage_color, look) or mappable
    for ax in list(axes.flat)[len(params):]:
        ax.set_axis_off()
    if mappable is not None:
        _colorbar(fig, mappable, box, width, result.metric, result.direction)
    figure_legend(fig, axes.flat)
    fig.suptitle("\n".join(head), fontsize=11, y=1 - 0.12 / height, va="top")
    return fig
