"""The lecture's picture: a grid of B trials against B random trials (Bergstra & Bengio 2012).

Two panels show the same number of trials laid out by the grid sampler and by the
random sampler over two parameters. Along each axis a marginal panel shows every
distinct value a design tried: a grid repeats the same ~sqrt(B) values of each
parameter (fewer still when more parameters share the grid), while random search
tries B different values of every parameter. When only one of the two parameters
matters, that is the number of chances each design had to find its best value.
"""
import numpy as np
import pandas as pd
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from hpsearch.plots._style import (BAD_COLOR, BEST_COLOR, CMAP, OK_COLOR, OLD_EDGE_COLOR, better_word, categories,
                                   fixed_layout, fmt, integer_ticks, is_choice, is_integer, numeric, point_size,
                                   set_log_axis, thin, value_key, wrap)
from hpsearch.plots.metric_axis import metric_range

__all__ = ["plot_random_vs_grid", "default_params", "sampler_design"]


def default_params(space):
    """The two parameters drawn by default: the first two ordered dims, then other dims.

    Raises:
        ValueError: the space has fewer than two non-fixed parameters.
    """
    dims = list(space.dims)
    ordered = [n for n in dims if getattr(space[n], "ordered", False)]
    chosen = (ordered + [n for n in dims if n not in ordered])[:2]
    if len(chosen) < 2:
        raise ValueError(f"the random-vs-grid plot needs a space with at least two searched parameters, "
                         f"got {list(dims)}")
    return chosen


def sampler_design(space, sampler_name, n_trials, seed):
    """The parameter dicts the named sampler proposes for ``n_trials`` trials, as a trials table."""
    from hpsearch.samplers import get_sampler

    sampler = get_sampler(sampler_name)
    n = sampler.start(space, n_trials, seed, "maximize")
    rows = sampler.ask(n)
    return pd.DataFrame({f"param_{name}": pd.Series([r[name] for r in rows], dtype=object)
                         for name in space})


class _Axis:
    """How one parameter maps to a plot axis: numeric (maybe log) or categories."""

    def __init__(self, name, dist, frames):
        self.name = name
        self.dist = dist
        values = [v for f in frames for v in f[f"param_{name}"]]
        self.choice = is_choice(dist) or not _numbers(values)
        if self.choice:
            self.keys, self.labels = categories([dist], values)
        self.log = bool(getattr(dist, "log", False)) and not self.choice

    def positions(self, values):
        """Plot coordinates of ``values`` (category index for choices)."""
        if self.choice:
            index = {k: i for i, k in enumerate(self.keys)}
            return np.array([index.get(value_key(v), np.nan) for v in values], dtype=float)
        return numeric(values)

    def distinct(self, values):
        """(distinct positions, trials at each) of ``values``."""
        x = self.positions(values)
        x = x[np.isfinite(x)]
        if len(x) == 0:
            return np.array([]), np.array([], dtype=int)
        # float keys rounded to 10 significant digits: a grid value repeats exactly,
        # random draws never collide
        keys = np.array([float(f"{v:.10g}") for v in x])
        uniq, counts = np.unique(keys, return_counts=True)
        return uniq, counts

    def tick_width(self):
        """Inches the widest tick label takes at the tick font size (categories can be long)."""
        longest = max((len(str(label)) for label in self.labels), default=0) if self.choice else 7
        return 0.085 * longest

    def setup(self, ax, which):
        if self.choice:
            ticks = np.arange(len(self.labels))
            if which == "x":
                ax.set_xticks(ticks, self.labels)
                ax.set_xlim(-0.6, len(ticks) - 0.4)
            else:
                ax.set_yticks(ticks, self.labels)
                ax.set_ylim(-0.6, len(ticks) - 0.4)
            return
        low, high = getattr(self.dist, "low", None), getattr(self.dist, "high", None)
        if self.log:
            set_log_axis(ax, which, low, high)
        elif is_integer(self.dist):
            integer_ticks(ax, which)
        if low is not None and high is not None:
            if self.log:
                pad = (high / low) ** 0.04
                lim = (low / pad, high * pad)
            else:
                pad = 0.04 * (high - low)
                lim = (low - pad, high + pad)
            (ax.set_xlim if which == "x" else ax.set_ylim)(*lim)
            # the searched range, lightly drawn, so points on its edges read as such
            line = ax.axvline if which == "x" else ax.axhline
            for edge in (low, high):
                line(edge, color=OLD_EDGE_COLOR, lw=0.8, ls=":", zorder=0)

    @property
    def label(self):
        return f"{self.name} (log scale)" if self.log else self.name


