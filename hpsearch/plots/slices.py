"""Slices: the metric against each parameter, one panel per parameter.

Each panel shows every ``"ok"`` trial that has the parameter (a parameter of a branch only
over that branch's trials; the title says how many) (coloured by stage for coarse-to-fine), the
edges of the range each stage searched (the last stage's range shaded), the best
trial as a star, and trials that diverged or failed as grey crosses along the
bottom. A parameter with a boundary flag gets its edge drawn in red, an arrow
pointing outward and the flag's suggestion written on the panel: the best value
sits at the edge, so the optimum may lie outside the range.
"""
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.transforms import offset_copy

from hpsearch.plots._style import (BEST_COLOR, EDGE_COLOR, FLAG_COLOR, OLD_EDGE_COLOR, ColourGroups,
                                   better_word, categories, figure_legend, fixed_layout, fmt, grid_shape, integer_ticks, is_choice,
                                   is_fixed, is_integer, is_multi_fidelity, last_per_configuration,
                                   message_figure, numeric, point_size, set_log_axis,
                                   spread, thin, value_key, wrap)
from hpsearch.plots.metric_axis import draw_outside, metric_range

__all__ = ["plot_slices", "result_params"]


def _missing(value):
    """True where a trial lacks the parameter (a branch it did not take): None or NaN."""
    return value is None or (isinstance(value, float) and np.isnan(value))


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


def _positions(name, dists, result):
    """(choice, log, labels, pos) of one parameter: how its values map to the x axis."""
    last = next((d for d in reversed(dists) if d is not None), None)
    values = list(result.trials[f"param_{name}"])
    choice = (last is not None and is_choice(last)) or not all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
        for v in values if v is not None and not (isinstance(v, float) and np.isnan(v)))
    log = bool(getattr(last, "log", False)) and not choice
    if not choice:
        return False, log, None, numeric
    keys, labels = categories(dists, values)
    index = {k: i for i, k in enumerate(keys)}

    def pos(vals):
        g = np.array([index.get(value_key(v), np.nan) for v in vals], dtype=float)
        return g + spread(np.nan_to_num(g, nan=-1), 0.45)
    return True, log, labels, pos


def _flag_marks(ax, flags, dists):
    """An outward arrow beside each flagged edge, with the flag's evidence written next to it."""
    ranges = [(d.low, d.high) for d in dists if d is not None and getattr(d, "ordered", False)]
    if not ranges:
        return
    low, high = ranges[-1]
    for f in flags:
        x, sign = (high, 1) if f.edge == "high" else (low, -1)
        where = offset_copy(ax.get_xaxis_transform(), fig=ax.figure, x=8 * sign, y=0, units="points")
        ax.plot([x], [0.5], marker=">" if sign > 0 else "<", color=FLAG_COLOR, ms=10, transform=where,
                clip_on=False, zorder=5, gid="flag-arrow")
        # the evidence (e.g. "4 of 5 top trials in the edge zone, p = 0.01") says how sure the flag is
        evidence = getattr(f, "evidence", None)
        if evidence:
            text = offset_copy(ax.get_xaxis_transform(), fig=ax.figure, x=-6 * sign, y=0, units="points")
            ax.text(x, 0.5, wrap(evidence, 22), transform=text, ha="right" if sign > 0 else "left", va="center",
                    fontsize=7.5, color=FLAG_COLOR, zorder=6, gid="flag-evidence",
                    bbox=dict(boxstyle="round,pad=0.25", fc="white", ec=FLAG_COLOR, lw=0.6, alpha=0.85))


