"""Real searches: the NumPy MLP on the digits set, through Study, storage and load_study."""
import pandas as pd
import pytest

import hpsearch as hp
from models import MLPObjective

SPACE = {"lr": hp.LogUniform(3e-3, 3e-2), "reg": hp.LogUniform(1e-6, 1e-3)}


@pytest.fixture(scope="module")
def objective():
    return MLPObjective("digits", hidden_dims=[64])


def test_random_search_on_digits_stores_a_sensible_result(tmp_path, objective):
    db = tmp_path / "digits.db"
    res = hp.Study(objective, SPACE, metric="val_acc", storage=db, name="digits").optimize(
        n_trials=8, budget=2, n_jobs=2, seed=0)
    table = res.trials
    assert len(table) == 8 and (table.status == "ok").all()
    assert {"val_acc", "train_acc", "loss"} <= set(table.columns)
    assert list(table.columns[:5]) == ["number", "stage", "status", "param_lr", "param_reg"]
    assert res.best_value > 0.8  # two epochs of a 64-unit MLP on 8x8 digits
    assert SPACE["lr"].low <= res.best_params["lr"] <= SPACE["lr"].high
    curve = res.curves[res.best_trial["number"]]
    assert [p["epoch"] for p in curve] == [1, 2] and curve[-1]["val_acc"] == pytest.approx(res.best_value)
    loaded = hp.load_study(db, "digits")
    assert loaded.best_params == res.best_params and loaded.curves == res.curves
    assert loaded.trials.equals(res.trials)
    back = pd.read_csv(loaded.to_csv(tmp_path / "trials.csv"))
    assert back["val_acc"].tolist() == pytest.approx(table["val_acc"].tolist())


def test_coarse_to_fine_on_digits_narrows_and_improves(objective):
    wide = {"lr": hp.LogUniform(1e-5, 1.0), "reg": hp.LogUniform(1e-6, 1e-1)}
    res = hp.Study(objective, wide, metric="val_acc").coarse_to_fine(
        [hp.Stage(10, 1), hp.Stage(4, 3)], n_jobs=2, seed=0)
    first, second = res.stages
    assert (first.n_trials, first.budget, second.n_trials, second.budget) == (10, 1, 4, 3)
    low, high = second.space["lr"].low, second.space["lr"].high
    assert high / low < 1.0 / 1e-5 / 10  # at least a decade narrower than the 5 decades searched
    stage2 = res.trials[res.trials.stage == 1]
    assert stage2["param_lr"].between(low, high).all()
    ok = res.trials[res.trials.status == "ok"]
    assert ok[ok.stage == 1]["val_acc"].max() > ok[ok.stage == 0]["val_acc"].max()
    assert res.best_trial["stage"] == 1 and res.best_value > 0.85


def test_hyperband_on_digits_continues_trials_bit_identically(tmp_path, objective):
    """A promoted trial's row equals one uninterrupted run of its configuration to its budget."""
    from hpsearch.strategies import Hyperband

    res = hp.Study(objective, SPACE, metric="val_acc", storage=tmp_path / "hb" / "study.db", name="hb").run(
        Hyperband(min_budget=1, max_budget=4, eta=2, lead=False), n_jobs=2, seed=0)
    table = res.trials
    continued = table[table["continued_from"].notna()]
    assert len(continued) >= 3 and (continued["trial_epochs"] < continued["budget"]).all()
    row = continued.sort_values("budget").iloc[-1]
    params = {"lr": float(row["param_lr"]), "reg": float(row["param_reg"])}
    curve = []
    again = objective(params, int(row["budget"]), int(row["seed"]), lambda e, m: curve.append(m["val_acc"]))
    for key in ("val_acc", "best_val_acc", "train_acc", "loss"):
        assert again[key] == row[key], key
    # the rows of this configuration carry its curve in pieces that add up to the whole
    rows = [int(row["number"])]
    while not pd.isna(table.set_index("number").loc[rows[0], "continued_from"]):
        rows.insert(0, int(table.set_index("number").loc[rows[0], "continued_from"]))
    pieces = [p["val_acc"] for n in rows for p in res.curves[n]]
    assert pieces == curve
    assert not (tmp_path / "hb" / "checkpoints" / "hb").exists()  # done: nothing left to continue
