"""Failures that speak (issue 18): wrong metrics, broken objectives, exits inside objectives,
names, the objective's module next to its study file, studies that grow."""
import textwrap

import pytest


STUDY = """\
name = "{name}"
metric = "{metric}"
direction = "maximize"

[trainer]
objective = "{objective}"

[space]
lr = {{ type = "loguniform", low = 1e-5, high = 1e-1 }}

[search]
strategy = "random"
n_trials = {n_trials}
budget = 1
n_jobs = {n_jobs}
"""

OBJECTIVES = '''
import sys


def accuracy_only(params, budget, seed, report=None):
    return {"accuracy": 0.9}


def as_text(params, budget, seed, report=None):
    return {"score": "0.9"}


def wrong_signature(params):
    return {"score": 1.0}


def exits_above(params, budget, seed, report=None):
    if params["lr"] > 1e-3:
        sys.exit(2)
    return {"score": -abs(params["lr"] - 1e-4)}


def interrupts_above(params, budget, seed, report=None):
    if params["lr"] > 1e-3:
        raise KeyboardInterrupt
    return {"score": -abs(params["lr"] - 1e-4)}


def good(params, budget, seed, report=None):
    return {"score": -abs(params["lr"] - 1e-4)}
'''


def study(tmp_path, objective, metric="score", n_trials=8, n_jobs=1, name="s"):
    """A study file naming ``objective`` in a module that lies next to it (not on the import path)."""
    (tmp_path / "my_objectives.py").write_text(textwrap.dedent(OBJECTIVES))
    path = tmp_path / f"{name}.toml"
    path.write_text(STUDY.format(name=name, metric=metric, objective=f"my_objectives:{objective}",
                                 n_trials=n_trials, n_jobs=n_jobs))
    return path


def test_a_metric_the_trainer_does_not_return_is_caught_by_dry_run(tmp_path, run_cli):
    path = tmp_path / "mlp.toml"
    path.write_text('metric = "val_accuracy"\ndirection = "maximize"\n[trainer]\ndataset = "digits"\n'
                    '[space]\nlr = { type = "loguniform", low = 1e-4, high = 1e-1 }\n'
                    '[search]\nstrategy = "random"\nn_trials = 2\nbudget = 1\n')
    code, _, err = run_cli("run", path, "--dry-run")
    assert code == 2 and err.count("\n") == 1
    assert "'metric' 'val_accuracy' is not a metric the trainer returns" in err and "did you mean 'val_acc'?" in err


@pytest.mark.parametrize("objective, said", [
    ("accuracy_only", "returned no metric 'score' (it returned 'accuracy'); the stored trials are kept"),
    ("as_text", "returned metric 'score' as str '0.9', not a number"),
])
def test_a_metric_no_trial_returns_stops_the_study_at_the_first_trial(tmp_path, objective, said, run_cli):
    code, _, err = run_cli("run", study(tmp_path, objective), "--out", tmp_path / "r", "--quiet")
    assert code == 2 and said in err and "trial 0" in err and "Traceback" not in err
    import hpsearch as hp

    kept = hp.load_study(tmp_path / "r" / "study.db", "s")
    assert len(kept.trials) == 1 and kept.trials["status"].tolist() == ["failed"]  # the trial is kept


def test_a_broken_objective_stops_after_five_alike_failures_and_exits_1(tmp_path, run_cli):
    code, out, err = run_cli("run", study(tmp_path, "wrong_signature", n_trials=40), "--out", tmp_path / "r",
                         "--quiet")
    assert code == 1
    assert "its first 5 trials all failed with the same error" in err and "TypeError" in err
    import hpsearch as hp

    assert len(hp.load_study(tmp_path / "r" / "study.db", "s").trials) < 40


# every trial runs in a worker process, n_jobs=1 included: a KeyboardInterrupt there is the objective's, never
# the user's Ctrl-C (test_cli checks that a real SIGINT stops the study; test_isolation the first trial)
@pytest.mark.parametrize("objective, n_jobs", [("exits_above", 1), ("exits_above", 2), ("interrupts_above", 1),
                                               ("interrupts_above", 2)])
def test_sys_exit_or_ctrl_c_raised_by_an_objective_fails_only_its_trial(tmp_path, objective, n_jobs, run_cli):
    code, out, err = run_cli("run", study(tmp_path, objective, n_trials=12, n_jobs=n_jobs), "--out",
                         tmp_path / "r", "--quiet")
    assert code == 0, err
    import hpsearch as hp

    trials = hp.load_study(tmp_path / "r" / "study.db", "s").trials
    assert len(trials) == 12
    failed = trials[trials["status"] == "failed"]
    assert len(failed) and (failed["param_lr"] > 1e-3).all() and (trials[trials["status"] == "ok"]["param_lr"] <= 1e-3).all()
    assert failed["error"].str.startswith("SystemExit" if objective == "exits_above" else "KeyboardInterrupt").all()


@pytest.mark.parametrize("name", ["../../x", "a b", ".hidden", "x/y"])
def test_a_study_name_that_is_not_a_folder_name_is_refused(tmp_path, name, run_cli):
    code, _, err = run_cli("run", study(tmp_path, "good"), "--name", name, "--dry-run")
    assert code == 2 and "the study name must be letters, digits" in err and name in err


def test_a_grown_study_runs_only_the_new_trials_and_says_so(tmp_path, run_cli):
    out_dir = tmp_path / "r"
    assert run_cli("run", study(tmp_path, "good", n_trials=6), "--out", out_dir, "--quiet")[0] == 0
    code, out, err = run_cli("run", study(tmp_path, "good", n_trials=10), "--out", out_dir, "--quiet")
    assert code == 0, err
    assert "extended study 's', its stored trials kept: stages.0.n_trials: 6 -> 10" in out
    assert "study 's': 10 trials (10 ok" in out
