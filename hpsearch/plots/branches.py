"""Branches compared: for each branch parameter of a conditional space, its best value per branch
and each branch's best so far against the epochs the study trained.

The left panel gives each branch a row, best branch first: its ok trials at the highest budget
that branch reached (a 1-epoch rung is not set against a 40-epoch run) and its best as a star,
on a metric axis zoomed to the branches' bests; the right panel is each branch's best-so-far step line
against ``study_epochs`` (when the trial's result was recorded), so a branch that gets good
early and one that needs more epochs look different.
"""
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hpsearch.plots._style import BEST_COLOR, better_word, fixed_layout, fmt, message_figure, message_panel, spread

__all__ = ["plot_branches", "branch_parameters"]

_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]


def branch_parameters(result):
    """``{branch parameter: (branch names...)}`` of the space a result searched first (empty
    without branches)."""
    stages = [st for st in getattr(result, "stages", []) or [] if hasattr(st.space, "branches")]
    return dict(stages[0].space.branches) if stages else {}


def _branch_rows(trials, name, branch, metric):
    """(rows of the branch, ok mask, values) in trial order."""
    rows = trials[trials[f"param_{name}"] == branch]
    values = pd.to_numeric(rows[metric], errors="coerce").to_numpy(float) if metric in rows else \
        np.full(len(rows), np.nan)
    ok = (rows["status"] == "ok").to_numpy() & np.isfinite(values)
    return rows, ok, values


def _bests(trials, name, branches, metric, direction):
    """{branch: (best value at its highest budget, ok count, values at that budget)} of the
    branches with an ok trial."""
    better = max if direction == "maximize" else min
    out = {}
    for branch in branches:
        rows, ok, values = _branch_rows(trials, name, branch, metric)
        if ok.any():
            budget = pd.to_numeric(rows["budget"], errors="coerce").to_numpy(float)
            top = values[ok & (budget == budget[ok].max())]
            out[branch] = (better(top), int(ok.sum()), top)
    return out


def _zoom(bests, direction):
    """(lo, hi) of the metric axis: the branches' bests with room below, so that close
    branches stay apart (trials far worse fall outside the axis, as counted in the labels)."""
    values = [b for b, _, _ in bests.values()]
    lo, hi = min(values), max(values)
    pad = max(hi - lo, 0.02 * max(abs(hi), 1e-12))
    return (lo - 1.5 * pad, hi + 0.3 * pad) if direction == "maximize" else (lo - 0.3 * pad, hi + 1.5 * pad)


def _best_panel(ax, bests, name, branches, metric, direction, limits):
    """Each branch on its own row, best first: its trials at its highest budget and its best (a star)."""
    order = sorted(bests, key=lambda b: -bests[b][0] if direction == "maximize" else bests[b][0])
    for row, branch in enumerate(order):
        best, count, top = bests[branch]
        color = _COLORS[list(branches).index(branch) % len(_COLORS)]
        y = row + spread(np.zeros(len(top)), 0.4)
        ax.scatter(top, y, s=22, color=color, alpha=0.8, linewidth=0, gid=f"branch-{branch}")
        ax.scatter([best], [row], marker="*", s=230, color=BEST_COLOR, edgecolor="black", linewidth=0.8, zorder=4,
                   gid=f"branch-best-{branch}")
        ax.annotate(fmt(best), (best, row), xytext=(0, 9), textcoords="offset points", fontsize=8, ha="center")
    missing = [b for b in branches if b not in bests]
    labels = [f"{b} ({bests[b][1]} ok)" for b in order] + [f"{b} (no ok trial)" for b in missing]
    ax.set_yticks(np.arange(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.5, -0.6)
    ax.set_xlim(*limits)
    ax.set_ylabel(name)
    ax.set_xlabel(f"{metric} ({better_word(direction)})")
    ax.set_title(f"best {metric} per {name} (each at its highest budget)", fontsize=10)
    ax.grid(True, alpha=0.25)


def _progress_panel(ax, trials, name, branches, metric, direction):
    """Each branch's best so far against the study's trained epochs (a step line per branch)."""
    x_all = pd.to_numeric(trials["study_epochs"], errors="coerce").to_numpy(float)
    for i, branch in enumerate(branches):
        rows, ok, values = _branch_rows(trials, name, branch, metric)
        if not ok.any():
            continue
        x = x_all[(trials[f"param_{name}"] == branch).to_numpy()][ok]
        v = values[ok]
        so_far = np.maximum.accumulate(v) if direction == "maximize" else np.minimum.accumulate(v)
        ax.step(x, so_far, where="post", color=_COLORS[i % len(_COLORS)], lw=2, label=str(branch),
                gid=f"branch-so-far-{branch}")
    ax.set_xlabel("epochs the study had trained (study_epochs)")
    ax.set_title(f"best {metric} so far per {name}", fontsize=10)
    ax.grid(True, alpha=0.25)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="lower right" if direction == "maximize" else "upper right")


def plot_branches(result):
    """The branches of a conditional space compared, one row per branch parameter.

    Args:
        result: a :class:`~hpsearch.results.search_result.SearchResult` of a space with branches
            (reads ``trials`` with ``param_<branch parameter>``, ``budget``, ``study_epochs``;
            ``metric``, ``direction``, ``stages``).

    Returns:
        matplotlib Figure: per branch parameter, the best value of each branch (gids
        ``"branch-best-<branch>"``) and each branch's best so far against the epochs trained
        (gids ``"branch-so-far-<branch>"``). Without branches or trials, a figure that says so.
    """
    title = getattr(result, "name", None) or "study"
    params = branch_parameters(result)
    trials = result.trials
    if not params:
        return message_figure(f"{title}: branches", "The space has no branches to compare.")
    if trials is None or len(trials) == 0:
        return message_figure(f"{title}: branches", "No trials have finished yet, so there is nothing to compare.")
    trials = trials.sort_values("number", kind="stable")
    fig = Figure(figsize=(11.0, 0.9 + 3.6 * len(params)))
    axes = fig.subplots(len(params), 2, squeeze=False)
    fixed_layout(fig, ncols=2, nrows=len(params), left=1.6, right=0.3, top=0.75, bottom=0.6, wspace=0.8,
                 hspace=0.9)
    for row, (name, branches) in zip(axes, params.items()):
        bests = _bests(trials, name, branches, result.metric, result.direction)
        if not bests:
            message_panel(row[0], f"no trial of any {name} finished ok")
            row[1].set_axis_off()
            continue
        limits = _zoom(bests, result.direction)
        _best_panel(row[0], bests, name, branches, result.metric, result.direction, limits)
        _progress_panel(row[1], trials, name, branches, result.metric, result.direction)
        row[1].set_ylim(*limits)
    fig.suptitle(f"{title}: the branches compared", fontsize=11, y=1 - 0.15 / fig.get_size_inches()[1], va="top")
    return fig
