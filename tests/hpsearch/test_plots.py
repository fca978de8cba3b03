"""The plots: key contents (scales, points, edges, flags, counts), not pixels; files that read back."""
import math

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

import hpsearch as hp
from hpsearch.compare import Comparison
from hpsearch.objectives import LogBowl
from hpsearch.plots import (plot_best_so_far, plot_learning_curves, plot_random_vs_grid, plot_sanity, plot_slices,
                            plot_stages, save_comparison_plots, save_run_plots, save_sanity_plot)
from hpsearch.plots.progress import best_so_far_curves
from hpsearch.results.search_result import SearchResult, StageRecord


# ---------------------------------------------------------------- helpers
def all_axes(fig):
    """Axes of a figure and of its subfigures, each once."""
    out = list(fig.axes)
    for sub in getattr(fig, "subfigs", []):
        out.extend(ax for ax in all_axes(sub) if ax not in out)
    return out


def axes_by_gid(fig, gid):
    found = [ax for ax in all_axes(fig) if ax.get_gid() == gid]
    assert len(found) == 1, f"expected one axes with gid {gid!r}, found {len(found)}"
    return found[0]


def n_points(ax, gid):
    return sum(len(c.get_offsets()) for c in ax.collections if c.get_gid() == gid)


def lines(ax, gid):
    return [ln for ln in ax.lines if ln.get_gid() == gid]


def segments(ax, gid):
    cols = [c for c in ax.collections if c.get_gid() == gid]
    assert cols, f"no collection {gid!r}"
    return [seg for c in cols for seg in c.get_segments()]


def drawn(fig):
    """Render the figure (catches layout and artist errors) and return it."""
    fig.canvas.draw()
    return fig


SPACE = hp.Space({"lr": hp.LogUniform(1e-5, 1e-2), "reg": hp.LogUniform(1e-6, 1e-1),
                  "width": hp.IntUniform(10, 100), "act": hp.Choice(["relu", "tanh", "elu"]),
                  "dropout": hp.Fixed(0.1)})


def bowl():
    # lr's optimum lies far above the range (the best sits at the high edge); reg > 0.03
    # diverges and width > 92 fails, so every status shows up
    return LogBowl({"lr": 1.0, "reg": 1e-4}, width=1.5, choices={"act": "relu"},
                   diverge_above={"reg": 0.03}, fail_above={"width": 92})


@pytest.fixture(scope="module")
def c2f():
    """A real coarse-to-fine study: a grid stage (endpoints, so edges move out), then random (no
    follow-up stage: these tests count the two stages' own trials and ranges)."""
    study = hp.Study(bowl(), SPACE, metric="score", direction="maximize", name="bowl-c2f")
    return study.coarse_to_fine([hp.Stage(30, 2, "grid"), hp.Stage(16, 4)], n_jobs=1, seed=0, follow_up=False)


@pytest.fixture(scope="module")
def flagged():
    """A real single-stage grid study whose best lr sits at the high edge (flagged)."""
    space = hp.Space({"lr": hp.LogUniform(1e-4, 1e-2), "reg": hp.LogUniform(1e-6, 1e-2),
                      "act": hp.Choice(["relu", "tanh", "elu"])})
    objective = LogBowl({"lr": 1.0, "reg": 1e-4}, width=1.5, choices={"act": "relu"})
    study = hp.Study(objective, space, metric="score", direction="maximize", name="bowl-flag")
    result = study.optimize("grid", n_trials=27, budget=2, n_jobs=1, seed=0)
    assert [f.param for f in result.boundary] == ["lr"], "the fixture must produce an lr flag"
    return result


