"""SearchResult: the trials table, best over ok trials, CSV, summary, reading from storage."""
import math

import pandas as pd
import pytest

from hpsearch.errors import StorageError
from hpsearch.results.search_result import SearchResult, StageRecord
from hpsearch.space import Space
from hpsearch.distributions import Choice, LogUniform
from hpsearch.storage.storage import Storage


def _record(number, status, acc, lr=1e-3, hidden=(50,), stage=0, **metrics):
    return {"number": number, "stage": stage, "status": status, "params": {"lr": lr, "hidden": list(hidden)},
            "metrics": ({"val_acc": acc} if acc is not None else {}) | metrics, "budget": 2, "seed": 100 + number,
            "start": 0.0, "end": 1.0, "duration": 1.0, "error": "ValueError: x" if status == "failed" else None,
            "curve": [{"epoch": 1, "val_acc": acc}] if acc is not None else []}


RECORDS = [
    _record(2, "ok", 0.7, lr=1e-2, hidden=(100,), loss=0.4),
    _record(0, "ok", 0.5, loss=0.9, train_acc=0.6),
    _record(1, "diverged", float("nan"), lr=1.0),
    _record(3, "failed", None),
    _record(4, "diverged", 0.99),  # the objective said diverged: never best, whatever its value
]


def test_trials_table_columns_order_and_types():
    res = SearchResult(RECORDS, "val_acc", "maximize", "demo", param_names=["lr", "hidden"])
    assert list(res.trials.columns) == ["number", "stage", "status", "param_lr", "param_hidden", "val_acc",
                                        "loss", "train_acc", "budget", "trial_epochs", "study_epochs", "seed",
                                        "duration", "error"]
    assert res.trials["number"].tolist() == [0, 1, 2, 3, 4]
    assert res.trials["param_hidden"].tolist() == [[50], [50], [100], [50], [50]]  # lists stay whole
    assert math.isnan(res.trials.loc[3, "val_acc"])  # a failed trial has no metrics
    assert res.trials["error"].tolist()[3] == "ValueError: x"
    assert res.trials["seed"].tolist() == [100, 101, 102, 103, 104]
    assert res.curves[2] == [{"epoch": 1, "val_acc": 0.7}]
    assert res.counts() == {"ok": 2, "diverged": 2, "failed": 1}


def test_best_is_over_ok_trials_in_the_study_direction():
    res = SearchResult(RECORDS, "val_acc", "maximize", "demo")
    assert res.best_value == 0.7 and res.best_trial["number"] == 2
    assert res.best_params == {"lr": 1e-2, "hidden": [100]}
    low = SearchResult(RECORDS, "val_acc", "minimize", "demo")
    assert low.best_value == 0.5 and low.best_params["lr"] == 1e-3
    assert low.top(5)["number"].tolist() == [0, 2]


def test_no_ok_trial_means_no_best():
    res = SearchResult([r for r in RECORDS if r["status"] != "ok"], "val_acc", "maximize", "demo")
    assert res.best_trial is None and res.best_params is None and res.best_value is None
    assert "no trial finished ok" in res.summary()


def test_empty_result_still_has_the_columns():
    res = SearchResult([], "val_acc", "maximize", "demo", param_names=["lr"])
    assert list(res.trials.columns) == ["number", "stage", "status", "param_lr", "val_acc", "budget",
                                        "trial_epochs", "study_epochs", "seed", "duration", "error"]
    assert len(res) == 0


def test_to_csv_round_trip(tmp_path):
    res = SearchResult(RECORDS, "val_acc", "maximize", "demo", param_names=["lr", "hidden"])
    path = res.to_csv(tmp_path / "out" / "trials.csv")
    back = pd.read_csv(path)
    assert list(back.columns) == list(res.trials.columns)
    assert back["val_acc"].tolist()[0] == 0.5 and back["status"].tolist() == res.trials["status"].tolist()


def test_summary_lists_best_trials_and_stages():
    space = Space({"lr": LogUniform(1e-4, 1e-1), "hidden": Choice([[50], [100]])})
    stages = [StageRecord(0, space, "RandomSampler()", 3, 2), StageRecord(1, space, "RandomSampler()", 2, 5)]
    text = SearchResult(RECORDS, "val_acc", "maximize", "demo", ["lr", "hidden"], stages).summary(top=1)
    assert "5 trials (2 ok, 2 diverged, 1 failed)" in text
    assert "best val_acc = 0.7 (trial 2)" in text
    assert "top 1 trials:" in text and "stages:" in text
    assert "failures (1 trials):\n  1 x ValueError: x (trial 3)" in text


def _stored(storage):
    space = Space({"lr": LogUniform(1e-4, 1e-1), "hidden": Choice([[50], [100]])})
    spec = {"space": space.to_dict(), "metric": "val_acc", "direction": "maximize"}
    study_id = storage.open_study("demo", spec)
    storage.save_stage(study_id, 0, space.to_dict(), "RandomSampler()", 5, 2)
    for record in RECORDS:
        storage.save_trial(study_id, record)
    return study_id, space


def test_from_storage_by_name_and_id_and_path(tmp_path):
    path = tmp_path / "s.db"
    with Storage(path) as storage:
        study_id, space = _stored(storage)
        by_id = SearchResult.from_storage(storage, study_id)
    res = SearchResult.from_storage(path, "demo")
    for r in (res, by_id):
        assert r.name == "demo" and r.best_value == 0.7
        assert r.stages == [StageRecord(0, space, "RandomSampler()", 5, 2)]
        assert r.trials.drop(columns="duration").equals(
            SearchResult(RECORDS, "val_acc", "maximize", "demo", ["lr", "hidden"]).trials.drop(columns="duration"))


def test_from_storage_errors(tmp_path):
    with pytest.raises(StorageError, match="does not exist"):
        SearchResult.from_storage(tmp_path / "nope.db", "demo")
    assert not (tmp_path / "nope.db").exists()
    path = tmp_path / "s.db"
    with Storage(path) as storage:
        _stored(storage)
    with pytest.raises(StorageError, match=r"unknown study 'other'.*demo"):
        SearchResult.from_storage(path, "other")


def test_summary_says_when_a_study_is_too_small_to_test_edges():
    import hpsearch as hp

    space = {"lr": hp.LogUniform(1e-6, 1e-3), "x": hp.Uniform(0.0, 1.0)}
    bowl = lambda params, budget, seed, report: {"loss": (math.log10(params["lr"]) + 4.5) ** 2}  # noqa: E731
    small = hp.Study(bowl, space, metric="loss", direction="minimize").optimize("random", 12, seed=0)
    line = [t for t in small.summary().splitlines() if "too few" in t]
    u = space["lr"].to_unit(small.best_params["lr"])
    assert line == [f"12 trials: too few to test edges (the edge test needs about 20); no best value sits in the "
                    f"outer 5% of its range; the best trial has lr at {u:.0%} and x at "
                    f"{small.best_params['x']:.0%} of their ranges (log scale for log ranges)"]
    large = hp.Study(bowl, space, metric="loss", direction="minimize").optimize("random", 20, seed=0)
    assert "too few" not in large.summary()
