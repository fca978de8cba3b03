"""Counts and messages a user relies on (issue 29, item 8)."""
import errno
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

import hpsearch as hp
from hpsearch.errors import StudyInterrupted
from hpsearch.objectives import LearningCurve, LogBowl
from study_fixtures import subprocess_env

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve()

STUDY = """\
name = "msg"
metric = "score"
direction = "maximize"

[trainer]
objective = "hpsearch.objectives:LearningCurve"
[trainer.settings]
optimum = { lr = 3e-3 }
sleep = SLEEP

[space]
lr = { type = "loguniform", low = 1e-4, high = 1e-1 }

[search]
strategy = "random"
n_trials = 6
budget = 2

[confirm]
top = 2
seeds = 2
"""


def study_file(tmp_path, sleep=0.0):
    path = tmp_path / "msg.toml"
    path.write_text(STUDY.replace("SLEEP", str(sleep)))
    return path


def env():
    return subprocess_env()


def test_resuming_a_finished_study_counts_by_role_and_draws_nothing_again(tmp_path, run_cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    study_file(tmp_path)
    code, out, err = run_cli("run", "msg.toml", "--n-jobs", 1, "--quiet")
    assert code == 0, err
    folder = tmp_path / "runs" / "msg"
    plots = {p: p.stat().st_mtime_ns for p in folder.glob("*.png")}
    assert plots
    # the tables too: a finished run asked again writes nothing (nor imports pandas to do so)
    plots.update({p: p.stat().st_mtime_ns for p in (folder / "trials.csv", folder / "confirmation.csv")})
    for _ in range(2):
        code, out, err = run_cli("run", "msg.toml", "--n-jobs", 1)
        assert code == 0, err
        assert ("resuming study 'msg': 6 of 6 search trials done; confirmation and test done in "
                "runs/msg/study.db; nothing left to run") in out
        assert "nothing new since the last run: its plots in runs/msg are up to date" in out
        assert {p: p.stat().st_mtime_ns for p in plots} == plots   # not drawn or written again
        assert "runs/msg/trials.csv" in out and "runs/msg/confirmation.csv" in out
    code, out, _ = run_cli("show", "runs/msg")
    assert "6 of 6 search trials done; confirmation and test done, complete" in out


def test_show_is_complete_only_once_confirmation_and_test_are_stored(tmp_path, run_cli, monkeypatch):
    import sqlite3

    monkeypatch.chdir(tmp_path)
    study_file(tmp_path)
    assert run_cli("run", "msg.toml", "--n-jobs", 1, "--quiet", "--no-plots")[0] == 0
    db = tmp_path / "runs" / "msg" / "study.db"
    with sqlite3.connect(db) as conn:   # as a kill during the test run leaves it
        conn.execute("DELETE FROM trials WHERE number = (SELECT MAX(number) FROM trials)")
    code, out, _ = run_cli("show", "runs/msg")
    assert "6 of 6 search trials done; confirmation 4 of 4 runs done, test pending, incomplete" in out
    assert "resume with: hpsearch run msg.toml" in out
    with sqlite3.connect(db) as conn:   # ... and a kill during confirmation
        conn.execute("DELETE FROM trials WHERE number >= 8")
    code, out, _ = run_cli("show", "runs/msg")
    assert "confirmation 2 of 4 runs done, test pending, incomplete" in out


def test_ctrl_c_during_confirmation_counts_every_stored_trial(tmp_path):
    # the callback stops the study at its 9th trial: 6 search + 2 confirmation runs are stored
    stored = []

    def stop(record):
        stored.append(record)
        if len(stored) == 8:
            raise KeyboardInterrupt
    study = hp.Study(LearningCurve({"lr": 3e-3}), {"lr": hp.LogUniform(1e-4, 1e-1)},
                     metric="score", storage=tmp_path / "s.db", name="c")
    with pytest.raises(StudyInterrupted) as info:
        study.optimize(n_trials=6, budget=2, confirm={"top": 2, "seeds": 2}, callbacks=[stop])
    assert info.value.result.stored_count() == 8 and len(info.value.result) == 6


def test_sigterm_stops_like_ctrl_c_and_exits_143_with_a_message(tmp_path):
    study_file(tmp_path, sleep=0.3)
    proc = subprocess.Popen([sys.executable, "-m", "hpsearch", "run", "msg.toml", "--n-jobs", "1", "--quiet"],
                            cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    db = tmp_path / "runs" / "msg" / "study.db"
    deadline = time.monotonic() + 60
    while not (db.exists() and db.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("hpsearch: terminated (SIGTERM): ") and "trials saved in runs/msg/study.db; resume with: " \
        "hpsearch run msg.toml --n-jobs 1 --quiet" in last, err


def test_a_refused_second_run_leaves_run_json_alone(tmp_path, run_cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    study_file(tmp_path)
    assert run_cli("run", "msg.toml", "--n-jobs", 1, "--quiet", "--no-plots")[0] == 0
    info = (tmp_path / "runs" / "msg" / "run.json").read_text()
    (tmp_path / "msg.toml").write_text(STUDY.replace("SLEEP", "0.0").replace("high = 1e-1", "high = 1e-2"))
    code, _, err = run_cli("run", "msg.toml", "--n-jobs", 2, "--quiet")    # other settings: refused
    assert code == 2 and "--overwrite" in err, err
    assert (tmp_path / "runs" / "msg" / "run.json").read_text() == info


def test_a_stored_name_in_a_pasteable_command_is_shell_quoted(tmp_path, run_cli):
    folder = tmp_path / "cmp"
    for name in ("a;rm -rf ~", "b"):
        hp.Study(LogBowl({"lr": 1e-3}), {"lr": hp.LogUniform(1e-5, 1e-1)}, metric="score",
                 storage=folder / "compare.db", name=name).optimize(n_trials=2)
    code, _, err = run_cli("show", folder)
    assert code == 2 and "(e.g. --name 'a;rm -rf ~')" in err, err


def test_a_full_disk_error_names_the_file(tmp_path, run_cli, monkeypatch):
    from hpsearch.storage import safe_files

    monkeypatch.chdir(tmp_path)
    study_file(tmp_path)

    def full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(safe_files.os, "replace", full)
    code, _, err = run_cli("run", "msg.toml", "--n-jobs", 1, "--quiet", "--no-plots")
    assert code == 2 and err == "hpsearch: error: runs/msg/run.json: No space left on device\n", err


def test_the_no_checkpoint_warning_points_at_the_objective(tmp_path):
    def objective(params, budget, seed, report=None):   # no 'checkpoint' parameter
        return {"score": LogBowl({"lr": 1e-3}).score(params)}
    study = hp.Study(objective, {"lr": hp.LogUniform(1e-5, 1e-1)}, metric="score", name="w")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study.run(hp.SuccessiveHalving(min_budget=1, max_budget=3, eta=3), n_jobs=1)
    [warning] = [w for w in caught if "cannot continue trials from checkpoints" in str(w.message)]
    assert warning.filename == str(HERE)


def test_joblib_advice_about_cancelled_tasks_never_reaches_the_user():
    stopped = []

    def stop(record):
        stopped.append(record)
        raise KeyboardInterrupt
    study = hp.Study(LogBowl({"lr": 1e-3}, sleep=0.3), {"lr": hp.LogUniform(1e-5, 1e-1)}, metric="score", name="j")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(StudyInterrupted):
            study.optimize(n_trials=8, n_jobs=2, backend="threading", callbacks=[stop])
    assert stopped and not [w for w in caught if "tasks" in str(w.message)], [str(w.message) for w in caught]


def test_run_and_compare_help_name_every_strategy(run_cli, monkeypatch):
    from hpsearch.strategies.planning import STRATEGIES

    monkeypatch.setenv("COLUMNS", "1000")   # one line per option: no name broken at its hyphen
    _, run_help, _ = run_cli("run", "--help")
    _, compare_help, _ = run_cli("compare", "--help")
    strategy_help = run_help.split("\n  --strategy S", 1)[1].split("\n  --")[0]   # the option's own text
    strategies_help = compare_help.split("\n  --strategies LIST", 1)[1].split("\n  --")[0]
    for name in STRATEGIES:
        assert name in strategy_help and name in strategies_help, name
    assert "0.1 name" not in compare_help and "--budget" not in compare_help


def test_a_study_whose_objective_cannot_test_is_complete_after_its_confirmation(tmp_path, run_cli):
    # confirm's test defaults to True, which means "when the objective can": LogBowl has no 'final'
    study = hp.Study(LogBowl({"lr": 1e-3}), {"lr": hp.LogUniform(1e-5, 1e-1)}, metric="score",
                     storage=tmp_path / "study.db", name="py")
    study.optimize(n_trials=4, budget=1, confirm={"top": 2, "seeds": 2})
    code, out, _ = run_cli("show", tmp_path)
    assert code == 0 and "4 of 4 search trials done; confirmation done, complete" in out, out
