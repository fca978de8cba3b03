"""Which plots a run, a comparison or a sanity report gets, and where they are written."""
from pathlib import Path

from hpsearch.distributions import ScipyDistribution, value_key
from hpsearch.plots._style import save_figure

__all__ = ["DPI", "important_params", "save_comparison_plots", "save_run_plots", "save_sanity_plot"]

DPI = 110


def important_params(space, trials, metric, direction):
    """The two parameters of ``space`` that matter most in ``trials`` (ordered ones preferred on ties).

    Uses :func:`hpsearch.diagnostics.importance.parameter_importance`; with too few ok trials every
    parameter scores the same and the space's first two ordered dims are returned.

    Raises:
        ValueError: the space has fewer than two searched parameters.
    """
    from hpsearch.diagnostics.importance import parameter_importance
    from hpsearch.plots.layout import default_params

    defaults = default_params(space)
    if trials is None or len(trials) == 0:
        return defaults
    scores = parameter_importance(space, trials, metric, direction)
    order = {name: i for i, name in enumerate(defaults + [n for n in space.dims if n not in defaults])}
    ranked = sorted(scores, key=lambda n: (-round(scores[n], 9), order[n]))
    return ranked[:2]


def shared_space(space):
    """The parameters every trial has, a branch parameter excepted: the layout picture draws two
    parameters over all of the stage's trials, and a grid over the branches is the union of
    per-branch grids, not a product the picture could show. None when no parameter is left."""
    if not getattr(space, "is_conditional", False):
        return space
    from hpsearch.space import Space

    shared = {n: d for n, d in space.contexts()[0][1].items() if n not in space.branches}
    return Space(shared) if shared else None


def layout_possible(space):
    """Grid and random designs need >= 2 searched parameters, none a scipy.stats distribution;
    and the picture says something only with a numeric one (over choices alone, grid and
    random search try the same few values)."""
    if space is None or not hasattr(space, "dims") or len(space.dims) < 2:
        return False
    if not any(getattr(space[n], "ordered", False) for n in space.dims):
        return False
    return not any(isinstance(space[n], ScipyDistribution) for n in space.dims)


def ran_the_grid(space, trials, n_trials):
    """True when ``trials`` are exactly the grid the grid sampler proposes for ``n_trials`` over ``space``.

    Read from the trials themselves (not from the stage's sampler description), so it holds
    for any way the grid was asked for.
    """
    from hpsearch.plots.layout import sampler_design

    if len(trials) == 0:
        return False
    names = list(space.dims)

    def points(frame):
        return sorted(repr(tuple(value_key(v) for v in row)) for row in zip(*(frame[f"param_{n}"] for n in names)))
    try:
        grid = sampler_design(space, "grid", n_trials, 0)
    except ValueError:
        return False
    return len(grid) == len(trials) and points(grid) == points(trials)


def _has_curves(result):
    return any(bool(c) for c in (getattr(result, "curves", None) or {}).values())


def _layout_figure(result, stages):
    """layout.png: the run's first stage against a design of the same budget it did not run."""
    from hpsearch.plots.layout import plot_random_vs_grid
    from hpsearch.space import Space

    space, first_stage = shared_space(stages[0].space), stages[0]
    first = result.trials[result.trials["stage"] == first_stage.index]
    params = important_params(space, first, result.metric, result.direction)
    n_trials = max(1, int(first_stage.n_trials or len(first) or 1))
    own = f"This run's stage {first_stage.index} ({first_stage.sampler}, budget {first_stage.budget})"
    if ran_the_grid(space, first, n_trials):
        given, titles = {"grid_trials": first}, {"grid": own}
    else:
        given, titles = {"random_trials": first}, {"random": own, "grid": "A grid of the same budget (not run)"}
    best = None
    if result.best_trial is not None:  # the study's best (highest-budget rule), whichever stage it is in
        best = (result.best_params, result.best_value,
                f"study's best (trial {result.best_trial['number']}, stage {result.best_trial['stage']}):")
    # designs are drawn over the two plotted parameters only: the lecture's picture, and the
    # grid most favourable to grid search (over all d dimensions it gets B**(1/d) values per
    # axis, fewer still), yet it tries only ~sqrt(B) values of each parameter
    plane = Space({name: space[name] for name in params})
    return plot_random_vs_grid(plane, n_trials, seed=0, params=params, metric=result.metric,
                               direction=result.direction, titles=titles, best=best, **given)


