"""The plots show what matters: zoomed metric axes, strips for worse and failed trials, integer
ticks, the study's best, the grid that did not run, progress, confirmation, thinning."""
import subprocess
import sys
import types

import numpy as np
import pandas as pd
import pytest

import hpsearch as hp
import hpsearch.plots.save as plots_save
from hpsearch.compare import Comparison
from hpsearch.objectives import LogBowl
from hpsearch.plots import (plot_best_so_far, plot_confirmation, plot_run_progress, plot_sanity, plot_slices,
                            plot_stages, save_run_plots)
from hpsearch.plots._style import MAX_POINTS
from hpsearch.plots.progress import best_so_far_curves
from hpsearch.results.search_result import SearchResult, StageRecord

SPACE = hp.Space({"lr": hp.LogUniform(1e-5, 1e-1), "depth": hp.IntUniform(1, 4)})


def drawn(fig):
    fig.canvas.draw()
    return fig


def by_gid(fig, gid):
    (ax,) = [ax for ax in fig.axes if ax.get_gid() == gid]
    return ax


def offsets(ax, gid):
    arrays = [c.get_offsets() for c in ax.collections if c.get_gid() == gid]
    return np.concatenate(arrays) if arrays else np.zeros((0, 2))


def main_job_like(n_low=30, n_high=40, stages=2, seed=0):
    """A result shaped like the main job's: a third of the trials poor (0.07-0.5), the rest 0.93-0.98,
    one diverged; the best sits in the last stage."""
    rng = np.random.default_rng(seed)
    records, number = [], 0
    values = list(rng.uniform(0.07, 0.5, n_low)) + list(rng.uniform(0.93, 0.975, n_high))
    for i, v in enumerate(values + [None]):
        stage = 0 if i < (n_low + n_high) // 2 else stages - 1
        records.append(dict(number=number, stage=stage, status="ok" if v is not None else "diverged",
                            params={"lr": float(10 ** rng.uniform(-5, -1)), "depth": int(rng.integers(1, 5))},
                            metrics={} if v is None else {"val_acc": float(v)}, budget=3 if stage == 0 else 12,
                            seed=i, start=0.0, end=1.0, duration=1.0, error=None, curve=[]))
        number += 1
    records[-2]["metrics"]["val_acc"] = 0.981  # the best: last stage, highest budget
    st = [StageRecord(s, SPACE, "RandomSampler()", n_low + n_high, 3 if s == 0 else 12) for s in range(stages)]
    return SearchResult(records, "val_acc", "maximize", "like-main", param_names=list(SPACE), stages=st)


def test_metric_axis_is_zoomed_to_the_better_half_and_worse_trials_sit_in_the_strip():
    result = main_job_like()
    fig = drawn(plot_slices(result))
    ax = by_gid(fig, "slice-lr")
    values = result.trials["val_acc"].dropna().to_numpy()
    median = np.median(values)
    low, high = ax.get_ylim()
    assert 0.5 < low < 0.93 and 0.981 < high < 1.0          # not the 0-1 span: the region that matters
    assert all(low <= t <= high for t in ax.get_yticks())
    assert min(ax.get_yticks()) >= median - 0.003            # no tick inside the strip
    worse = offsets(ax, "worse-trials")
    assert len(worse) == (values < median).sum() >= 30       # every poor trial, at its own x, in the strip
    assert np.allclose(worse[:, 1], worse[0, 1]) and worse[0, 1] < 0.1  # an axes fraction, not a value
    ok_y = offsets(ax, "ok-trials")[:, 1]
    assert len(ok_y) == (values >= median).sum() and ok_y.min() >= median
    (diverged,) = offsets(ax, "diverged-trials")             # its own marker, at the bottom, not a value
    assert diverged[1] < worse[0, 1]
    assert "(all: 0.0" in fig.get_suptitle() and "grey strip" in fig.get_suptitle()  # the full range, noted


def test_integer_parameters_get_integer_ticks():
    fig = drawn(plot_slices(main_job_like()))
    ticks = by_gid(fig, "slice-depth").get_xticks()
    assert len(ticks) >= 3 and np.allclose(ticks, np.round(ticks))
    stage_ticks = by_gid(drawn(plot_stages(main_job_like())), "stage-depth").get_xticks()
    assert np.allclose(stage_ticks, np.round(stage_ticks))


def test_stages_colour_the_zoomed_range_and_mark_worse_trials():
    result = main_job_like()
    values = result.trials["val_acc"].dropna().to_numpy()
    fig = drawn(plot_stages(result))
    ax = by_gid(fig, "stage-lr")
    (trials,) = [c for c in ax.collections if c.get_gid() == "trials"]
    assert trials.norm.vmin == pytest.approx(np.median(values)) and trials.norm.vmax == pytest.approx(0.981)
    assert len(trials.get_offsets()) == (values >= np.median(values)).sum()
    assert len(offsets(ax, "worse-trials")) == (values < np.median(values)).sum()
    assert len(offsets(ax, "diverged-trials")) == 1


