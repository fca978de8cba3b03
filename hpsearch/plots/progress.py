"""Best value so far: per strategy of a comparison, and for one run against the epochs it trained.

Each run of a comparison (a strategy and a repeat) gives a best-so-far curve: the
best "ok" value after each trial. The curves of a strategy's repeats are read on a
common axis (step interpolation: the best after the last trial that finished at
or before that point) and summarised by their median and a quartile band. Against
compute, the axis is the epochs trained: ``study_epochs`` when the runs carry it (a
multi-fidelity trial that continues another trains only its extra epochs), else the
cumulative budget, so coarse-to-fine's cheap first stage counts for what it cost. A
third panel shows the final best of every run with the Mann-Whitney U test of random vs grid.

A grid enumerates its points in a fixed order (lr = 1e-5 first), so its curve in that order
says more about the enumeration than about grid search: its trials are read in a seeded
shuffled order instead (the same for every drawing), and the legend says so.
"""
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from hpsearch.plots._style import (BEST_COLOR, ColourGroups, better_word, fixed_layout, fmt, integer_ticks,
                                   is_multi_fidelity, message_figure, point_size, thin, wrap)
from hpsearch.plots.metric_axis import draw_outside, metric_range

__all__ = ["plot_best_so_far", "plot_run_progress", "best_so_far_curves", "GRID_ORDER_SEED", "SHUFFLED"]

#: Seed of the shuffled order in which a grid's trials are read (with the repeat number).
GRID_ORDER_SEED = 20120201
#: Strategies whose trials are read in a seeded shuffled order: their own order is an enumeration.
SHUFFLED = ("grid",)


def best_so_far_curves(runs, direction):
    """One best-so-far curve per run.

    Args:
        runs: a comparison's runs table (``strategy, repeat, number, status, budget, value``).
        direction: "maximize" or "minimize".

    Returns:
        dict strategy -> list of (trials, epochs, best) float arrays of shape (n_trials_of_run,):
        the trial count 1..n, the epochs trained so far (``study_epochs`` when the table has
        it, else the cumulative budget), and the best ok value after each trial (NaN before
        the first ok trial). Strategies in :data:`SHUFFLED` are read in a seeded shuffled order
        (seed :data:`GRID_ORDER_SEED` and the repeat), their epochs summed in that order.
    """
    out = {}
    for (strategy, repeat), run in runs.groupby(["strategy", "repeat"], sort=False):
        run = run.sort_values("number", kind="stable")
        shuffled = strategy in SHUFFLED
        if shuffled:
            order = np.random.default_rng([GRID_ORDER_SEED, int(repeat)]).permutation(len(run))
            run = run.iloc[order]
        value = pd.to_numeric(run["value"], errors="coerce").to_numpy(float)
        if "status" in run:
            value = np.where(run["status"].to_numpy() == "ok", value, np.nan)
        worst = -np.inf if direction == "maximize" else np.inf
        filled = np.where(np.isfinite(value), value, worst)
        best = np.maximum.accumulate(filled) if direction == "maximize" else np.minimum.accumulate(filled)
        best = np.where(np.isfinite(best), best, np.nan)
        trials = np.arange(1, len(run) + 1, dtype=float)
        if "study_epochs" in run and not shuffled:
            epochs = pd.to_numeric(run["study_epochs"], errors="coerce").ffill().fillna(0).to_numpy(float)
        else:
            epochs = np.cumsum(pd.to_numeric(run["budget"], errors="coerce").fillna(0).to_numpy(float))
        out.setdefault(strategy, []).append((trials, epochs, best))
    return out


def _on_axis(grid, xs, best):
    """Step interpolation of one curve onto ``grid``: NaN before its first point and after its last."""
    idx = np.searchsorted(xs, grid, side="right") - 1
    y = np.where(idx >= 0, best[np.clip(idx, 0, len(best) - 1)], np.nan)
    return np.where(grid <= xs[-1] + 1e-9, y, np.nan)


