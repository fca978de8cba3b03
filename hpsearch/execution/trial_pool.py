"""TrialPool: one pool of workers for a whole study, surviving workers that die.

The pool is set up once per study (BLAS thread limits so that ``n_jobs`` workers share
the cores) and every round of trials goes through :meth:`TrialPool.run`, which yields
each finished record as soon as it arrives.

``loky`` and ``multiprocessing`` run every trial, whatever ``n_jobs``, on hpsearch's own
worker processes (:class:`~hpsearch.execution.processes.WorkerProcesses`): a trial whose
worker dies (segfault, ``os._exit``, out of memory) or runs past ``trial_timeout`` is a
failed record naming why, its worker is replaced, and the other trials go on.

``threading`` and ``dask`` go through ``joblib.Parallel``. There a worker process that
dies (dask) breaks the whole pool, and joblib cannot say which trial killed it: the pool is
rebuilt and the unfinished trials run again in chunks of ``n_jobs``; in a chunk that
breaks the pool again they run one by one, and a trial that kills its worker on its own
is recorded as failed.
"""
import time
import warnings
from contextlib import ExitStack

from hpsearch.execution.backends import make_parallel, own_workers, parallel_context, start_method, uses_processes
from hpsearch.execution.processes import Lost, WorkerProcesses
from hpsearch.execution.worker import run_trial, worker_threads

__all__ = ["TrialPool", "AutoPool", "worker_died", "WORKER_START_SECONDS"]


def worker_died(exc):
    """True for the errors a backend raises when a worker process dies mid-trial."""
    from concurrent.futures import BrokenExecutor

    return isinstance(exc, BrokenExecutor) or type(exc).__name__ in ("TerminatedWorkerError", "KilledWorker")


def _lost_record(request, error, seconds=None):
    """The failed record of a trial that returned nothing (its worker died, or it timed out)."""
    end = time.time()
    start = end if seconds is None else end - seconds
    return {"number": request.number, "stage": request.stage, "status": "failed", "params": dict(request.params),
            "metrics": {}, "budget": request.budget, "seed": request.seed, "start": start, "end": end,
            "duration": seconds, "error": error, "curve": []}


def _crashed_record(request, exc):
    """The failed record of a trial whose joblib worker process died while running it."""
    return _lost_record(request, f"{type(exc).__name__}: the worker process running this trial died (a crash or "
                                 f"out of memory?)")


#: The exception names of a failed trial that returned nothing (see :class:`~hpsearch.execution.processes.Lost`).
LOST_ERRORS = {"died": "WorkerDied", "timeout": "TrialTimeout"}


