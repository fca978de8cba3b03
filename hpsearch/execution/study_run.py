"""The run loop: a strategy's rounds of trials, run on a worker pool and stored as they finish.

The parent process draws every trial's parameters (the strategy, through its samplers)
and seed (``seeding.trial_seed``) before dispatching it, so a study seed fixes the whole
trials table whatever ``n_jobs`` or backend runs it. Each finished trial is stored in its
own transaction as soon as it arrives. Running a study again replays the strategy from
the seed and the stored results, takes the stored trials instead of running them and
runs only the missing ones, so an interrupted study resumes into exactly the table an
uninterrupted run would have produced.
"""
import dataclasses
import math
import re
import warnings
from dataclasses import dataclass
from numbers import Real

import numpy as np

from hpsearch import seeding
from hpsearch.execution.backends import check_backend, check_trial_timeout
from hpsearch.checks import check_seed, positive_int
from hpsearch.execution.trial_pool import AutoPool, TrialPool
from hpsearch.errors import START_OVER, StudyFailedError, StudyInterrupted, StudyMetricError, StudyMismatchError
from hpsearch.execution.progress import ProgressBar
from hpsearch.results.search_result import SearchResult
from hpsearch.execution.worker import classify, protocol_keywords
from hpsearch.storage.specs import json_roundtrip
from hpsearch.strategies import RunContext, TrialRequest
from hpsearch.strategies.schedule import Schedule

__all__ = ["RunOptions", "StudyRun", "told_record", "usable_cores", "warn_at"]


def warn_at(objective, message):
    """A UserWarning about ``objective`` attributed to its own source line (the user's code to change),
    not to the hpsearch line that noticed; the first caller outside hpsearch when its source is unknown."""
    import inspect
    import sys

    target = objective if inspect.isfunction(objective) or inspect.ismethod(objective) else type(objective)
    try:
        filename, lineno = inspect.getsourcefile(target), inspect.getsourcelines(target)[1]
    except (TypeError, OSError):
        filename = None
    if filename is None:
        frame, package = sys._getframe(1), __name__.split(".")[0]
        while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == package:
            frame = frame.f_back
        filename, lineno = (frame.f_code.co_filename, frame.f_lineno) if frame is not None else ("<objective>", 0)
    warnings.warn_explicit(message, UserWarning, filename, lineno)


@dataclass(frozen=True)
class RunOptions:
    """How a study runs (none of it changes which trials it runs).

    Args:
        n_jobs: parallel workers (a positive int, -1 for all cores, or ``"auto"``: all cores
            unless the first trial shows the study too small to pay for starting them).
        seed: the study seed (an int in [0, 2**32)); it fixes every proposal and trial seed.
        backend: ``"loky"`` (processes), ``"threading"``, ``"multiprocessing"`` or ``"dask"``;
            None (the default): one job runs in this process, as Optuna's and scikit-learn's
            do (a debugger works, the objective's side effects are seen), several run on
            isolated worker processes (``"loky"``), and so does any study with a
            ``trial_timeout`` or ``n_jobs="auto"``. ``hpsearch run`` always isolates.
        scheduler: a Dask scheduler address (``backend="dask"`` only; None starts a LocalCluster).
        retry_failed: on resume, run stored ``"failed"`` trials again.
        progress: show a tqdm progress bar (best so far, failures).
        callbacks: callables ``f(record)`` called in this process with every newly finished
            trial record (a plain dict), as it completes.
        fail_fast: stop the study when its first ``fail_fast`` trials all failed with the same
            error (a broken objective); None never stops.
        keep_checkpoints: keep every trial's checkpoint after the study (with an objective that
            supports them); otherwise a checkpoint is deleted as soon as no later rung can use it.
        log: a callable ``log(str)`` told the run's decisions (how many workers ``"auto"`` chose).
        trial_timeout: seconds one objective call may take (a positive number, or None: no limit).
            A trial past it is stored as failed ("timed out after 30 s"), its worker process is
            killed and replaced, and the study goes on. Needs a process backend (``loky``,
            ``multiprocessing``): a thread cannot be stopped.
    """

    n_jobs: int = 1
    seed: int = 0
    backend: str = None
    scheduler: str = None
    retry_failed: bool = False
    progress: bool = False
    callbacks: tuple = ()
    fail_fast: int = 5
    keep_checkpoints: bool = False
    log: object = None
    trial_timeout: float = None

    def __post_init__(self):
        n_jobs = self.n_jobs
        if (n_jobs == -1 and not isinstance(n_jobs, bool)) or n_jobs == "auto":
            object.__setattr__(self, "auto", n_jobs == "auto")
            n_jobs = usable_cores()
        else:
            object.__setattr__(self, "auto", False)
        object.__setattr__(self, "n_jobs", positive_int(n_jobs, "n_jobs"))
        object.__setattr__(self, "seed", check_seed(self.seed))
        if self.backend is None:
            in_process = self.n_jobs == 1 and not self.auto and self.trial_timeout is None
            object.__setattr__(self, "backend", "threading" if in_process else "loky")
        check_backend(self.backend, self.scheduler)
        callbacks = tuple(self.callbacks)
        for callback in callbacks:
            if not callable(callback):
                raise ValueError(f"callbacks must be callables f(record), got {callback!r}")
        object.__setattr__(self, "callbacks", callbacks)
        if self.fail_fast is not None:
            positive_int(self.fail_fast, "fail_fast")
        if self.trial_timeout is not None:
            check_trial_timeout(self.trial_timeout, self.backend)