@pytest.fixture
def captured(monkeypatch):
    """The figures save_run_plots writes, by file name (inspected before saving clears them)."""
    seen = {}
    original = plots_save.save_figure

    def keep(fig, path, dpi=110):
        fig.canvas.draw()
        seen[path.name] = {"titles": [ax.get_title() for ax in fig.axes], "suptitle": fig.get_suptitle(),
                           "best": {ax.get_gid(): offsets(ax, "best") for ax in fig.axes},
                           "axes": {ax.get_gid(): ax for ax in fig.axes}}
        return original(fig, path, dpi)
    monkeypatch.setattr(plots_save, "save_figure", keep)
    return seen


def test_layout_says_the_grid_did_not_run_and_stars_the_studys_best(captured, tmp_path):
    space = hp.Space({"lr": hp.LogUniform(1e-5, 1e-1), "reg": hp.LogUniform(1e-6, 1e-1)})
    objective = LogBowl({"lr": 1e-3, "reg": 1e-4}, width=1.0)
    result = hp.Study(objective, space, metric="score", name="c2f").coarse_to_fine(
        [hp.Stage(16, 1), hp.Stage(8, 3)], n_jobs=1, seed=0)
    assert result.best_trial["stage"] == 1  # the highest-budget rule: stage 0's best is not the study's
    save_run_plots(result, tmp_path)
    layout = captured["layout.png"]
    grid_title, run_title = [t for t in layout["titles"] if t]
    assert grid_title.startswith("A grid of the same budget (not run)")
    assert run_title.startswith("This run's stage 0")
    (star,) = layout["best"]["random-main"]
    assert np.allclose(sorted(star), sorted([result.best_params["lr"], result.best_params["reg"]]))


def test_layout_of_a_grid_first_stage_shows_its_trials_as_the_grid(captured, tmp_path):
    space = hp.Space({"lr": hp.LogUniform(1e-5, 1e-1), "reg": hp.LogUniform(1e-6, 1e-1)})
    result = hp.Study(LogBowl({"lr": 1e-3}), space, metric="score", name="g").optimize(
        "grid", n_trials=9, budget=1, n_jobs=1, seed=0)
    save_run_plots(result, tmp_path)
    grid_title, run_title = [t for t in captured["layout.png"]["titles"] if t]
    assert grid_title.startswith("This run's stage 0") and "(not run)" in run_title


def test_progress_follows_study_epochs_and_stars_the_best():
    result = main_job_like()
    fig = drawn(plot_run_progress(result))
    ax = by_gid(fig, "progress")
    (line,) = [ln for ln in ax.lines if ln.get_gid() == "best-so-far"]
    epochs = result.trials["study_epochs"].to_numpy()
    assert np.all(np.diff(line.get_ydata()) >= 0) and line.get_xdata()[-1] == epochs[-1]
    (star,) = offsets(ax, "best")
    at = result.trials["number"] == result.best_trial["number"]
    assert star[0] == epochs[at.to_numpy()][0] and star[1] == pytest.approx(0.981)


def test_compare_reads_grid_in_a_seeded_shuffled_order_and_uses_study_epochs():
    rows = []
    for s in ("grid", "random"):
        for i in range(12):
            rows.append(dict(strategy=s, repeat=0, number=i, stage=0, status="ok", budget=2,
                             value=i / 12 if s == "grid" else 0.5, study_epochs=2 * (i + 1) + (s == "random"),
                             param_lr=1e-3, param_reg=1e-4))
    runs = pd.DataFrame(rows)
    comp = Comparison(name="toy", metric="score", direction="maximize",
                      space=hp.Space({"lr": hp.LogUniform(1e-4, 1e-1), "reg": hp.LogUniform(1e-6, 1e-2)}),
                      strategies=["grid", "random"], repeats=1, runs=runs, summary=pd.DataFrame(), test=None)
    curves = best_so_far_curves(runs, "maximize")
    grid_best = curves["grid"][0][2]
    assert not np.allclose(grid_best, np.arange(12) / 12)            # not the enumeration order
    assert np.allclose(best_so_far_curves(runs, "maximize")["grid"][0][2], grid_best)  # the same every time
    assert np.allclose(curves["random"][0][1], 2 * np.arange(1, 13) + 1)  # study_epochs, not the budget sum
    fig = drawn(plot_best_so_far(comp))
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "grid (seeded shuffled order)" in labels


def test_slices_show_a_flags_evidence_beside_its_marker():
    space = hp.Space({"lr": hp.LogUniform(1e-4, 1e-2), "reg": hp.LogUniform(1e-6, 1e-2)})
    result = hp.Study(LogBowl({"lr": 1.0, "reg": 1e-4}, width=1.5), space, metric="score",
                      name="flag").optimize("grid", n_trials=16, budget=1, n_jobs=1, seed=0)
    assert result.boundary
    flag = result.boundary[0]
    shown = {**flag.to_dict(), "pvalue": 0.01, "evidence": "4 of 5 top trials, p = 0.01"}
    result.boundary = [types.SimpleNamespace(**shown)]
    ax = by_gid(drawn(plot_slices(result)), f"slice-{flag.param}")
    (text,) = [t for t in ax.texts if t.get_gid() == "flag-evidence"]
    assert text.get_text().replace("\n", " ") == "4 of 5 top trials, p = 0.01"


