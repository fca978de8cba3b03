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

from hpsearch.objectives import DECLARATIONS, declares

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


#: The optional keywords of the objective protocol (see ARCHITECTURE.md).
PROTOCOL_KEYWORDS = tuple(DECLARATIONS)


def protocol_keywords(objective):
    """The optional protocol keywords ``objective`` takes (a frozenset).

    ``checkpoint``: it can continue a trial from the state it returned at a lower budget;
    ``final``: it can add held-out test metrics when asked for the final evaluation. An
    objective declares them (``supports_checkpoint`` / ``supports_final``, see
    :func:`hpsearch.objectives.declares`); one that declares nothing takes a keyword when its
    call signature names it (hpsearch 0.1's rule, kept so existing objectives keep working).
    """
    named = None
    taken = set()
    for keyword in PROTOCOL_KEYWORDS:
        declared = declares(objective, keyword)
        if declared is None:
            named = _named_keywords(objective) if named is None else named
            declared = keyword in named
        if declared:
            taken.add(keyword)
    return frozenset(taken)


def _named_keywords(objective):
    import inspect

    try:
        parameters = inspect.signature(objective).parameters
    except (TypeError, ValueError):  # a builtin or an object without a readable signature
        return frozenset()
    return frozenset(k for k in PROTOCOL_KEYWORDS if k in parameters
                     and parameters[k].kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                inspect.Parameter.KEYWORD_ONLY))


class MetricError(Exception):
    """The objective did not return the study metric as a number (the study's mistake, not the trial's)."""


def _check_metric(returned, metric):
    """MetricError when ``metric`` is missing from the returned dict or is not a number."""
    if metric is None or status_of(returned) == "diverged":
        return
    from hpsearch.checks import closest

    value = returned.get(metric, _MISSING)
    keys = ", ".join(repr(k) for k in returned if k != "checkpoint") or "nothing"
    if value is _MISSING:
        match = closest(metric, [k for k in returned if _is_number(returned[k])])
        hint = f"; did you mean {match!r}?" if match else ""
        raise MetricError(f"the objective returned no metric {metric!r} (it returned {keys}){hint}")
    if not _is_number(value):
        raise MetricError(f"the objective returned metric {metric!r} as {type(value).__name__} {value!r}, "
                          f"not a number")


def status_of(returned):
    return returned.get("status", "ok")


_MISSING = object()


def classify(metrics, objective_status, metric):
    """The trial status for a returned metrics dict (see ARCHITECTURE.md).

    ``"diverged"`` when the objective says so, or when ``metric`` (if given)
    is NaN or infinite; ``"ok"`` otherwise.
    """
    if objective_status == "diverged":
        return "diverged"
    if metric is not None:
        value = metrics.get(metric)
        if value is None or not math.isfinite(value):
            return "diverged"
    return "ok"


def run_trial(objective, params, budget, seed, number, stage, threads=None, metric=None, *, checkpoint=None,
              keep_checkpoint=False, final=False, in_worker=False):
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
        metric: the study metric; a trial whose metric is NaN or infinite is
            ``"diverged"``; one that does not return it as a number is ``"failed"`` with
            ``metric_error`` set (the study stops: its metric name is wrong). None skips
            that check.
        checkpoint: for an objective taking the ``checkpoint`` keyword, the state to continue
            from (bytes) or None to train from scratch; not passed to other objectives.
        keep_checkpoint: put the state the objective returns in the record (``"checkpoint"``).
        final: call the objective with ``final=True`` (the final evaluation on held-out data).
        in_worker: the call runs in a worker process, so a ``KeyboardInterrupt`` or
            ``SystemExit`` raised in it is the objective's doing: a failed trial.

    Returns:
        dict with ``number, stage, status, params, metrics, budget, seed,
        start, end, duration, error, curve`` (and ``checkpoint`` when asked for and given).
        ``metrics`` holds the numeric scalar values of the returned dict as floats; ``status``
        is ``"ok"``, ``"diverged"`` or ``"failed"``; ``error`` is a one-line
        ``"ExcType: message"`` for failed trials, else None; ``curve`` is the list of
        ``{"epoch": e, **metrics}`` reported by the objective.

    Never raises for errors of the objective (in the parent process ``KeyboardInterrupt`` is
    the user's Ctrl-C and propagates).
    """
    curve = []

    def report(epoch, values):
        point = {"epoch": int(epoch)}
        for key, value in dict(values).items():
            point[str(key)] = _curve_value(value)
        curve.append(point)

    kwargs = {}
    keywords = protocol_keywords(objective)
    if "checkpoint" in keywords:
        kwargs["checkpoint"] = checkpoint
    if final:
        kwargs["final"] = True
    record = {"number": int(number), "stage": int(stage), "status": "ok", "params": dict(params), "metrics": {},
              "budget": int(budget), "seed": int(seed), "error": None, "curve": curve}
    caught = (Exception, KeyboardInterrupt, SystemExit) if in_worker else (Exception, SystemExit)
    start = time.time()
    t0 = time.perf_counter()
    try:
        with _thread_limit(threads):
            returned = objective(params, budget, seed, report, **kwargs)
        _read_returned(record, returned, metric, keep_checkpoint)
    except MetricError as exc:
        record.update(status="failed", error=one_line_error(exc), metric_error=True)
    except caught as exc:  # the objective's failure is data, not a crash of the study
        record.update(status="failed", error=one_line_error(exc))
    duration = time.perf_counter() - t0
    record.update(start=start, end=start + duration, duration=duration)
    return record


def _read_returned(record, returned, metric, keep_checkpoint):
    """Fill ``record``'s metrics, status and checkpoint from what the objective returned."""
    if not isinstance(returned, dict):
        raise TypeError(f"the objective must return a dict of metrics, got {type(returned).__name__}: "
                        f"{returned!r:.80}")
    objective_status = status_of(returned)
    if objective_status not in ("ok", "diverged"):
        raise ValueError(f"the objective returned status {objective_status!r}; expected 'ok' or 'diverged'")
    _check_metric(returned, metric)
    state = returned.get("checkpoint")
    if state is not None and not isinstance(state, (bytes, bytearray)):
        raise TypeError(f"the objective returned a checkpoint of type {type(state).__name__}; expected bytes")
    record["metrics"] = {str(k): float(v) for k, v in returned.items() if _is_number(v)}
    record["status"] = classify(record["metrics"], objective_status, metric)
    if keep_checkpoint and state is not None:
        record["checkpoint"] = bytes(state)
