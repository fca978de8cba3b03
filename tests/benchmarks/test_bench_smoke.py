"""Smoke tests of the benchmark scripts: each runs end to end in its tiny --quick configuration.

They check that a script prints its table and writes strict JSON with the figures the
README and the lead read (never a time: these machines are shared and noisy). The project's
modules and its dependencies are imported, never skipped: an ImportError there is a failure.
Only the PyTorch peer, an optional third-party package, is skipped without torch.
"""
import json
import math

import pytest

import hpsearch.compare  # noqa: F401 - the project modules the scripts drive: a broken import fails here
import hpsearch.study  # noqa: F401
import models.objective  # noqa: F401


def _run(load, name, tmp_path, capsys, *extra):
    out = tmp_path / f"{name}.json"
    payload = load(name).main(["--quick", "--out", str(out), *extra])
    printed = capsys.readouterr().out
    assert out.exists(), f"{name} wrote no JSON"
    data = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"{name}: non-strict JSON {c}"))
    assert data["benchmark"] == name and data["quick"] is True
    assert payload["benchmark"] == name
    machine = data["machine"]
    for key in ("cpu_model", "usable_cpus", "numpy", "threadpools", "blas_env", "blas_env_set"):
        assert key in machine, key
    assert "OPENBLAS_CORETYPE" in machine["blas_env"]
    # a Markdown table: header, separator and at least one row
    table = [line for line in printed.splitlines() if line.startswith("|")]
    assert len(table) >= 3 and set(table[1]) <= set("|-")
    return data, printed


def _positive(x):
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_bench_mlp_quick(tmp_path, capsys, bench_script):
    data, printed = _run(bench_script, "bench_mlp", tmp_path, capsys, "--repeats", "1", "--no-torch")
    assert "PyTorch skipped" in " ".join(data["notes"])
    cifar, digits = data["cifar"], data["digits"]
    # with numba installed, our NumPy optimizer step is measured beside the fused one
    numpy_step = {"ours, NumPy step"} if cifar["config"]["optimizer_step"] != "numpy" else set()
    assert cifar["config"]["optimizer_step"] == digits["config"]["optimizer_step"]
    assert set(cifar["median"]) == {"ours", "ours, no evaluation", "sklearn", "roofline"} | numpy_step
    assert numpy_step <= set(digits["median"])
    assert all(_positive(v) for v in cifar["median"].values())
    assert set(cifar["goals"]) == {"ours_vs_torch", "ours_vs_roofline"}
    assert cifar["goals"]["ours_vs_torch"]["met"] is None  # no torch: no verdict
    assert isinstance(cifar["goals"]["ours_vs_roofline"]["met"], bool)
    # the roofline bounds the training steps: it is compared with ours without evaluation
    assert cifar["ratios"]["ours_vs_roofline"] == pytest.approx(
        cifar["median"]["ours, no evaluation"] / cifar["median"]["roofline"])
    assert cifar["val_acc_last_epoch"]["ours, no evaluation"] is None   # NaN, written as null
    assert {"ours", "ours, evaluated after the last epoch", "sklearn", "ours, 1 BLAS thread",
            "sklearn, 1 BLAS thread"} <= set(digits["median"])
    # scikit-learn measures no accuracy while it trains: the goal compares the same work
    assert digits["ratios"]["ours_vs_sklearn"] == pytest.approx(
        digits["median"]["ours, evaluated after the last epoch"] / digits["median"]["sklearn"])
    assert digits["val_acc_final"]["ours, evaluated after the last epoch"] == digits["val_acc_final"]["ours"]
    assert 0.0 <= digits["val_acc_final"]["ours"] <= 1.0
    assert isinstance(digits["goals"]["ours_vs_sklearn"]["met"], bool)
    assert "ours_vs_sklearn" in printed


def test_bench_overhead_quick(tmp_path, capsys, bench_script):
    data, printed = _run(bench_script, "bench_overhead", tmp_path, capsys, "--sizes", "30", "--optuna-sqlite-cap", "10")
    peers = data["figures"]["30"]
    assert set(peers) == {"hpsearch, SQLite", "hpsearch, memory", "optuna, memory", "optuna, SQLite"}
    assert peers["optuna, SQLite"]["n_trials"] == 10 and peers["hpsearch, SQLite"]["n_trials"] == 30
    assert all(_positive(p["per_trial"]) for p in peers.values())
    assert _positive(data["ratios"]["30"]["hpsearch_sqlite_vs_optuna_memory"])
    assert set(data["goals"]) == {"persisted_vs_optuna_memory", "flat"}
    assert any("capped at 10" in note for note in data["notes"])


