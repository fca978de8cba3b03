"""compare_strategies: equal compute, the Comparison tables, the test, resume from compare.db."""
import math

import pandas as pd
import pytest

import hpsearch as hp

from hpsearch.compare import Comparison, compare_strategies
from hpsearch.distributions import Choice, LogUniform
from hpsearch.objectives import LogBowl


class CountingBowl(LogBowl):
    """LogBowl that counts its calls in this process (threading backend)."""

    calls = 0

    def __call__(self, params, budget, seed, report=None):
        type(self).calls += 1
        return super().__call__(params, budget, seed, report)


def parts(**extra):
    return {
        "objective": CountingBowl({"lr": 3e-3, "reg": 1e-4}, width=0.5),
        "space": {"lr": LogUniform(1e-6, 1e-1), "reg": LogUniform(1e-6, 1e-1), "act": Choice(["a", "b"])},
        "metric": "score", "direction": "maximize", "name": "bowl",
        "stages": [(12, 1), (4, 4)],
        **extra,
    }


def test_equal_compute_tables_and_test(tmp_path):
    cmp_ = compare_strategies(parts(), strategies=["grid", "random", "coarse-to-fine"], repeats=3, seed=5,
                              n_jobs=1, out_dir=tmp_path, backend="threading")
    assert isinstance(cmp_, Comparison)
    assert cmp_.strategies == ["grid", "random", "coarse-to-fine"] and cmp_.repeats == 3
    runs = cmp_.runs
    assert list(runs.columns[:7]) == ["strategy", "repeat", "number", "stage", "status", "budget", "value"]
    assert {"param_lr", "param_reg", "param_act"} <= set(runs.columns)
    assert list(runs["strategy"].drop_duplicates()) == ["grid", "random", "coarse-to-fine"]
    best = cmp_.best_per_run()
    assert list(best.columns) == ["strategy", "repeat", "best_value", "trials", "epochs"]
    per = best.set_index(["strategy", "repeat"])
    # 16 trials, 28 epochs -> single-stage strategies: 16 trials x 2 epochs; grid: its largest grid <= 16
    assert set(per.loc["random", "trials"]) == {16} and set(per.loc["random", "epochs"]) == {32}
    assert set(per.loc["coarse-to-fine", "trials"]) == {16} and set(per.loc["coarse-to-fine", "epochs"]) == {28}
    assert set(per.loc["grid", "trials"]) == {8}  # 2 x 2 numeric points x 2 choices
    # best value per run is the run's own best: the max over ok trials at its highest budget,
    # as the run's SearchResult reports it (a lucky short coarse stage does not count)
    for (strategy, repeat), row in per.iterrows():
        run = runs[(runs.strategy == strategy) & (runs.repeat == repeat)]
        values = run.loc[run["budget"] == run["budget"].max(), "value"]
        assert row["best_value"] == values.max()
        stored = hp.load_study(tmp_path / "compare.db", f"bowl-{strategy}-{repeat}")
        assert row["best_value"] == stored.best_value
    # the summary's quartiles come from the best values per run
    for strategy in cmp_.strategies:
        values = per.loc[strategy, "best_value"]
        assert cmp_.summary.loc[strategy, "median"] == pytest.approx(values.median())
        assert cmp_.summary.loc[strategy, "q1"] <= cmp_.summary.loc[strategy, "median"] <= cmp_.summary.loc[strategy, "q3"]
    assert list(cmp_.summary.columns) == ["median", "q1", "q3", "trials", "epochs"]
    test = cmp_.test
    assert (test["a"], test["b"], test["alternative"]) == ("random", "grid", "two-sided")
    assert 0 <= test["pvalue"] <= 1 and test["n_a"] == test["n_b"] == 3
    # random beats a 2-point-per-axis grid on a bowl whose optimum is inside the range
    assert cmp_.summary.loc["random", "median"] > cmp_.summary.loc["grid", "median"]
    text = cmp_.report()
    assert "Mann-Whitney U" in text and "grid runs its largest grid that fits: 8 of 16" in text
    path = cmp_.to_csv(tmp_path / "cmp.csv")
    assert len(pd.read_csv(path)) == len(runs)


def test_resume_from_compare_db_runs_nothing_again(tmp_path):
    kwargs = dict(strategies=["random", "sobol"], repeats=2, n_jobs=1, out_dir=tmp_path, backend="threading")
    CountingBowl.calls = 0
    first = compare_strategies(parts(), **kwargs)
    assert CountingBowl.calls == 4 * 16
    again = compare_strategies(parts(), **kwargs)
    assert CountingBowl.calls == 4 * 16  # every trial came back from compare.db
    pd.testing.assert_frame_equal(first.runs, again.runs)
    assert first.test is None  # no grid: no random-vs-grid test


def test_repeats_use_different_seeds_and_a_budget_scales_trials():
    cmp_ = compare_strategies(parts(), strategies=["random"], repeats=2, n_trials=8, n_jobs=1, backend="threading")
    runs = cmp_.runs
    lr0 = runs[runs.repeat == 0]["param_lr"].tolist()
    lr1 = runs[runs.repeat == 1]["param_lr"].tolist()
    assert len(lr0) == 8 and lr0 != lr1
    assert set(runs["budget"]) == {2}  # 28 epochs / 16 trials, kept per trial


def test_failed_trials_have_nan_values():
    objective = LogBowl({"lr": 3e-3}, fail_above={"lr": 1e-3})
    cmp_ = compare_strategies({"objective": objective, "space": {"lr": LogUniform(1e-6, 1e-1)}, "metric": "score",
                               "n_trials": 10, "budget": 1}, strategies=["random"], repeats=1, n_jobs=1,
                              backend="threading")
    failed = cmp_.runs[cmp_.runs.status == "failed"]
    assert len(failed) > 0 and failed["value"].isna().all()
    assert not math.isnan(cmp_.summary.loc["random", "median"])


@pytest.mark.parametrize("kwargs, match", [
    (dict(strategies=["grid", "randon"]), "unknown strategy 'randon'; did you mean 'random'"),
    (dict(strategies=[]), "at least one strategy"),
    (dict(strategies=["grid", "grid"]), "listed twice"),
    (dict(repeats=0), "repeats must be a positive integer"),
    (dict(n_trials=0), "positive integer"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        compare_strategies(parts(), **kwargs)
