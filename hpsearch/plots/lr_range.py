"""The learning-rate range check drawn: loss after k iterations against the learning rate."""
import math

from matplotlib.figure import Figure

from hpsearch.plots._style import FLAG_COLOR, fixed_layout, fmt, save_figure, set_log_axis

__all__ = ["plot_lr_range", "save_lr_range_plot"]

_ZONES = {"too low": "#9ecae1", "good": "#a1d99b", "too high": "#fc9272"}


def plot_lr_range(check, current=None):
    """A Figure of a ``models.lr_range_check`` result.

    The loss after the check's iterations against the learning rate (log axis), each rate's
    zone shaded (too low / good / too high), diverged rates marked at the top, the suggested
    range bracketed and the study's own ``lr`` range (``current``, a distribution) overlaid.
    """
    fig = Figure(figsize=(7.5, 4.2))
    ax = fig.add_subplot()
    fixed_layout(fig, left=0.75, right=0.25, top=0.45, bottom=0.6)
    rows = check["table"]
    lrs = [r["lr"] for r in rows]
    _shade_zones(ax, rows)
    finite = [(r["lr"], r["end_loss"]) for r in rows if not r["diverged"] and math.isfinite(r["end_loss"])]
    start = sum(r["start_loss"] for r in rows) / len(rows)
    ax.axhline(start, color="0.4", lw=1, ls=":", label=f"loss before training ({fmt(start)})")
    if finite:
        ax.plot(*zip(*finite), "o-", color="#08519c", lw=1.5, ms=4, label=f"loss after {check['iterations']} steps")
    top = max([start] + [v for _, v in finite]) * 1.15
    diverged = [r["lr"] for r in rows if r["diverged"]]
    if diverged:
        ax.plot(diverged, [top] * len(diverged), "x", color=FLAG_COLOR, ms=7, label="diverged (no value)")
    if check.get("suggested"):
        low, high = check["suggested"]
        ax.axvspan(low, high, ymin=0, ymax=0.04, color="#006d2c", label=f"suggested [{fmt(low)}, {fmt(high)}]")
    if current is not None and getattr(current, "ordered", False):
        for x in (current.low, current.high):
            ax.axvline(x, color="k", lw=1.2, ls="--")
        ax.annotate("study's lr range", xy=(math.sqrt(current.low * current.high), top), ha="center", va="bottom",
                    fontsize=8)
    set_log_axis(ax, "x")
    ax.set_xlim(lrs[0] / 1.5, lrs[-1] * 1.5)
    ax.set_ylim(0, top * 1.08)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title(f"Which learning rates make the loss go down ({check['optimizer']}, {check['n_seeds']} seeds)",
                 fontsize=10)
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    return fig


def _shade_zones(ax, rows):
    """One band per run of rates in the same zone, from midpoint to midpoint (log space)."""
    edges = [rows[0]["lr"] / 1.5]
    for a, b in zip(rows, rows[1:]):
        edges.append(math.sqrt(a["lr"] * b["lr"]))
    edges.append(rows[-1]["lr"] * 1.5)
    seen = set()
    for row, lo, hi in zip(rows, edges, edges[1:]):
        zone = row["zone"]
        ax.axvspan(lo, hi, color=_ZONES.get(zone, "0.9"), alpha=0.35, lw=0,
                   label=None if zone in seen else zone)
        seen.add(zone)


def save_lr_range_plot(check, path, current=None, dpi=110):
    """Draw :func:`plot_lr_range` to ``path`` (PNG); returns the Path."""
    return save_figure(plot_lr_range(check, current), path, dpi)