def _band(ax, curves, which, color, label, style="-", gid=None):
    xs_all = np.unique(np.concatenate([c[which] for c in curves]))
    ys = np.vstack([_on_axis(xs_all, c[which], c[2]) for c in curves])
    counts = np.isfinite(ys).sum(axis=0)
    enough = counts >= max(1, (len(curves) + 1) // 2)  # a summary of at least half of the runs
    with np.errstate(all="ignore"):
        q1, med, q3 = (np.full(len(xs_all), np.nan) for _ in range(3))
        if enough.any():
            sub = ys[:, enough]
            q1[enough], med[enough], q3[enough] = np.nanpercentile(sub, [25, 50, 75], axis=0)
    line, = ax.step(xs_all, med, where="post", color=color, lw=2, ls=style, label=label, gid=gid or f"median-{label}")
    ax.fill_between(xs_all, q1, q3, step="post", color=color, alpha=0.2, lw=0)
    return xs_all, med


def _draw_bands(ax_t, ax_e, curves, strategies, color):
    """Each strategy's median and quartile band against trials (``ax_t``) and against compute (``ax_e``)."""
    styles = ["-", "--", "-.", ":"]  # strategies that agree for a while stay visible
    for i, s in enumerate(strategies):
        label = f"{s} (seeded shuffled order)" if s in SHUFFLED else s
        _band(ax_t, curves[s], 0, color[s], label, styles[i % len(styles)], gid=f"median-{s}")
        _band(ax_e, curves[s], 1, color[s], label, styles[i % len(styles)], gid=f"median-{s}")


def _label_curve_axes(ax_t, ax_e, comparison):
    """Axis labels, titles, the shared metric axis, grids and the legend of the two curve panels."""
    direction = comparison.direction
    ax_t.set_xlabel("trials")
    ax_t.set_ylabel(f"best {comparison.metric} so far ({better_word(direction)})")
    ax_t.set_title("against the number of trials")
    ax_e.set_xlabel("compute: epochs trained (study_epochs)" if "study_epochs" in comparison.runs
                    else "compute: cumulative budget (epochs)")
    ax_e.set_title("against compute")
    ax_e.sharey(ax_t)
    for ax in (ax_t, ax_e):
        ax.grid(True, alpha=0.25)
    # below the panels, where it hides no curve
    handles, labels = ax_t.get_legend_handles_labels()
    ax_t.figure.legend(handles, labels, title=f"median over {comparison.repeats} repeats, band: 25-75%",
                       loc="lower center", bbox_to_anchor=(0.5, 0.005), ncols=min(4, len(labels) or 1), fontsize=9,
                       title_fontsize=8.5, frameon=False)


def _draw_finals(ax, comparison, strategies, color):
    """Every run's final best per strategy: a box over the repeats and a dot per run, with the test."""
    per_run = comparison.best_per_run()
    data = [pd.to_numeric(per_run.loc[per_run["strategy"] == s, "best_value"], errors="coerce").dropna()
            .to_numpy(float) for s in strategies]
    positions = np.arange(len(strategies))
    nonempty = [i for i, d in enumerate(data) if len(d)]
    if nonempty:
        box = ax.boxplot([data[i] for i in nonempty], positions=positions[nonempty], widths=0.5,
                         patch_artist=True, showfliers=False, medianprops=dict(color="black"))
        for patch, i in zip(box["boxes"], nonempty):
            patch.set_facecolor(color[strategies[i]])
            patch.set_alpha(0.35)
    for i, d in enumerate(data):
        offsets = np.linspace(-0.15, 0.15, len(d)) if len(d) > 1 else np.zeros(len(d))
        ax.scatter(positions[i] + offsets, d, color=color[strategies[i]], s=22, zorder=3, edgecolor="black",
                   linewidth=0.4)
    ax.set_xticks(positions, strategies, rotation=20 if len(strategies) > 3 else 0)
    ax.set_ylabel(f"best {comparison.metric} per run")
    ax.grid(True, axis="y", alpha=0.25)
    test = getattr(comparison, "test", None)
    sub = "final best of each run"
    if test:
        sub += (f"\nMann-Whitney U {test.get('a')} vs {test.get('b')}: U={fmt(float(test['statistic']))}, "
                f"p={float(test['pvalue']):.3g}")
    ax.set_title(sub, fontsize=10)


def _with_every_final(rng, comparison, strategies, direction):
    """(lo, hi) of the zoomed metric axis, widened to every strategy's median final best, so that
    no strategy in the legend ends below the axis (grid search often does)."""
    per_run = comparison.best_per_run()
    medians = [np.nanmedian(v) for s in strategies
               if len(v := pd.to_numeric(per_run.loc[per_run["strategy"] == s, "best_value"],
                                         errors="coerce").dropna().to_numpy(float))]
    lo, hi = rng.lo, rng.hi
    if medians:
        lo, hi = (min(lo, min(medians)), hi) if direction == "maximize" else (lo, max(hi, max(medians)))
    return lo, hi


def plot_best_so_far(comparison):
    """Best-so-far curves of every strategy, against trials and against compute.

    Args:
        comparison: a :class:`~hpsearch.compare.Comparison` (reads ``runs``, ``strategies``,
            ``metric``, ``direction``, ``repeats``, ``name``, ``test`` and ``best_per_run()``).

    Returns:
        matplotlib Figure with three panels: best so far vs trial number, best so far vs
        cumulative budget (median line with gid ``"median-<strategy>"`` and a 25-75%
        band each), and every run's final best per strategy with the random-vs-grid test.
        With no ok trial at all, a figure that says so.
    """
    runs = comparison.runs
    direction = comparison.direction
    name = getattr(comparison, "name", None) or "comparison"
    values = pd.to_numeric(runs["value"], errors="coerce") if "value" in runs else pd.Series(dtype=float)
    if len(runs) == 0 or not np.isfinite(values).any():
        return message_figure(f"{name}: best so far", "No trial finished ok in any run, so there is no best "
                                                      "value to follow.")
    curves = best_so_far_curves(runs, direction)
    strategies = [s for s in comparison.strategies if s in curves] + [s for s in curves
                                                                       if s not in comparison.strategies]
    colors = colormaps["tab10"]
    color = {s: colors(i % 10) for i, s in enumerate(strategies)}
    fig = Figure(figsize=(15, 5.3))
    ax_t, ax_e, ax_f = fig.subplots(1, 3, width_ratios=[1, 1, 0.75])
    fixed_layout(fig, 3, 1, left=0.8, right=0.2, top=0.95, bottom=1.25, wspace=0.75)
    for ax, gid in ((ax_t, "by-trials"), (ax_e, "by-epochs"), (ax_f, "final")):
        ax.set_gid(gid)
    _draw_bands(ax_t, ax_e, curves, strategies, color)
    # the metric axis over the better half of the best-so-far values: the early, poor part of
    # every curve is cut so the strategies' bands do not blend where decisions are made
    rng = metric_range(np.concatenate([c[2] for cs in curves.values() for c in cs]), direction)
    if rng is not None:
        lo, hi = _with_every_final(rng, comparison, strategies, direction)
        pad = 0.06 * (hi - lo)
        ax_t.set_ylim(lo - pad, hi + pad)
    _label_curve_axes(ax_t, ax_e, comparison)
    _draw_finals(ax_f, comparison, strategies, color)
    head = f"{name}: best {comparison.metric} so far per strategy at equal compute ({comparison.repeats} repeats each)"
    if rng is not None and rng.zoomed:
        lo, hi = ax_t.get_ylim()
        head += (f"\naxis from {fmt(lo)} to {fmt(hi)} (the better half of the best-so-far values and every "
                 f"strategy's median final best; they start at {fmt(rng.full[0])})")
    fig.suptitle(head, fontsize=12, y=1 - 0.1 / 5.3, va="top")
    return fig


#: A mark's label is written only this far (a fraction of the x axis) right of the last one written,
#: so that short rungs' labels do not print over each other.
_LABEL_GAP = 0.09


def _stage_marks(ax, trials, x):
    """A dotted line where each later stage (or bracket of a multi-fidelity run) starts, labelled
    with its size where there is room for the label."""
    multi = is_multi_fidelity(trials)
    key = "bracket" if multi and "bracket" in trials else "stage"
    labels = trials[key].to_numpy()
    budgets = trials["budget"].to_numpy()
    span = max(1.0, float(np.nanmax(x)))
    last = -np.inf
    for i in np.flatnonzero(labels[1:] != labels[:-1]) + 1:
        ax.axvline(x[i - 1], color="#9aa5b1", lw=0.9, ls=":", zorder=1, gid="stage-start")
        if (x[i - 1] - last) / span < _LABEL_GAP:
            continue
        last = x[i - 1]
        text = f" {key} {labels[i]}" + ("" if multi else f"\n budget {fmt(budgets[i])}")
        ax.text(x[i - 1], 0.99, text, transform=ax.get_xaxis_transform(), ha="left", va="top", fontsize=8,
                color="#555555", gid="stage-label")


def _epochs_and_values(trials, metric):
    """(x, values): the study's epochs when each trial's result was recorded, and its metric (NaN if none)."""
    x = pd.to_numeric(trials["study_epochs"], errors="coerce").to_numpy(float) if "study_epochs" in trials else \
        np.cumsum(pd.to_numeric(trials["budget"], errors="coerce").fillna(0).to_numpy(float))
    values = pd.to_numeric(trials[metric], errors="coerce").to_numpy(float) if metric in trials else \
        np.full(len(trials), np.nan)
    return x, values


def _draw_progress(ax, trials, x, values, ok, colors, rng, metric, direction):
    """The trials (the zoomed axis with its strips) and the best-so-far step line over every ok trial;
    returns the note saying which trials were drawn when there were too many ("" when all were)."""
    rng.apply(ax, bad_strip=bool((~ok).any()))
    shown, thinned = thin(trials.assign(_x=x, _c=colors), metric, direction)
    s_ok = (shown["status"] == "ok").to_numpy() & np.isfinite(pd.to_numeric(shown[metric], errors="coerce"))
    sv = pd.to_numeric(shown[metric], errors="coerce").to_numpy(float)
    inside = s_ok & ~rng.worse(np.where(s_ok, sv, np.nan))
    size = point_size(len(shown), 22.0)
    ax.scatter(shown["_x"].to_numpy()[inside], sv[inside], c=list(shown["_c"][inside]), s=size, alpha=0.8,
               edgecolor="white", linewidth=0.4, zorder=3, gid="trials", label="a trial's result")
    draw_outside(ax, shown["_x"], np.where(s_ok, sv, np.nan), shown["status"].to_numpy(), rng,
                 list(shown["_c"]), size=max(size, 16))
    worst = -np.inf if direction == "maximize" else np.inf
    filled = np.where(ok, values, worst)
    best = np.maximum.accumulate(filled) if direction == "maximize" else np.minimum.accumulate(filled)
    seen = np.isfinite(best)
    ax.step(x[seen], best[seen], where="post", color="black", lw=1.8, zorder=4, gid="best-so-far",
            label="best so far (any budget)")
    return thinned


def _draw_study_best(ax, result, trials, x, values):
    """The study's best (the highest-budget rule) as a star."""
    if result.best_trial is None:
        return
    at = np.flatnonzero(trials["number"].to_numpy() == result.best_trial["number"])
    ax.scatter(x[at], values[at], marker="*", s=240, color=BEST_COLOR, edgecolor="black", zorder=5, gid="best",
               label=f"the study's best {fmt(result.best_value)} (trial {result.best_trial['number']}, "
                     f"highest budget)")


def plot_run_progress(result):
    """One run's best value so far against the epochs the study had trained (``study_epochs``).

    Args:
        result: a :class:`~hpsearch.results.search_result.SearchResult` (reads ``trials`` with ``study_epochs``,
            ``metric``, ``direction``, ``best_trial``, ``name``).

    Returns:
        matplotlib Figure: every trial at the study's epochs when its result was recorded
        (coloured by stage; the zoomed metric axis of :mod:`hpsearch.plots.metric_axis`, worse,
        diverged and failed trials in its strips), the best-so-far step line (gid
        ``"best-so-far"``, over every ok trial) and the study's best as a star (gid ``"best"``;
        the highest-budget rule of :attr:`~hpsearch.results.search_result.SearchResult.best_trial`). With no
        trial, a figure that says so.
    """
    title = getattr(result, "name", None) or "study"
    trials = result.trials
    if trials is None or len(trials) == 0:
        return message_figure(f"{title}: progress", "No trials have finished yet, so there is no progress to draw.")
    metric, direction = result.metric, result.direction
    trials = trials.sort_values("number", kind="stable")
    x, values = _epochs_and_values(trials, metric)
    ok = (trials["status"] == "ok").to_numpy() & np.isfinite(values)
    rng = metric_range(values[ok], direction)
    fig = Figure(figsize=(9.5, 5.0))
    ax = fig.add_subplot()
    ax.set_gid("progress")
    fixed_layout(fig, left=0.85, right=0.3, top=1.0, bottom=1.1)
    groups = ColourGroups(result)
    colors = [groups.colour(g) for g in trials[groups.column].to_numpy()]
    thinned = ""
    if rng is None:
        ax.text(0.5, 0.5, "no trial finished ok", transform=ax.transAxes, ha="center", va="center", gid="no-ok")
        ax.set_ylim(0, 1)
    else:
        thinned = _draw_progress(ax, trials, x, values, ok, colors, rng, metric, direction)
    for group, colour in groups.colours.items():  # the legend's key to the colours
        if groups.label(group):
            ax.scatter([], [], color=colour, s=20, label=groups.label(group))
    _stage_marks(ax, trials, x)
    _draw_study_best(ax, result, trials, x, values)
    ax.set_xlim(0, max(1.0, float(np.nanmax(x))) * 1.02)
    integer_ticks(ax, "x")
    ax.set_xlabel("epochs the study had trained when the trial's result was recorded (study_epochs)")
    ax.set_ylabel(f"{metric} ({better_word(direction)})")
    ax.grid(True, alpha=0.25)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.005), ncols=min(4, len(labels) or 1),
               fontsize=8.5, frameon=False)
    head = f"{title}: best {metric} so far against the epochs trained ({int(np.nanmax(x))} in all)"
    if rng is not None and rng.note():
        head += "\n" + wrap(rng.note(), 110)
    if thinned:  # in the title, where it hides no trial
        head += "\n" + wrap(thinned, 110)
    # margins for the title's lines and the legend's rows (placed once everything is known)
    fixed_layout(fig, left=0.85, right=0.3, top=0.3 + 0.23 * (head.count("\n") + 1),
                 bottom=0.9 + 0.2 * -(-len(labels) // 4))
    fig.suptitle(head, fontsize=11, y=1 - 0.1 / 5.0, va="top")
    return fig
