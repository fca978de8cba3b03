"""Plots of a space with branches: a parameter only over the trials that have it; the branches panel."""
import matplotlib
import numpy as np
import pytest

import hpsearch as hp
from hpsearch.objectives import LearningCurve
from hpsearch.plots import plot_branches, plot_slices, save_run_plots
from hpsearch.strategies import Hyperband

matplotlib.use("Agg")

SPACE = {"lr": hp.LogUniform(1e-4, 1),
         "optimizer": hp.Branch({"a": {"x": hp.LogUniform(1e-3, 1e-2)}, "b": {"y": hp.LogUniform(1e-4, 1)}, "c": {}})}


@pytest.fixture(scope="module")
def result():
    objective = LearningCurve({"lr": 1e-2, "x": 0.03, "y": 1e-2}, noise=0.02)
    return hp.Study(objective, SPACE, metric="score").run(Hyperband(min_budget=1, max_budget=9, eta=3), seed=0)


def _points(ax):
    """Every drawn point of a panel's scatter collections, shape (n, 2)."""
    pts = [c.get_offsets() for c in ax.collections if c.get_gid() != "best" and len(c.get_offsets())]
    return np.concatenate(pts) if pts else np.empty((0, 2))


def test_a_branch_parameter_is_drawn_only_over_the_trials_that_have_it(result):
    from hpsearch.plots._style import last_per_configuration

    trials = last_per_configuration(result.trials)   # slices draw each configuration once
    fig = plot_slices(result)
    panels = {ax.get_gid(): ax for ax in fig.axes}
    for name in ("x", "y"):
        has = int(trials[f"param_{name}"].notna().sum())
        assert 0 < has < len(trials)
        ax = panels[f"slice-{name}"]
        assert ax.get_title() == f"{name} (in {has} of {len(trials)} trials)"
        pts = _points(ax)
        assert len(pts) == has and np.isfinite(pts).all()   # no point for a trial without it
    assert len(_points(panels["slice-lr"])) == len(trials)


def test_the_branches_panel_shows_each_branch_best_and_best_so_far(result):
    fig = plot_branches(result)
    trials = result.trials
    for branch in ("a", "b", "c"):
        rows = trials[(trials["param_optimizer"] == branch) & (trials["status"] == "ok")]
        top = rows[rows["budget"] == rows["budget"].max()]
        star = [c for ax in fig.axes for c in ax.collections if c.get_gid() == f"branch-best-{branch}"]
        assert len(star) == 1 and star[0].get_offsets()[0][0] == pytest.approx(top["score"].max())
        line = [ln for ax in fig.axes for ln in ax.lines if ln.get_gid() == f"branch-so-far-{branch}"]
        assert len(line) == 1 and line[0].get_ydata()[-1] == pytest.approx(rows["score"].max())


def test_a_run_with_branches_saves_the_branches_plot(result, tmp_path):
    names = [p.name for p in save_run_plots(result, tmp_path)]
    assert "branches.png" in names and "layout.png" not in names   # one shared parameter (lr): no layout
    flat = hp.Study(LearningCurve({"lr": 1e-2}), {"lr": hp.LogUniform(1e-4, 1)}, metric="score").optimize(
        n_trials=3, budget=1, seed=0)
    assert "branches.png" not in [p.name for p in save_run_plots(flat, tmp_path / "flat")]
