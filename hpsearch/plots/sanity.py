"""The babysitting report as a picture: per-layer activations, gradient norms and the checks.

The lecture's checks before a search: the initial loss should be about ln(C) for C
classes, the loss should rise when regularisation is added, and the network should
overfit a tiny subset. Per-layer activation histograms show saturation (tanh/sigmoid
values piled at the ends) and dead units (ReLU stuck at zero); per-layer gradient
norms show vanishing or exploding gradients.
"""
import math

import numpy as np
from matplotlib.figure import Figure

from hpsearch.plots._style import FLAG_COLOR, fmt, set_log_axis

__all__ = ["plot_sanity", "REPORT_KEYS"]

REPORT_KEYS = ("num_classes", "initial_loss", "expected_initial_loss", "initial_loss_ok", "reg_check", "overfit",
               "layers", "ok")
_LAYER_KEYS = ("layer", "activation", "mean", "std", "dead_fraction", "saturated_fraction", "grad_norm", "values")
_OK_COLOR = "#2ca02c"
_WARN = 0.5  # a layer with more dead or saturated units than this is drawn in red


def _check(report):
    if not isinstance(report, dict):
        raise ValueError(f"a sanity report must be a dict with keys {', '.join(REPORT_KEYS)}, "
                         f"got {type(report).__name__}")
    for key in REPORT_KEYS:
        if key not in report:
            raise ValueError(f"sanity report is missing key {key!r}; expected keys {', '.join(REPORT_KEYS)}")
    for i, layer in enumerate(report["layers"]):
        for key in _LAYER_KEYS:
            if key not in layer:
                raise ValueError(f"sanity report layers[{i}] is missing key {key!r}; expected keys "
                                 f"{', '.join(_LAYER_KEYS)}")


_MARKS = {True: ("PASS", _OK_COLOR), False: ("FAIL", FLAG_COLOR), None: ("WARN", "#e08a00")}


def _layer_name(layer):
    """``"layer 2"`` for a numbered layer, the name itself otherwise."""
    name = layer["layer"]
    return f"layer {name}" if isinstance(name, (int, np.integer)) else str(name)


def _check_lines(report):
    """[(text, ok)] of the checks, in the lecture's order; ok None marks an advisory warning."""
    lines = [(f"initial loss {fmt(float(report['initial_loss']))} vs ln({report['num_classes']}) = "
              f"{fmt(float(report['expected_initial_loss']))}", bool(report["initial_loss_ok"]))]
    reg = report["reg_check"]
    regs = ", ".join(fmt(float(r)) for r in reg.get("regs", []))
    losses = ", ".join(fmt(float(v)) for v in reg.get("losses", []))
    lines.append((f"loss rises with reg: reg [{regs}]\n      -> loss [{losses}]", bool(reg.get("ok"))))
    ov = report["overfit"]
    lines.append((f"overfits {ov.get('n_samples')} samples in {ov.get('epochs')} epochs: "
                  f"train acc {fmt(float(ov.get('train_acc', math.nan)))}", bool(ov.get("ok"))))
    bad = [_layer_name(layer) for layer in report["layers"]
           if layer["dead_fraction"] > _WARN or layer["saturated_fraction"] > _WARN]
    if report["layers"]:
        lines.append(("no layer mostly dead or saturated" if not bad else
                      f"mostly dead or saturated: {', '.join(map(str, bad))}", True if not bad else None))
    return lines


def _shared_bins(layers):
    """Histogram bins shared by every layer: 40 over the range of the non-zero finite values."""
    # shared bins, so a layer collapsed to ~0 shows as one tall bar, not an empty panel
    # exact zeros (ReLU's dead units) are counted apart: as a bar they would dwarf the distribution
    finite = [v[np.isfinite(v) & (v != 0)] for v in (np.asarray(layer["values"], dtype=float).reshape(-1)
                                                     for layer in layers)]
    finite = [v for v in finite if len(v)]
    lo = min((v.min() for v in finite), default=0.0)
    hi = max((v.max() for v in finite), default=1.0)
    return np.linspace(lo, hi, 41) if hi > lo else 40


def _histogram(ax, layer, bins):
    """One layer's activation histogram, its exact zeros noted apart, titled with its statistics."""
    ax.set_gid(f"hist-{layer['layer']}")
    values = np.asarray(layer["values"], dtype=float).reshape(-1)
    values = values[np.isfinite(values)]
    zeros = int((values == 0).sum())
    warn = layer["dead_fraction"] > _WARN or layer["saturated_fraction"] > _WARN
    color = FLAG_COLOR if warn else "#4c72b0"
    if zeros:
        values = values[values != 0]
        ax.axvline(0.0, color="#555555", lw=1.0, ls="--", zorder=3)
        ax.text(0.98, 0.95, f"exact zeros: {zeros:,} ({100 * zeros / (zeros + len(values)):.0f}%)\nnot in the "
                f"histogram", transform=ax.transAxes, ha="right", va="top", fontsize=7.5, gid="zeros",
                bbox=dict(boxstyle="round,pad=0.3", fc="white", ec="#999999", lw=0.6))
    if len(values):
        ax.hist(values, bins=bins, color=color, alpha=0.8)
    ax.set_title(f"{_layer_name(layer)} ({layer['activation']})\nmean {fmt(float(layer['mean']))}  "
                 f"std {fmt(float(layer['std']))}\ndead {100 * layer['dead_fraction']:.0f}%  "
                 f"saturated {100 * layer['saturated_fraction']:.0f}%",
                 fontsize=9, color=FLAG_COLOR if warn else "black")
    ax.set_xlabel("activation value", fontsize=8)
    ax.tick_params(labelbottom=True)
    ax.set_ylabel("count", fontsize=8)
    ax.tick_params(labelsize=7)


