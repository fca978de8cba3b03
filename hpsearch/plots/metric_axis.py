"""The metric axis of the plots: zoomed to the informative range, with a strip for the rest.

On the main job every decision is made between 0.95 and 0.98, while stage 0's poor trials
reach down to 0.07: an axis over every value draws the part that matters as a flat line.
So a metric axis runs from the median of the ok trials (their better half) to the best, and
the trials worse than that sit in a grey strip at the worse end of the axis, drawn as
triangles at their own x; trials that diverged or failed have no value and get their own
markers in a strip at the bottom. No trial is hidden and none is drawn at a value it did not
have; the full range is written on the plot.
"""
import math
from dataclasses import dataclass

import numpy as np

from hpsearch.plots._style import BAD_COLOR, STATUS_MARKERS, fmt

__all__ = ["MetricRange", "metric_range", "draw_outside", "ZOOM_QUANTILE", "WORSE_MARKER"]

#: The axis starts at this quantile of the ok trials' values (counted from the worst).
ZOOM_QUANTILE = 0.5
#: Zoom only when the informative range is at most this share of the full range.
ZOOM_GAIN = 0.75
#: Height of a strip, as a fraction of the axes.
STRIP = 0.1
#: Marker of a trial worse than the zoomed range (pointing off the axis).
WORSE_MARKER = {"maximize": "v", "minimize": "^"}
_STRIP_COLOR = "#ececec"


@dataclass(frozen=True)
class MetricRange:
    """The informative range of a metric axis and how the other trials are drawn.

    Attributes:
        lo, hi: the zoomed range (``lo < hi``), from the zoom quantile to the best (or the
            full range when zooming would not help).
        full: (worst, best)-ordered ``(min, max)`` of the ok values.
        zoomed: whether some ok trials lie outside ``lo..hi``.
        direction: "maximize" or "minimize".
        log: the axis is logarithmic.
    """

    lo: float
    hi: float
    full: tuple
    zoomed: bool
    direction: str
    log: bool = False

    def worse(self, values):
        """Boolean mask: ``values`` worse than the zoomed range (drawn in the strip)."""
        values = np.asarray(values, dtype=float)
        if not self.zoomed:
            return np.zeros(len(values), dtype=bool)
        return values < self.lo if self.direction == "maximize" else values > self.hi

    def note(self):
        """One line for a title: the zoomed range and the full one."""
        if not self.zoomed:
            return None
        edge = fmt(self.lo if self.direction == "maximize" else self.hi)
        return (f"metric axis: the better half of the ok trials, {fmt(self.lo)} to {fmt(self.hi)} (all: "
                f"{fmt(self.full[0])} to {fmt(self.full[1])}); trials worse than {edge}: triangles in the grey strip")

    def _t(self, v):
        return math.log10(v) if self.log else v

    def _inv(self, t):
        return 10.0 ** t if self.log else t

    def apply(self, ax, bad_strip=False):
        """Set ``ax``'s y-limits and ticks to the range, leaving room for the strips, and draw them.

        The strip for worse trials sits at the worse end (bottom when maximising); with
        ``bad_strip`` a bottom strip holds the diverged and failed trials (one strip when both
        are at the bottom).
        """
        from matplotlib.patches import Rectangle
        from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator

        lo, hi = self._t(self.lo), self._t(self.hi)
        pad = 0.06 * (hi - lo)
        low_strip = (self.zoomed and self.direction == "maximize") or bad_strip
        high_strip = self.zoomed and self.direction == "minimize"
        below = STRIP if low_strip else 0.0
        above = STRIP if high_strip else 0.0
        span = (hi - lo + 2 * pad) / (1.0 - below - above)
        bottom = lo - pad - below * span
        top = hi + pad + above * span
        ax.set_ylim(self._inv(bottom), self._inv(top))
        ticks = (LogLocator(base=10, subs=(1.0, 2.0, 5.0)) if self.log else MaxNLocator(6)).tick_values(
            self.lo, self.hi)
        ticks = [t for t in ticks if self._inv(lo - pad) <= t <= self._inv(hi + pad)]
        ax.set_yticks(ticks)
        if self.log:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt(v)))
            ax.yaxis.set_minor_locator(NullLocator())
        for y0, show in ((0.0, low_strip), (1.0 - STRIP, high_strip)):
            if show:
                ax.add_patch(Rectangle((0, y0), 1, STRIP, transform=ax.transAxes, color=_STRIP_COLOR, lw=0,
                                       zorder=0.5, gid="strip"))

    def worse_y(self):
        """Axes-fraction height of the worse-trials markers."""
        return 0.075 * STRIP / 0.1 if self.direction == "maximize" else 1.0 - 0.5 * STRIP

    @staticmethod
    def bad_y():
        """Axes-fraction height of the diverged / failed markers."""
        return 0.3 * STRIP