def _panel(ax, name, dists, result, shown, colours, flags, rng, size):
    """One parameter's panel: ok trials in the zoomed range, the others in the strips, edges, flags, best."""
    metric = result.metric
    col = f"param_{name}"
    ax.set_gid(f"slice-{name}")
    # a parameter of a branch is drawn over the trials that have it, never at a made-up value
    present = np.array([not _missing(v) for v in shown[col]], dtype=bool)
    n_shown = len(shown)
    shown = shown[present]
    choice, log, labels, pos = _positions(name, dists, result)
    if log:
        set_log_axis(ax, "x", *_span(dists))
    x = pos(shown[col])
    y = pd.to_numeric(shown[metric], errors="coerce").to_numpy(float) if metric in shown else \
        np.full(len(shown), np.nan)
    ok = (shown["status"] == "ok").to_numpy() & np.isfinite(y)
    inside = ok & ~(rng.worse(np.where(ok, y, np.nan)) if rng is not None else np.zeros(len(y), bool))
    groups = shown[colours.column].to_numpy()
    for g in np.unique(groups[inside]):
        m = inside & (groups == g)
        ax.scatter(x[m], y[m], s=size, color=colours.colour(g), alpha=0.85, edgecolor="white",
                   linewidth=0.5 if size > 12 else 0.0, zorder=3, label=colours.label(g), gid="ok-trials")
    colors = [colours.colour(g) for g in groups]
    draw_outside(ax, x, np.where(ok, y, np.nan), shown["status"].to_numpy(), rng, colors, size=max(size, 18))
    best = getattr(result, "best_trial", None)
    if best is not None:  # the study's best (highest-budget rule), on its own point (spread included)
        at = np.flatnonzero(shown["number"].to_numpy() == best["number"])
        if len(at):
            ax.scatter(x[at], y[at], marker="*", s=230, color=BEST_COLOR, edgecolor="black",
                       linewidth=0.8, zorder=4, label="best", gid="best")
    if choice:
        long = max(map(len, labels)) > 6
        ax.set_xticks(np.arange(len(labels)), labels, rotation=30 if long else 0, ha="right" if long else "center")
        ax.set_xlim(-0.6, len(labels) - 0.4)
    else:
        _edges(ax, dists, flags, numeric(result.trials[col]), log)
        _flag_marks(ax, flags, dists)
        if not log and any(is_integer(d) for d in dists if d is not None):
            integer_ticks(ax, "x")
    ax.set_xlabel(f"{name} (log scale)" if log else name)
    ax.set_ylabel(metric)
    if flags:
        # the suggestion goes in the title area, where it hides no trial
        advice = flags[0].suggestion
        advice = advice[len(name) + 2:] if advice.startswith(f"{name}: ") else advice
        ax.set_title(f"{name}: flagged at the {flags[0].edge} edge\n{wrap(advice, 56)}",
                     color=FLAG_COLOR, fontsize=8.5, gid="flag-suggestion")
    elif len(shown) < n_shown:
        ax.set_title(f"{name} (in {len(shown)} of {n_shown} trials)", fontsize=11)
    else:
        ax.set_title(name, fontsize=11)


def _metric_values(trials, metric, direction):
    """(values, ok, log): the metric column, the ok trials with a value, whether the axis is logarithmic.

    Log for a minimised, positive metric over more than two decades (a loss).
    """
    values = pd.to_numeric(trials[metric], errors="coerce") if metric in trials else \
        pd.Series(np.nan, index=trials.index)
    ok = (trials["status"] == "ok").to_numpy() & np.isfinite(values.to_numpy(float))
    log = (direction == "minimize" and ok.sum() > 1 and values[ok].min() > 0
           and values[ok].max() / values[ok].min() > 100)
    return values, ok, log


def _flags_by_param(result):
    """{parameter: [its boundary flags]}."""
    flags = {}
    for f in getattr(result, "boundary", []) or []:
        flags.setdefault(f.param, []).append(f)
    return flags


def _headline(title, result, ok, rng, thinned):
    """The figure title's lines: what is drawn and the best, the counts and flags, the axis and thinning notes."""
    metric, best = result.metric, getattr(result, "best_value", None)
    headline = [f"{title}: {metric} against each parameter ({better_word(result.direction)})"
                + (f"; best {fmt(best)} (trial {result.best_trial['number']})" if best is not None else "")]
    line = f"{len(result.trials)} trials, {int(ok.sum())} ok"
    if getattr(result, "boundary", None):
        line += f"; {len(result.boundary)} parameter(s) flagged at the edge of their range (red)"
    headline.append(line)
    return headline + [wrap(n, 130) for n in (rng.note() if rng is not None else None, thinned) if n]


