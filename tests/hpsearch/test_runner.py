"""run_trial (status rules, metrics, curves, thread limits) and the backend registry."""
import json
import math

import numpy as np
import pytest
from joblib import delayed
from threadpoolctl import threadpool_info

from hpsearch.execution.backends import BACKENDS, check_backend, make_parallel, parallel_context, uses_processes
from hpsearch.objectives import LogBowl, trivial
from hpsearch.execution.worker import one_line_error, run_trial, worker_threads

RECORD_KEYS = {"number", "stage", "status", "params", "metrics", "budget", "seed", "start", "end",
               "duration", "error", "curve"}


def _run(objective, metric="val_acc", **kwargs):
    args = dict(params={"lr": 0.01}, budget=3, seed=7, number=4, stage=1)
    args.update(kwargs)
    return run_trial(objective, metric=metric, **args)


def test_ok_trial_record_is_plain_json_data():
    def objective(params, budget, seed, report):
        for epoch in range(1, budget + 1):
            report(epoch, {"val_acc": np.float32(0.1 * epoch), "loss_iters": np.array([2.0, 1.5])})
        return {"val_acc": np.float64(0.75), "epochs": np.int64(3), "loss": 0.5, "converged": True,
                "note": "text", "history": [1, 2], "status": "ok"}

    record = _run(objective)
    assert set(record) == RECORD_KEYS
    assert record["status"] == "ok" and record["error"] is None
    assert (record["number"], record["stage"], record["budget"], record["seed"]) == (4, 1, 3, 7)
    assert record["params"] == {"lr": 0.01}
    # numeric scalars (numpy too) become floats; bools, strings, lists and status are not metrics
    assert record["metrics"] == {"val_acc": 0.75, "epochs": 3.0, "loss": 0.5}
    assert all(type(v) is float for v in record["metrics"].values())
    assert [p["epoch"] for p in record["curve"]] == [1, 2, 3]
    assert record["curve"][1]["val_acc"] == pytest.approx(0.2)
    assert record["curve"][0]["loss_iters"] == [2.0, 1.5]
    assert record["end"] >= record["start"] and record["duration"] >= 0
    json.dumps(record)  # crosses process boundaries and goes to storage as is


def test_raising_objective_is_a_failed_trial_with_one_line_error():
    def objective(params, budget, seed, report):
        raise ValueError("learning rate\n  too large")

    record = _run(objective)
    assert record["status"] == "failed"
    assert record["error"] == "ValueError: learning rate too large"
    assert record["metrics"] == {}


@pytest.mark.parametrize("returned", [0.5, None, [("val_acc", 0.5)]])
def test_non_dict_return_is_failed_with_a_clear_error(returned):
    record = _run(lambda params, budget, seed, report: returned)
    assert record["status"] == "failed"
    assert record["error"].startswith("TypeError: the objective must return a dict of metrics")


@pytest.mark.parametrize("returned", [
    {"val_acc": 0.3, "status": "diverged"},
    {"val_acc": float("nan")},
    {"val_acc": float("inf")},
    {"val_acc": np.float32("-inf")},
])
def test_diverged_trials(returned):
    record = _run(lambda params, budget, seed, report: returned)
    assert record["status"] == "diverged"
    assert record["error"] is None


@pytest.mark.parametrize("returned, said", [
    ({"loss": 0.3, "val_accuracy": 0.9}, "returned no metric 'val_acc' (it returned 'loss', 'val_accuracy'); "
                                         "did you mean 'val_accuracy'?"),
    ({"val_acc": "0.9"}, "returned metric 'val_acc' as str '0.9', not a number"),
])
def test_a_missing_or_non_numeric_metric_is_a_metric_error_not_a_divergence(returned, said):
    record = _run(lambda params, budget, seed, report: returned)
    assert record["status"] == "failed" and record["metric_error"] is True
    assert said in record["error"] and record["error"].startswith("MetricError: ")


def test_a_diverged_trial_may_lack_the_metric():
    record = _run(lambda params, budget, seed, report: {"status": "diverged"})
    assert record["status"] == "diverged" and "metric_error" not in record


