"""Reference objectives of the search protocol, with known answers.

They follow ``objective(params, budget, seed, report) -> dict`` exactly as a
trainer does, cost nothing to run and are picklable (they live in an importable
module so loky and dask workers can load them). Tests, benchmarks and the README
use them to check that a search finds what it should.

- :class:`LogBowl`: a score that peaks at a known point in log space, with
  optional noise, delay, failures and divergence.
- :class:`LearningCurve`: a LogBowl that is *learned* over epochs, each configuration at its
  own speed, and that can continue from a checkpoint (for multi-fidelity strategies).
- :func:`trivial`: returns a constant; measures the study's own overhead.

It also holds how an objective *declares* the protocol's optional parts (:func:`continuable`,
:func:`declares`): an attribute ``supports_checkpoint = True`` / ``supports_final = True`` on the
callable, its class, or what a ``functools.partial`` or ``functools.wraps`` wrapper wraps.
"""
import functools
import json
import math
import os
import time

import numpy as np

#: The optional keywords of the objective protocol and the attribute that declares each.
DECLARATIONS = {"checkpoint": "supports_checkpoint", "final": "supports_final"}


def declares(objective, keyword):
    """What ``objective`` declares about the protocol keyword ``keyword`` (``"checkpoint"`` or
    ``"final"``): True or False when it (or the callable a ``functools.partial`` or a
    ``functools.wraps`` wrapper holds) sets ``supports_<keyword>``, None when nothing says.

    Raises:
        ValueError: an unknown keyword.
    """
    if keyword not in DECLARATIONS:
        raise ValueError(f"unknown protocol keyword {keyword!r}; expected one of {', '.join(DECLARATIONS)}")
    attribute, seen = DECLARATIONS[keyword], set()
    while objective is not None and id(objective) not in seen:
        seen.add(id(objective))
        value = getattr(objective, attribute, None)
        if value is not None:
            return bool(value)
        # a partial keeps its function in .func; functools.wraps records the wrapped in __wrapped__
        objective = objective.func if isinstance(objective, functools.partial) else \
            getattr(objective, "__wrapped__", None)
    return None


def continuable(objective):
    """Declare that ``objective`` can continue a trial from a checkpoint (returns it, marked).

    Use as a decorator on an objective that accepts ``checkpoint=`` (bytes it returned earlier,
    or None) and returns ``"checkpoint"``; see ARCHITECTURE.md, "The objective protocol".
    Wrappers made with ``functools.wraps`` and ``functools.partial`` keep the declaration::

        @hpsearch.continuable
        def train(params, budget, seed, report=None, checkpoint=None): ...

    Raises:
        ValueError: ``objective`` is not callable, or takes no attributes (wrap it in a function).
    """
    if not callable(objective):
        raise ValueError(f"continuable needs a callable objective, got {objective!r}")
    try:
        objective.supports_checkpoint = True
    except (AttributeError, TypeError):
        raise ValueError(f"cannot mark {objective!r} as continuable (it takes no attributes); declare "
                         f"supports_checkpoint = True on its class, or decorate a function that calls it") from None
    return objective