def save_run_plots(result, out_dir, dpi=DPI):
    """Draw a run's plots into ``out_dir`` (created) and return the paths written.

    Writes ``slices.png`` always (a run with no ok trial gets a figure that says so),
    ``progress.png`` (best so far against the study's trained epochs) when any trial finished,
    ``curves.png`` when the objective reported learning curves, ``stages.png`` when the run had
    stages over different spaces (coarse-to-fine; not the rungs of successive halving), ``layout.png`` (the run's first stage against a grid of the same budget
    that did not run, or against random search when the first stage was that grid, over the two
    parameters that matter most) when the space allows both designs (at least two searched
    parameters, one of them numeric, and no scipy.stats distribution), ``confirm.png`` when
    the run confirmed its top candidates, and ``branches.png`` (each branch's best and best so
    far, :func:`~hpsearch.plots.branches.plot_branches`) when the space has branches.

    Args:
        result: a :class:`~hpsearch.results.search_result.SearchResult`.
        out_dir: folder for the PNG files.
        dpi: resolution of the PNG files.

    Returns:
        list of :class:`pathlib.Path`, in the order above.
    """
    from hpsearch.plots.branches import branch_parameters, plot_branches
    from hpsearch.plots.confirm import plot_confirmation
    from hpsearch.plots.curves import plot_learning_curves
    from hpsearch.plots.progress import plot_run_progress
    from hpsearch.plots.slices import plot_slices
    from hpsearch.plots.stages import plot_stages

    out = Path(out_dir)
    paths = [save_figure(plot_slices(result), out / "slices.png", dpi)]
    if len(result.trials):
        paths.append(save_figure(plot_run_progress(result), out / "progress.png", dpi))
    if _has_curves(result):
        paths.append(save_figure(plot_learning_curves(result), out / "curves.png", dpi))
    stages = list(getattr(result, "stages", []) or [])
    # stages.png shows how the ranges narrowed: nothing to show when every stage searched the
    # same space (the rungs of successive halving and Hyperband; progress.png shows those)
    if len(stages) > 1 and any(s.space != stages[0].space for s in stages):
        paths.append(save_figure(plot_stages(result), out / "stages.png", dpi))
    if stages and layout_possible(shared_space(stages[0].space)):
        paths.append(save_figure(_layout_figure(result, stages), out / "layout.png", dpi))
    if getattr(result, "confirmation", None) is not None:
        paths.append(save_figure(plot_confirmation(result), out / "confirm.png", dpi))
    if len(result.trials) and branch_parameters(result):
        paths.append(save_figure(plot_branches(result), out / "branches.png", dpi))
    return paths


def save_comparison_plots(comparison, out_dir, dpi=DPI):
    """Draw a comparison's plots into ``out_dir`` and return the paths written.

    ``best_so_far.png`` (every strategy, median and quartiles over repeats) and
    ``random_vs_grid.png``: the grid and random runs of repeat 0 over the two parameters
    that matter most in the random runs, coloured by the metric. A strategy missing
    from the comparison is drawn as its sampler's design instead (marked "not run").

    Returns:
        list of :class:`pathlib.Path`.
    """
    from hpsearch.plots.layout import plot_random_vs_grid
    from hpsearch.plots.progress import plot_best_so_far

    out = Path(out_dir)
    paths = [save_figure(plot_best_so_far(comparison), out / "best_so_far.png", dpi)]
    space = comparison.space
    if layout_possible(space):
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
    """Draw :func:`~hpsearch.plots.sanity.plot_sanity` of a sanity report to ``path`` (PNG); returns the Path."""
    from hpsearch.plots.sanity import plot_sanity

    return save_figure(plot_sanity(report), path, dpi)
