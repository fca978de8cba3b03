"""Run one trial: the module-level worker every backend dispatches.

:func:`run_trial` calls the objective with the search protocol
``objective(params, budget, seed, report) -> dict`` and turns whatever happens
into one plain, JSON-able record (see ARCHITECTURE.md "Trial records"): it
collects the ``report`` calls as the learning curve, times the call, keeps the
numeric metrics and decides the trial's status. It never raises for a problem
of the objective's own making: a raising objective is a ``"failed"`` trial and
the study goes on.
"""
import math
import os
import sys
import time

import numpy as np

STATUSES = ("ok", "diverged", "failed")

# One ThreadpoolController per process, rebuilt when new modules were imported
# (an objective may load torch or another BLAS on its first call). Building one
# scans the loaded libraries (~1 ms); limiting through a cached one costs ~10 us.
_controller = None
_controller_modules = -1


def _thread_limit(threads):
    """A context manager limiting BLAS/OpenMP pools to ``threads`` (None: no limit)."""
    global _controller, _controller_modules
    if threads is None:
        return _NoLimit()
    from threadpoolctl import ThreadpoolController

    if _controller is None or _controller_modules != len(sys.modules):
        _controller = ThreadpoolController()
        _controller_modules = len(sys.modules)
    return _controller.limit(limits=int(threads))


class _NoLimit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def worker_threads(n_jobs, cpu_count=None):
    """BLAS threads per worker so that ``n_jobs`` workers share the cores: max(1, cores // n_jobs)."""
    cpu_count = cpu_count or os.cpu_count() or 1
    return max(1, cpu_count // max(1, int(n_jobs)))


def _is_number(value):
    # bool is an int subclass and numpy has its own bool; neither is a metric.
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, (int, float, np.integer, np.floating))


def _curve_value(value):
    """A reported per-epoch value as plain floats (scalars or lists of floats)."""
    if _is_number(value):
        return float(value)
    if isinstance(value, np.ndarray):
        return [float(v) for v in value.ravel()]
    if isinstance(value, (list, tuple)):
        return [float(v) if _is_number(v) else v for v in value]
    return value if isinstance(value, (str, type(None))) else str(value)


def one_line_error(exc):
    """``"ExcType: message"`` on one line (the text stored with a failed trial)."""
    message = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text if len(text) <= 1000 else text[:997] + "..."


def classify(metrics, objective_status, metric):
    """The trial status for a returned metrics dict (see ARCHITECTURE.md).

    ``"diverged"`` when the objective says so, or when ``metric`` (if given)
    is missing, NaN or infinite; ``"ok"`` otherwise.
    """
    if objective_status == "diverged":
        return "diverged"
    if metric is not None:
        value = metrics.get(metric)
        if value is None or not math.isfinite(value):
            return "diverged"
    return "ok"


def run_trial(objective, params, budget, seed, number, stage, threads=None, metric=None):
    """Run ``objective`` once and return the finished trial as a plain dict.

    Args:
        objective: a callable of the search protocol
            ``objective(params, budget, seed, report) -> dict``.
        params: the trial's parameter values (plain Python types).
        budget: positive int handed to the objective (epochs for the MLP).
        seed: the trial's seed (``seeding.trial_seed``).
        number: the trial number across the whole study.
        stage: the stage index.
        threads: BLAS/OpenMP thread limit for the duration of the call, or
            None to leave the pools alone (threading backend, one job).
        metric: the study metric; a trial whose metric is missing, NaN or
            infinite is ``"diverged"``. None skips that check.

    Returns:
        dict with ``number, stage, status, params, metrics, budget, seed,
        start, end, duration, error, curve``. ``metrics`` holds the numeric
        scalar values of the returned dict as floats; ``status`` is ``"ok"``,
        ``"diverged"`` or ``"failed"``; ``error`` is a one-line
        ``"ExcType: message"`` for failed trials, else None; ``curve`` is the
        list of ``{"epoch": e, **metrics}`` reported by the objective.

    Never raises for errors of the objective (only ``KeyboardInterrupt`` and
    other ``BaseException`` that are not ``Exception`` propagate).
    """
    curve = []

    def report(epoch, values):
        point = {"epoch": int(epoch)}
        for key, value in dict(values).items():
            point[str(key)] = _curve_value(value)
        curve.append(point)

    metrics, status, error = {}, "ok", None
    start = time.time()
    t0 = time.perf_counter()
    try:
        with _thread_limit(threads):
            returned = objective(params, budget, seed, report)
        if not isinstance(returned, dict):
            raise TypeError(
                f"the objective must return a dict of metrics, got {type(returned).__name__}: {returned!r:.80}"
            )
        metrics = {str(k): float(v) for k, v in returned.items() if _is_number(v)}
        objective_status = returned.get("status", "ok")
        if objective_status not in ("ok", "diverged"):
            raise ValueError(f"the objective returned status {objective_status!r}; expected 'ok' or 'diverged'")
        status = classify(metrics, objective_status, metric)
    except Exception as exc:  # the objective's failure is data, not a crash of the study
        status, error = "failed", one_line_error(exc)
    duration = time.perf_counter() - t0
    return {
        "number": int(number),
        "stage": int(stage),
        "status": status,
        "params": dict(params),
        "metrics": metrics,
        "budget": int(budget),
        "seed": int(seed),
        "start": start,
        "end": start + duration,
        "duration": duration,
        "error": error,
        "curve": curve,
    }
