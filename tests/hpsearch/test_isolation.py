"""Trials the objective cannot hurt the study from (issue 29): the first trial isolated like the
others, per-trial timeouts, and no worker outliving its study. Each case runs the real CLI in
a subprocess, since what it checks (exit codes, signals, a process's working folder) is the
process's own."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from study_fixtures import subprocess_env

ROOT = Path(__file__).resolve().parents[2]

STUDY = """\
name = "s"
metric = "score"
direction = "maximize"

[trainer]
objective = "hostile:{objective}"

[space]
lr = {{ type = "loguniform", low = 1e-5, high = 1e-1 }}

[search]
strategy = "random"
n_trials = {n_trials}
budget = 1
{extra}
"""

# trial 0 (the probe of --n-jobs auto) draws lr = 0.0024 with seed 0: every hostile act hits it
OBJECTIVES = '''
import ctypes
import os
import sys
import time


def _score(params):
    return {"score": -abs(params["lr"] - 1e-4)}


def exits_hard(params, budget, seed, report=None):
    if params["lr"] > 1e-3:
        os._exit(0)
    return _score(params)


def interrupts(params, budget, seed, report=None):
    if params["lr"] > 1e-3:
        raise KeyboardInterrupt
    return _score(params)


def exits(params, budget, seed, report=None):
    if params["lr"] > 1e-3:
        sys.exit(3)
    return _score(params)


def segfaults(params, budget, seed, report=None):
    if params["lr"] > 1e-3:
        ctypes.string_at(0)
    return _score(params)


def moves(params, budget, seed, report=None):
    os.makedirs("elsewhere", exist_ok=True)
    os.chdir("elsewhere")
    return _score(params)


def hangs(params, budget, seed, report=None):
    if params["lr"] > 1e-3:
        time.sleep(120)
    return _score(params)


def always_hangs(params, budget, seed, report=None):
    time.sleep(120)


def tells_pid_and_sleeps(params, budget, seed, report=None):
    with open(os.path.join(os.environ["PID_DIR"], str(os.getpid())), "w"):
        pass
    time.sleep(120)
    return _score(params)
'''


def env():
    return subprocess_env()


def study(tmp_path, objective, n_trials=6, extra=""):
    (tmp_path / "hostile.py").write_text(textwrap.dedent(OBJECTIVES))
    path = tmp_path / f"{objective}.toml"
    path.write_text(STUDY.format(objective=objective, n_trials=n_trials, extra=extra))
    return path


def hpsearch(tmp_path, *args, timeout=120):
    """``python -m hpsearch ARGS`` in ``tmp_path`` -> CompletedProcess (relative paths stay relative)."""
    return subprocess.run([sys.executable, "-m", "hpsearch", *map(str, args)], cwd=tmp_path, env=env(),
                          capture_output=True, text=True, timeout=timeout)


def table(folder):
    return pd.read_csv(folder / "trials.csv").drop(columns=["duration", "start", "end"], errors="ignore")


JOBS = {"auto": (), "1": ("--n-jobs", "1"), "2": ("--n-jobs", "2")}


@pytest.mark.parametrize("objective, error", [
    ("exits_hard", "WorkerDied: the worker process running this trial died: it exited with code 0"),
    ("segfaults", "WorkerDied: the worker process running this trial died: killed by SIGSEGV"),
    ("interrupts", "KeyboardInterrupt"),
    ("exits", "SystemExit: 3"),
])
def test_an_objective_that_kills_or_exits_fails_only_its_trial_for_every_n_jobs(tmp_path, objective, error):
    path = study(tmp_path, objective)
    tables = {}
    for jobs, flags in JOBS.items():
        proc = hpsearch(tmp_path, "run", path.name, "--out", f"r{jobs}", "--quiet", "--no-plots", *flags)
        assert proc.returncode == 0, (jobs, proc.stderr)
        assert "Traceback" not in proc.stderr
        tables[jobs] = t = table(tmp_path / f"r{jobs}")
        failed = t[t["status"] == "failed"]
        assert len(t) == 6 and 0 in failed["number"].tolist(), jobs  # the first trial too
        assert (failed["param_lr"] > 1e-3).all() and (t[t["status"] == "ok"]["param_lr"] <= 1e-3).all()
        assert failed["error"].str.startswith(error).all(), failed["error"].tolist()
    assert tables["auto"].equals(tables["1"]) and tables["1"].equals(tables["2"])


@pytest.mark.parametrize("jobs", sorted(JOBS))
def test_an_objective_that_changes_folder_moves_no_output(tmp_path, jobs):
    proc = hpsearch(tmp_path, "run", study(tmp_path, "moves").name, "--out", "r", "--quiet", *JOBS[jobs])
    assert proc.returncode == 0, proc.stderr
    assert len(table(tmp_path / "r")) == 6
    # the path printed is the one written, relative to the folder the command started in
    assert "  r/trials.csv\n" in proc.stdout
    assert (tmp_path / "r" / "slices.png").is_file() and not (tmp_path / "elsewhere" / "r").exists()


def test_threading_fails_only_the_trial_that_raises_keyboard_interrupt_in_a_worker_thread(tmp_path):
    path = study(tmp_path, "interrupts")
    proc = hpsearch(tmp_path, "run", path.name, "--out", "t", "--backend", "threading", "--n-jobs", "2", "--quiet",
                    "--no-plots")
    assert proc.returncode == 0, proc.stderr
    assert hpsearch(tmp_path, "run", path.name, "--out", "p", "--n-jobs", "2", "--quiet",
                    "--no-plots").returncode == 0
    assert table(tmp_path / "t").equals(table(tmp_path / "p"))


# ---------------------------------------------------------------------- timeouts
def test_a_trial_past_its_timeout_fails_and_the_study_goes_on_and_resumes_without_it(tmp_path):
    path = study(tmp_path, "hangs")
    start = time.monotonic()
    proc = hpsearch(tmp_path, "run", path.name, "--out", "r", "--trial-timeout", "1.5", "--n-jobs", "2", "--quiet",
                    "--no-plots")
    took = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    t = table(tmp_path / "r")
    failed = t[t["status"] == "failed"]
    assert len(t) == 6 and len(failed) == 3 and (failed["param_lr"] > 1e-3).all()
    assert failed["error"].eq("TrialTimeout: timed out after 1.5 s (its worker was stopped)").all()
    assert took < 60  # three trials of 120 s each were stopped
    durations = pd.read_csv(tmp_path / "r" / "trials.csv").set_index("number")["duration"]
    assert (durations[failed["number"]] >= 1.5).all()
    # resuming reruns nothing: the timed-out trials are stored as they ended
    proc = hpsearch(tmp_path, "run", path.name, "--out", "r", "--trial-timeout", "1.5", "--n-jobs", "2",
                    "--no-plots")
    assert proc.returncode == 0, proc.stderr
    assert "6 of 6 planned trials done" in proc.stdout
    assert table(tmp_path / "r").equals(t)


def test_the_study_file_key_sets_the_timeout_and_timeouts_count_for_fail_fast(tmp_path):
    path = study(tmp_path, "always_hangs", n_trials=20, extra="trial_timeout = 0.5")
    proc = hpsearch(tmp_path, "run", path.name, "--out", "r", "--n-jobs", "2", "--quiet", "--no-plots")
    assert proc.returncode == 1, proc.stderr
    assert "its first 5 trials all failed with the same error" in proc.stderr
    assert "TrialTimeout: timed out after 0.5 s" in proc.stderr


@pytest.mark.parametrize("extra, said", [
    ("trial_timeout = -1", "[search] 'trial_timeout' must be a positive number of seconds, got -1"),
    ('trial_timeout = "1m"', "[search] 'trial_timeout' must be a number, got '1m'"),
    ('trial_timeout = 5\nbackend = "threading"', "[search] 'trial_timeout' needs a backend whose workers hpsearch "
                                                 "can stop (loky or multiprocessing), got backend='threading'"),
])
def test_a_bad_timeout_in_a_study_file_is_one_line_at_dry_run(tmp_path, extra, said, run_cli):
    code, _, err = run_cli("run", study(tmp_path, "hangs", extra=extra), "--dry-run")
    assert code == 2 and said in err and err.count("\n") == 1, err


def test_a_timeout_on_the_command_line_with_threads_is_refused(tmp_path, run_cli):
    code, _, err = run_cli("run", study(tmp_path, "hangs"), "--out", tmp_path / "r", "--backend", "threading",
                           "--trial-timeout", "3")
    assert code == 2 and "error: trial_timeout needs a backend whose workers hpsearch can stop" in err
    code, _, err = run_cli("run", study(tmp_path, "hangs"), "--trial-timeout", "0")
    assert code == 2 and "--trial-timeout: expected a positive number of seconds, got '0'" in err


def test_the_python_keyword_is_trial_timeout():
    import hpsearch as hp

    def hangs_above(params, budget, seed, report=None):
        if params["lr"] > 1e-2:
            time.sleep(120)
        return {"score": params["lr"]}

    res = hp.Study(hangs_above, {"lr": hp.LogUniform(1e-4, 1e-1)}, metric="score").optimize(
        n_trials=6, seed=0, n_jobs=2, trial_timeout=1)
    late = res.trials[res.trials["param_lr"] > 1e-2]
    assert len(late) and late["error"].str.startswith("TrialTimeout: timed out after 1 s").all()
    assert (res.trials[res.trials["param_lr"] <= 1e-2]["status"] == "ok").all()
    with pytest.raises(ValueError, match="^trial_timeout must be a positive number of seconds, got 0$"):
        hp.Study(hangs_above, {"lr": hp.LogUniform(1e-4, 1e-1)}, metric="score").optimize(trial_timeout=0)


# ---------------------------------------------------------------------- orphans
def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie nobody has reaped yet is dead too
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def test_workers_end_within_seconds_of_a_killed_study(tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    path = study(tmp_path, "tells_pid_and_sleeps")
    proc = subprocess.Popen([sys.executable, "-m", "hpsearch", "run", path.name, "--out", "r", "--n-jobs", "2",
                             "--quiet"], cwd=tmp_path, env={**env(), "PID_DIR": str(pids)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = [int(p.name) for p in pids.iterdir()]
        assert len(workers) == 2, "the workers did not start"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers)
    finally:
        proc.kill()
        for pid in [int(p.name) for p in pids.iterdir()]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_script_without_a_main_guard_runs_its_trials_in_workers(tmp_path):
    # the workers never run the script's __main__ again (loky's way of starting them), and an
    # objective defined in it reaches them by value (cloudpickle)
    (tmp_path / "script.py").write_text(textwrap.dedent('''
        import os
        import hpsearch as hp

        def objective(params, budget, seed, report=None):
            return {"score": -params["lr"], "pid": float(os.getpid())}

        res = hp.Study(objective, {"lr": hp.LogUniform(1e-4, 1e-1)}, metric="score").optimize(
            n_trials=4, seed=0, backend="loky")
        print(res.trials["status"].tolist(), os.getpid() in res.trials["pid"].tolist())
    '''))
    proc = subprocess.run([sys.executable, "script.py"], cwd=tmp_path, env=env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "['ok', 'ok', 'ok', 'ok'] False\n"


def test_one_job_in_python_runs_in_this_process_unless_isolation_is_asked_for():
    """Optuna's and scikit-learn's habit: n_jobs=1 runs the objective here (a debugger works,
    its side effects are seen); a process backend, a trial_timeout or n_jobs="auto" isolate."""
    import os

    import hpsearch as hp

    def objective(params, budget, seed, report=None):
        return {"score": -params["lr"], "pid": float(os.getpid())}

    study = hp.Study(objective, {"lr": hp.LogUniform(1e-4, 1e-1)}, metric="score")
    here = study.optimize(n_trials=2, seed=0)
    assert set(here.trials["pid"]) == {os.getpid()}
    for options in (dict(backend="loky"), dict(trial_timeout=60)):
        isolated = hp.Study(objective, {"lr": hp.LogUniform(1e-4, 1e-1)}, metric="score").optimize(
            n_trials=2, seed=0, **options)
        assert os.getpid() not in set(isolated.trials["pid"]), options
        assert isolated.trials["score"].tolist() == here.trials["score"].tolist()


def test_the_next_study_of_a_process_reuses_its_workers_and_they_end_with_it(tmp_path):
    # a SearchCV.fit after another must not pay for fresh interpreters again (scikit-learn's
    # loky executor is reused too); the second study gets its own objective, and the parked
    # workers do not keep the script from ending
    (tmp_path / "twice.py").write_text(textwrap.dedent('''
        import os
        import hpsearch as hp

        def first(params, budget, seed, report=None):
            return {"score": 1.0, "pid": float(os.getpid())}

        def second(params, budget, seed, report=None):
            return {"score": 2.0, "pid": float(os.getpid())}

        space = {"lr": hp.LogUniform(1e-4, 1e-1)}
        one = hp.Study(first, space, metric="score").optimize(n_trials=6, seed=0, n_jobs=2, backend="loky")
        two = hp.Study(second, space, metric="score").optimize(n_trials=6, seed=0, n_jobs=2, backend="loky")
        pids = set(one.trials["pid"].astype(int))
        print(sorted(set(two.trials["score"])), set(two.trials["pid"].astype(int)) == pids, len(pids))
        print(" ".join(map(str, sorted(pids))))
    '''))
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "twice.py"], cwd=tmp_path, env=env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    first_line, pids = proc.stdout.splitlines()
    assert first_line == "[2.0] True 2"
    assert time.monotonic() - started < 60   # not the parked workers' 300 s
    deadline = time.monotonic() + 5
    while any(_alive(int(pid)) for pid in pids.split()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(int(pid)) for pid in pids.split())