def mlp_like_result(n=5, epochs=4, iters=6, with_curves=True):
    """A SearchResult with MLP-style curves (loss_iters, train/val accuracy)."""
    space = hp.Space({"lr": hp.LogUniform(1e-4, 1e-1), "reg": hp.LogUniform(1e-6, 1e-2)})
    rng = np.random.default_rng(0)
    records = []
    for k in range(n):
        params = space.from_unit(rng.random(2))
        val = 0.5 + 0.08 * k
        curve = [{"epoch": e, "loss": 2.0 / e, "loss_iters": list(2.0 / e + 0.1 * rng.random(iters)),
                  "train_acc": val + 0.02 * e, "val_acc": val + 0.01 * e, "lr": params["lr"]}
                 for e in range(1, epochs + 1)] if with_curves else []
        records.append(dict(number=k, stage=0, status="ok", params=params,
                            metrics={"val_acc": val + 0.01 * epochs}, budget=epochs, seed=k, start=0.0,
                            end=1.0, duration=1.0, error=None, curve=curve))
    return SearchResult(records, "val_acc", "maximize", "mlp-like", param_names=list(space),
                        stages=[StageRecord(0, space, "RandomSampler()", n, epochs)])


def toy_comparison(values, strategies=("a",), budget=2, direction="maximize"):
    """A Comparison whose runs hold given values: values[strategy] = list of per-repeat value lists."""
    space = hp.Space({"lr": hp.LogUniform(1e-4, 1e-1), "reg": hp.LogUniform(1e-6, 1e-2)})
    rows = []
    for s in strategies:
        for r, run in enumerate(values[s]):
            for i, v in enumerate(run):
                rows.append(dict(strategy=s, repeat=r, number=i, stage=0,
                                 status="ok" if np.isfinite(v) else "diverged", budget=budget, value=v,
                                 param_lr=1e-3, param_reg=1e-4))
    runs = pd.DataFrame(rows)
    return Comparison(name="toy", metric="score", direction=direction, space=space, strategies=list(strategies),
                      repeats=len(values[strategies[0]]), runs=runs, summary=pd.DataFrame(), test=None)


# ---------------------------------------------------------------- random vs grid
@pytest.mark.parametrize("space, budget, k", [
    (hp.Space({"lr": hp.LogUniform(1e-5, 1e-1), "reg": hp.LogUniform(1e-6, 1e-1)}), 25, 5),
    (hp.Space({"lr": hp.LogUniform(1e-5, 1e-1), "reg": hp.LogUniform(1e-6, 1e-1),
               "dropout": hp.Uniform(0.0, 0.5)}), 27, 3),
])
def test_layout_grid_tries_root_b_values_random_tries_b(space, budget, k):
    fig = drawn(plot_random_vs_grid(space, budget, seed=0))
    grid_main, random_main = axes_by_gid(fig, "grid-main"), axes_by_gid(fig, "random-main")
    assert grid_main.get_xscale() == "log" and grid_main.get_yscale() == "log"
    assert random_main.get_xscale() == "log"
    assert n_points(grid_main, "trials") == k ** len(space.dims)
    assert n_points(random_main, "trials") == budget
    # one rug line per distinct value: ~sqrt(B) (B^(1/d)) for the grid, B for random search
    assert len(segments(axes_by_gid(fig, "grid-top"), "marginal-x")) == k
    assert len(segments(axes_by_gid(fig, "grid-right"), "marginal-y")) == k
    assert len(segments(axes_by_gid(fig, "random-top"), "marginal-x")) == budget
    assert len(segments(axes_by_gid(fig, "random-right"), "marginal-y")) == budget
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert f"{k} distinct\nlr" in texts and f"{budget} distinct\nlr" in texts
    # a 3-D grid seen on two of its axes: k^2 positions, each holding k trials, labelled so
    stacked = [t.get_text() for t in grid_main.texts if t.get_gid() == "stacked"]
    assert stacked == ([f"x{k}"] * k * k if len(space.dims) == 3 else [])


def test_layout_is_seeded():
    space = hp.Space({"lr": hp.LogUniform(1e-5, 1e-1), "reg": hp.LogUniform(1e-6, 1e-1)})
    offsets = [axes_by_gid(plot_random_vs_grid(space, 9, seed=s), "random-main").collections[0].get_offsets()
               for s in (1, 1, 2)]
    assert np.array_equal(offsets[0], offsets[1])
    assert not np.array_equal(offsets[0], offsets[2])


