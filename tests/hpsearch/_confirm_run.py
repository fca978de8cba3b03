"""A small stored study with confirmation in a subprocess (for the SIGKILL test of test_confirm.py).

usage: python _confirm_run.py DB NAME N_JOBS SLEEP
"""
import json
import signal
import sys

import hpsearch as hp
from hpsearch.objectives import LearningCurve
from study_fixtures import CURVE_SPACE as SPACE

CONFIRM = {"top": 3, "seeds": 4}


def make_study(db, name, sleep=0.0):
    objective = LearningCurve({"lr": 1e-3, "reg": 1e-4}, noise=0.02, sleep=sleep)
    return hp.Study(objective, SPACE, metric="score", storage=db, name=name)


def run(study, n_jobs=1, **kwargs):
    return study.optimize(n_trials=10, budget=3, seed=0, n_jobs=n_jobs, confirm=CONFIRM, **kwargs)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    db, name, n_jobs, sleep = sys.argv[1:]
    res = run(make_study(db, name, float(sleep)), int(n_jobs))
    print(json.dumps({"done": len(res.trials)}), flush=True)