class TrialPool:
    """Runs trial requests on ``n_jobs`` workers of ``backend`` (use it as a context manager).

    Args:
        objective: the study's objective (a Dask cluster is probed with it).
        metric: the study metric (a trial without it is "diverged").
        n_jobs: positive int.
        backend: a name of :data:`hpsearch.execution.backends.BACKENDS`.
        scheduler: a Dask scheduler address, or None.
        trial_timeout: seconds one objective call may take (own worker processes only), or None.
    """

    def __init__(self, objective, metric, n_jobs, backend="loky", scheduler=None, trial_timeout=None):
        self.objective, self.metric = objective, metric
        self.n_jobs, self.backend, self.scheduler = n_jobs, backend, scheduler
        self.trial_timeout = trial_timeout
        self._stack = self._parallel = self._kwargs = self._processes = None
        self._threads = None

    def __enter__(self):
        stack = ExitStack()
        try:
            if own_workers(self.backend):
                self._processes = stack.enter_context(WorkerProcesses(self.objective, self.n_jobs,
                                                                      start_method(self.backend)))
                self._threads = worker_threads(self.n_jobs) if self.n_jobs > 1 else None
                self._stack = stack
                return self
            self._kwargs = stack.enter_context(parallel_context(self.backend, self.n_jobs, self.scheduler,
                                                                probe=self.objective))
            self._limit_threads(stack)
            self._parallel = make_parallel(self.n_jobs, **self._kwargs).__enter__()
            stack.callback(lambda: self._parallel.__exit__(None, None, None))
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        return self

    def __exit__(self, *exc):
        self._stack.__exit__(*exc)  # an interrupted study's workers are not kept for the next
        return False

    @property
    def isolated(self):
        """True when every trial runs in a worker process of its own pool (it may grow by :meth:`resize`)."""
        return self._processes is not None

    def resize(self, n_jobs):
        """Grow an :attr:`isolated` pool to ``n_jobs`` workers (its warm workers are kept)."""
        self.n_jobs = n_jobs
        self._threads = worker_threads(n_jobs) if n_jobs > 1 else None
        self._processes.resize(n_jobs)

    def _limit_threads(self, stack):
        if self.n_jobs == 1:
            return
        threads = worker_threads(self.n_jobs)
        if self.backend == "dask" and self.scheduler is not None:
            return  # remote workers have their own cores; this machine's count says nothing
        if uses_processes(self.backend):
            self._threads = threads  # each worker process limits its own pools
        else:
            # threadpoolctl is process-wide: one limit around the whole threaded run
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(limits=threads))

    def run(self, requests, extras=None):
        """Run ``requests`` (a list of TrialRequest); yield ``(request, record)`` as each finishes.

        ``extras(request)``, if given, returns more keyword arguments of
        :func:`~hpsearch.execution.worker.run_trial` (a checkpoint to continue from, ...); it is called
        as each task is dispatched, so large checkpoints are not all held at once.
        """
        self._extras = extras or (lambda request: {})
        if self._processes is not None:
            yield from self._run_isolated(requests)
            return
        pending = {r.number: r for r in requests}
        if not pending:
            return
        for size in (len(pending), self.n_jobs, 1):
            numbers = sorted(pending)
            for start in range(0, len(numbers), size):
                chunk = [pending[n] for n in numbers[start:start + size]]
                try:
                    yield from self._consume(chunk, pending)
                except Exception as exc:
                    if not worker_died(exc):
                        raise
                    self._reset()
                    if size == 1:  # this trial killed its worker on its own
                        pending.pop(chunk[0].number)
                        yield chunk[0], _crashed_record(chunk[0], exc)
            if not pending:
                return

    first_duration = None   # the first finished trial's duration and epochs (AutoPool reads them)
    first_epochs = None

    def _run_isolated(self, requests):
        by_number = {r.number: r for r in requests}
        jobs = ((r.number, dict(params=r.params, budget=r.budget, seed=r.seed, number=r.number, stage=r.stage,
                                threads=self._threads, metric=self.metric, **self._extras(r)))
                for r in requests)
        for number, outcome in self._processes.run(jobs, timeout=self.trial_timeout):
            request = by_number[number]
            if isinstance(outcome, Lost):
                outcome = _lost_record(request, f"{LOST_ERRORS[outcome.kind]}: {outcome.message}", outcome.seconds)
            self._note_first(request, outcome)
            yield request, outcome

    def _note_first(self, request, record):
        if self.first_duration is None and record.get("duration") is not None:
            self.first_duration, self.first_epochs = record["duration"], request.budget

    def _consume(self, chunk, pending):
        """Dispatch ``chunk`` in one parallel call; yield each record as it arrives.

        Records are matched by number and removed from ``pending``; a record that is not
        pending (a straggler of a broken pool) is ignored.
        """
        from joblib import delayed

        # a KeyboardInterrupt raised in a worker thread or process is the objective's, never Ctrl-C
        in_worker = self.n_jobs > 1
        tasks = (delayed(run_trial)(self.objective, r.params, r.budget, r.seed, r.number, r.stage, self._threads,
                                    self.metric, in_worker=in_worker, **self._extras(r)) for r in chunk)
        results = self._parallel(tasks)
        try:
            for record in results:
                request = pending.pop(record["number"], None)
                if request is not None:
                    self._note_first(request, record)
                    yield request, record
        finally:
            _close_quietly(results)

    def _reset(self):
        """Replace a pool broken by a dead worker with a fresh one."""
        try:
            self._parallel.__exit__(None, None, None)
        except Exception:  # the broken pool may fail to shut down cleanly; it is discarded anyway
            pass
        self._parallel = make_parallel(self.n_jobs, **self._kwargs).__enter__()