def _values(n):
    return f"{n} value" if n == 1 else f"{n} values"


def _numbers(values):
    return all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
               for v in values if v is not None)


def _stack_counts(ax, x, y, max_labels=60):
    """Write "x3" next to a position that several trials share (a grid projected on 2 of its axes)."""
    good = np.isfinite(x) & np.isfinite(y)
    keys = [(float(f"{a:.10g}"), float(f"{b:.10g}")) for a, b in zip(x[good], y[good])]
    counts = {}
    for k in keys:
        counts[k] = counts.get(k, 0) + 1
    stacked = {k: n for k, n in counts.items() if n > 1}
    if not stacked or len(counts) > max_labels:
        return
    for (a, b), n in stacked.items():
        ax.annotate(f"x{n}", (a, b), xytext=(5, 4), textcoords="offset points", fontsize=8, color="#333333",
                    gid="stacked")


def _panel_axes(fig, spec):
    """(main, top, right, sub): the scatter, its two marginal panels and their gridspec, with gids."""
    sub = spec.subgridspec(2, 2, width_ratios=[4, 1], height_ratios=[1, 4], wspace=0.1, hspace=0.02)  # wspace: room for the last x label of the main panel
    ax = fig.add_subplot(sub[1, 0])
    top = fig.add_subplot(sub[0, 0], sharex=ax)
    right = fig.add_subplot(sub[1, 1], sharey=ax)
    kind = "grid" if spec.colspan.start == 0 else "random"  # gids let callers find the panels
    ax.set_gid(f"{kind}-main")
    top.set_gid(f"{kind}-top")
    right.set_gid(f"{kind}-right")
    return ax, top, right, sub


def _draw_best(ax, x, y, value, value_col, ax_x, ax_y, direction, best):
    """The star: at ``best`` (params, value, label) when given, else at the panel's own best trial."""
    if best is not None:
        params, v, label = best
        bx = ax_x.positions([params.get(ax_x.name)])
        by = ax_y.positions([params.get(ax_y.name)])
        ax.scatter(bx, by, marker="*", s=260, color=BEST_COLOR, edgecolor="black", zorder=4, gid="best",
                   label=f"{label} {value_col} {fmt(v)}")
    elif np.isfinite(value).any():
        at = np.nanargmax(value) if direction == "maximize" else np.nanargmin(value)
        ax.scatter([x[at]], [y[at]], marker="*", s=260, color=BEST_COLOR, edgecolor="black", zorder=4,
                   gid="best", label=f"best {value_col} {fmt(value[at])}")


def _draw_points(ax, x, y, value, size, norm, cmap):
    """The trials: plain points, or coloured by the metric with the ones without a value as crosses.

    Returns:
        the coloured scatter, or None for plain points.
    """
    edge = 0.6 if size > 12 else 0.0
    if value is None:
        ax.scatter(x, y, s=size * 0.9, color=OK_COLOR, edgecolor="white", linewidth=edge, zorder=3, gid="trials")
        return None
    good = np.isfinite(value)
    mappable = ax.scatter(x[good], y[good], c=value[good], cmap=cmap, norm=norm, s=size, edgecolor="white",
                          linewidth=edge, zorder=3, gid="trials")
    if (~good).any():
        ax.scatter(x[~good], y[~good], marker="x", color=BAD_COLOR, s=max(size * 0.75, 12), zorder=3,
                   gid="not-ok", label="diverged / failed (no value)")
    return mappable


