"""Figures that read a search result, a comparison or a sanity report (matplotlib, PNG).

Every ``plot_*`` function returns a :class:`matplotlib.figure.Figure` built with the
object API (never pyplot), so plotting is thread-safe and never opens a window;
the ``save_*`` helpers write PNG files and return their paths.

- :func:`plot_random_vs_grid`: the lecture's picture, grid vs random layouts with
  the distinct values each tries per parameter.
- :func:`plot_best_so_far`: best value so far against trials and against epochs,
  median over repeats with a quartile band, per strategy.
- :func:`plot_slices`: the metric against each parameter, range edges and flags drawn.
- :func:`plot_stages`: coarse-to-fine ranges per stage with their trials.
- :func:`plot_learning_curves`: loss per iteration, train/validation accuracy per epoch.
- :func:`plot_sanity`: the babysitting report's histograms and gradient norms.
"""
from pathlib import Path

from hpsearch.space import Space
from hpsearch.plots._style import save_figure
from hpsearch.plots.curves import plot_learning_curves
from hpsearch.plots.layout import plot_random_vs_grid
from hpsearch.plots.progress import plot_best_so_far
from hpsearch.plots.sanity import plot_sanity
from hpsearch.plots.slices import plot_slices
from hpsearch.plots.stages import plot_stages

__all__ = [
    "plot_best_so_far",
    "plot_learning_curves",
    "plot_random_vs_grid",
    "plot_sanity",
    "plot_slices",
    "plot_stages",
    "save_comparison_plots",
    "save_run_plots",
    "save_sanity_plot",
    "important_params",
]

DPI = 110


def important_params(space, trials, metric, direction):
    """The two parameters of ``space`` that matter most in ``trials`` (ordered ones preferred on ties).

    Uses :func:`hpsearch.importance.parameter_importance`; with too few ok trials every
    parameter scores the same and the space's first two ordered dims are returned.

    Raises:
        ValueError: the space has fewer than two searched parameters.
    """
    from hpsearch.importance import parameter_importance
    from hpsearch.plots.layout import default_params

    defaults = default_params(space)
    if trials is None or len(trials) == 0:
        return defaults
    scores = parameter_importance(space, trials, metric, direction)
    order = {name: i for i, name in enumerate(defaults + [n for n in space.dims if n not in defaults])}
    ranked = sorted(scores, key=lambda n: (-round(scores[n], 9), order[n]))
    return ranked[:2]


def _layout_possible(space):
    """Grid and random designs need >= 2 searched parameters, none a scipy.stats distribution;
    and the picture says something only with a numeric one (over choices alone, grid and
    random search try the same few values)."""
    if space is None or not hasattr(space, "dims") or len(space.dims) < 2:
        return False
    if not any(getattr(space[n], "ordered", False) for n in space.dims):
        return False
    return all(type(space[n]).__name__ != "ScipyDistribution" for n in space.dims)


def _has_curves(result):
    return any(bool(c) for c in (getattr(result, "curves", None) or {}).values())


def save_run_plots(result, out_dir, dpi=DPI):
    """Draw a run's plots into ``out_dir`` (created) and return the paths written.

    Writes ``slices.png`` always (a run with no ok trial gets a figure that says so),
    ``curves.png`` when the objective reported learning curves, ``stages.png`` when the
    run had more than one stage, and ``layout.png`` (grid vs random designs of the run's
    first-stage trial count over its two most important parameters, drawn in the plane of those
    two parameters so the grid tries ~sqrt(B) values of each; when that stage was
    random or grid, its own trials, coloured by the metric, replace that design) when the
    space allows both designs (at least two searched parameters, one of them numeric, and no
    scipy.stats distribution).

    Args:
        result: a :class:`~hpsearch.result.SearchResult`.
        out_dir: folder for the PNG files.
        dpi: resolution of the PNG files.

    Returns:
        list of :class:`pathlib.Path`, in the order above.
    """
    out = Path(out_dir)
    paths = [save_figure(plot_slices(result), out / "slices.png", dpi)]
    if _has_curves(result):
        paths.append(save_figure(plot_learning_curves(result), out / "curves.png", dpi))
    stages = list(getattr(result, "stages", []) or [])
    if len(stages) > 1:
        paths.append(save_figure(plot_stages(result), out / "stages.png", dpi))
    space = stages[0].space if stages else None
    if _layout_possible(space):
        first = result.trials[result.trials["stage"] == stages[0].index]
        params = important_params(space, first, result.metric, result.direction)
        n_trials = max(1, int(stages[0].n_trials or len(first) or 1))
        # the run's own first stage, coloured by the metric, stands in for the design it used
        sampler = str(stages[0].sampler)
        given = {"random_trials": first} if sampler.startswith("RandomSampler") else \
            {"grid_trials": first} if sampler.startswith("GridSampler") else {}
        # designs are drawn over the two plotted parameters only: the lecture's picture, and the
        # grid most favourable to grid search (over all d dimensions it gets B**(1/d) values per
        # axis, fewer still), yet it tries only ~sqrt(B) values of each parameter
        plane = Space({name: space[name] for name in params})
        fig = plot_random_vs_grid(plane, n_trials, seed=0, params=params, metric=result.metric,
                                  direction=result.direction, **given)
        paths.append(save_figure(fig, out / "layout.png", dpi))
    return paths


def save_comparison_plots(comparison, out_dir, dpi=DPI):
    """Draw a comparison's plots into ``out_dir`` and return the paths written.

    ``best_so_far.png`` (every strategy, median and quartiles over repeats) and
    ``random_vs_grid.png``: the grid and random runs of repeat 0 over the two parameters
    that matter most in the random runs, coloured by the metric. A strategy missing
    from the comparison is drawn as its sampler's design instead.

    Returns:
        list of :class:`pathlib.Path`.
    """
    out = Path(out_dir)
    paths = [save_figure(plot_best_so_far(comparison), out / "best_so_far.png", dpi)]
    space = comparison.space
    if _layout_possible(space):
        runs = comparison.runs

        def run(strategy):
            rows = runs[(runs["strategy"] == strategy) & (runs["repeat"] == runs["repeat"].min())]
            # named after the metric, so the colour bar says what it shows
            return rows.rename(columns={"value": comparison.metric}) if len(rows) else None

        grid, rand = run("grid"), run("random")
        importance_rows = runs[runs["strategy"] == "random"] if rand is not None else runs
        params = important_params(space, importance_rows, "value", comparison.direction)
        n_trials = len(rand) if rand is not None else (len(grid) if grid is not None else
                                                       int(runs.groupby(["strategy", "repeat"]).size().max()))
        fig = plot_random_vs_grid(space, max(1, n_trials), seed=0, params=params, grid_trials=grid,
                                  random_trials=rand, metric=comparison.metric, direction=comparison.direction)
        paths.append(save_figure(fig, out / "random_vs_grid.png", dpi))
    return paths


def save_sanity_plot(report, path, dpi=DPI):
    """Draw :func:`plot_sanity` of a sanity report to ``path`` (PNG); returns the Path."""
    return save_figure(plot_sanity(report), path, dpi)