def test_unknown_status_value_is_failed():
    record = _run(lambda params, budget, seed, report: {"val_acc": 0.3, "status": "exploded"})
    assert record["status"] == "failed"
    assert "'exploded'" in record["error"] and "'diverged'" in record["error"]


def test_without_a_metric_only_the_objectives_status_counts():
    record = _run(lambda params, budget, seed, report: {"other": 1.0}, metric=None)
    assert record["status"] == "ok"


def test_keyboard_interrupt_is_not_swallowed():
    def objective(params, budget, seed, report):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(objective)


def _blas_threads():
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def test_thread_limit_applies_inside_the_trial_only():
    before = _blas_threads()
    seen = {}

    def objective(params, budget, seed, report):
        seen["threads"] = _blas_threads()
        return {"val_acc": 1.0}

    _run(objective, threads=1)
    assert seen["threads"] and set(seen["threads"]) == {1}
    assert _blas_threads() == before


def test_worker_threads_shares_the_cores():
    assert worker_threads(1, cpu_count=8) == 8
    assert worker_threads(3, cpu_count=8) == 2
    assert worker_threads(16, cpu_count=8) == 1


def test_one_line_error():
    assert one_line_error(RuntimeError("a\nb")) == "RuntimeError: a b"
    assert one_line_error(StopIteration()) == "StopIteration"


def test_logbowl_peaks_at_its_optimum_and_fails_or_diverges_on_request():
    bowl = LogBowl({"lr": 1e-3, "reg": 1e-4}, fail_above={"reg": 1.0}, diverge_above={"lr": 0.1})
    assert bowl({"lr": 1e-3, "reg": 1e-4}, 1, 0)["score"] == pytest.approx(1.0)
    assert bowl({"lr": 1e-2, "reg": 1e-4}, 1, 0)["score"] == pytest.approx(math.exp(-0.5))
    assert _run(bowl, metric="score", params={"lr": 1e-3, "reg": 2.0})["status"] == "failed"
    assert _run(bowl, metric="score", params={"lr": 0.5, "reg": 1e-4})["status"] == "diverged"
    noisy = LogBowl({"lr": 1e-3}, noise=0.1)
    assert noisy({"lr": 1e-3}, 4, 11)["score"] == noisy({"lr": 1e-3}, 4, 11)["score"]
    assert noisy({"lr": 1e-3}, 4, 11)["score"] != noisy({"lr": 1e-3}, 4, 12)["score"]
    with pytest.raises(ValueError, match=r"optimum\['lr'\] must be a positive number, got 0"):
        LogBowl({"lr": 0})
    assert trivial({}, 1, 0) == {"value": 0.0}


def test_unknown_backend_names_the_choices():
    with pytest.raises(ValueError, match=r"^unknown backend 'foo'; expected one of dask, loky, multiprocessing, "
                                         r"threading$"):
        check_backend("foo")
    with pytest.raises(ValueError, match="scheduler='tcp://x:1' needs backend='dask'"):
        check_backend("loky", scheduler="tcp://x:1")
    assert uses_processes("loky") and not uses_processes("threading")


@pytest.mark.parametrize("backend", sorted(set(BACKENDS) - {"dask"}))
def test_every_local_backend_runs_trials_and_yields_each_result(backend):
    from hpsearch.execution.trial_pool import TrialPool
    from hpsearch.strategies import TrialRequest

    with TrialPool(trivial, "value", 2, backend) as pool:
        out = []
        for _ in range(2):  # the pool is reused across calls
            requests = [TrialRequest(n, 0, {}, 1, n, None, False, {}, False) for n in range(5)]
            out.append(sorted((request.number, record["number"], record["status"])
                              for request, record in pool.run(requests)))
    assert out == [[(n, n, "ok") for n in range(5)]] * 2
    with parallel_context("threading", 2) as kwargs:  # joblib's threads: the same records
        with make_parallel(2, **kwargs) as parallel:
            assert sorted(r["number"] for r in parallel(
                delayed(run_trial)(trivial, {}, 1, 0, n, 0, 1, "value") for n in range(5))) == list(range(5))