# joblib warns when its result generator is closed early ("N tasks which were still being processed
# by the workers have been cancelled"); here that is an interrupted study, which says so itself
_JOBLIB_EARLY_EXIT = r"\d+ tasks (have been successfully executed|which were still being processed)"


def _close_quietly(results):
    """Close joblib's result generator (a stopped round) without its advice about task iterators."""
    close = getattr(results, "close", None)
    if close is None:
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_JOBLIB_EARLY_EXIT, category=UserWarning)
        close()


#: What starting one worker process costs before its first trial (spawn, imports, data), in
#: seconds; workers pay off when they save more than that.
WORKER_START_SECONDS = 0.5


class AutoPool:
    """``n_jobs="auto"``: the first trial runs on one worker, and its duration decides.

    With the study's planned epochs, the first trial's time per epoch estimates the whole
    study's work W. More workers pay off when ``W / cores + start-up < W``; otherwise the
    study stays on the one worker (in this process for ``threading``). ``log(str)`` is told
    the choice in one line. The trials are the same either way (the results never depend on
    the number of workers).
    """

    def __init__(self, objective, metric, cores, backend, scheduler, planned_epochs, log=None, trial_timeout=None):
        self.objective, self.metric, self.cores = objective, metric, cores
        self.backend, self.scheduler, self.planned_epochs = backend, scheduler, planned_epochs
        self.log, self.trial_timeout = log, trial_timeout
        self.n_jobs = None  # decided at the first trial
        self._stack, self._pool = None, None

    def __enter__(self):
        self._stack = ExitStack()
        return self

    def __exit__(self, *exc):
        self._stack.__exit__(*exc)  # an interrupted study's workers are not kept for the next
        return False

    def run(self, requests, extras=None):
        if self._pool is None and requests:
            here = self._stack.enter_context(TrialPool(self.objective, self.metric, 1, self.backend, self.scheduler,
                                                       self.trial_timeout))
            yield from here.run(requests[:1], extras)
            requests = requests[1:]
            self._pool = self._stack.enter_context(self._choose(here))
        if requests:
            yield from self._pool.run(requests, extras)

    def _choose(self, here):
        duration, epochs = here.first_duration, here.first_epochs
        # a first trial that returned nothing (its worker died, or it timed out) says nothing of the work:
        # take the workers, as a study that may hang or crash is not a tiny one
        work = float("inf") if duration is None else duration * self.planned_epochs / max(1, epochs)
        worth = self.cores > 1 and work - (work / self.cores + WORKER_START_SECONDS * self.cores) > 0
        self.n_jobs = self.cores if worth else 1
        where = "on one worker process" if here.isolated else "in this process"
        if self.log is not None:
            if duration is None:
                self.log(f"n_jobs: {self.n_jobs} workers (the first trial returned no duration)")
            elif worth:
                self.log(f"n_jobs: {self.cores} workers (the first trial took {duration:.2g} s: about {work:.2g} s "
                         f"of work in all)")
            else:
                self.log(f"n_jobs: 1, {where}: the study's work (about {work:.2g} s, from its first trial) "
                         f"is too small to pay for starting {self.cores} workers")
        if worth and here.isolated:
            here.resize(self.cores)  # the first worker is warm (imports, data): keep it
            return _Reuse(here)
        return TrialPool(self.objective, self.metric, self.n_jobs, self.backend, self.scheduler,
                         self.trial_timeout) if worth else _Reuse(here)


class _Reuse:
    """A pool already entered, used again as a context manager that does not close it."""

    def __init__(self, pool):
        self.pool = pool

    def __enter__(self):
        return self.pool

    def __exit__(self, *exc):
        return False