class LogBowl:
    """A smooth score in (0, 1] that peaks at ``optimum``, measured in log10 space.

    ``score = exp(-0.5 * sum(log10(x / optimum[x]) ** 2 / width ** 2))``, times
    ``choice_penalty`` for every parameter of ``choices`` that misses its best
    value. Parameters not named in ``optimum`` or ``choices`` are ignored, and so are named ones
    a trial does not have (a parameter of a branch it did not take). With
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
            if name in params:
                sq += math.log10(float(params[name]) / best) ** 2
        value = math.exp(-0.5 * sq / self.width ** 2)
        for name, best in self.choices.items():
            if name in params and params[name] != best:
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


class LearningCurve:
    """A score learned over epochs: ``bowl(params) * (1 - exp(-epoch / tau))`` plus per-epoch noise.

    ``tau = tau0 * 10 ** (speed * log10(optimum[speed_param] / params[speed_param]))``: below the
    optimum of ``speed_param`` (a small learning rate, say) a configuration learns slowly, so a
    short budget ranks configurations differently from a long one, as real training does.
    The noise of epoch ``e`` comes from ``SeedSequence(seed, spawn_key=(e,))``, so any epoch's
    value is the same however the training is split. Supports the protocol's ``checkpoint``
    (continue from the state returned at a lower budget; the state is JSON bytes) and ``final``
    (adds ``test_<metric>``, the noise-free score).

    Args:
        optimum: name -> positive float, as :class:`LogBowl`.
        speed_param: the parameter that sets the learning speed (default: the first of ``optimum``).
        tau0: epochs to reach 63% of the final score at the optimum (> 0).
        speed: how strongly ``speed_param`` changes ``tau`` (>= 0).
        noise: standard deviation of each epoch's noise (>= 0).
        width, metric: as :class:`LogBowl`.
        sleep: seconds to sleep per trained epoch (to make studies slow enough to interrupt).
    """

    supports_checkpoint = True   # the protocol's declarations (see :func:`declares`)
    supports_final = True

    def __init__(self, optimum, speed_param=None, tau0=3.0, speed=1.0, noise=0.0, width=1.0, metric="score",
                 sleep=0.0):
        self.bowl = LogBowl(optimum, width=width, metric=metric, sleep=sleep)
        self.speed_param = speed_param if speed_param is not None else next(iter(self.bowl.optimum))
        if self.speed_param not in self.bowl.optimum:
            raise ValueError(f"LearningCurve speed_param {self.speed_param!r} must be one of {sorted(optimum)}")
        if not tau0 > 0 or not speed >= 0 or not noise >= 0:
            raise ValueError(f"LearningCurve needs tau0 > 0, speed >= 0 and noise >= 0, got tau0={tau0!r}, "
                             f"speed={speed!r}, noise={noise!r}")
        self.tau0, self.speed, self.noise, self.metric = float(tau0), float(speed), float(noise), metric

    def get_params(self):
        return {"objective": "hpsearch.objectives.LearningCurve", **self.bowl.get_params(),
                "speed_param": self.speed_param, "tau0": self.tau0, "speed": self.speed, "learn_noise": self.noise}

    def __repr__(self):
        return f"LearningCurve(optimum={self.bowl.optimum!r}, tau0={self.tau0!r}, noise={self.noise!r})"

    def value(self, params, epoch, seed):
        """The score after ``epoch`` epochs (noise included)."""
        best = self.bowl.optimum[self.speed_param]
        tau = self.tau0 * 10.0 ** (self.speed * math.log10(best / float(params[self.speed_param])))
        value = self.bowl.score(params) * (1.0 - math.exp(-epoch / tau))
        if self.noise:
            value += float(np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(epoch,))).normal(0, self.noise))
        return value

    def __call__(self, params, budget, seed, report=None, checkpoint=None, final=False):
        start = 0
        if checkpoint is not None:
            state = json.loads(bytes(checkpoint).decode("utf-8"))
            if state["params"] != json.loads(json.dumps(params)) or state["seed"] != seed:
                raise ValueError("the checkpoint belongs to another configuration or seed")
            if not state["epoch"] < budget:
                raise ValueError(f"cannot continue a checkpoint at epoch {state['epoch']} to budget {budget}")
            start = state["epoch"]
        for epoch in range(start + 1, int(budget) + 1):
            if self.bowl.sleep:
                time.sleep(self.bowl.sleep)
            if report is not None:
                report(epoch, {self.metric: self.value(params, epoch, seed)})
        value = self.value(params, int(budget), seed)
        out = {self.metric: value, "loss": 1.0 - value,
               "checkpoint": json.dumps({"params": params, "seed": seed, "epoch": int(budget)}).encode()}
        if final:
            out[f"test_{self.metric}"] = self.bowl.score(params) * (1.0 - math.exp(-budget / self.tau0))
        return out


def trivial(params, budget, seed, report=None):
    """An objective that does nothing: ``{"value": 0.0}`` (for overhead benchmarks)."""
    return {"value": 0.0}