def _figure(params, flags_by_param, headline, legend_rows=1):
    """(fig, axes, height): the panel grid, with room for the headline, each row's flag titles and
    the legend's rows below the last row's axis labels."""
    ncols, nrows = grid_shape(len(params))
    title_lines = [1 + (2 + len(wrap(flags_by_param[n][0].suggestion, 56).splitlines()) if n in flags_by_param else 0)
                   for n, _ in params]
    row_title = [max(title_lines[r * ncols:(r + 1) * ncols]) for r in range(nrows)]
    rotated = any(is_choice(next((d for d in reversed(ds) if d is not None), None)) for _, ds in params)
    head_in = 0.3 + 0.21 * sum(h.count("\n") + 1 for h in headline)
    panel_h, panel_w = 3.0, 4.1
    bottom = (1.3 if rotated else 1.0) + 0.2 * (legend_rows - 1)
    height = head_in + nrows * panel_h + sum(0.17 * t for t in row_title) + (nrows - 1) * 0.75 + bottom + 0.15
    fig = Figure(figsize=(max(5.0, panel_w * ncols + 0.9), height))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    fixed_layout(fig, ncols, nrows, left=0.75, right=0.2, top=head_in + 0.17 * row_title[0] + 0.1,
                 bottom=bottom, wspace=0.6, hspace=0.8 + 0.17 * max(row_title[1:], default=1))
    return fig, axes, height


def _say_no_ok(axes, params, trials):
    """Write on every panel that no trial finished ok, with the count of each status."""
    counts = trials["status"].value_counts()
    msg = "no trial finished ok (" + ", ".join(f"{n} {s}" for s, n in counts.items()) + ")"
    for ax, _ in zip(axes.flat, params):
        ax.set_ylim(0, 1)
        ax.text(0.5, 0.5, msg, transform=ax.transAxes, ha="center", va="center", fontsize=9,
                color=FLAG_COLOR, gid="no-ok")


def plot_slices(result):
    """The metric against each parameter, one panel per searched parameter.

    Args:
        result: a :class:`~hpsearch.results.search_result.SearchResult` (reads ``trials``, ``metric``,
            ``direction``, ``best_trial``, ``best_value``, ``boundary``, ``stages``).

    Returns:
        matplotlib Figure. Log parameters get a log x-axis, integer ones integer ticks, choices
        a category axis. The metric axis is zoomed (see :mod:`hpsearch.plots.metric_axis`):
        worse ok trials are triangles in a grey strip (gid ``"worse-trials"``), diverged and
        failed ones their own markers at the bottom (``"diverged-trials"``, ``"failed-trials"``).
        Numeric panels draw each stage's range edges (the last stage's as lines with gid
        ``"edge-low"`` / ``"edge-high"``, red when flagged), a flag's evidence beside its arrow
        (``"flag-evidence"``) and its suggestion as the title (``"flag-suggestion"``). Above
        :data:`~hpsearch.plots._style.MAX_POINTS` trials a deterministic subset is drawn and the
        title says so. With no trials or no parameters, a figure that says so.
    """
    trials = result.trials
    params = result_params(result)
    title = getattr(result, "name", None) or "study"
    if trials is None or len(trials) == 0:
        return message_figure(f"{title}: slices", "No trials have finished yet, so there is nothing to plot.")
    if not params:
        return message_figure(f"{title}: slices", "The study searched no parameters (every parameter is fixed).")
    metric, direction = result.metric, result.direction
    values, ok, log = _metric_values(trials, metric, direction)
    rng = metric_range(values[ok], direction, log=log)
    colours = ColourGroups(result)
    drawn = trials
    if is_multi_fidelity(trials):
        # one point per configuration, at the highest budget it reached, coloured by that budget
        drawn = last_per_configuration(trials)
    shown, thinned = thin(drawn, metric, direction)
    size = point_size(len(shown))
    flags_by_param = _flags_by_param(result)
    headline = _headline(title, result, ok, rng, thinned)
    if drawn is not trials:
        headline.append(f"each of the {len(drawn)} configurations at the highest budget it reached (colour)")
    # the legend: the colour groups, the best, worse / diverged / failed (at most 7 a row)
    legend_rows = -(-(len(colours.colours) + 4) // 7) if len(colours.colours) > 1 else 1
    fig, axes, height = _figure(params, flags_by_param, headline, legend_rows)
    for ax, (name, dists) in zip(axes.flat, params):
        _panel(ax, name, dists, result, shown, colours, flags_by_param.get(name, []), rng, size)
        ax.grid(True, alpha=0.25)
        ax.tick_params(labelleft=True)
        if rng is not None:
            rng.apply(ax, bad_strip=bool((~ok).any()))
        elif log:
            set_log_axis(ax, "y")
    for ax in list(axes.flat)[len(params):]:
        ax.set_axis_off()
    if rng is None:
        _say_no_ok(axes, params, trials)
    # one legend for the figure: stages or budgets, best, worse / diverged / failed
    figure_legend(fig, axes.flat, max_cols=7)
    fig.suptitle("\n".join(headline), fontsize=11, y=1 - 0.12 / height, va="top")
    return fig