def test_bench_parallel_quick(tmp_path, capsys, bench_script):
    data, printed = _run(bench_script, "bench_parallel", tmp_path, capsys, "--trials", "2")
    assert set(data["figures"]) == {"n_jobs=1", "n_jobs=1, 1 BLAS thread", "n_jobs=2, limited",
                                    "n_jobs=2, unlimited"}
    assert all(_positive(f["wall"]) for f in data["figures"].values())
    assert all(0.0 <= acc <= 1.0 for f in data["figures"].values() for acc in f["best_val_acc"])
    assert data["speedups"]["limited_vs_n_jobs1"] == pytest.approx(
        data["figures"]["n_jobs=1"]["wall"] / data["figures"]["n_jobs=2, limited"]["wall"])
    assert isinstance(data["goals"]["speedup_limited"]["met"], bool)


def test_bench_search_quick(tmp_path, capsys, bench_script):
    data, printed = _run(bench_script, "bench_search", tmp_path, capsys, "--repeats", "2", "--part", "equal-trials")
    assert set(data["figures"]) == {"grid", "random", "sobol", "coarse-to-fine", "tpe"}
    for strategy, f in data["figures"].items():
        assert len(f["best_val_acc"]) == 2, strategy
        assert all(0.0 <= v <= 1.0 for v in f["best_val_acc"])
        q1, med, q3 = f["best_val_acc_quartiles"]
        assert q1 <= med <= q3
        assert len(f["epochs_to_target"]) == 2 and 0 <= f["reached"] <= 2
    # equal compute: every strategy but grid runs the same trials and epochs
    same = {(f["trials"], f["epochs"]) for s, f in data["figures"].items() if s != "grid"}
    assert same == {(6, 12)}
    assert set(data["tests"]) == {"random_vs_grid", "coarse_to_fine_vs_tpe"}


def test_epochs_to_target_counts_epochs_up_to_the_first_hit(bench_script):
    import pandas as pd

    mod = bench_script("bench_search")
    runs = pd.DataFrame({"strategy": ["a"] * 4 + ["b"] * 2, "repeat": [0] * 6, "number": [1, 0, 2, 3, 0, 1],
                         "budget": [2, 1, 4, 8, 3, 3], "value": [0.5, 0.2, 0.98, 0.99, math.nan, 0.9]})
    reach = mod.epochs_to_target(runs, 0.97)
    assert reach[("a", 0)] == 1 + 2 + 4   # trial order by number, up to and including the first hit
    assert reach[("b", 0)] == math.inf     # never reached (a NaN value is not a hit)
    assert mod.order_quartiles([10.0, 20.0, math.inf, math.inf]) == (10.0, 20.0, math.inf)


def test_bench_search_fidelity_quick(tmp_path, capsys, bench_script):
    fidelity = bench_script("bench_fidelity")
    strategies = ["sha", "hyperband", "optuna-tpe-hyperband", "optuna-random-sha"]
    data, printed = _run(bench_script, "bench_search", tmp_path, capsys, "--repeats", "1", "--part", "fidelity",
                         "--problems", "main", "sgd", "--strategies", *strategies)
    part = data["fidelity"]
    assert set(part["problems"]) == {"main", "sgd"}
    for problem in part["problems"].values():
        assert set(problem["figures"]) == set(strategies)
        for name, f in problem["figures"].items():
            # equal compute: nobody trains more than the total; Optuna stops exactly at it
            assert all(e <= problem["total_epochs"] for e in f["epochs"]), name
            if name in fidelity.OPTUNA:
                assert f["epochs"] == [problem["total_epochs"]]
            assert 0.0 <= f["auc"][0] <= 1.0 and 0.0 <= f["remeasured_test_acc"][0] <= 1.0
        assert set(problem["goals"]) == {"optuna_best", "best_peer", "sha", "hyperband"}
    check = part["same_trials_n_jobs_1_and_2"]
    assert check["strategy"] == part["best_strategy"] in fidelity.OURS and check["same"] is True
    assert "our best strategy" in printed
    # a run of one part keeps the other part's figures
    bench_script("bench_search").main(["--quick", "--out", str(tmp_path / "bench_search.json"), "--part", "equal-trials",
                                "--repeats", "1", "--strategies", "random"])
    kept = json.loads((tmp_path / "bench_search.json").read_text())
    assert set(kept["figures"]) == {"random"} and kept["fidelity"] == part