def _distinct(ax_x, ax_y, full, frame):
    """(dx, nx, dy, ny): the distinct values of each axis and their trial counts.

    Of every trial; of the drawn ones when there are thousands (a rug of thousands of lines is
    a black bar).
    """
    dx, nx = ax_x.distinct(full[f"param_{ax_x.name}"])
    dy, ny = ax_y.distinct(full[f"param_{ax_y.name}"])
    if len(dx) > 400 or len(dy) > 400:
        dx, nx = ax_x.distinct(frame[f"param_{ax_x.name}"])
        dy, ny = ax_y.distinct(frame[f"param_{ax_y.name}"])
    return dx, nx, dy, ny


def _count_stems(top, right, distinct, count_max):
    """Marginals of a plain design: a stem per distinct value, as tall as the trials that used it."""
    dx, nx, dy, ny = distinct
    top.vlines(dx, 0, nx, color=OK_COLOR, lw=1.6, gid="marginal-x")
    top.plot(dx, nx, "o", color=OK_COLOR, ms=3)
    right.hlines(dy, 0, ny, color=OK_COLOR, lw=1.6, gid="marginal-y")
    right.plot(ny, dy, "o", color=OK_COLOR, ms=3)
    # one count scale for both designs: grid stems B/k tall against random's 1
    top.set_ylim(0, count_max * 1.2)
    right.set_xlim(0, count_max * 1.2)
    top.set_ylabel("trials", fontsize=8)
    right.set_xlabel("trials", fontsize=8)


def _responses(top, right, x, y, value, distinct, value_col, norm, cmap, vlim):
    """Marginals of coloured trials: the metric against each parameter alone, a rug of the distinct values."""
    dx, _, dy, _ = distinct
    good = np.isfinite(value)
    top.scatter(x[good], value[good], c=value[good], cmap=cmap, norm=norm, s=12, zorder=3)
    right.scatter(value[good], y[good], c=value[good], cmap=cmap, norm=norm, s=12, zorder=3)
    top.vlines(dx, 0, 0.16, transform=top.get_xaxis_transform(), color="black", lw=0.9, gid="marginal-x")
    right.hlines(dy, 0, 0.16, transform=right.get_yaxis_transform(), color="black", lw=0.9, gid="marginal-y")
    if vlim is not None:
        span = vlim[1] - vlim[0] or 1.0
        top.set_ylim(vlim[0] - 0.35 * span, vlim[1] + 0.1 * span)
        right.set_xlim(vlim[0] - 0.35 * span, vlim[1] + 0.1 * span)
    top.set_ylabel(value_col, fontsize=8)
    right.set_xlabel(value_col, fontsize=8)


def _corner_counts(fig, sub, ax_x, ax_y, full):
    """The number of distinct values of each parameter, in the empty corner, where they cover nothing."""
    corner = fig.add_subplot(sub[0, 1])
    corner.set_axis_off()
    counts = [len(ax.distinct(full[f"param_{ax.name}"])[0]) for ax in (ax_x, ax_y)]
    corner.text(0.5, 0.72, f"{counts[0]} distinct\n{ax_x.name}", transform=corner.transAxes, ha="center",
                va="center", fontsize=9, fontweight="bold", gid="count-x")
    corner.text(0.5, 0.18, f"{counts[1]} distinct\n{ax_y.name}", transform=corner.transAxes, ha="center",
                va="center", fontsize=9, fontweight="bold", gid="count-y")


def _heading(title, n, budget, thinned):
    """A panel's title: the design, its number of trials, the grid's budget and the thinning note."""
    heading = f"{title}\n{n} trials"
    if budget is not None and n < budget:
        heading += f" (the largest grid within {budget})"
    if thinned:
        heading += "\n" + wrap(thinned, 70)
    return heading


