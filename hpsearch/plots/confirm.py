"""The confirmation drawn: each candidate's values with fresh seeds, their mean and spread.

The search's best is the luckiest of many noisy measurements; the confirmation trains the
top candidates again with fresh seeds. Per candidate the plot shows every fresh-seed value,
their mean with one standard deviation, and the value the search itself measured (an open
diamond), so a candidate that won the search by luck shows its diamond above its dots. The
winner (best mean) is marked. Test metrics are never read here: they play no part in the choice.
"""
import math

import numpy as np
from matplotlib.figure import Figure

from hpsearch.plots._style import (BEST_COLOR, FLAG_COLOR, OK_COLOR, better_word, fixed_layout, fmt, message_figure,
                                   spread)

__all__ = ["plot_confirmation"]


def _label(row, names):
    params = "\n".join(f"{n}={fmt(row[f'param_{n}'])}" for n in names[:4])
    return f"candidate {int(row['candidate'])}: trial {int(row['trial'])}\n{params}"


def _draw_candidate(ax, i, row, value_cols, own, is_winner):
    """Candidate ``i``: its fresh-seed values, their mean with one std, the search's own value, the winner's band."""
    values = np.array([row[c] for c in value_cols], dtype=float)
    good = np.isfinite(values)
    ax.scatter(i + spread(np.zeros(good.sum()), 0.3), values[good], s=30, color=OK_COLOR, alpha=0.75,
               edgecolor="white", linewidth=0.5, zorder=3, gid="seed-values",
               label="a fresh-seed run" if i == 0 else None)
    if math.isfinite(row["mean"]):
        std = row["std"] if math.isfinite(row["std"]) else 0.0
        ax.errorbar([i + 0.28], [row["mean"]], yerr=[std], fmt="s", color="black", ms=6, capsize=4, lw=1.4,
                    zorder=4, gid="mean", label="mean ± 1 std" if i == 0 else None)
    if own is not None and math.isfinite(own):
        ax.scatter([i - 0.28], [own], marker="D", s=46, facecolor="none", edgecolor=FLAG_COLOR, lw=1.4,
                   zorder=4, gid="search-value", label="the search's own value" if i == 0 else None)
    if is_winner:
        ax.axvspan(i - 0.45, i + 0.45, color=BEST_COLOR, alpha=0.18, lw=0, zorder=0, gid="winner",
                   label="winner (best mean)")


def _headline(title, n_candidates, runs, report, winner):
    """The figure's title: what was confirmed, the winner and whether its lead is within noise."""
    head = f"{title}: the top {n_candidates} candidates trained again with {runs} fresh seeds each"
    if report is not None and report.winner is not None:
        head += (f"\nwinner: candidate {winner} (trial {report.winner['confirms']}), "
                 f"mean {fmt(report.winner['mean'])}")
        if report.within_noise:
            head += "; its lead is within noise" + (f" (Welch p = {report.pvalue:.2g})" if report.pvalue is not None
                                                    else "")
        elif report.pvalue is not None:
            head += f"; lead over the runner-up: Welch p = {report.pvalue:.2g}"
    return head


def plot_confirmation(result):
    """Per confirmed candidate: fresh-seed values (dots), mean and spread, the search's own value.

    Args:
        result: a :class:`~hpsearch.results.search_result.SearchResult` with a confirmation (reads
            :meth:`~hpsearch.results.search_result.SearchResult.confirmation_table`, ``confirmation``, ``trials``).

    Returns:
        matplotlib Figure; gids ``"seed-values"`` (one dot per fresh-seed run), ``"mean"``
        (means with a one-standard-deviation bar), ``"search-value"`` and ``"winner"``. A result
        without a confirmation gets a figure that says so.
    """
    title = getattr(result, "name", None) or "study"
    table = result.confirmation_table() if hasattr(result, "confirmation_table") else None
    if table is None or len(table) == 0:
        return message_figure(f"{title}: confirmation", "The study confirmed no candidate.")
    metric, report = result.metric, result.confirmation
    value_cols = [c for c in table.columns if c.startswith("value_")]
    names = [c[6:] for c in table.columns if c.startswith("param_")]
    names = [n for n in names if table[f"param_{n}"].astype(str).nunique() > 1] or names
    search = dict(zip(result.trials["number"], result.trials[metric])) if metric in result.trials else {}
    fig = Figure(figsize=(max(6.0, 1.9 * len(table) + 2.5), 5.4))
    ax = fig.add_subplot()
    ax.set_gid("confirm")
    fixed_layout(fig, left=0.9, right=0.3, top=0.9, bottom=0.3 + 0.17 * (min(len(names), 4) + 1))
    winner = None if report is None or report.winner is None else report.winner["candidate"]
    for i, (_, row) in enumerate(table.iterrows()):
        _draw_candidate(ax, i, row, value_cols, search.get(int(row["trial"])), row["candidate"] == winner)
    ax.set_xticks(np.arange(len(table)), [_label(r, names) for _, r in table.iterrows()], fontsize=8.5)
    ax.set_xlim(-0.6, len(table) - 0.4)
    ax.set_ylabel(f"{metric} ({better_word(result.direction)})")
    ax.grid(True, axis="y", alpha=0.25)
    ax.legend(fontsize=8.5, loc="best", frameon=True, framealpha=0.85)
    fig.suptitle(_headline(title, len(table), len(value_cols), report, winner), fontsize=11, y=1 - 0.08 / 5.4,
                 va="top")
    return fig
