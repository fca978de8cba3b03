"""Confirmation after the search and the test set once: fresh seeds, choice by the mean, and a
test metric that nothing in the search can read."""
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import hpsearch as hp
from hpsearch import seeding
from hpsearch.cli import main
from hpsearch.objectives import LogBowl
from study_fixtures import subprocess_env

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
_spec = importlib.util.spec_from_file_location("_confirm_run", HERE / "_confirm_run.py")
confirm_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(confirm_run)


def _all_rows(res):
    rows = res.records + res.confirm_records + ([res.test_record] if res.test_record else [])
    return sorted(((r["number"], r["status"], r["seed"], r.get("role", "search"), r["metrics"].get("score"))
                   for r in rows))


@pytest.fixture(scope="module")
def confirmed():
    return confirm_run.run(confirm_run.make_study(None, "c"))


def test_the_top_configurations_are_trained_again_with_fresh_seeds(confirmed):
    plain = confirm_run.make_study(None, "p").optimize(n_trials=10, budget=3, seed=0)
    # the search itself is untouched: same table, same best, same flags
    assert confirmed.trials.drop(columns="duration").equals(plain.trials.drop(columns="duration"))
    assert confirmed.best_trial["number"] == plain.best_trial["number"]
    report = confirmed.confirmation
    assert [c["candidate"] for c in report.candidates] == [0, 1, 2]
    top3 = plain.top(3)["number"].tolist()
    assert [c["confirms"] for c in report.candidates] == top3
    search_seeds = set(confirmed.trials["seed"])
    for c in report.candidates:
        assert len(c["values"]) == 4 and not set(c["seeds"]) & search_seeds and len(set(c["seeds"])) == 4
        assert c["seeds"] == [seeding.confirm_seed(0, c["candidate"], k) for k in range(4)]
    best_mean = max(report.candidates, key=lambda c: c["mean"])
    assert report.winner["candidate"] == best_mean["candidate"]
    assert isinstance(report.within_noise, bool)


def test_only_the_winner_is_tested_once_after_the_choice(confirmed):
    test = confirmed.test_record
    assert test["role"] == "test" and test["params"] == confirmed.confirmation.winner["params"]
    assert set(confirmed.test_metrics) == {"test_score"}
    for r in confirmed.records + confirmed.confirm_records:
        assert not any(k.startswith("test_") for k in r["metrics"]), "a test metric outside the test run"
    assert "test_score" not in confirmed.trials.columns
    text = confirmed.summary()
    assert "confirmed: the top 3 configurations trained again with 4 fresh seeds at budget 3" in text
    assert "test result of the chosen configuration (never used for selection)" in text


def test_confirmation_is_the_same_for_any_n_jobs(confirmed):
    again = confirm_run.run(confirm_run.make_study(None, "c"), n_jobs=2)
    assert _all_rows(again) == _all_rows(confirmed)


def test_an_objective_without_final_is_confirmed_but_not_tested():
    bowl = LogBowl({"lr": 1e-3, "reg": 1e-4}, noise=0.05)
    res = hp.Study(bowl, confirm_run.SPACE, metric="score").optimize(n_trials=8, seed=0, confirm={"top": 2, "seeds": 2})
    assert len(res.confirm_records) == 4 and res.test_record is None and res.test_metrics is None


def test_a_finished_search_can_be_confirmed_later(tmp_path):
    db = tmp_path / "s.db"
    confirm_run.make_study(db, "later").optimize(n_trials=10, budget=3, seed=0)
    calls = []
    res = confirm_run.run(confirm_run.make_study(db, "later"), callbacks=[calls.append])
    assert len(calls) == 3 * 4 + 1 and res.extended == ["confirm.top: (absent) -> 3", "confirm.seeds: (absent) -> 4",
                                                         "confirm.test: (absent) -> True"]



def test_sigkill_during_confirmation_then_resume_gives_the_uninterrupted_rows(tmp_path, confirmed, stored_count):
    db = tmp_path / "study.db"
    env = subprocess_env()
    proc = subprocess.Popen([sys.executable, str(HERE / "_confirm_run.py"), str(db), "kill", "2", "0.03"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while stored_count(db) < 14 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    stored = stored_count(db)
    assert 10 < stored < 10 + 13, "kill it during the confirmation runs"
    res = confirm_run.run(confirm_run.make_study(db, "kill"))
    assert _all_rows(res) == _all_rows(confirmed)


@pytest.mark.parametrize("table, said", [
    ("top = 0", "[confirm] 'top' must be a positive integer, got 0"),
    ("seeds = 1.5", "[confirm] 'seeds' must be an integer"),
    ("tests = true", "[confirm] unknown key 'tests'; did you mean 'test'?"),
    ("rungs = 0", "[confirm] 'rungs' must be a positive integer, got 0"),
])
def test_bad_confirm_tables_are_one_line_errors(tmp_path, capsys, table, said):
    text = (HERE / "data" / "bowl.toml").read_text() + f"\n[confirm]\n{table}\n"
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert main(["run", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1


def test_the_progress_bar_plans_the_confirmation_and_test_epochs(monkeypatch):
    import hpsearch.execution.study_run

    bars = []

    class Recording(hpsearch.execution.study_run.ProgressBar):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(hpsearch.execution.study_run, "ProgressBar", Recording)
    res = confirm_run.run(confirm_run.make_study(None, "bar"))
    (bar,) = bars
    c = confirm_run.CONFIRM
    runs = c["top"] * c["seeds"] + 1  # and the test run
    assert len(res.confirm_records) + 1 == runs
    trained = sum(r["budget"] for r in res.records + res.confirm_records + [res.test_record])
    assert bar.planned_epochs == 10 * 3 + runs * 3 == trained  # every epoch the study trains is planned


@pytest.mark.parametrize("a, b", [([0.97, 0.98], [0.96, 0.962]), ([0.9, 0.95, 0.97, 0.91], [0.93, 0.931]),
                                  ([1.0, 1.0, 1.0], [0.5, 0.7, 0.9]), ([0.2, 0.3], [0.25, 0.26, 0.24])])
def test_welch_pvalue_is_scipys(a, b):
    from scipy.stats import ttest_ind

    from hpsearch.strategies.confirmed import welch_pvalue

    assert welch_pvalue(a, b) == pytest.approx(ttest_ind(a, b, equal_var=False).pvalue, rel=1e-9)


def test_rungs_take_the_candidates_in_turn_from_the_highest_budgets():
    from study_fixtures import CURVE, CURVE_SPACE

    def run(rungs):
        study = hp.Study(CURVE, CURVE_SPACE, metric="score", direction="maximize")
        return study.run(hp.Hyperband(min_budget=1, max_budget=9, eta=3, total_budget=150), seed=3, n_jobs=1,
                         confirm=hp.Confirmation(top=3, seeds=2, test=False, rungs=rungs))

    plain, two = run(1), run(2)
    same = ("number", "params", "metrics", "budget", "seed")   # the same search; only the candidates differ
    assert [{k: r[k] for k in same} for r in plain.records] == [{k: r[k] for k in same} for r in two.records]
    by_number = {r["number"]: r for r in two.records}
    confirmed = {r["confirms"] for r in two.confirm_records}
    budgets = sorted({by_number[n]["budget"] for n in confirmed})
    assert budgets == [3, 9]                      # the second best budget got a candidate
    assert {r["budget"] for r in two.confirm_records} == {9}   # all re-trained at the highest budget
    assert {by_number[n]["budget"] for n in {r["confirms"] for r in plain.confirm_records}} == {9}
