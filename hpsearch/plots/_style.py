"""Shared helpers of the plots: figures, parameter axes, value formatting, message panels.

Every plot builds a :class:`matplotlib.figure.Figure` directly (never pyplot), so
drawing is thread-safe, keeps no global state and never opens a window; saving a
figure to PNG uses the Agg canvas whatever the configured backend.
"""
import math
import textwrap

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from hpsearch.distributions import Fixed, IntUniform, value_key

# Colours that read well on white and in grey-scale print.
OK_COLOR = "#1f77b4"
EDGE_COLOR = "#4c72b0"
OLD_EDGE_COLOR = "#9aa5b1"
FLAG_COLOR = "#d62728"
BEST_COLOR = "#ffbf00"
BAD_COLOR = "#7f7f7f"
CMAP = "viridis"
STAGE_CMAP = "plasma"

STATUS_MARKERS = {"diverged": "x", "failed": "+"}

#: Above this many points a scatter is a blot: the plots draw a deterministic subset (see :func:`thin`).
MAX_POINTS = 1500
#: ...of which the best are always drawn.
KEEP_BEST = 150


_SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def power_of_ten(value):
    """A log axis's label: ``10⁻³`` for a power of ten (as matplotlib writes it, in Unicode
    superscripts rather than mathtext, whose parser costs a plot a tenth of its drawing time),
    else the plain number."""
    if value > 0:
        exponent = round(math.log10(value))
        if math.isclose(value, 10.0 ** exponent, rel_tol=1e-9):
            return "10" + str(exponent).translate(_SUPERSCRIPT)
    return f"{value:g}"


def set_log_axis(ax, which, low=None, high=None):
    """Put the ``which`` ("x" or "y") axis of ``ax`` on a log scale with readable labels.

    Ranges narrower than three decades (a hidden size 16-512, a refined learning-rate range)
    would get matplotlib's crowded minor labels (``2x10^1 3x10^1 ...``); they get plain
    numbers at 1, 2 and 5 times each power of ten instead.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis = ax.xaxis if which == "x" else ax.yaxis
    if low is None or high is None or not 0 < low < high or high / low >= 1e3:
        # minor marks at 2 and 5 times each power only: eight per decade over six decades are
        # unreadable anyway, and each tick costs drawing time
        axis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _pos: power_of_ten(v)))
        return
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def grid_shape(n, max_cols=3):
    """(ncols, nrows) of a near-square grid for ``n`` panels."""
    ncols = min(max_cols, max(1, n))
    return ncols, max(1, math.ceil(n / ncols))


def fmt(value):
    """A short label for a parameter or metric value: 3 significant digits for floats."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not math.isfinite(value):
            return str(value)
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.2e}"
        return f"{value:.3g}"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)


def wrap(text, width=48):
    """``text`` wrapped to lines of at most ``width`` characters (for panel annotations)."""
    # no breaks at hyphens: "1e-02" must stay whole
    return "\n".join(textwrap.wrap(str(text), width=width, break_on_hyphens=False)) or str(text)


def message_figure(title, message, figsize=(7.0, 3.0)):
    """A figure with one empty panel that states ``message`` (used instead of raising)."""
    fig = Figure(figsize=figsize)
    ax = fig.add_subplot()
    fixed_layout(fig, left=0.2, right=0.2, top=0.45, bottom=0.15)
    message_panel(ax, message)
    ax.set_title(title)
    return fig


