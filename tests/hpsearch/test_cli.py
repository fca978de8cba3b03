"""The hpsearch command end to end on tiny studies (in-process through main(), plus real subprocesses)."""
import argparse
import json
import math
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from hpsearch.cli import build_parser, main
from study_fixtures import BOWL_TOML as BOWL, subprocess_env

ROOT = Path(__file__).resolve().parents[2]


MLP = """\
name = "tiny-mlp"
metric = "val_acc"
direction = "maximize"

[trainer]
dataset = "digits"
optimizer = "adam"
hidden_dims = [16]
batch_size = 128

[space]
lr = { type = "loguniform", low = 1e-3, high = 1e-2 }
activation = { type = "choice", values = ["relu", "tanh"] }

[search]
strategy = "random"
n_trials = 2
budget = 1
"""


def bowl_text(sleep=0.0, n1=12):
    """The shared LogBowl study with ``n1`` first-stage trials sleeping ``sleep`` s each, and
    a second stage of 3 epochs."""
    return (BOWL.replace("n_trials = 12", f"n_trials = {n1}").replace("sleep = 0.0", f"sleep = {sleep}")
            .replace("budget = 4", "budget = 3"))


def bowl(tmp_path, sleep=0.0, n1=12, name="bowl.toml"):
    path = tmp_path / name
    path.write_text(bowl_text(sleep, n1))
    return path




# -- run / resume / show / plot -------------------------------------------------------------

def test_run_writes_database_csv_and_plots_then_resumes(tmp_path, run_cli):
    study, out = bowl(tmp_path), tmp_path / "run"
    code, stdout, err = run_cli("run", study, "--out", out, "--n-jobs", 1, "--backend", "threading",
                                 "--quiet")
    assert code == 0, err
    assert (out / "study.db").is_file()
    table = pd.read_csv(out / "trials.csv")
    assert len(table) == 16
    assert {"number", "stage", "status", "param_lr", "param_reg", "param_act", "score", "budget", "seed",
            "duration"} <= set(table.columns)
    pngs = sorted(out.glob("*.png"))
    assert pngs and all(p.stat().st_size > 0 for p in pngs)
    assert "best score" in stdout and "boundary" in stdout
    assert str(out / "trials.csv") in stdout  # the paths written are listed

    code, stdout, err = run_cli("run", study, "--out", out, "--n-jobs", 1, "--backend", "threading")
    assert code == 0, err
    assert "resuming study 'bowl': 16 of 16 planned trials done" in stdout and "nothing left to run" in stdout
    assert len(pd.read_csv(out / "trials.csv")) == 16

    code, stdout, err = run_cli("show", out, "--top", 3)
    assert code == 0, err
    assert "16 of 16 planned trials done, complete" in stdout
    assert "top 3 trials" in stdout

    for png in pngs:
        png.unlink()
    code, stdout, err = run_cli("plot", out)
    assert code == 0, err
    assert sorted(out.glob("*.png")) == pngs


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path, run_cli):
    out = tmp_path / "run"
    code, stdout, err = run_cli("run", bowl(tmp_path), "--out", out, "--dry-run")
    assert code == 0, err
    assert "stage 0: 12 trials x 1 epochs" in stdout and "stage 1: 4 trials x 3 epochs" in stdout
    assert "total: 16 trials, 24 epochs" in stdout
    assert not out.exists()


def test_strategy_option_runs_at_equal_compute(tmp_path, monkeypatch, run_cli):
    monkeypatch.chdir(tmp_path)
    code, stdout, err = run_cli("run", bowl(tmp_path), "--strategy", "sobol", "--n-jobs", 1,
                                 "--backend", "threading", "--quiet")
    assert code == 0, err
    # another strategy is another study, in its own folder
    table = pd.read_csv(tmp_path / "runs" / "bowl-sobol" / "trials.csv")
    # 16 trials, 24 epochs -> 16 trials x round(1.5) = 2 epochs
    assert len(table) == 16 and set(table["budget"]) == {2}


