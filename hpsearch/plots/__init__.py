"""Figures that read a search result, a comparison or a sanity report (matplotlib, PNG).

Every ``plot_*`` function returns a :class:`matplotlib.figure.Figure` built with the
object API (never pyplot), so plotting is thread-safe and never opens a window;
the ``save_*`` helpers write PNG files and return their paths.

- :func:`plot_random_vs_grid`: the lecture's picture, grid vs random layouts with
  the distinct values each tries per parameter.
- :func:`plot_best_so_far`: best value so far against trials and against epochs,
  median over repeats with a quartile band, per strategy.
- :func:`plot_run_progress`: one run's best value so far against the epochs it trained.
- :func:`plot_slices`: the metric against each parameter, range edges and flags drawn.
- :func:`plot_branches`: a space with branches: each branch's best and best so far.
- :func:`plot_stages`: coarse-to-fine ranges per stage with their trials.
- :func:`plot_learning_curves`: loss per iteration, train/validation accuracy per epoch.
- :func:`plot_confirmation`: the confirmed candidates' fresh-seed values, mean and spread.
- :func:`plot_sanity`: the babysitting report's histograms and gradient norms.

The package imports nothing until a name is used (matplotlib and pandas take about half a
second to import): ``import hpsearch.plots`` is free for commands that draw no plot.
"""
import importlib

__all__ = [
    "plot_best_so_far",
    "plot_branches",
    "plot_confirmation",
    "plot_learning_curves",
    "plot_random_vs_grid",
    "plot_run_progress",
    "plot_sanity",
    "plot_slices",
    "plot_stages",
    "save_comparison_plots",
    "save_run_plots",
    "save_sanity_plot",
    "important_params",
]

# where each public name lives (the module is imported the first time the name is used)
_HOMES = {
    "plot_best_so_far": "progress",
    "plot_branches": "branches",
    "plot_run_progress": "progress",
    "plot_confirmation": "confirm",
    "plot_learning_curves": "curves",
    "plot_random_vs_grid": "layout",
    "plot_sanity": "sanity",
    "plot_slices": "slices",
    "plot_stages": "stages",
    "save_comparison_plots": "save",
    "save_run_plots": "save",
    "save_sanity_plot": "save",
    "important_params": "save",
    "DPI": "save",
}


def __getattr__(name):
    if name not in _HOMES:
        raise AttributeError(f"module 'hpsearch.plots' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"hpsearch.plots.{_HOMES[name]}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