def message_panel(ax, message):
    """Turn ``ax`` into a text panel saying ``message``."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, wrap(message, 60), ha="center", va="center", fontsize=11,
            transform=ax.transAxes, bbox=dict(boxstyle="round,pad=0.6", fc="#f4f4f4", ec="#bbbbbb"))


def is_choice(dist):
    """True for a Choice-like distribution (unordered, a list of ``values``)."""
    return not getattr(dist, "ordered", False) and hasattr(dist, "values") and not callable(dist.values)


def is_fixed(dist):
    return isinstance(dist, Fixed)


def is_integer(dist):
    """True for an integer range (IntUniform, IntLogUniform): its axis gets integer ticks."""
    return isinstance(dist, IntUniform)


def integer_ticks(ax, which):
    """Integer-only ticks on the linear ``which`` axis of ``ax`` (no 0.25 steps for a depth of 1-4)."""
    from matplotlib.ticker import MaxNLocator

    (ax.xaxis if which == "x" else ax.yaxis).set_major_locator(MaxNLocator(nbins="auto", integer=True))


def fixed_layout(fig, ncols=1, nrows=1, left=0.75, right=0.25, top=0.85, bottom=0.6, wspace=0.6, hspace=0.8):
    """Place a figure's subplot grid with margins and gaps given in inches.

    A fixed layout instead of matplotlib's constrained layout: that one measures every tick
    label of every axes twice per save and took half of a plot's drawing time. The margins
    are chosen per plot for its titles, labels and legend.

    Returns:
        dict of the ``subplots_adjust`` fractions (to build a gridspec with the same margins).
    """
    width, height = fig.get_size_inches()
    cell_w = (width - left - right - (ncols - 1) * wspace) / ncols
    cell_h = (height - top - bottom - (nrows - 1) * hspace) / nrows
    box = dict(left=left / width, right=1 - right / width, top=1 - top / height, bottom=bottom / height,
               wspace=wspace / cell_w, hspace=hspace / cell_h)
    fig.subplots_adjust(**box)
    return box


def thin(frame, value, direction, limit=MAX_POINTS, keep_best=KEEP_BEST):
    """The rows of ``frame`` to draw when a scatter of all of them would be unreadable.

    All rows up to ``limit``; beyond, the ``keep_best`` best by ``value`` (a column, NaN last)
    and an evenly spaced subset of the others in table order, ``limit`` in all. Deterministic
    (no random draw), so the same study gives the same picture.

    Returns:
        (subset DataFrame, note): the note says what was drawn, None when every row was.
    """
    n = len(frame)
    if n <= limit:
        return frame, None
    score = pd.to_numeric(frame[value], errors="coerce").to_numpy(float) if value in frame else np.full(n, np.nan)
    key = np.where(np.isfinite(score), -score if direction == "maximize" else score, np.inf)
    order = np.argsort(key, kind="stable")
    best = np.sort(order[:keep_best])
    rest = np.setdiff1d(np.arange(n), best)
    step = len(rest) / (limit - len(best))
    picked = rest[np.floor(np.arange(limit - len(best)) * step).astype(int)]
    rows = np.union1d(best, picked)
    return frame.iloc[rows], (f"drawn: {len(rows):,} of {n:,} trials (the best {len(best)} and an evenly "
                              f"spaced 1 in {step:.0f} of the rest)")


def point_size(n, base=26.0):
    """Marker area for a scatter of ``n`` points: smaller as the panel fills up."""
    return float(np.clip(base * math.sqrt(200.0 / max(n, 1)), 5.0, base))


def categories(dists, values):
    """The ordered categories of a choice parameter.

    The values of the Choice distributions in ``dists`` (first appearance wins),
    then any other value seen in ``values``.

    Returns:
        (keys, labels): lists of hashable keys and their tick labels.
    """
    keys, labels = [], []
    for dist in dists:
        if dist is not None and is_choice(dist):
            for v in dist.values:
                k = value_key(v)
                if k not in keys:
                    keys.append(k)
                    labels.append(fmt(v))
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        k = value_key(v)
        if k not in keys:
            keys.append(k)
            labels.append(fmt(v))
    return keys, labels


def numeric(values):
    """``values`` as a float array (non-numbers become NaN)."""
    return pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").to_numpy(dtype=float)


# The R2 low-discrepancy sequence's steps: spread(..., step=R2_X) and spread(..., step=R2_Y)
# together fill a 2-D strip evenly (a 1-D sequence used on both axes would draw a diagonal).
R2_X, R2_Y = 0.7548776662466927, 0.5698402909980532


def spread(groups, width=0.5, step=0.6180339887498949):
    """Deterministic offsets that spread points sharing a group, like jitter without an RNG.

    The k-th point of a group gets ``frac(0.5 + k * step)`` (default: the golden ratio),
    scaled to the width: a low-discrepancy sequence, so points fill the strip evenly.

    Args:
        groups: array of group labels, shape (n,).
        width: total spread of one group.
        step: the sequence's step (see ``R2_X``, ``R2_Y``).

    Returns:
        float array (n,) of offsets in [-width/2, width/2]; 0 for a group of one.
    """
    groups = np.asarray(groups)
    out = np.zeros(len(groups))
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        if len(idx) > 1:
            out[idx] = (np.mod(np.arange(len(idx)) * step + 0.5, 1.0) - 0.5) * width
    return out


def better_word(direction):
    return "higher is better" if direction == "maximize" else "lower is better"


def metric_scale(ax, values, direction):
    """Log y for a minimised, positive metric spanning more than two decades (losses)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if direction == "minimize" and len(values) > 1 and values.min() > 0 and values.max() / values.min() > 100:
        set_log_axis(ax, "y")