def _confirmed():
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    import _confirm_run

    return _confirm_run.run(_confirm_run.make_study(None, "c"))


def test_confirm_png_only_with_a_confirmation(tmp_path):
    result = _confirmed()
    names = [p.name for p in save_run_plots(result, tmp_path / "with")]
    assert names[-1] == "confirm.png"
    fig = drawn(plot_confirmation(result))
    ax = by_gid(fig, "confirm")
    assert len(offsets(ax, "seed-values")) == 3 * 4 and len(offsets(ax, "search-value")) == 3
    winner = [p for p in ax.patches if p.get_gid() == "winner"]
    assert len(winner) == 1 and f"winner: candidate {result.confirmation.winner['candidate']}" in fig.get_suptitle()
    plain = hp.Study(LogBowl({"lr": 1e-3}), hp.Space({"lr": hp.LogUniform(1e-5, 1e-1)}),
                     metric="score", name="p").optimize(n_trials=4, budget=1, n_jobs=1, seed=0)
    assert "confirm.png" not in [p.name for p in save_run_plots(plain, tmp_path / "without")]


def test_ten_thousand_trials_are_thinned_and_the_plot_says_so():
    rng = np.random.default_rng(1)
    n = 10_000
    lr, depth = 10 ** rng.uniform(-5, -1, n), rng.integers(1, 5, n)
    score = np.exp(-(np.log10(lr) + 3) ** 2) + 0.05 * rng.standard_normal(n)
    records = [dict(number=i, stage=0, status="ok", params={"lr": float(lr[i]), "depth": int(depth[i])},
                    metrics={"val_acc": float(score[i])}, budget=1, seed=i, start=0.0, end=1.0, duration=1.0,
                    error=None, curve=[]) for i in range(n)]
    result = SearchResult(records, "val_acc", "maximize", "big", param_names=list(SPACE),
                          stages=[StageRecord(0, SPACE, "RandomSampler()", n, 1)])
    fig = plot_slices(result)
    ax = by_gid(fig, "slice-lr")
    drawn_points = len(offsets(ax, "ok-trials")) + len(offsets(ax, "worse-trials"))
    assert drawn_points == MAX_POINTS
    assert f"drawn: {MAX_POINTS:,} of 10,000 trials" in fig.get_suptitle()
    assert len(offsets(ax, "best")) == 1  # the best is always among the drawn
    progress = plot_run_progress(result)
    # the note is in the title, where it hides no trial
    assert f"drawn: {MAX_POINTS:,} of 10,000 trials" in progress.get_suptitle()
    assert not any(t.get_gid() == "thinned" for t in by_gid(progress, "progress").texts)


def test_relu_histograms_count_exact_zeros_apart():
    values = np.concatenate([np.zeros(900), np.random.default_rng(0).exponential(1.0, 100)])
    layer = dict(layer=1, activation="relu", mean=float(values.mean()), std=float(values.std()), dead_fraction=0.0,
                 saturated_fraction=0.0, grad_norm=0.1, values=values)
    report = dict(num_classes=10, initial_loss=2.3, expected_initial_loss=2.3, initial_loss_ok=True,
                  reg_check={"regs": [0.0], "losses": [2.3], "ok": True},
                  overfit={"n_samples": 20, "epochs": 10, "train_acc": 1.0, "ok": True}, layers=[layer], ok=True)
    fig = drawn(plot_sanity(report))
    (ax,) = {a for sf in fig.subfigs for a in sf.axes if a.get_gid() == "hist-1"}
    assert sum(p.get_height() for p in ax.patches) == 100       # the zeros are not in the bars
    (note,) = [t for t in ax.texts if t.get_gid() == "zeros"]
    assert "900 (90%)" in note.get_text()


def test_importing_the_plots_package_imports_no_matplotlib():
    code = "import sys, hpsearch.plots; print('matplotlib' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "False"


def test_log_axes_label_powers_of_ten_without_mathtext(monkeypatch):
    # 10⁻³ in Unicode superscripts: what matplotlib shows, without its mathtext parser (a tenth
    # of a plot's drawing time)
    import matplotlib.mathtext

    def refuse(*args, **kwargs):
        raise AssertionError("mathtext parsed")

    monkeypatch.setattr(matplotlib.mathtext.MathTextParser, "parse", refuse)
    fig = drawn(plot_slices(main_job_like()))
    labels = {t.get_text() for t in by_gid(fig, "slice-lr").get_xticklabels()}
    assert {"10\u207b\u2074", "10\u207b\u00b3", "10\u207b\u00b2"} <= labels
