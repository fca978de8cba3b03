"""An ask/tell driver of a stored Hyperband study, answering in a shuffled order (for the SIGKILL
test of test_ask_tell.py).

usage: python _ask_tell_run.py DB NAME SLEEP
"""
import random
import sys
import time

import hpsearch as hp
from hpsearch.objectives import LearningCurve
from hpsearch.strategies import Hyperband

SPACE = {"lr": hp.LogUniform(1e-5, 1e-1), "reg": hp.LogUniform(1e-6, 1e-1)}
CURVE = LearningCurve({"lr": 1e-3, "reg": 1e-4}, noise=0.01)


def strategy():
    return Hyperband(min_budget=1, max_budget=9, eta=3, total_budget=150)


def drive(study, order_seed, sleep=0.0, confirm=None):
    """Ask for every decided trial, answer a random part of the running ones in a random order,
    until the search ends; returns its result."""
    rng, running, result = random.Random(order_seed), [], None
    plan = strategy()
    while result is None:
        while (request := study.ask(plan, seed=0, confirm=confirm)) is not None:
            running.append(request)
        rng.shuffle(running)
        k = rng.randint(1, len(running))
        answered, running = running[:k], running[k:]
        for request in answered:
            time.sleep(sleep)
            out = CURVE(request.params, request.budget, request.seed, final=request.final)
            result = study.tell(request, out, duration=sleep) or result
    return result


if __name__ == "__main__":
    db, name, sleep = sys.argv[1], sys.argv[2], float(sys.argv[3])
    drive(hp.Study(CURVE, SPACE, metric="score", storage=db, name=name), order_seed=7, sleep=sleep)