def test_fidelity_figures_of_one_run(bench_script):
    fidelity = bench_script("bench_fidelity")
    obs = [(1, 0.5), (2, math.nan), (3, 0.9), (4, 0.8), (5, 0.98)]
    assert fidelity.epochs_to_reach(obs, 0.975) == 5.0
    assert fidelity.epochs_to_reach(obs, 0.99) == math.inf
    # best so far: 0 on [0, 1], 0.5 on [1, 3], 0.9 on [3, 5], 0.98 on [5, 10]
    assert fidelity.best_so_far_auc(obs, 10) == pytest.approx((0.5 * 2 + 0.9 * 2 + 0.98 * 5) / 10)


def test_fidelity_optuna_peers_repeat_themselves_for_a_seed(bench_script):
    fidelity = bench_script("bench_fidelity")
    problem = fidelity.make_problem("main", quick=True)
    for name in fidelity.OPTUNA:
        first, again = (fidelity.run_optuna(name, problem, 3) for _ in range(2))
        assert first["observations"] == again["observations"] and first["best_params"] == again["best_params"]
        assert first["epochs"] == problem.total


def test_fidelity_goals_compare_with_the_better_optuna_peer(bench_script):
    fidelity = bench_script("bench_fidelity")

    def fig(epochs, auc, val):
        return {"quartiles": {"epochs_to_target": (0, epochs, 0), "auc": (0, auc, 0),
                              "remeasured_val_acc": (0, val, 0), "remeasured_test_acc": (0, val, 0)}}

    figures = {"sha": fig(40.0, 0.95, 0.97), "hyperband": fig(math.inf, 0.99, 0.99),
               "optuna-tpe-hyperband": fig(100.0, 0.96, 0.96), "optuna-random-sha": fig(80.0, 0.94, 0.975)}
    g = fidelity.goals(figures)
    assert g["optuna_best"] == {"epochs_to_target": 80.0, "auc": 0.96, "remeasured_val_acc": 0.975,
                                "remeasured_test_acc": 0.975}
    assert g["sha"]["epochs_ratio"] == 0.5 and g["sha"]["epochs_met"]
    assert not g["sha"]["auc_met"] and not g["sha"]["remeasured_met"]
    assert g["hyperband"]["epochs_ratio"] == math.inf and not g["hyperband"]["epochs_met"]
    assert g["hyperband"]["auc_met"] and g["hyperband"]["remeasured_met"]
    # most goals met over all problems wins: sha 1 + 1, hyperband 2 + 2
    assert fidelity.best_strategy({"a": g, "b": g}) == "hyperband"


def test_bench_mlp_quick_with_torch_peer(tmp_path, capsys, bench_script):
    pytest.importorskip("torch")   # the PyTorch peer (CI installs it; see the README's Development section)
    data, printed = _run(bench_script, "bench_mlp", tmp_path, capsys, "--repeats", "1", "--part", "b")
    digits = data["digits"]
    assert {"torch", "torch, 1 thread"} <= set(digits["median"])
    # same network, initial weights and optimizer: both learn (tiny run, so loosely)
    assert 0.0 <= digits["val_acc_final"]["torch"] <= 1.0
    assert digits["ratios"]["ours_vs_torch"] == pytest.approx(digits["median"]["ours"] / digits["median"]["torch"])
    assert "cifar" not in data
    assert any(p["user_api"] == "blas" for p in data["machine"]["threadpools"])


def test_bench_schedule_quick_gives_one_table_for_any_number_of_workers(tmp_path, capsys, bench_script):
    data, printed = _run(bench_script, "bench_schedule", tmp_path, capsys)
    # the same trials for 1, 2 and 8 workers (and 32), whatever the schedule
    assert data["goals"]["identical_1_2_8"] and all(data["identical_tables"].values())
    results = data["results"]
    for workers in (2, 8, 32):
        side, sync = results[f"side by side/{workers}"], results[f"synchronous/{workers}"]
        assert side["wall"] <= sync["wall"] and side["search_utilisation"] >= sync["search_utilisation"]
        assert 0 < side["utilisation"] <= 1
    assert data["critical_path"] > 0 and "longest chain of rungs" in printed


def test_bench_optimizers_quick(tmp_path, capsys, bench_script):
    data, printed = _run(bench_script, "bench_optimizers", tmp_path, capsys)
    found = data["finding"]
    assert found["winner"] != found["runner_up"]
    assert found["lead"] >= 0 and isinstance(found["within_noise"], bool)
    assert set(data["goals"]) == {"under_a_minute_on_two_cores"}
    assert "winner (confirmed mean)" in printed