def is_multi_fidelity(trials):
    """True when the trials come from successive halving or Hyperband (they carry a rung)."""
    return "rung" in trials and trials["rung"].notna().any()


class ColourGroups:
    """How a plot colours trials: by stage (coarse-to-fine), or by budget (successive halving and
    Hyperband, whose many "stages" are rungs: a 1-epoch and a 40-epoch result differ by budget).

    Attributes:
        column: the trials-table column the colours key on ("stage" or "budget").
        colours: dict value -> colour (one entry, OK_COLOR, for a single group).
    """

    def __init__(self, result):
        trials = result.trials
        if is_multi_fidelity(trials):
            self.column = "budget"
            keys = sorted({float(b) for b in pd.to_numeric(trials["budget"], errors="coerce").dropna()})
        else:
            self.column = "stage"
            n_stages = max(int(trials["stage"].max()) + 1, len(getattr(result, "stages", []) or []))
            keys = list(range(n_stages))
        cmap = colormaps[STAGE_CMAP]
        self.colours = ({k: cmap(0.1 + 0.75 * i / max(1, len(keys) - 1)) for i, k in enumerate(keys)}
                        if len(keys) > 1 else {k: OK_COLOR for k in keys})

    def key(self, value):
        return float(value) if self.column == "budget" else int(value)

    def colour(self, value):
        """The colour of a trial whose group column holds ``value``."""
        try:
            return self.colours.get(self.key(value), OK_COLOR)
        except (TypeError, ValueError):
            return OK_COLOR

    def label(self, value):
        """The legend label of a group, or None when there is only one group."""
        if len(self.colours) < 2:
            return None
        return f"budget {fmt(value)}" if self.column == "budget" else f"stage {int(value)}"


def last_per_configuration(trials):
    """Each configuration's row at the highest budget it reached (the trials of a multi-fidelity
    run repeat a configuration at every rung it was promoted to), in trial order."""
    params = [c for c in trials.columns if c.startswith("param_")]
    if not params:
        return trials
    # repr of each value: a parameter a trial lacks (a branch it did not take) is None or NaN,
    # which astype(str) would keep as a missing value
    key = pd.Series(["|".join(map(repr, row)) for row in trials[params].itertuples(index=False)],
                    index=trials.index, dtype=object)
    budget = pd.to_numeric(trials["budget"], errors="coerce").fillna(-1)
    order = trials.assign(_key=key, _budget=budget).sort_values(["_budget", "number"], kind="stable")
    keep = order.drop_duplicates("_key", keep="last").index
    return trials.loc[keep].sort_values("number", kind="stable")


def figure_legend(fig, axes, max_cols=None):
    """One legend below the panels of ``fig``: each label of ``axes`` once, first handle kept.

    ``max_cols`` caps the number of columns (default: one row). Nothing is drawn when no
    axes has a labelled artist.
    """
    handles = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    if handles:
        ncols = len(handles) if max_cols is None else min(max_cols, len(handles))
        fig.legend(list(handles.values()), list(handles), loc="lower center", bbox_to_anchor=(0.5, 0.005),
                   ncols=ncols, fontsize=9, frameon=False)


def save_figure(fig, path, dpi=110):
    """Write ``fig`` as a PNG to ``path`` (parents created) and free its artists; returns the Path.

    The PNG is written atomically and never through a symbolic link (a planted ``slices.png``
    link is refused: see :mod:`hpsearch.storage.safe_files`).
    """
    import io
    from pathlib import Path

    from hpsearch.storage.safe_files import write_bytes

    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=dpi, format="png")
    fig.clear()
    return write_bytes(Path(path), buffer.getvalue())
