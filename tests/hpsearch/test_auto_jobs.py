"""n_jobs="auto": more workers only when the study's work pays for starting them; the same trials either way."""
import time

import hpsearch as hp
from hpsearch.objectives import LogBowl
from study_fixtures import SPACE



class Slow(LogBowl):
    """A LogBowl whose trials take 0.2 s each: 16 of them are worth two workers."""

    def __call__(self, params, budget, seed, report=None):
        time.sleep(0.2)
        return super().__call__(params, budget, seed, report)


def _run(objective, n_jobs):
    said = []
    res = hp.Study(objective, SPACE, metric="score").optimize(n_trials=16, seed=0, n_jobs=n_jobs, log=said.append)
    return res.trials.drop(columns="duration"), said


def test_a_tiny_study_stays_on_one_worker_and_says_so():
    table, said = _run(LogBowl({"lr": 1e-3, "reg": 1e-3}), "auto")
    assert len(said) == 1 and said[0].startswith("n_jobs: 1, on one worker process: the study's work")
    assert table.equals(_run(LogBowl({"lr": 1e-3, "reg": 1e-3}), 1)[0])


def test_a_study_worth_workers_gets_them_and_the_same_trials():
    import os

    table, said = _run(Slow({"lr": 1e-3, "reg": 1e-3}), "auto")
    if (os.cpu_count() or 1) > 1:
        assert said[0].startswith(f"n_jobs: {os.cpu_count()} workers (the first trial took 0.2")
    assert table.equals(_run(Slow({"lr": 1e-3, "reg": 1e-3}), 1)[0])


def reports_its_process(params, budget, seed, report=None):
    import os

    return {"score": 1.0, "pid": float(os.getpid())}


def test_the_first_trial_runs_in_a_worker_process_like_every_other():
    import os

    table, said = _run(reports_its_process, "auto")
    assert os.getpid() not in table["pid"].tolist()
    assert table["pid"].nunique() == 1 and said[0].startswith("n_jobs: 1, on one worker process")