def test_layout_from_trial_tables_coloured_by_metric():
    space = hp.Space({"lr": hp.LogUniform(1e-4, 1e-1), "reg": hp.LogUniform(1e-6, 1e-2),
                      "act": hp.Choice(["relu", "tanh"])})
    grid = pd.DataFrame({"param_lr": [1e-4, 1e-4, 1e-1, 1e-1], "param_reg": [1e-6, 1e-2, 1e-6, 1e-2],
                         "param_act": ["relu"] * 4, "value": [0.1, 0.2, 0.3, np.nan]})
    rand = pd.DataFrame({"param_lr": [2e-4, 3e-3, 5e-2], "param_reg": [1e-5, 3e-4, 2e-3],
                         "param_act": ["tanh", "relu", "tanh"], "value": [0.5, 0.9, 0.4]})
    fig = drawn(plot_random_vs_grid(space, 4, params=["lr", "reg"], grid_trials=grid, random_trials=rand))
    grid_main = axes_by_gid(fig, "grid-main")
    assert n_points(grid_main, "trials") == 3 and n_points(grid_main, "not-ok") == 1
    assert n_points(axes_by_gid(fig, "random-main"), "trials") == 3
    assert len(segments(axes_by_gid(fig, "grid-top"), "marginal-x")) == 2
    assert len(segments(axes_by_gid(fig, "random-top"), "marginal-x")) == 3
    colorbars = [ax for ax in fig.axes if "value" in ax.get_ylabel() and ax.get_gid() is None]
    assert colorbars, "a colorbar labelled with the metric"


def test_layout_choice_axis_and_bad_input():
    space = hp.Space({"lr": hp.LogUniform(1e-4, 1e-1), "act": hp.Choice(["relu", "tanh", "elu"])})
    fig = drawn(plot_random_vs_grid(space, 12, seed=0))
    main = axes_by_gid(fig, "grid-main")
    assert [t.get_text() for t in main.get_yticklabels()] == ["relu", "tanh", "elu"]
    with pytest.raises(ValueError, match="unknown parameter 'nope'"):
        plot_random_vs_grid(space, 12, params=["lr", "nope"])
    with pytest.raises(ValueError, match="n_trials must be a positive integer"):
        plot_random_vs_grid(space, 0)
    with pytest.raises(ValueError, match="at least two searched parameters"):
        plot_random_vs_grid(hp.Space({"lr": hp.LogUniform(1e-4, 1e-1)}), 5)


# ---------------------------------------------------------------- slices
def test_slices_scales_points_and_range_edges(c2f):
    fig = drawn(plot_slices(c2f))
    ok = c2f.trials[c2f.trials["status"] == "ok"]
    for name in ("lr", "reg", "width", "act"):
        ax = axes_by_gid(fig, f"slice-{name}")
        assert n_points(ax, "ok-trials") == len(ok)
        not_ok = (c2f.trials["status"] != "ok").sum()
        assert n_points(ax, "diverged-trials") + n_points(ax, "failed-trials") == not_ok
    assert axes_by_gid(fig, "slice-lr").get_xscale() == "log"
    assert axes_by_gid(fig, "slice-reg").get_xscale() == "log"
    assert axes_by_gid(fig, "slice-width").get_xscale() == "linear"
    act = axes_by_gid(fig, "slice-act")
    assert [t.get_text() for t in act.get_xticklabels()] == ["relu", "tanh", "elu"]
    # the last stage's edges as lines at its low and high
    last = c2f.stages[-1].space["lr"]
    ax = axes_by_gid(fig, "slice-lr")
    (low,), (high,) = lines(ax, "edge-low"), lines(ax, "edge-high")
    assert low.get_xdata()[0] == pytest.approx(last.low) and high.get_xdata()[0] == pytest.approx(last.high)
    assert n_points(ax, "best") == 1
    assert "dropout" not in {a.get_gid() for a in fig.axes}  # fixed parameters get no panel


