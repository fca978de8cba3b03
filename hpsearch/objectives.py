"""Reference objectives of the search protocol, with known answers.

They follow ``objective(params, budget, seed, report) -> dict`` exactly as a
trainer does, cost nothing to run and are picklable (they live in an importable
module so loky and dask workers can load them). Tests, benchmarks and the README
use them to check that a search finds what it should.

- :class:`LogBowl`: a score that peaks at a known point in log space, with
  optional noise, delay, failures and divergence.
- :func:`trivial`: returns a constant; measures the study's own overhead.
"""
import math
import os
import time

import numpy as np


class LogBowl:
    """A smooth score in (0, 1] that peaks at ``optimum``, measured in log10 space.

    ``score = exp(-0.5 * sum(log10(x / optimum[x]) ** 2 / width ** 2))``, times
    ``choice_penalty`` for every parameter of ``choices`` that misses its best
    value. Parameters not named in ``optimum`` or ``choices`` are ignored. With
    ``noise > 0`` the returned score gets Gaussian noise of standard deviation
    ``noise / sqrt(budget)`` drawn from ``seed`` (more budget, less noise, as
    with more epochs). Each "epoch" is reported so the runner records a curve.

    Args:
        optimum: name -> positive float, where the score peaks (e.g. ``{"lr": 1e-3}``).
        width: the bowl's width in decades (score exp(-0.5) one ``width`` away).
        choices: name -> the best value of an unordered parameter.
        choice_penalty: factor in (0, 1] applied per missed choice.
        noise: noise scale (see above); 0 for an exact score.
        sleep: seconds to sleep per trial (to make studies slow enough to interrupt).
        fail_above: name -> threshold; the call raises ``ValueError`` when the
            parameter exceeds it (a "failed" trial).
        diverge_above: name -> threshold; the call returns a NaN score when the
            parameter exceeds it (a "diverged" trial).
        crash_above: name -> threshold; the worker *process* running the call dies
            (``os._exit``) when the parameter exceeds it, as a segfault or the OOM killer
            would do it. For tests of crash handling with process backends; in the
            process that built the objective it raises ``SystemError`` instead, so it
            never kills the caller.
        metric: the name of the returned score (``"loss"`` = 1 - score is returned too).

    Raises:
        ValueError: non-positive optimum values, width <= 0, noise < 0, sleep < 0
            or a penalty outside (0, 1].
    """

    def __init__(self, optimum, width=1.0, choices=None, choice_penalty=0.5, noise=0.0, sleep=0.0,
                 fail_above=None, diverge_above=None, crash_above=None, metric="score"):
        optimum = dict(optimum)
        for name, value in optimum.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"LogBowl optimum[{name!r}] must be a positive number, got {value!r}")
        if not width > 0:
            raise ValueError(f"LogBowl width must be > 0, got {width!r}")
        if not 0 < choice_penalty <= 1:
            raise ValueError(f"LogBowl choice_penalty must be in (0, 1], got {choice_penalty!r}")
        if not noise >= 0:
            raise ValueError(f"LogBowl noise must be >= 0, got {noise!r}")
        if not sleep >= 0:
            raise ValueError(f"LogBowl sleep must be >= 0, got {sleep!r}")
        if not isinstance(metric, str) or not metric or metric == "loss":
            raise ValueError(f"LogBowl metric must be a non-empty name other than 'loss', got {metric!r}")
        self.optimum = {k: float(v) for k, v in optimum.items()}
        self.width = float(width)
        self.choices = dict(choices or {})
        self.choice_penalty = float(choice_penalty)
        self.noise = float(noise)
        self.sleep = float(sleep)
        self.fail_above = {k: float(v) for k, v in (fail_above or {}).items()}
        self.diverge_above = {k: float(v) for k, v in (diverge_above or {}).items()}
        self.crash_above = {k: float(v) for k, v in (crash_above or {}).items()}
        self.metric = metric
        self._owner_pid = os.getpid()

    def get_params(self):
        """The settings as JSON-able data (stored in the study spec to catch changes on resume)."""
        return {
            "objective": "hpsearch.objectives.LogBowl",
            "optimum": dict(self.optimum),
            "width": self.width,
            "choices": dict(self.choices),
            "choice_penalty": self.choice_penalty,
            "noise": self.noise,
            "fail_above": dict(self.fail_above),
            "diverge_above": dict(self.diverge_above),
            "crash_above": dict(self.crash_above),
            "metric": self.metric,
        }

    def __repr__(self):
        return f"LogBowl(optimum={self.optimum!r}, width={self.width!r}, noise={self.noise!r})"

    def score(self, params):
        """The exact (noise-free) score of ``params``."""
        sq = 0.0
        for name, best in self.optimum.items():
            sq += math.log10(float(params[name]) / best) ** 2
        value = math.exp(-0.5 * sq / self.width ** 2)
        for name, best in self.choices.items():
            if params[name] != best:
                value *= self.choice_penalty
        return value

    def __call__(self, params, budget, seed, report=None):
        for name, threshold in self.fail_above.items():
            if params[name] > threshold:
                raise ValueError(f"{name}={params[name]!r} is above the failure threshold {threshold!r}")
        for name, threshold in self.crash_above.items():
            if params[name] > threshold:
                if os.getpid() == self._owner_pid:
                    raise SystemError(f"{name}={params[name]!r} is above the crash threshold {threshold!r} "
                                      f"(a worker process would die here)")
                os._exit(70)  # die like a segfault: no exception, no cleanup
        if self.sleep:
            time.sleep(self.sleep)
        value = self.score(params)
        if self.noise:
            rng = np.random.default_rng(seed)
            value += float(rng.normal(0.0, self.noise / math.sqrt(budget)))
        if any(params[name] > threshold for name, threshold in self.diverge_above.items()):
            value = float("nan")
        if report is not None:
            # A curve that rises towards the final score, as training would.
            for epoch in range(1, int(budget) + 1):
                report(epoch, {self.metric: value * (1.0 - 0.5 ** epoch) / (1.0 - 0.5 ** budget)})
        return {self.metric: value, "loss": 1.0 - value}


def trivial(params, budget, seed, report=None):
    """An objective that does nothing: ``{"value": 0.0}`` (for overhead benchmarks)."""
    return {"value": 0.0}
