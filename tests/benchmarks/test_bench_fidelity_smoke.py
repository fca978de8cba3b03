"""bench_fidelity.py end to end in its --quick configuration, and its figures of one run."""
import json
import math

import pytest

STRATEGIES = ["sha", "sha-bohb", "sha-bohb-noconfirm", "optuna-random-sha", "dehb"]


def test_bench_fidelity_quick(tmp_path, capsys, bench_script):
    fidelity = bench_script("bench_fidelity")
    out = tmp_path / "bench_fidelity.json"
    fidelity.main(["--quick", "--repeats", "1", "--out", str(out), "--problems", "main", "sklearn-sgd",
                   "--strategies", *STRATEGIES])
    printed = capsys.readouterr().out
    data = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert data["benchmark"] == "bench_fidelity" and data["quick"] is True
    ran = STRATEGIES if fidelity.dehb_available() else [s for s in STRATEGIES if s != "dehb"]
    if "dehb" not in ran:
        assert "dehb left out" in printed
    for name, problem in data["problems"].items():
        assert set(problem["figures"]) == set(ran)
        for strategy, f in problem["figures"].items():
            # equal compute: nobody trains more than the total, ours included when promoted trials
            # of sklearn-sgd (no checkpoints) train again from scratch; the peers stop exactly at it
            assert all(e <= problem["total_epochs"] for e in f["epochs"]), (name, strategy)
            if strategy in fidelity.PEERS:
                assert f["epochs"] == [problem["total_epochs"]], (name, strategy)
            assert 0.0 <= f["auc"][0] <= 1.0 and 0.0 <= f["remeasured_val_acc"][0] <= 1.0
            assert f["overhead"][0] >= 0.0
        assert problem["goals"]["best_peer"] in fidelity.PEERS
        assert set(problem["goals"]["sha-bohb"]["vs_random"]) == {"auc", "remeasured_val_acc"}
    ranks = data["ranks"]
    assert ranks["strategies"] == ran and ranks["remeasured_val_acc"]["blocks"] == 2
    assert set(ranks["auc"]["mean_rank"]) == set(ran)
    assert data["same_trials_n_jobs_1_and_2"]["same"] is True
    assert data["bohb_overhead"]["median_ms"] > 0
    assert "mean rank over 2 (problem, seed) blocks" in printed


def test_without_checkpoints_ours_plan_what_really_trains_within_the_total(bench_script):
    fidelity = bench_script("bench_fidelity")
    problem = fidelity.make_problem("sklearn-sgd")
    assert not problem.continues and fidelity.make_problem("main").continues
    for name in fidelity.OURS:
        strategy = fidelity.make_strategy(name, problem)
        room = problem.total if name.endswith("-noconfirm") else problem.search_total
        assert fidelity.scratch_epochs(strategy) <= room
    # planned as if trials continued, sha would train 540 epochs from scratch: more than the peers get
    unlowered = type(fidelity.make_strategy("sha", problem))(min_budget=1, max_budget=27, eta=3,
                                                            total_budget=problem.search_total)
    assert fidelity.scratch_epochs(unlowered) > problem.search_total


def test_paired_pvalue_and_ranks(bench_script):
    fidelity = bench_script("bench_fidelity")
    assert fidelity.paired_pvalue([1.0, 2.0], [1.0, 2.0]) is None   # nothing differs
    assert fidelity.paired_pvalue([0.9] * 8, [0.8] * 8) < 0.01
    fig = {"epochs_to_target": [10.0, math.inf], "auc": [0.9, 0.8], "remeasured_val_acc": [0.9, 0.9],
           "overhead": [0.001, 0.001]}
    worse = {"epochs_to_target": [20.0, math.inf], "auc": [0.8, 0.7], "remeasured_val_acc": [0.8, 0.8],
             "overhead": [0.002, 0.002]}
    ranks = fidelity.rank_summary({"p": {"sha": fig, "sha-bohb": worse, "dehb": worse}}, default="sha")
    assert ranks["auc"]["mean_rank"] == {"sha": 1.0, "sha-bohb": 2.5, "dehb": 2.5}
    # never reaching the target ties (inf) and ranks by the other block alone
    assert ranks["epochs_to_target"]["mean_rank"]["sha"] == 1.5