def test_slices_mark_a_flag_with_its_suggestion(flagged):
    fig = drawn(plot_slices(flagged))
    flag = flagged.boundary[0]
    ax = axes_by_gid(fig, "slice-lr")
    (edge,) = lines(ax, f"edge-{flag.edge}")
    assert edge.get_xdata()[0] == pytest.approx(flag.high if flag.edge == "high" else flag.low)
    assert edge.get_color() != lines(ax, "edge-low" if flag.edge == "high" else "edge-high")[0].get_color()
    # the suggestion (without its "lr: " prefix) is written on the panel, under its title
    title = ax.get_title().split("\n")
    assert title[0] == f"lr: flagged at the {flag.edge} edge"
    assert " ".join(title[1:]) == flag.suggestion[len("lr: "):]
    assert lines(ax, "flag-arrow")
    assert "edge" not in axes_by_gid(fig, "slice-reg").get_title()


def test_slices_with_no_ok_trial_says_so():
    study = hp.Study(LogBowl({"lr": 1e-3}, fail_above={"lr": 0.0}), hp.Space({"lr": hp.LogUniform(1e-4, 1e-1)}),
                     metric="score", name="all-fail")
    result = study.optimize("random", n_trials=4, budget=1, n_jobs=1, seed=0)
    fig = drawn(plot_slices(result))
    ax = axes_by_gid(fig, "slice-lr")
    assert n_points(ax, "failed-trials") == 4 and n_points(ax, "ok-trials") == 0
    assert any("no trial finished ok" in t.get_text() for t in ax.texts)


# ---------------------------------------------------------------- stages
def test_stages_draw_each_stage_range_and_the_outward_move(c2f):
    fig = drawn(plot_stages(c2f))
    ax = axes_by_gid(fig, "stage-lr")
    assert ax.get_xscale() == "log"
    bars = segments(ax, "stage-range")
    assert len(bars) == len(c2f.stages) == 2
    for bar, stage in zip(bars, c2f.stages):
        dist = stage.space["lr"]
        assert bar[0][0] == pytest.approx(dist.low) and bar[1][0] == pytest.approx(dist.high)
    assert n_points(ax, "trials") == (c2f.trials["status"] == "ok").sum()
    # the grid stage's best sat on lr's high edge, so stage 1 moved outward there
    assert c2f.stages[1].space["lr"].high > c2f.stages[0].space["lr"].high
    assert lines(ax, "moved") and "moved out past the high edge" in ax.get_title()
    assert axes_by_gid(fig, "stage-width").get_xscale() == "linear"


# ---------------------------------------------------------------- learning curves
def test_curves_show_iterations_and_the_accuracy_gap():
    result = mlp_like_result(n=5, epochs=4, iters=6)
    fig = drawn(plot_learning_curves(result, top=2))
    loss = axes_by_gid(fig, "curves-loss")
    smooth = lines(loss, "loss-iters")
    assert len(smooth) == 2 and all(len(ln.get_xdata()) == 4 * 6 for ln in smooth)
    acc = axes_by_gid(fig, "curves-acc")
    assert len(lines(acc, "train_acc")) == 2 and len(lines(acc, "val_acc")) == 2
    assert [t for t in acc.texts if t.get_gid() == "gap"]
    legend = fig.legends[0]
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels[0].startswith("trial 4:") and labels[1].startswith("trial 3:")  # best first


def test_curves_fall_back_to_epoch_loss_and_report_missing_curves():
    result = mlp_like_result()
    for curve in result.curves.values():
        for point in curve:
            del point["loss_iters"]
    fig = drawn(plot_learning_curves(result, top=3))
    assert len(lines(axes_by_gid(fig, "curves-loss"), "loss-epochs")) == 3
    empty = drawn(plot_learning_curves(mlp_like_result(with_curves=False)))
    (ax,) = empty.axes
    assert "report(epoch, metrics)" in ax.texts[0].get_text().replace("\n", " ")
    with pytest.raises(ValueError, match="top must be a positive integer"):
        plot_learning_curves(result, top=0)


