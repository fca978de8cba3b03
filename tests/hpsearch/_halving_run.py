"""Run a small stored Hyperband study in a subprocess (for the SIGKILL test of test_halving.py).

usage: python _halving_run.py DB NAME N_JOBS SLEEP [SAMPLER]
"""
import json
import signal
import sys

import hpsearch as hp
from hpsearch.objectives import LearningCurve
from hpsearch.strategies import Hyperband
from study_fixtures import CURVE_SPACE as SPACE



def make_study(db, name, sleep=0.0):
    """The study both the subprocess and the test build (``sleep`` is not part of its identity)."""
    objective = LearningCurve({"lr": 1e-3, "reg": 1e-4}, noise=0.01, sleep=sleep)
    return hp.Study(objective, SPACE, metric="score", storage=db, name=name)


STRATEGY = dict(min_budget=1, max_budget=9, eta=3)


def main(db, name, n_jobs, sleep, sampler="random"):
    res = make_study(db, name, float(sleep)).run(Hyperband(**STRATEGY, sampler=sampler), n_jobs=int(n_jobs), seed=0)
    print(json.dumps({"done": len(res.trials)}), flush=True)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main(*sys.argv[1:])