def metric_range(values, direction, log=False, quantile=ZOOM_QUANTILE):
    """The :class:`MetricRange` of the finite ``values`` of the ok trials, or None when there are none."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & ((values > 0) if log else True)]
    if len(values) == 0:
        return None
    t = np.log10(values) if log else values
    worst_q = 1.0 - quantile if direction == "minimize" else quantile
    full_lo, full_hi = float(t.min()), float(t.max())
    cut = float(np.quantile(t, worst_q))
    lo, hi = (cut, full_hi) if direction == "maximize" else (full_lo, cut)
    zoomed = full_hi > full_lo and (hi - lo) <= ZOOM_GAIN * (full_hi - full_lo)
    if not zoomed:
        lo, hi = full_lo, full_hi
    if hi <= lo:  # one value (or all equal): a small window around it
        half = 0.05 if log else max(abs(lo) * 0.02, 1e-3)
        lo, hi = lo - half, hi + half
    inv = (lambda x: 10.0 ** x) if log else float
    return MetricRange(inv(lo), inv(hi), (inv(full_lo), inv(full_hi)), bool(zoomed), direction, log)


def draw_outside(ax, x, values, status, rng, colors=None, size=30):
    """Draw the trials outside ``rng``: worse ok trials as triangles, diverged / failed as their markers.

    Args:
        ax: the axes (its x is data, the strips are in axes fractions).
        x: x positions of every trial, shape (n,).
        values: metric values, shape (n,) (NaN for trials that did not finish ok).
        status: trial statuses, shape (n,).
        rng: the axis' :class:`MetricRange`.
        colors: per-trial colours of the worse ok trials (default grey).

    Returns:
        the number of worse ok trials drawn.
    """
    x, values, status = np.asarray(x, float), np.asarray(values, float), np.asarray(status, dtype=object)
    ok = (status == "ok") & np.isfinite(values)
    worse = ok & rng.worse(np.where(ok, values, np.nan)) if rng is not None else np.zeros(len(x), bool)
    trans = ax.get_xaxis_transform()
    if worse.any():
        c = BAD_COLOR if colors is None else np.asarray(colors, dtype=object)[worse].tolist()
        ax.scatter(x[worse], np.full(worse.sum(), rng.worse_y()), marker=WORSE_MARKER[rng.direction], s=size * 0.8,
                   c=c, alpha=0.8, linewidths=0, transform=trans, zorder=3, clip_on=False, gid="worse-trials",
                   label="worse than the axis (strip)")
    for st, marker in STATUS_MARKERS.items():
        m = status == st
        if m.any():
            ax.scatter(x[m], np.full(m.sum(), MetricRange.bad_y()), marker=marker, color=BAD_COLOR, s=size * 1.2,
                       linewidths=1.2, transform=trans, zorder=3, clip_on=False, gid=f"{st}-trials",
                       label=f"{st} (no value)")
    return int(worse.sum())