# ---------------------------------------------------------------- best so far
def test_best_so_far_median_and_compute_axis():
    values = {"a": [[0.1, 0.5, 0.3], [0.2, 0.2, 0.9], [0.4, 0.1, 0.1]],
              "b": [[0.3, np.nan, 0.2], [0.1, 0.1, 0.1], [0.0, 0.6, 0.0]]}
    comp = toy_comparison(values, strategies=("a", "b"), budget=2)
    curves = best_so_far_curves(comp.runs, "maximize")
    assert np.allclose(curves["a"][1][2], [0.2, 0.2, 0.9])
    assert np.allclose(curves["a"][0][1], [2, 4, 6])  # cumulative epochs
    fig = drawn(plot_best_so_far(comp))
    by_trials, by_epochs = axes_by_gid(fig, "by-trials"), axes_by_gid(fig, "by-epochs")
    (median_a,) = lines(by_trials, "median-a")
    assert np.allclose(median_a.get_xdata(), [1, 2, 3])
    assert np.allclose(median_a.get_ydata(), [0.2, 0.4, 0.5])  # medians of best-so-far per trial
    (median_b,) = lines(by_epochs, "median-b")
    assert np.allclose(median_b.get_xdata(), [2, 4, 6])
    assert np.allclose(median_b.get_ydata(), [0.1, 0.3, 0.3])


def test_best_so_far_minimize_and_no_ok_trial():
    comp = toy_comparison({"a": [[3.0, 1.0, 2.0]]}, direction="minimize")
    (median,) = lines(axes_by_gid(drawn(plot_best_so_far(comp)), "by-trials"), "median-a")
    assert np.allclose(median.get_ydata(), [3.0, 1.0, 1.0])
    empty = drawn(plot_best_so_far(toy_comparison({"a": [[np.nan, np.nan]]})))
    assert "No trial finished ok" in empty.axes[0].texts[0].get_text().replace("\n", " ")


# ---------------------------------------------------------------- sanity
def sanity_report(ok=True):
    rng = np.random.default_rng(0)
    layers = []
    for i, act in enumerate(["relu", "tanh"]):
        v = np.maximum(rng.normal(0, 1, 500), 0) if act == "relu" else np.tanh(rng.normal(0, 4, 500))
        layers.append(dict(layer=f"hidden{i + 1}", activation=act, mean=float(v.mean()), std=float(v.std()),
                           dead_fraction=0.1, saturated_fraction=0.8 if act == "tanh" else 0.0,
                           grad_norm=10.0 ** (-2 * i), values=v))
    return dict(num_classes=10, initial_loss=2.31, expected_initial_loss=math.log(10), initial_loss_ok=True,
                reg_check={"regs": [0.0, 1.0], "losses": [2.3, 2.9], "ok": True},
                overfit={"n_samples": 20, "epochs": 100, "train_acc": 1.0 if ok else 0.4, "ok": ok},
                layers=layers, ok=ok)


def test_sanity_histograms_grad_norms_and_checks():
    fig = drawn(plot_sanity(sanity_report(ok=False)))
    hist = axes_by_gid(fig, "hist-hidden2")
    assert "saturated 80%" in hist.get_title() and "(tanh)" in hist.get_title()
    assert len(hist.patches) == 40
    grads = axes_by_gid(fig, "grad-norms")
    assert grads.get_yscale() == "log"
    assert [p.get_height() for p in grads.patches] == pytest.approx([1.0, 0.01])
    marks = [t.get_text() for t in axes_by_gid(fig, "checks").texts if t.get_gid() == "check"]
    assert marks == ["PASS", "PASS", "FAIL", "WARN"]
    assert "FAIL" in fig._suptitle.get_text()
    bad = sanity_report()
    del bad["overfit"]
    with pytest.raises(ValueError, match="missing key 'overfit'"):
        plot_sanity(bad)


# ---------------------------------------------------------------- files
def read_png(path):
    assert path.is_file() and path.stat().st_size > 1000
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200
    return image


def test_save_run_plots_writes_readable_pngs(c2f, tmp_path):
    paths = save_run_plots(c2f, tmp_path / "run")
    assert [p.name for p in paths] == ["slices.png", "progress.png", "curves.png", "stages.png", "layout.png"]
    for p in paths:
        read_png(p)


def test_save_run_plots_single_stage_and_no_curves(tmp_path):
    result = mlp_like_result(with_curves=False)
    assert [p.name for p in save_run_plots(result, tmp_path)] == ["slices.png", "progress.png", "layout.png"]