def _histograms(sub, layers, nrows, ncols):
    """The activation histograms of every layer, on one shared x-axis, in the subfigure ``sub``."""
    # one shared x-axis: activations shrinking towards 0 layer after layer (too small an
    # init) or piling at +-1 (too large) show only when every layer is drawn on one scale
    axes = sub.subplots(nrows, ncols, squeeze=False, sharex=True)
    bins = _shared_bins(layers)
    for ax, layer in zip(axes.flat, layers):
        _histogram(ax, layer, bins)
    for ax in list(axes.flat)[len(layers):]:
        ax.set_axis_off()
    if not layers:
        axes.flat[0].text(0.5, 0.5, "the report has no layer statistics", ha="center", va="center",
                          transform=axes.flat[0].transAxes)
    sub.suptitle("activations per layer at initialisation", fontsize=11)


def _grad_norms(ax, layers):
    """A bar per layer's gradient norm on a log axis (a zero norm written as "0")."""
    ax.set_gid("grad-norms")
    norms = np.array([float(layer["grad_norm"]) for layer in layers])
    names = [_layer_name(layer) for layer in layers]
    if len(norms):
        shown = np.where(norms > 0, norms, np.nan)  # a zero norm cannot sit on a log axis
        ax.bar(np.arange(len(norms)), shown, color="#4c72b0", gid="grad-norms")
        ax.set_xticks(np.arange(len(norms)), names, rotation=30 if max(map(len, names)) > 6 else 0)
        if np.isfinite(shown).any():
            set_log_axis(ax, "y")
            # at least two decades below the smallest bar: bar heights on a log axis only
            # compare fairly from a common, distant baseline
            ax.set_ylim(np.nanmin(shown) / 100, np.nanmax(shown) * 3)
        for i, v in enumerate(norms):
            if v <= 0:
                ax.text(i, 0.02, "0", transform=ax.get_xaxis_transform(), ha="center", color=FLAG_COLOR)
    ax.set_ylabel("gradient norm (log scale)")
    ax.set_xlabel("layer")
    ax.set_title("gradient norm per layer: vanishing or exploding?", fontsize=10)
    ax.grid(True, axis="y", alpha=0.25)


def _checks(ax, report):
    """The checks as lines of text, each behind its PASS / FAIL / WARN mark."""
    ax.set_gid("checks")
    ax.set_axis_off()
    ax.set_title("checks", fontsize=10)
    y = 0.92
    for text, ok in _check_lines(report):
        mark, color = _MARKS[ok]
        ax.text(0.0, y, mark, transform=ax.transAxes, fontsize=10, fontweight="bold",
                color=color, va="top", family="monospace", gid="check")
        ax.text(0.1, y, text, transform=ax.transAxes, fontsize=9.5, va="top", family="monospace")
        y -= 0.24 if "\n" in text else 0.16


def plot_sanity(report):
    """Per-layer activation histograms, gradient norms per layer and the checks.

    Args:
        report: the dict of ``models.sanity_report`` (keys :data:`REPORT_KEYS`; each of
            ``layers`` holds ``layer, activation, mean, std, dead_fraction,
            saturated_fraction, grad_norm, values`` with ``values`` a 1-D array).

    Returns:
        matplotlib Figure: one histogram per layer (titled with mean, std, dead and
        saturated shares; red when more than half the units are dead or saturated), a bar
        chart of gradient norms on a log axis, and the checks with PASS / FAIL (and WARN
        for layers mostly dead or saturated, which the report's ``ok`` does not count).

    Raises:
        ValueError: a missing key (named, with the keys expected).
    """
    _check(report)
    layers = list(report["layers"])
    n = max(1, len(layers))
    ncols = min(4, n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(max(11.0, 3.4 * ncols), 2.9 * nrows + 4.0), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[2.9 * nrows, 3.8])
    _histograms(top, layers, nrows, ncols)
    ax_g, ax_c = bottom.subplots(1, 2, width_ratios=[1, 1.25])
    _grad_norms(ax_g, layers)
    _checks(ax_c, report)
    verdict = "all checks pass" if report["ok"] else "some checks FAIL: fix these before searching"
    fig.suptitle(f"Sanity report: {verdict}", fontsize=12.5, color=_OK_COLOR if report["ok"] else FLAG_COLOR)
    return fig
