"""Run a small stored study in a subprocess (for the SIGKILL / SIGINT tests of test_resume.py).

usage: python _study_run.py DB NAME N_TRIALS N_JOBS SLEEP

Prints one JSON line: {"done": n} when the study finished, {"interrupted": n} (exit 130)
after Ctrl-C, where n is the number of trials in the returned result.
"""
import json
import signal
import sys

import hpsearch as hp
from hpsearch.errors import StudyInterrupted
from hpsearch.objectives import LogBowl
from study_fixtures import SPACE_ACT as SPACE



def make_study(db, name, sleep=0.0):
    """The study both the subprocess and the test build (``sleep`` is not part of its identity)."""
    bowl = LogBowl({"lr": 1e-3, "reg": 1e-3}, choices={"act": "relu"}, noise=0.05, sleep=sleep)
    return hp.Study(bowl, SPACE, metric="score", storage=db, name=name)


def main(db, name, n_trials, n_jobs, sleep):
    study = make_study(db, name, float(sleep))
    try:
        res = study.optimize(n_trials=int(n_trials), budget=2, n_jobs=int(n_jobs), seed=0)
    except StudyInterrupted as exc:
        print(json.dumps({"interrupted": len(exc.result.trials)}), flush=True)
        sys.exit(130)
    print(json.dumps({"done": len(res.trials)}), flush=True)


if __name__ == "__main__":
    # A suite started in the background (`cmd &` in a script) runs with SIGINT ignored, and an
    # ignored signal stays ignored across exec: Python would then never raise
    # KeyboardInterrupt. The test sends SIGINT on purpose, so take it as Python normally does.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main(*sys.argv[1:])
