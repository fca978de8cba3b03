"""Resume = deterministic replay: killed, interrupted and failed studies end with the table
an uninterrupted run with the same seed produces."""
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import hpsearch as hp
from hpsearch import seeding
from hpsearch.errors import StudyInterrupted, StudyMismatchError
from hpsearch.storage.storage import Storage
from study_fixtures import BOWL, SPACE, subprocess_env

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
_spec = importlib.util.spec_from_file_location("_study_run", HERE / "_study_run.py")
study_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(study_run)



def _table(res):
    return res.trials.drop(columns="duration")


# ---------------------------------------------------------------------- subprocess helpers
def _start(db, name, n_trials, n_jobs, sleep):
    env = subprocess_env()
    return subprocess.Popen([sys.executable, str(HERE / "_study_run.py"), str(db), name, str(n_trials),
                             str(n_jobs), str(sleep)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for_trials(proc, db, at_least, stored_count, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"study process ended early ({proc.returncode}): {out}\n{err}")
        count = stored_count(db)
        if count >= at_least:
            return count
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"fewer than {at_least} trials stored after {timeout} s")


@pytest.fixture(scope="module")
def reference():
    """The uninterrupted run (in memory) every resumed run must reproduce."""
    return study_run.make_study(None, "ref").optimize(n_trials=40, budget=2, seed=0)


def _check_like_reference(res, reference, db, name):
    assert res.trials["number"].tolist() == list(range(40))  # same count, no duplicates
    assert _table(res).equals(_table(reference))
    assert _table(hp.load_study(db, name)).equals(_table(reference))


def test_sigkill_mid_run_then_resume_gives_the_uninterrupted_table(tmp_path, reference, stored_count):
    db = tmp_path / "study.db"
    proc = _start(db, "kill", 40, 2, 0.1)
    _wait_for_trials(proc, db, 6, stored_count)
    # kill -9 the study and its loky workers at once (its own process group), as a crash would
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    stored = stored_count(db)
    assert 6 <= stored < 40
    # the dead process's lease is taken over; only the missing trials run
    calls = []
    res = study_run.make_study(db, "kill").optimize(n_trials=40, budget=2, seed=0, callbacks=[calls.append])
    assert len(calls) == 40 - stored
    _check_like_reference(res, reference, db, "kill")


def test_sigint_keeps_finished_trials_and_exits_quickly(tmp_path, reference, stored_count):
    db = tmp_path / "study.db"
    proc = _start(db, "int", 40, 2, 0.1)
    _wait_for_trials(proc, db, 4, stored_count)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    reported = json.loads(out.strip().splitlines()[-1])["interrupted"]
    stored = stored_count(db)
    assert 4 <= reported == stored < 40  # the partial result holds exactly what was stored
    res = study_run.make_study(db, "int").optimize(n_trials=40, budget=2, seed=0, n_jobs=2)
    _check_like_reference(res, reference, db, "int")


# ---------------------------------------------------------------------- in-process interruptions
class InterruptAt:
    """Delegates to ``objective`` but raises KeyboardInterrupt at (stage, number) of seed ``seed``."""

    def __init__(self, objective, seed, stage, number):
        self.objective, self.stop_seed = objective, seeding.trial_seed(seed, stage, number)
        self.calls = 0

    def get_params(self):
        return self.objective.get_params()

    def __call__(self, params, budget, seed, report=None):
        if seed == self.stop_seed:
            raise KeyboardInterrupt
        self.calls += 1
        return self.objective(params, budget, seed, report)


# backend="threading" with one job runs the objective in this process: its KeyboardInterrupt is a
# Ctrl-C, and the calls it counts are counted here (every other backend runs trials in workers)
IN_PROCESS = {"backend": "threading"}


def test_coarse_to_fine_resumes_inside_the_second_stage(tmp_path):
    stages = [hp.Stage(20, 1), hp.Stage(10, 2)]
    fresh = hp.Study(BOWL, SPACE, metric="score").coarse_to_fine(stages, seed=2)
    db = tmp_path / "c2f.db"
    with pytest.raises(StudyInterrupted) as info:
        hp.Study(InterruptAt(BOWL, 2, 1, 24), SPACE, metric="score", storage=db, name="c").coarse_to_fine(
            stages, seed=2, **IN_PROCESS)
    assert info.value.result.trials["number"].tolist() == list(range(24))
    assert len(info.value.result.stages) == 2
    counting = InterruptAt(BOWL, 2, 9, 9)  # never interrupts; counts the calls
    res = hp.Study(counting, SPACE, metric="score", storage=db, name="c").coarse_to_fine(stages, seed=2,
                                                                                         **IN_PROCESS)
    follow_up = sum(1 for r in fresh.records if r.get("follow_up"))  # the stage after the last one
    assert counting.calls == 6 + follow_up  # only trials 24..29 ran again, then the follow-up
    assert _table(res).equals(_table(fresh))
    assert res.stages == fresh.stages and res.boundary == fresh.boundary


class Hill(hp.BaseSampler):
    """A tiny adaptive sampler: each proposal steps from the best lr told so far."""

    is_adaptive = True

    def __repr__(self):
        return "Hill()"

    def start(self, space, n_trials, seed, direction):
        import numpy as np

        self.rng, self.best, self.best_value = np.random.default_rng(seed), 1e-5, None
        return n_trials

    def ask(self, n):
        return [{"lr": float(min(self.best * 10 ** self.rng.uniform(-0.5, 1.0), 1e-1)), "reg": 1e-3}
                for _ in range(n)]

    def tell(self, index, params, value):
        if value is not None and (self.best_value is None or value > self.best_value):
            self.best, self.best_value = params["lr"], value


@pytest.mark.parametrize("make_sampler", [Hill, lambda: "tpe"], ids=["hill", "tpe"])
def test_adaptive_resume_tells_stored_values_instead_of_rerunning(tmp_path, make_sampler):
    fresh = hp.Study(BOWL, SPACE, metric="score").optimize(sampler=make_sampler(), n_trials=12, batch_size=2,
                                                           seed=0)
    db = tmp_path / "a.db"
    with pytest.raises(StudyInterrupted):
        hp.Study(InterruptAt(BOWL, 0, 0, 7), SPACE, metric="score", storage=db, name="a").optimize(
            sampler=make_sampler(), n_trials=12, batch_size=2, seed=0, **IN_PROCESS)
    counting = InterruptAt(BOWL, 0, 9, 9)
    res = hp.Study(counting, SPACE, metric="score", storage=db, name="a").optimize(
        sampler=make_sampler(), n_trials=12, batch_size=2, seed=0, **IN_PROCESS)
    assert counting.calls == 5  # trials 7..11
    assert _table(res).equals(_table(fresh))
    # the batch size shapes adaptive proposals, so it is part of the study's identity
    with pytest.raises(StudyMismatchError, match=r"stages\.0\.batch_size: 2 -> 3"):
        hp.Study(BOWL, SPACE, metric="score", storage=db, name="a").optimize(
            sampler=make_sampler(), n_trials=12, batch_size=3, seed=0)


# ---------------------------------------------------------------------- failed trials
class Flaky:
    """LogBowl that fails for lr > 1e-3 while ``marker`` exists (a transient failure)."""

    def __init__(self, marker):
        self.marker, self.calls = Path(marker), 0

    def get_params(self):
        return BOWL.get_params()

    def __call__(self, params, budget, seed, report=None):
        self.calls += 1
        if self.marker.exists() and params["lr"] > 1e-3:
            raise RuntimeError("transient: disk full")
        return BOWL(params, budget, seed, report)


def test_failed_trials_rerun_only_with_retry_failed(tmp_path):
    marker, db = tmp_path / "broken", tmp_path / "f.db"
    marker.touch()
    first = hp.Study(Flaky(marker), SPACE, metric="score", storage=db, name="f").optimize(n_trials=20, seed=0)
    n_failed = (first.trials.status == "failed").sum()
    assert n_failed > 0
    marker.unlink()
    flaky = Flaky(marker)
    again = hp.Study(flaky, SPACE, metric="score", storage=db, name="f").optimize(n_trials=20, seed=0,
                                                                                  **IN_PROCESS)
    assert flaky.calls == 0 and _table(again).equals(_table(first))
    flaky = Flaky(marker)
    retried = hp.Study(flaky, SPACE, metric="score", storage=db, name="f").optimize(n_trials=20, seed=0,
                                                                                    retry_failed=True, **IN_PROCESS)
    assert flaky.calls == n_failed
    fresh = hp.Study(BOWL, SPACE, metric="score").optimize(n_trials=20, seed=0)
    assert _table(retried).equals(_table(fresh))


# ---------------------------------------------------------------------- refusing to mix searches
def test_stored_trial_that_the_sampler_no_longer_proposes_is_a_mismatch(tmp_path):
    db = tmp_path / "m.db"
    hp.Study(BOWL, SPACE, metric="score", storage=db, name="m").optimize(n_trials=5, seed=0)
    with Storage(db) as storage:
        study_id, _ = storage.find_study("m")
        record = storage.load_trials(study_id)[2]
        record["params"]["lr"] *= 2  # as if an older sampler version had proposed another value
        storage.save_trial(study_id, record)
    with pytest.raises(StudyMismatchError, match=r"stored trial 2 .* sampler now proposes .* start over \(--overwrite; overwrite=True\)"):
        hp.Study(BOWL, SPACE, metric="score", storage=db, name="m").optimize(n_trials=5, seed=0)


def test_shrinking_a_finished_study_is_a_mismatch_not_a_silent_mix(tmp_path):
    # (growing one is an extension: tests/hpsearch/test_extend.py)
    db = tmp_path / "g.db"
    hp.Study(BOWL, SPACE, metric="score", storage=db, name="g").optimize(n_trials=8, seed=0)
    with pytest.raises(StudyMismatchError, match=r"stages\.0\.n_trials: 8 -> 5"):
        hp.Study(BOWL, SPACE, metric="score", storage=db, name="g").optimize(n_trials=5, seed=0)