def _panel(fig, spec, title, frame, ax_x, ax_y, value_col, norm, cmap, direction, budget=None, count_max=1,
           best=None, vlim=None):
    """One design: a scatter with marginal rugs of the distinct values; returns the scatter (or None).

    ``best``: (params, value, label) of a star to draw instead of the panel's own best point.
    """
    ax, top, right, sub = _panel_axes(fig, spec)
    ax_x.setup(ax, "x")
    ax_y.setup(ax, "y")
    full = frame
    frame, thinned = thin(frame, value_col if value_col in frame.columns else None, direction)
    x = ax_x.positions(frame[f"param_{ax_x.name}"])
    y = ax_y.positions(frame[f"param_{ax_y.name}"])
    if value_col not in frame.columns:  # a design drawn from a sampler next to a coloured run
        value_col = None
    value = None if value_col is None else pd.to_numeric(frame[value_col], errors="coerce").to_numpy(float)
    mappable = _draw_points(ax, x, y, value, point_size(len(frame), 40.0), norm, cmap)
    if value is not None:
        _draw_best(ax, x, y, value, value_col, ax_x, ax_y, direction, best)
        # below the axes: inside, it would hide trials
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.11), ncols=2, fontsize=8, frameon=False)
    _stack_counts(ax, x, y)
    ax.set_xlabel(ax_x.label)
    ax.set_ylabel(ax_y.label)
    # the rugs and counts are of every trial, the scatters of the drawn ones
    distinct = _distinct(ax_x, ax_y, full, frame)
    if value is None:
        _count_stems(top, right, distinct, count_max)
    else:
        _responses(top, right, x, y, value, distinct, value_col, norm, cmap, vlim)
    top.tick_params(labelbottom=False, labelsize=7)
    right.tick_params(labelleft=False, labelsize=7)
    _corner_counts(fig, sub, ax_x, ax_y, full)
    top.set_title(_heading(title, len(full), budget, thinned), fontsize=11)
    return mappable


def _checked_params(space, n_trials, direction, params):
    """The two parameter names to draw, after checking the arguments.

    Raises:
        ValueError: a bad ``n_trials`` or ``direction``, or ``params`` not two different names of ``space``.
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer, got {n_trials!r}")
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
    if params is None:
        params = default_params(space)
    params = list(params)
    if len(params) != 2 or params[0] == params[1]:
        raise ValueError(f"params must name two different parameters, got {params!r}")
    for name in params:
        if name not in space.dims:
            raise ValueError(f"unknown parameter {name!r} for the random-vs-grid plot; expected one of "
                             f"{', '.join(space.dims)}")
    return params


def _design_frames(space, params, n_trials, seed, grid_trials, random_trials, titles):
    """{panel title: trials table} of the grid and the random design: the given tables or the samplers' designs.

    Raises:
        ValueError: a given table without a ``param_<name>`` column of ``params``.
    """
    frames = {}
    titles = dict(titles or {})
    for label, given, sampler in (("Grid search", grid_trials, "grid"), ("Random search", random_trials, "random")):
        label = titles.get(sampler) or (label if given is not None else f"{label} of the same budget (not run)")
        if given is None:
            frame = sampler_design(space, sampler, int(n_trials), seed)
        else:
            frame = pd.DataFrame(given)
            for name in params:
                if f"param_{name}" not in frame.columns:
                    raise ValueError(f"the {sampler} trials table has no column 'param_{name}'")
        frames[label] = frame.reset_index(drop=True)
    return frames


def _colour_scale(frames, metric, direction):
    """(value_col, norm, cmap, vlim, rng) of the metric colouring the tables that have it (all None without)."""
    coloured = [f for f in frames.values() if metric in f.columns]
    value_col = metric if coloured else None
    norm = cmap = vlim = rng = None
    if value_col is not None:
        allv = np.concatenate([pd.to_numeric(f[value_col], errors="coerce").to_numpy(float) for f in coloured])
        rng = metric_range(allv, direction)
        if rng is not None:
            # colours over the zoomed range (worse trials take the worst colour), the marginal
            # response panels over the full one
            norm = Normalize(rng.lo, rng.hi)
            vlim = rng.full if rng.full[1] > rng.full[0] else (rng.lo, rng.hi)
        cmap = CMAP if direction == "maximize" else CMAP + "_r"  # bright = good either way
    return value_col, norm, cmap, vlim, rng


def _colorbar(fig, mappable, cax, value_col, direction, rng):
    """The metric's colour bar, extended at the worse end when the colours span only the zoomed range."""
    cbar = fig.colorbar(mappable, cax=fig.add_subplot(cax),
                        extend=("min" if direction == "maximize" else "max") if rng.zoomed else "neither")
    cbar.set_label(f"{value_col} ({better_word(direction)})" +
                   (f"\ncolours from {fmt(rng.lo)} to {fmt(rng.hi)}; full range {fmt(rng.full[0])} to "
                    f"{fmt(rng.full[1])}" if rng.zoomed else ""))