def test_save_run_plots_with_zero_ok_trials(tmp_path):
    study = hp.Study(LogBowl({"lr": 1e-3}, fail_above={"lr": 0.0}),
                     hp.Space({"lr": hp.LogUniform(1e-4, 1e-1), "reg": hp.LogUniform(1e-5, 1e-1)}),
                     metric="score", name="all-fail")
    result = study.optimize("random", n_trials=3, budget=1, n_jobs=1, seed=0)
    paths = save_run_plots(result, tmp_path)
    assert [p.name for p in paths] == ["slices.png", "progress.png", "layout.png"]
    for p in paths:
        read_png(p)


def test_save_comparison_and_sanity_plots(tmp_path):
    values = {"grid": [[0.1, 0.4, 0.2, 0.3]], "random": [[0.3, 0.5, 0.7, 0.1]]}
    comp = toy_comparison(values, strategies=("grid", "random"))
    lr = [1e-4, 1e-4, 1e-1, 1e-1, 2e-4, 5e-3, 3e-2, 7e-2]
    comp.runs["param_lr"] = lr
    paths = save_comparison_plots(comp, tmp_path / "cmp")
    assert [p.name for p in paths] == ["best_so_far.png", "random_vs_grid.png"]
    for p in paths:
        read_png(p)
    read_png(save_sanity_plot(sanity_report(), tmp_path / "sanity" / "sanity.png"))


@pytest.mark.parametrize("module", ["_style", "metric_axis", "layout", "slices", "stages", "curves", "progress",
                                    "sanity", "confirm", "lr_range", "save"])
def test_plots_never_use_pyplot(module):
    # pyplot keeps global state (not thread-safe) and may open windows; the plots use Figure only
    import importlib
    import inspect

    source = inspect.getsource(importlib.import_module(f"hpsearch.plots.{module}"))
    assert "import matplotlib.pyplot" not in source and "from matplotlib import pyplot" not in source
    assert "plt." not in source


def test_plots_of_a_real_comparison(tmp_path):
    from hpsearch.compare import compare_strategies

    space = hp.Space({"lr": hp.LogUniform(1e-5, 1e-1), "reg": hp.LogUniform(1e-6, 1e-1)})
    comp = compare_strategies({"objective": LogBowl({"lr": 2e-3}, width=0.5), "space": space, "n_trials": 9,
                               "budget": 2, "metric": "score", "name": "cmp"}, strategies=["grid", "random"],
                              repeats=2, n_jobs=1)
    fig = drawn(plot_best_so_far(comp))
    for strategy in ("grid", "random"):
        (line,) = lines(axes_by_gid(fig, "by-epochs"), f"median-{strategy}")
        assert line.get_xdata()[-1] == pytest.approx(18)  # 9 trials x 2 epochs
    paths = save_comparison_plots(comp, tmp_path)
    assert [p.name for p in paths] == ["best_so_far.png", "random_vs_grid.png"]
    layout = drawn(plot_random_vs_grid(comp.space, 9, params=["lr", "reg"],
                                       grid_trials=comp.runs[(comp.runs.strategy == "grid") & (comp.runs.repeat == 0)],
                                       random_trials=comp.runs[(comp.runs.strategy == "random")
                                                               & (comp.runs.repeat == 0)]))
    assert len(segments(axes_by_gid(layout, "grid-top"), "marginal-x")) == 3
    assert len(segments(axes_by_gid(layout, "random-top"), "marginal-x")) == 9


def test_sanity_plot_of_a_real_report(digits, tmp_path):
    from models import sanity_report

    report = sanity_report(digits, hidden_dims=(20, 20), activation="relu", max_overfit_epochs=60)
    fig = drawn(plot_sanity(report))
    hists = [ax for ax in all_axes(fig) if (ax.get_gid() or "").startswith("hist-")]
    assert len(hists) == len(report["layers"]) == 2
    assert hists[0].get_title().startswith("layer 1 (relu)")
    heights = [p.get_height() for p in axes_by_gid(fig, "grad-norms").patches]
    assert heights == pytest.approx([layer["grad_norm"] for layer in report["layers"]])
    read_png(save_sanity_plot(report, tmp_path / "sanity.png"))


