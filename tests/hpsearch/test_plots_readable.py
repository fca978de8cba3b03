"""The plots read right on multi-fidelity runs and comparisons (each case was found by eye):
no strategy in a legend drawn off the axis, no legend over data, rung labels that do not print
over each other, budgets rather than rungs as colours, one learning curve per configuration from
epoch 1, candidates numbered as the text numbers them, whole epochs on the axis."""
import numpy as np
import pandas as pd

import hpsearch as hp
from hpsearch.compare import Comparison
from hpsearch.objectives import LearningCurve
from hpsearch.plots import plot_best_so_far, plot_confirmation, plot_learning_curves, plot_run_progress, plot_slices
from hpsearch.plots.curves import top_curves
from hpsearch.strategies import Hyperband
from study_fixtures import CURVE_SPACE as SPACE



def drawn(fig):
    fig.canvas.draw()
    return fig


def hyperband_result():
    objective = LearningCurve({"lr": 1e-3, "reg": 1e-4}, noise=0.01)
    study = hp.Study(objective, SPACE, metric="score", name="hb")
    return study.run(Hyperband(min_budget=1, max_budget=27, eta=3), seed=0, n_jobs=1)


def test_hyperband_slices_colour_by_budget_and_draw_each_configuration_once():
    result = hyperband_result()
    fig = drawn(plot_slices(result))
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    budgets = sorted({int(b) for b in result.trials["budget"]})
    assert [f"budget {b}" for b in budgets] == [lab for lab in labels if lab.startswith("budget")]
    assert not any(lab.startswith("stage") for lab in labels)
    configurations = result.trials[["param_lr", "param_reg"]].drop_duplicates()
    ax = next(a for a in fig.axes if a.get_gid() == "slice-lr")
    points = sum(len(c.get_offsets()) for c in ax.collections if c.get_gid() in ("ok-trials", "worse-trials",
                                                                                "diverged-trials", "failed-trials"))
    assert points == len(configurations) < len(result.trials)
    assert f"each of the {len(configurations)} configurations at the highest budget" in fig._suptitle.get_text()


def test_hyperband_progress_labels_brackets_without_overprinting():
    result = hyperband_result()
    fig = drawn(plot_run_progress(result))
    ax = fig.axes[0]
    labels = [t for t in ax.texts if t.get_gid() == "stage-label"]
    assert labels and all(t.get_text().startswith(" bracket") for t in labels)
    boxes = [t.get_window_extent() for t in labels]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert {f"budget {int(b)}" for b in result.trials["budget"]} <= set(legend)


def comparison():
    rows = []
    for strategy, base in (("grid", 0.93), ("random", 0.96), ("sobol", 0.965)):
        for repeat in range(3):
            for i in range(20):
                value = base - 0.5 * np.exp(-i / 3) + 0.002 * repeat
                rows.append(dict(strategy=strategy, repeat=repeat, number=i, stage=0, status="ok", budget=2,
                                 value=value, study_epochs=2 * (i + 1), param_lr=1e-3))
    return Comparison(name="toy", metric="val_acc", direction="maximize",
                      space=hp.Space({"lr": hp.LogUniform(1e-4, 1e-1)}), strategies=["grid", "random", "sobol"],
                      repeats=3, runs=pd.DataFrame(rows), summary=pd.DataFrame(), test=None)


def test_best_so_far_keeps_every_strategys_final_best_on_the_axis_and_the_legend_off_the_data():
    comp = comparison()
    fig = drawn(plot_best_so_far(comp))
    ax = next(a for a in fig.axes if a.get_gid() == "by-trials")
    low, high = ax.get_ylim()
    finals = comp.best_per_run().groupby("strategy")["best_value"].median()
    assert all(low <= v <= high for v in finals), (low, high, finals.to_dict())
    assert ax.get_legend() is None and fig.legends
    legend_box = fig.legends[0].get_window_extent()
    assert not any(legend_box.overlaps(a.get_window_extent()) for a in fig.axes)


def test_learning_curves_show_distinct_configurations_from_epoch_one():
    objective = LearningCurve({"lr": 1e-3, "reg": 1e-4}, noise=0.01)
    result = hp.Study(objective, SPACE, metric="score", name="hb").run(
        Hyperband(min_budget=1, max_budget=9, eta=3), seed=0, n_jobs=1)
    chosen = top_curves(result, 3)
    keys = [(row["param_lr"], row["param_reg"]) for row, _ in chosen]
    assert len(set(keys)) == len(keys) == 3
    for row, curve in chosen:
        assert [p["epoch"] for p in curve] == list(range(1, int(row["budget"]) + 1))
    continued = [row for row, _ in chosen if pd.notna(row.get("continued_from"))]
    assert continued, "the best configurations of a Hyperband run continue checkpoints"
    fig = drawn(plot_learning_curves(result))
    assert "3 best configuration(s)" in fig._suptitle.get_text()


def test_one_epoch_curves_have_whole_epoch_ticks():
    objective = LearningCurve({"lr": 1e-3, "reg": 1e-4})
    result = hp.Study(objective, SPACE, metric="score", name="b1").optimize("random", n_trials=3, budget=1,
                                                                             n_jobs=1, seed=0)
    fig = drawn(plot_learning_curves(result))
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), ticks


def test_confirmation_plot_numbers_candidates_as_the_text_does():
    objective = LearningCurve({"lr": 1e-3, "reg": 1e-4}, noise=0.01)
    result = hp.Study(objective, SPACE, metric="score", name="c").optimize(
        "random", n_trials=8, budget=3, n_jobs=1, seed=0, confirm={"top": 2, "seeds": 2, "test": False})
    fig = drawn(plot_confirmation(result))
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks[0].startswith("candidate 0: trial") and ticks[1].startswith("candidate 1: trial")
    winner = result.confirmation.winner["candidate"]
    assert f"winner: candidate {winner} (trial" in fig._suptitle.get_text()