def test_changed_settings_error_then_new_name_or_overwrite(tmp_path, run_cli):
    study, out = bowl(tmp_path), tmp_path / "run"
    assert run_cli("run", study, "--out", out, "--n-jobs", 1, "--backend", "threading", "--quiet")[0] == 0
    code, stdout, err = run_cli("run", study, "--out", out, "--seed", 9, "--n-jobs", 1, "--quiet")
    assert code == 2
    assert err.startswith("hpsearch: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert "seed" in err
    code, _, err = run_cli("run", study, "--out", out, "--seed", 9, "--name", "bowl-seed9",
                            "--n-jobs", 1, "--backend", "threading", "--quiet")
    assert code == 0, err
    # two studies in one database: show needs a name, or takes the one of the last run
    code, stdout, err = run_cli("show", out, "--name", "bowl")
    assert code == 0 and "study 'bowl'" in stdout
    code, stdout, err = run_cli("show", out, "--name", "nope")
    assert code == 2 and "no study named 'nope'" in err


# -- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, expected", [
    (["run", "{tmp}/missing.toml"], "missing.toml: no such study file"),
    (["run", "{bad}"], "[search] unknown key 'n_trial'; did you mean 'n_trials'?"),
    (["run", "{study}", "--strategy", "randon"], "unknown strategy 'randon'; did you mean 'random'?"),
    (["run", "{study}", "--backend", "lokky", "--out", "{tmp}/r"], "unknown backend 'lokky'"),
    (["show", "{tmp}/nothing"], "no such run folder"),
    (["show", "{tmp}"], "not a run folder"),
    (["plot", "{tmp}/nothing"], "no such run folder"),
    (["compare", "{study}", "--strategies", "grid,rand", "--out", "{tmp}/c"], "unknown strategy 'rand'"),
    (["run", "{study}", "--n-jobs", "0"], "--n-jobs"),
    (["run"], "STUDY.toml"),
    (["frobnicate"], "invalid choice"),
])
def test_user_errors_exit_2_with_one_line(tmp_path, argv, expected, run_cli):
    study = bowl(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text(bowl_text(n1=3).replace('strategy = "coarse-to-fine"',
                                                      'strategy = "coarse-to-fine"\nn_trial = 3'))
    argv = [a.format(tmp=tmp_path, study=study, bad=bad) for a in argv]
    code, stdout, err = run_cli(*argv)
    assert code == 2
    assert "Traceback" not in err
    assert expected in err
    assert err.strip().splitlines()[-1].startswith("hpsearch: error: ")


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("hpsearch ")
    assert main(["run", "--help"]) == 0
    assert "--dry-run" in capsys.readouterr().out


def test_a_bug_still_shows_its_traceback(tmp_path, capsys, monkeypatch):
    import hpsearch.studyfile.reader

    def broken(path):
        raise AttributeError("a genuine bug")

    monkeypatch.setattr(hpsearch.studyfile.reader, "load_study_file", broken)
    with pytest.raises(AttributeError, match="genuine bug"):
        main(["run", str(bowl(tmp_path))])


def test_subprocess_bad_file_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(bowl_text(n1=3).replace("budget = 3", "budget = 0"))
    proc = subprocess.run([sys.executable, "-m", "hpsearch", "run", str(bad)], cwd=tmp_path, env=subprocess_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == "hpsearch: error: bad.toml: [[search.stages]] #2 'budget' must be a positive integer, got 0\n"


def test_ctrl_c_keeps_trials_and_says_how_to_resume(tmp_path):
    study = bowl(tmp_path, sleep=0.15, n1=40, name="slow.toml")
    out = tmp_path / "run"
    # `python -m hpsearch` with SIGINT taken as Python normally does: a suite started in the
    # background (`cmd &` in a script) runs with SIGINT ignored, which exec keeps
    cmd = [sys.executable, "-c", "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
           "runpy.run_module('hpsearch', run_name='__main__', alter_sys=True)",
           "run", str(study), "--out", str(out), "--n-jobs", "1", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    db, stored, deadline = out / "study.db", 0, time.monotonic() + 90
    while stored < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=5) as conn:
                    stored = conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
            except sqlite3.OperationalError:
                pass  # the tables are being created
    assert stored >= 3, "the study did not start"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    # paths under the working folder (tmp_path) are printed relative to it
    assert last.startswith("hpsearch: interrupted: ") and "trials saved in run/study.db" in last
    assert "resume with: hpsearch run slow.toml --out run --n-jobs 1 --quiet" in last
    from hpsearch.study import load_study

    kept = len(load_study(db, "bowl"))
    assert 3 <= kept < 44
    assert len(pd.read_csv(out / "trials.csv")) == kept
    # show reports the interrupted run with the same hint
    proc = subprocess.run([sys.executable, "-m", "hpsearch", "show", str(out)], cwd=tmp_path,
                          env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"{kept} of 44 planned trials done, incomplete" in proc.stdout
    assert "resume with: hpsearch run" in proc.stdout


def test_ctrl_c_while_plotting_says_the_study_is_complete(tmp_path, monkeypatch, run_cli):
    import hpsearch.plots

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(hpsearch.plots, "save_run_plots", interrupted)
    out = tmp_path / "run"
    code, _, err = run_cli("run", bowl(tmp_path, n1=4), "--out", out, "--n-jobs", 1, "--quiet")
    assert code == 130
    assert err.strip() == (f"hpsearch: interrupted while drawing the plots; the study is complete in "
                           f"{out / 'study.db'}; draw them with: hpsearch plot {out}")
    assert len(pd.read_csv(out / "trials.csv")) == 8


# -- compare, sanity, export ----------------------------------------------------------------

def test_compare_two_strategies_two_repeats(tmp_path, run_cli):
    out = tmp_path / "cmp"
    argv = ["compare", bowl(tmp_path, n1=6), "--strategies", "random,grid", "--repeats", 2, "--out", out,
            "--n-jobs", 1, "--backend", "threading", "--quiet"]
    code, stdout, err = run_cli(*argv)
    assert code == 0, err
    assert "random" in stdout and "grid" in stdout and "Mann-Whitney U" in stdout
    runs = pd.read_csv(out / "comparison.csv")
    assert set(runs["strategy"]) == {"random", "grid"} and set(runs["repeat"]) == {0, 1}
    assert (out / "compare.db").is_file()
    assert any(out.glob("*.png"))
    # again: everything is resumed from compare.db, same table
    code, stdout2, err = run_cli(*argv)
    assert code == 0, err
    pd.testing.assert_frame_equal(pd.read_csv(out / "comparison.csv"), runs)


def test_sanity_prints_checks_and_saves_plot(tmp_path, run_cli):
    study = tmp_path / "tiny.toml"
    study.write_text(MLP)
    out = tmp_path / "run"
    code, stdout, err = run_cli("sanity", study, "--out", out)
    # a healthy small net on digits: every check passes, and the output says so with its numbers
    assert code == 0, stdout + err
    assert "configuration: activation=relu, init=he, optimizer=adam, lr=0.00316, hidden_dims=[16]" in stdout
    initial = re.search(r"\[PASS\] initial loss (\S+) with reg=0; expected ln\(10\) = 2\.3026", stdout)
    assert initial and abs(float(initial.group(1)) - math.log(10)) < 0.5
    assert "[PASS] loss rises with reg: reg=0: " in stdout
    assert re.search(r"\[PASS\] overfit 20 training samples: train acc 1\.000 after \d+ epochs", stdout)
    assert "[FAIL]" not in stdout and "all checks passed" in stdout
    assert re.search(r"^\s+1\s+relu\s+", stdout, flags=re.M)   # the per-layer table's one hidden layer
    for png in ("sanity.png", "lr_range.png"):
        assert f"wrote: {out / png}" in stdout
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the learning-rate range check's result, stored for `hpsearch dashboard` to show
    assert f"wrote: {out / 'lr_range.json'}" in stdout
    stored = json.loads((out / "lr_range.json").read_text())
    assert stored["good"] is not None and stored["good"][0] <= stored["best_lr"] <= stored["good"][1]
    assert stored["study_range"] is not None and stored["advice"]["line"].startswith("lr = ")


def test_sanity_set_checks_a_chosen_configuration(tmp_path, run_cli):
    """The lecture's contrast on one deep net: sigmoid with small init stalls, relu with he trains."""
    study = tmp_path / "deep.toml"
    study.write_text(MLP.replace("hidden_dims = [16]", "hidden_dims = [64, 64, 64, 64, 64]"))
    # --no-lr-range: this test is about babysitting's checks; the range check has tests of its own
    common = ("--set", "lr=0.01", "--set", "preprocess=standardize", "--out", tmp_path / "run", "--no-lr-range")
    code, stdout, err = run_cli("sanity", study, "--set", "activation=sigmoid", "--set", "init=small",
                                 *common)
    assert code == 1 and "[FAIL] overfit" in stdout and "gradients vanish towards the input" in stdout
    assert "activation=sigmoid, init=small" in stdout and "lr=0.01" in stdout
    code, stdout, err = run_cli("sanity", study, "--set", "activation=relu", "--set", "init=he", *common)
    assert code == 0 and "all checks passed" in stdout, stdout
    code, _, err = run_cli("sanity", study, "--set", "hidden_dims=[8, 8]", "--set", "activaton=tanh")
    assert code == 2 and "unknown setting 'activaton'; did you mean 'activation'?" in err
    code, _, err = run_cli("sanity", study, "--set", "lr")
    assert code == 2 and "--set needs KEY=VALUE, got 'lr'" in err


def test_export_to_optuna(tmp_path, run_cli):
    import optuna

    out = tmp_path / "run"
    assert run_cli("run", bowl(tmp_path, n1=4), "--out", out, "--n-jobs", 1, "--backend", "threading",
                    "--quiet")[0] == 0
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    code, stdout, err = run_cli("export", out, "--optuna", url)
    assert code == 0, err
    summaries = optuna.get_all_study_summaries(url)
    assert len(summaries) == 1 and summaries[0].n_trials == 8
    # the same run again under another Optuna name; the clash message names the option
    code, _, err = run_cli("export", out, "--optuna", url)
    assert code == 2 and "--optuna-name" in err
    code, stdout, err = run_cli("export", out, "--optuna", url, "--optuna-name", "second")
    assert code == 0, err
    assert sorted(s.study_name for s in optuna.get_all_study_summaries(url))[-1] == "second"


def test_warnings_are_one_line_and_the_callers_display_is_restored(tmp_path, run_cli):
    import warnings

    before = warnings.showwarning
    # every trial fails (lr is always above 1e-6), so the study warns that stage 1 is not narrowed
    path = bowl(tmp_path, n1=4)
    path.write_text(path.read_text().replace('sleep = 0.0', 'sleep = 0.0\nfail_above = { lr = 1e-6 }'))
    code, _, err = run_cli("run", path, "--out", tmp_path / "run", "--n-jobs", 1,
                            "--backend", "threading", "--quiet")
    assert code == 1  # and the study, whose first trials all failed alike, stopped and said so
    assert "its first 5 trials all failed with the same error" in err
    lines = [line for line in err.splitlines() if "warning:" in line]
    assert lines and all(line.startswith("hpsearch: warning: ") for line in lines)
    assert "study.py" not in err and "warnings.warn" not in err
    assert warnings.showwarning is before


def test_parser_knows_every_command():
    parser = build_parser()
    run_defaults = {"command": "run", "study": "s.toml", "out": None, "n_jobs": None, "no_plots": False,
                    "seed": None, "backend": None, "scheduler": None, "strategy": None, "name": None,
                    "quiet": False, "overwrite": False, "retry_failed": False, "dry_run": False,
                    "trial_timeout": None}
    compare_defaults = {"command": "compare", "study": "s.toml", "strategies": None, "trials": None, "repeats": 5,
                        "out": None, "n_jobs": None, "seed": None, "backend": None, "quiet": False}
    cases = [
        (["run", "s.toml"], run_defaults),
        (["run", "s.toml", "--n-jobs", "2", "--seed", "1", "--backend", "dask", "--scheduler", "tcp://127.0.0.1:8786",
          "--strategy", "tpe", "--name", "x", "--quiet", "--overwrite", "--retry-failed", "--dry-run", "--out", "d",
          "--no-plots", "--trial-timeout", "2.5"],
         dict(run_defaults, n_jobs=2, seed=1, backend="dask", scheduler="tcp://127.0.0.1:8786", strategy="tpe",
              name="x", quiet=True, overwrite=True, retry_failed=True, dry_run=True, out="d", no_plots=True,
              trial_timeout=2.5)),
        (["run", "s.toml", "--n-jobs", "-1"], dict(run_defaults, n_jobs=-1)),
        (["compare", "s.toml"], compare_defaults),
        (["compare", "s.toml", "--strategies", "grid,random", "--trials", "9", "--repeats", "3", "--out", "d",
          "--n-jobs", "1", "--seed", "4", "--backend", "threading", "--quiet"],
         dict(compare_defaults, strategies=["grid", "random"], trials=9, repeats=3, out="d", n_jobs=1, seed=4,
              backend="threading", quiet=True)),
        (["show", "d"], {"command": "show", "run_dir": "d", "top": 10, "name": None}),
        (["show", "d", "--top", "5", "--name", "n"], {"command": "show", "run_dir": "d", "top": 5, "name": "n"}),
        (["plot", "d"], {"command": "plot", "run_dir": "d", "out": None, "name": None}),
        (["plot", "d", "--out", "o", "--name", "n"], {"command": "plot", "run_dir": "d", "out": "o", "name": "n"}),
        (["sanity", "s.toml"], {"command": "sanity", "study": "s.toml", "out": None, "set": [], "no_lr_range": False}),
        (["sanity", "s.toml", "--set", "a=1", "--set", "b=x", "--out", "o", "--no-lr-range"],
         {"command": "sanity", "study": "s.toml", "out": "o", "set": ["a=1", "b=x"], "no_lr_range": True}),
        (["export", "d", "--optuna", "sqlite:///x.db"],
         {"command": "export", "run_dir": "d", "optuna": "sqlite:///x.db", "name": None, "optuna_name": None,
          "curves": "all", "quiet": False}),
        (["export", "d", "--optuna", "sqlite:///x.db", "--name", "n", "--optuna-name", "m", "--curves", "5",
          "--quiet"],
         {"command": "export", "run_dir": "d", "optuna": "sqlite:///x.db", "name": "n", "optuna_name": "m",
          "curves": 5, "quiet": True}),
        (["dashboard", "d"], {"command": "dashboard", "run_dir": "d", "host": "127.0.0.1", "port": 8080,
                              "curves": "all"}),
        (["dashboard", "d", "--host", "0.0.0.0", "--port", "0", "--curves", "none"],
         {"command": "dashboard", "run_dir": "d", "host": "0.0.0.0", "port": 0, "curves": "none"}),
        (["copy", "runs/a", "backup/a"], {"command": "copy", "run_dir": "runs/a", "dest": "backup/a"}),
    ]
    for argv, expected in cases:
        assert vars(parser.parse_args(argv)) == expected, argv
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) == {argv[0] for argv, _ in cases}   # every command is covered here


def test_show_and_a_finished_rerun_do_not_import_scipy_stats():
    # scipy.stats costs most of a second to import: `show`, `run` of a finished study and the
    # study file's checks must not pay it (the edge test imports it when it tests)
    code = ("import sys; import hpsearch.cli.view, hpsearch.cli.run, hpsearch.diagnostics.boundary, "
            "hpsearch.strategies.follow_up, hpsearch.studyfile.definition; "
            "print('scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2])))
    assert out.stdout.strip() == "False"