def plot_random_vs_grid(space, n_trials, seed=0, params=None, grid_trials=None, random_trials=None,
                        metric="value", direction="maximize", titles=None, best=None):
    """Grid layout against random layout of the same number of trials, over two parameters.

    Args:
        space: the :class:`~hpsearch.space.Space` searched. Designs not given as tables
            are drawn over the whole space, then projected on the two parameters.
        n_trials: the trial budget B of the designs drawn here (the grid sampler uses at
            most B points: k = floor(B ** (1/d)) per numeric dimension).
        seed: seed of the drawn designs.
        params: the two parameter names to draw (x, y); default :func:`default_params`
            (callers with results pass the two most important, see
            :func:`hpsearch.diagnostics.importance.parameter_importance`).
        grid_trials, random_trials: optional trials tables (``param_<name>`` columns and,
            for colouring, the ``metric`` column; e.g. a comparison's runs) to draw instead of
            designs from the samplers.
        metric: the column that colours the points of given tables ("value" for a
            comparison's runs); without it the points are plain.
        direction: "maximize" or "minimize": which end of the colour scale is good.
        titles: optional ``{"grid": ..., "random": ...}`` panel titles (default: "Grid search" /
            "Random search", with "of the same budget (not run)" for a design drawn here).
        best: optional ``(params, value, label)``: a star at ``params`` in the random panel
            (e.g. a run's best trial, from any stage) instead of each panel's own best point.

    Returns:
        matplotlib Figure: two panels, each a scatter with marginal rugs (gid
        ``"marginal-x"`` / ``"marginal-y"``, one line per distinct value) and the count
        of distinct values written on each axis.

    Raises:
        ValueError: a bad ``n_trials``, unknown ``params``, or a table without their columns.
    """
    params = _checked_params(space, n_trials, direction, params)
    frames = _design_frames(space, params, n_trials, seed, grid_trials, random_trials, titles)
    value_col, norm, cmap, vlim, rng = _colour_scale(frames, metric, direction)
    ax_x = _Axis(params[0], space[params[0]], list(frames.values()))
    ax_y = _Axis(params[1], space[params[1]], list(frames.values()))
    fig = Figure(figsize=(12.5, 6.6))
    with_bar = value_col is not None and norm is not None
    # room for the y tick labels and the y label, left of each panel (a category like
    # "leaky_relu" is wider than a number)
    label_in = 0.45 + ax_y.tick_width()
    box = fixed_layout(fig, left=label_in, right=0.85 if with_bar else 0.25, top=1.35, bottom=0.95)
    outer = fig.add_gridspec(1, 3 if with_bar else 2, width_ratios=[1, 1, 0.035] if with_bar else [1, 1],
                             wspace=0.1 + label_in / 5.0, **{k: box[k] for k in ("left", "right", "top", "bottom")})
    mappable = None
    count_max = max([1] + [int(axis.distinct(f[f"param_{axis.name}"])[1].max(initial=1))
                           for f in frames.values() for axis in (ax_x, ax_y)])
    for i, (title, frame) in enumerate(frames.items()):
        drawn = (grid_trials if i == 0 else random_trials) is None
        m = _panel(fig, outer[0, i], title, frame, ax_x, ax_y, value_col, norm, cmap, direction,
                   budget=int(n_trials) if drawn else None, count_max=count_max, best=best if i == 1 else None,
                   vlim=vlim)
        mappable = mappable or m
    if with_bar and mappable is not None:
        _colorbar(fig, mappable, outer[0, 2], value_col, direction, rng)
    nx = [len(ax_x.distinct(f[f"param_{ax_x.name}"])[0]) for f in frames.values()]
    fig.suptitle(f"Grid vs random search over {params[0]} and {params[1]}: the grid tries {_values(nx[0])} of "
                 f"{params[0]}, random search {_values(nx[1])}\n(Bergstra & Bengio 2012: when few parameters matter, "
                 f"random search tries more values of the ones that do)", fontsize=12)
    return fig
