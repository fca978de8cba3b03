"""Best value so far, per strategy: against the number of trials and against compute.

Each run of a comparison (a strategy and a repeat) gives a best-so-far curve: the
best "ok" value after each trial. The curves of a strategy's repeats are read on a
common axis (step interpolation: the best after the last trial that finished at
or before that point) and summarised by their median and a quartile band. Against
compute, the axis is the cumulative budget (epochs for the MLP), so coarse-to-fine's
cheap first stage counts for what it cost. A third panel shows the final best of
every run with the Mann-Whitney U test of random vs grid.
"""
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from hpsearch.plots._style import better_word, fmt, message_figure

__all__ = ["plot_best_so_far", "best_so_far_curves"]


def best_so_far_curves(runs, direction):
    """One best-so-far curve per run.

    Args:
        runs: a comparison's runs table (``strategy, repeat, number, status, budget, value``).
        direction: "maximize" or "minimize".

    Returns:
        dict strategy -> list of (trials, epochs, best) float arrays of shape (n_trials_of_run,):
        the trial count 1..n, the cumulative budget, and the best ok value after each
        trial (NaN before the first ok trial).
    """
    out = {}
    for (strategy, _), run in runs.groupby(["strategy", "repeat"], sort=False):
        run = run.sort_values("number", kind="stable")
        value = pd.to_numeric(run["value"], errors="coerce").to_numpy(float)
        if "status" in run:
            value = np.where(run["status"].to_numpy() == "ok", value, np.nan)
        worst = -np.inf if direction == "maximize" else np.inf
        filled = np.where(np.isfinite(value), value, worst)
        best = np.maximum.accumulate(filled) if direction == "maximize" else np.minimum.accumulate(filled)
        best = np.where(np.isfinite(best), best, np.nan)
        trials = np.arange(1, len(run) + 1, dtype=float)
        epochs = np.cumsum(pd.to_numeric(run["budget"], errors="coerce").fillna(0).to_numpy(float))
        out.setdefault(strategy, []).append((trials, epochs, best))
    return out


def _on_axis(grid, xs, best):
    """Step interpolation of one curve onto ``grid``: NaN before its first point and after its last."""
    idx = np.searchsorted(xs, grid, side="right") - 1
    y = np.where(idx >= 0, best[np.clip(idx, 0, len(best) - 1)], np.nan)
    return np.where(grid <= xs[-1] + 1e-9, y, np.nan)


def _band(ax, curves, which, color, label, style="-"):
    xs_all = np.unique(np.concatenate([c[which] for c in curves]))
    ys = np.vstack([_on_axis(xs_all, c[which], c[2]) for c in curves])
    counts = np.isfinite(ys).sum(axis=0)
    enough = counts >= max(1, (len(curves) + 1) // 2)  # a summary of at least half of the runs
    with np.errstate(all="ignore"):
        q1, med, q3 = (np.full(len(xs_all), np.nan) for _ in range(3))
        if enough.any():
            sub = ys[:, enough]
            q1[enough], med[enough], q3[enough] = np.nanpercentile(sub, [25, 50, 75], axis=0)
    line, = ax.step(xs_all, med, where="post", color=color, lw=2, ls=style, label=label, gid=f"median-{label}")
    ax.fill_between(xs_all, q1, q3, step="post", color=color, alpha=0.2, lw=0)
    return xs_all, med


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
    fig = Figure(figsize=(15, 4.9), layout="constrained")
    ax_t, ax_e, ax_f = fig.subplots(1, 3, width_ratios=[1, 1, 0.75])
    for ax, gid in ((ax_t, "by-trials"), (ax_e, "by-epochs"), (ax_f, "final")):
        ax.set_gid(gid)
    styles = ["-", "--", "-.", ":"]  # strategies that agree for a while stay visible
    for i, s in enumerate(strategies):
        _band(ax_t, curves[s], 0, color[s], s, styles[i % len(styles)])
        _band(ax_e, curves[s], 1, color[s], s, styles[i % len(styles)])
    ylabel = f"best {comparison.metric} so far ({better_word(direction)})"
    ax_t.set_xlabel("trials")
    ax_t.set_ylabel(ylabel)
    ax_t.set_title("against the number of trials")
    ax_e.set_xlabel("compute: cumulative budget (epochs)")
    ax_e.set_title("against compute")
    ax_e.sharey(ax_t)
    for ax in (ax_t, ax_e):
        ax.grid(True, alpha=0.25)
    ax_t.legend(title=f"median over {comparison.repeats} repeats,\nband: 25-75%", fontsize=9, title_fontsize=8.5,
                loc="lower right" if direction == "maximize" else "upper right")

    # final best of every run, per strategy
    per_run = comparison.best_per_run()
    data = [pd.to_numeric(per_run.loc[per_run["strategy"] == s, "best_value"], errors="coerce").dropna()
            .to_numpy(float) for s in strategies]
    positions = np.arange(len(strategies))
    nonempty = [i for i, d in enumerate(data) if len(d)]
    if nonempty:
        box = ax_f.boxplot([data[i] for i in nonempty], positions=positions[nonempty], widths=0.5,
                           patch_artist=True, showfliers=False, medianprops=dict(color="black"))
        for patch, i in zip(box["boxes"], nonempty):
            patch.set_facecolor(color[strategies[i]])
            patch.set_alpha(0.35)
    for i, d in enumerate(data):
        offsets = np.linspace(-0.15, 0.15, len(d)) if len(d) > 1 else np.zeros(len(d))
        ax_f.scatter(positions[i] + offsets, d, color=color[strategies[i]], s=22, zorder=3, edgecolor="black",
                     linewidth=0.4)
    ax_f.set_xticks(positions, strategies, rotation=20 if len(strategies) > 3 else 0)
    ax_f.set_ylabel(f"best {comparison.metric} per run")
    ax_f.grid(True, axis="y", alpha=0.25)
    test = getattr(comparison, "test", None)
    sub = "final best of each run"
    if test:
        sub += (f"\nMann-Whitney U {test.get('a')} vs {test.get('b')}: U={fmt(float(test['statistic']))}, "
                f"p={float(test['pvalue']):.3g}")
    ax_f.set_title(sub, fontsize=10)
    fig.suptitle(f"{name}: best {comparison.metric} so far per strategy at equal compute "
                 f"({comparison.repeats} repeats each)", fontsize=12)
    return fig