def test_run_plots_before_any_trial_and_with_a_scipy_parameter(tmp_path):
    import scipy.stats

    space = hp.Space({"lr": hp.LogUniform(1e-4, 1e-1), "momentum": scipy.stats.uniform(0.5, 0.49),
                      "nesterov": hp.Choice([True, False])})
    stages = [StageRecord(0, space, "RandomSampler()", 5, 1), StageRecord(1, space, "RandomSampler()", 5, 2)]
    result = SearchResult([], "loss", "minimize", "empty", param_names=list(space), stages=stages)
    # no curves yet; no layout: the grid sampler cannot sample a scipy.stats distribution; no
    # stages: both stages searched the same space (rungs, not narrowing)
    assert [p.name for p in save_run_plots(result, tmp_path)] == ["slices.png"]
    fig = drawn(plot_stages(result))
    assert [ax.get_gid() for ax in fig.axes] == ["stage-lr", "stage-nesterov"]  # momentum has no range
    assert "no trial has finished yet" in fig.get_suptitle()
    (ax,) = drawn(plot_slices(result)).axes
    assert "No trials have finished yet" in ax.texts[0].get_text().replace("\n", " ")


def test_no_layout_for_a_space_of_choices_only(tmp_path):
    space = hp.Space({"activation": hp.Choice(["relu", "tanh"]), "init": hp.Choice(["he", "xavier"])})
    study = hp.Study(lambda p, b, s, r: {"score": float(p["activation"] == "relu")}, space, metric="score",
                     name="choices")
    result = study.optimize("grid", n_trials=4, budget=1, n_jobs=1, seed=0)
    assert [p.name for p in save_run_plots(result, tmp_path)] == ["slices.png", "progress.png"]


def test_narrow_log_axes_get_plain_labels_without_minor_clutter():
    from matplotlib.ticker import NullFormatter

    space = hp.Space({"width": hp.IntLogUniform(16, 512), "lr": hp.LogUniform(1e-6, 1e-1)})
    fig = plot_random_vs_grid(space, n_trials=25, seed=0)
    ax = next(a for a in fig.axes if a.get_gid() == "grid-main")
    fig.canvas.draw()
    assert isinstance(ax.xaxis.get_minor_formatter(), NullFormatter)       # width: 1.5 decades
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert {"20", "50", "100", "200", "500"} <= set(labels)
    assert not isinstance(ax.yaxis.get_minor_formatter(), NullFormatter)   # lr: 5 decades, default


def test_run_layout_draws_the_grid_in_the_plane_of_the_two_parameters(tmp_path, monkeypatch):
    """Issue 5: a grid of B trials tries only ~sqrt(B) values of each parameter, random B."""
    import hpsearch.plots.layout as plots_layout
    from hpsearch.plots import save_run_plots
    from hpsearch.samplers import GridSampler

    seen = []

    def spy(space, n_trials, **kwargs):
        fig = drawn(plot_random_vs_grid(space, n_trials, **kwargs))
        x = kwargs["params"][0]
        seen.append((len(space.dims), n_trials,   # read now: saving clears the figure
                     len(GridSampler().axes(space, n_trials)[x]),
                     len(segments(axes_by_gid(fig, "grid-top"), "marginal-x")),
                     len(segments(axes_by_gid(fig, "random-top"), "marginal-x"))))
        return fig

    monkeypatch.setattr(plots_layout, "plot_random_vs_grid", spy)
    result = hp.Study(bowl(), SPACE, metric="score", name="random-first").optimize("random", n_trials=30, seed=0)
    save_run_plots(result, tmp_path)
    (dims, b, k, grid_values, random_values), = seen
    assert (dims, b) == (2, 30) and len(SPACE.dims) == 4
    # in the plane the grid tries sqrt(30) -> 5 values per numeric axis (30 // 3 beside the 3-way
    # choice); over all 4 searched dimensions it would try only 2 or 3
    assert grid_values == k >= 5 and random_values == 30