def usable_cores():
    """The cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota (what
    ``joblib.cpu_count()`` answers, without importing joblib when no worker is needed)."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def told_record(request, metrics, metric, duration=None, curve=None, error=None):
    """The trial record of ``request`` from what an ask/tell caller says of it (the shape
    :func:`~hpsearch.execution.worker.run_trial` returns; the same status rules).

    Raises:
        ValueError: ``metrics`` is not a dict, has a status other than ``"ok"``/``"diverged"``, or
            lacks ``metric`` as a number (for an ok trial).
    """
    import time

    record = {"number": request.number, "stage": request.stage, "status": "failed", "params": dict(request.params),
              "metrics": {}, "budget": request.budget, "seed": request.seed, "error": None,
              "curve": list(curve or [])}
    if error is not None:
        record["error"] = " ".join(str(error).split())
    else:
        if not isinstance(metrics, dict):
            raise ValueError(f"tell() needs metrics as a dict (what the objective returns), got {metrics!r:.80}")
        status = metrics.get("status", "ok")
        if status not in ("ok", "diverged"):
            raise ValueError(f"tell(): metrics status must be 'ok' or 'diverged', got {status!r}")
        numbers = {str(k): float(v) for k, v in metrics.items()
                   if isinstance(v, Real) and not isinstance(v, (bool, np.bool_))}
        if status == "ok" and metric not in numbers:
            raise ValueError(f"tell(): metrics must hold the study metric {metric!r} as a number, got "
                             f"{sorted(numbers) or 'no numbers'}")
        record.update(metrics=numbers, status=classify(numbers, status, metric))
        state = metrics.get("checkpoint")
        if request.keep_checkpoint and isinstance(state, (bytes, bytearray)):
            record["checkpoint"] = bytes(state)
    end = time.time()
    duration = None if duration is None else float(duration)
    record.update(start=end - (duration or 0.0), end=end, duration=duration)
    return record


class StudyRun(RunContext):
    """One execution of a study's strategy against an opened storage (see the module docstring)."""

    def __init__(self, study, strategy, options, checkpoints, extending=False):
        self.study, self.strategy, self.options = study, strategy, options
        self.space, self.metric, self.direction = study.space, study.metric, study.direction
        self.seed, self.name = options.seed, study.name
        self.checkpoints = checkpoints  # a CheckpointStore
        self.extending = extending      # the stored study is growing: its last stage may get more trials
        keywords = protocol_keywords(study.objective)
        self.continues = "checkpoint" in keywords
        self.supports_final = "final" in keywords
        self.records = {}        # number -> finished record (stored before, or run now)
        self.stages = []         # the stages as they ran
        self._next_number = 0
        self._resumed = {}       # number -> budget its checkpoint was taken at
        self._said_no_checkpoints = False
        self._ran = 0            # trials run (not replayed) by this run
        self._stored = {}

    # ------------------------------------------------------------------ the strategy's context
    def begin_stage(self, stage):
        old = self._stored_stages.get(stage.index)
        grown = self.extending and stage.index == max(self._stored_stages) and old["n_trials"] < stage.n_trials \
            if old is not None else False
        if old is not None and (json_roundtrip(stage.space.to_dict()) != old["space"] or old["budget"] != stage.budget
                                or (old["n_trials"] != stage.n_trials and not grown)):
            raise StudyMismatchError(
                f"study {self.name!r}: stage {stage.index} now searches {stage.space.to_dict()} with "
                f"{stage.n_trials} trials (budget {stage.budget}) but was stored with {old['space']} and "
                f"{old['n_trials']} trials (budget {old['budget']}); the results it was derived from changed "
                f"(retried trials?) or the sampler/library version did; {START_OVER}")
        self.storage.save_stage(self.study_id, stage.index, stage.space.to_dict(), stage.sampler,
                                stage.n_trials, stage.budget)
        self.stages.append(stage)
        self.stages.sort(key=lambda s: s.index)   # lanes side by side begin their rungs in any order
        planned = self._planned_counts.get(stage.index)
        if planned is not None:
            self.bar.resize(stage.n_trials - planned)

    def request(self, stage, params, budget, continue_from=None, seed=None, keep_checkpoint=False, final=False,
                number=None, **labels):
        if number is None:
            number = self._next_number
            self._next_number += 1
        if seed is None:
            seed = seeding.trial_seed(self.seed, stage, number)
        return TrialRequest(number, stage, params, budget, seed, continue_from, bool(keep_checkpoint), labels,
                            bool(final))

    def reserve(self, n):
        first = self._next_number
        self._next_number += int(n)
        return first

    def release(self, numbers):
        if not self.options.keep_checkpoints:
            self.checkpoints.delete(numbers)

    # ------------------------------------------------------------------ driving
    def execute(self, storage, study_id):
        """Run the strategy to its end; returns the :class:`~hpsearch.results.search_result.SearchResult`.

        Raises:
            StudyInterrupted: Ctrl-C; ``.result`` holds every stored trial.
        """
        epochs = self.open(storage, study_id)
        try:
            todo = self.pending()
            if todo:  # a finished study run again replays its stored trials: no pool to start
                with self._pool(epochs) as pool:
                    self._drive(pool, todo)
            elif not self.finished:
                raise RuntimeError(f"study {self.name!r}: the strategy waits for trials it never asked for")
            self.close()
        except KeyboardInterrupt:
            self.bar.close()
            raise StudyInterrupted(self.result(partial=True),
                                   f"study {self.name!r} interrupted; run it again to resume") from None
        finally:
            self.bar.close()
        return self.result()

    def open(self, storage, study_id, side_by_side=True):
        """Read what ``storage`` holds of the study, set up the progress bar and start the strategy's
        :class:`~hpsearch.strategies.schedule.Schedule` (``side_by_side``: see there); returns the
        planned epochs."""
        self.storage, self.study_id = storage, study_id
        self._stored = {r["number"]: r for r in storage.load_trials(study_id)}
        self._stored_stages = {d["index"]: d for d in storage.load_stages(study_id)}
        planned = self.strategy.planned(self.space, self.seed, self.direction)
        self._planned_counts = {s.index: s.n_trials for s in planned}
        # confirmation and test runs are trials (and epochs) the bar counts too
        epochs = self.strategy.planned_epochs(planned) + self.strategy.planned_extra_epochs(planned)
        extra = self.strategy.planned_extra_trials()
        self.bar = ProgressBar(self.options.progress, sum(s.n_trials for s in planned) + extra, self.metric,
                               self.direction, epochs=epochs)
        self.schedule = Schedule(self.strategy.rounds(self), side_by_side=side_by_side)
        return epochs

    @property
    def finished(self):
        """The strategy has ended: every trial it asked for is recorded."""
        return self.schedule.finished

    def pending(self):
        """The requests to run now, in trial-number order. Stored trials are told back to the
        schedule at once (a resume replays them), which may make more requests ready."""
        todo = []
        ready = self.schedule.ready()
        while ready:
            for request in ready:
                old = self._stored.get(request.number)
                if old is not None:
                    self._check_stored_trial(old, request)
                    if old["status"] != "failed" or not self.options.retry_failed:
                        self.records[request.number] = old
                        self.bar.update(old)
                        self.schedule.tell(old)
                        continue
                todo.append(request)
            ready = self.schedule.ready()
        return todo

    def finish(self, request, record):
        """Store ``request``'s finished ``record`` and tell the schedule (which may make requests ready)."""
        self._finish(request, record)
        self.schedule.tell(self.records[request.number])

    def continued(self, request):
        """``request`` trained on from its ``continue_from`` trial's state (an ask/tell caller says so)."""
        if request.continue_from is not None:
            self._resumed[request.number] = self.records[request.continue_from]["budget"]

    def close(self):
        """After the last trial: delete the checkpoints no rung is left to continue, close the bar."""
        if self.finished and not self.options.keep_checkpoints:
            self.checkpoints.clear()
        self.bar.close()

    def _pool(self, planned_epochs):
        o = self.options
        # auto only decides for workers on this machine: a remote cluster's start-up is paid already
        if o.auto and o.n_jobs > 1 and not (o.backend == "dask" and o.scheduler is not None):
            return AutoPool(self.study.objective, self.metric, o.n_jobs, o.backend, o.scheduler, planned_epochs,
                            log=o.log, trial_timeout=o.trial_timeout)
        return TrialPool(self.study.objective, self.metric, o.n_jobs, o.backend, o.scheduler, o.trial_timeout)

    def _drive(self, pool, todo):
        """Hand the pool ``todo``, then whatever the schedule has ready, until the strategy ends. A
        pool call runs its requests to the end; what their records make ready goes in the next call."""
        while todo:
            for request, record in pool.run(todo, self._extras):
                self.finish(request, record)
            todo = self.pending()
        if not self.finished:
            raise RuntimeError(f"study {self.name!r}: the strategy waits for trials it never asked for")

    def _extras(self, request):
        """The protocol keywords of ``request``'s task (called as it is dispatched)."""
        extras = {"final": True} if request.final else {}
        return {**extras, **self._checkpoint_extras(request)}

    def _checkpoint_extras(self, request):
        if not self.continues:
            if request.continue_from is not None and not self._said_no_checkpoints:
                self._said_no_checkpoints = True
                warn_at(self.study.objective,
                        f"the objective of study {self.name!r} cannot continue trials from checkpoints (it does "
                        f"not declare supports_checkpoint = True, e.g. with @hpsearch.continuable): promoted "
                        f"trials are trained from scratch")
            return {}
        state = None
        if request.continue_from is not None:
            state = self.checkpoints.load(request.continue_from)
            if state is not None:
                self._resumed[request.number] = self.records[request.continue_from]["budget"]
        return {"checkpoint": state, "keep_checkpoint": request.keep_checkpoint or self.options.keep_checkpoints}

    def _finish(self, request, record):
        state = record.pop("checkpoint", None)
        if state is not None:
            self.checkpoints.save(record["number"], state)  # before the row: a stored trial has its state
        record.update(request.labels)
        resumed_at = self._resumed.pop(request.number, None)   # the budget of the checkpoint it got
        record["trial_epochs"] = request.budget - (resumed_at or 0)
        if resumed_at is not None:  # it really continued: the objective got the checkpoint's state
            record["continued_from"] = request.continue_from
            if record["status"] == "failed" and self.checkpoints.folder is not None:
                # say where the state came from: a damaged or planted file there is the likely cause
                record["error"] = f"{record['error']} (continuing a paused trial from its checkpoint in " \
                                  f"{self.checkpoints.folder})"
        metric_error = record.pop("metric_error", False)
        self._ran += 1
        self.storage.save_trial(self.study_id, record)
        self.records[record["number"]] = record
        self.bar.update(record)
        for callback in self.options.callbacks:
            callback(record)
        if metric_error:
            raise StudyMetricError(f"study {self.name!r}, trial {record['number']}: "
                                   f"{record['error'].removeprefix('MetricError: ')}; the stored trials are kept")
        self._check_fail_fast()

    def _check_fail_fast(self):
        """StudyFailedError when the study's first ``fail_fast`` trials all failed with one error."""
        k = self.options.fail_fast
        first = [self.records.get(n) for n in range(k)] if k is not None else [None]
        if any(r is None or r["status"] != "failed" for r in first):
            return
        # the same error but for the values in it ("lr=0.1 is above ..."): a broken objective
        errors = {re.sub(r"[-+]?\d[\w.+-]*", "#", r["error"]) for r in first}
        if len(errors) == 1:
            raise StudyFailedError(f"study {self.name!r}: its first {k} trials all failed with the same error, "
                                   f"so it stopped (its trials are stored): {first[-1]['error']}")

    def _check_stored_trial(self, old, request):
        if old["params"] == json_roundtrip(request.params) and old["stage"] == request.stage \
                and old["budget"] == request.budget:
            return
        raise StudyMismatchError(
            f"study {self.name!r}: stored trial {request.number} (stage {old['stage']}, budget {old['budget']}) "
            f"has params {old['params']} but the sampler now proposes {json_roundtrip(request.params)} (stage "
            f"{request.stage}, budget {request.budget}) for it; the sampler or a library version changed since "
            f"it was stored, so resuming would mix two searches; {START_OVER}")

    # ------------------------------------------------------------------ results
    def _flags(self, records):
        """Boundary flags over the trials the strategy says the edge test reads."""
        from hpsearch.diagnostics.boundary import find_boundary_flags

        space, ok = self.strategy.boundary_trials(records, self.stages, self.metric, self.direction)
        if space is None or not ok:
            return []
        narrowing = self.strategy.narrowing_options()
        options = {} if narrowing is None else {"top_fraction": narrowing.top_fraction,
                                                "min_top": narrowing.min_top}
        # each parameter is tested over the trials where it exists (its branch's), next to the
        # parameters those trials share; without branches this is one call over every trial
        flags = []
        for names, sub, params, values in space.trials_by_context([r["params"] for r in ok],
                                                                  [r["metrics"][self.metric] for r in ok]):
            if params:
                flags.extend(f for f in find_boundary_flags(sub, params, values, self.direction, **options)
                             if f.param in names)
        order = {name: i for i, name in enumerate(space)}
        flags = sorted(flags, key=lambda f: order[f.param])  # space order; a parameter's low edge first
        # a follow-up stage settles the edges it tested
        return self.strategy.settle_flags(flags, records, self.stages, self.metric, self.direction)

    def result(self, partial=False):
        """The :class:`~hpsearch.results.search_result.SearchResult` of the trials so far (``partial``: and
        every stored one), with the boundary flags (stored too)."""
        if partial:
            # every stored trial counts, including ones this run had not reached yet
            records = {r["number"]: r for r in self.storage.load_trials(self.study_id)}
            records.update(self.records)
            records = list(records.values())
        else:
            records = [self.records[n] for n in sorted(self.records)]
        if not partial and not self._ran and self._stored:
            # a finished study run again: the stored trials and their stored flags are the answer
            # (the edge test's statistics are not computed, nor scipy.stats imported, again)
            flags = self.storage.load_flags(self.study_id)
        else:
            flags = self._flags([r for r in records if r.get("role", "search") == "search"])
            self.storage.save_flags(self.study_id, [dataclasses.asdict(f) for f in flags])
        return SearchResult(records, self.metric, self.direction, self.name, param_names=list(self.space),
                            stages=list(self.stages), boundary=flags, checkpoint_bytes=self.checkpoints.peak_bytes)
