"""The backends a study can run its trials on, by name.

``loky`` (the default) and ``multiprocessing`` run every trial on hpsearch's own worker
processes (:mod:`hpsearch.execution.processes`), started with loky's method (a fresh
interpreter that does not run the script's ``__main__`` again; the objective is sent with
cloudpickle) or the platform's default ``multiprocessing`` start method; :func:`start_method`
says which. ``threading`` and
``dask`` go through ``joblib.Parallel``: ``parallel_context(backend, n_jobs)`` sets such a
backend up for the duration of a study and yields the keyword arguments for it; ``dask``
starts (or connects to) a Dask cluster through :mod:`hpsearch.execution.dask_backend`,
imported only when asked for so dask stays optional.
"""
import itertools
from contextlib import contextmanager


@contextmanager
def _joblib_builtin(name, n_jobs, scheduler, probe):
    yield {"backend": name}


@contextmanager
def _dask(name, n_jobs, scheduler, probe):
    from hpsearch.execution.dask_backend import dask_backend

    # probe: the objective, sent once through the cluster so a worker that cannot
    # import its module fails at once instead of hanging inside joblib
    with dask_backend(n_jobs, scheduler=scheduler, probe=probe) as kwargs:
        yield dict(kwargs)


# name -> (context factory, runs trials in separate processes)
BACKENDS = {
    "loky": (_joblib_builtin, True),
    "multiprocessing": (_joblib_builtin, True),
    "threading": (_joblib_builtin, False),
    "dask": (_dask, True),
}


# name -> multiprocessing start method of hpsearch's own worker processes (None: the platform's default)
OWN_WORKERS = {"loky": "loky", "multiprocessing": None}


def check_backend(backend, scheduler=None):
    """Validate a backend name (and that ``scheduler`` is only given with dask).

    Raises:
        ValueError: unknown name, or a scheduler address without ``backend="dask"``.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(sorted(BACKENDS))}")
    if scheduler is not None and backend != "dask":
        raise ValueError(f"scheduler={scheduler!r} needs backend='dask', got backend={backend!r}")
    return backend


def uses_processes(backend):
    """True when the backend runs trials in other processes (thread limits go in the worker)."""
    return BACKENDS[check_backend(backend)][1]


def check_trial_timeout(trial_timeout, backend):
    """Validate a per-trial timeout (seconds) for ``backend``; returns it as a float.

    Raises:
        ValueError: not a positive finite number, or a backend whose workers hpsearch cannot stop.
    """
    import math

    if isinstance(trial_timeout, bool) or not isinstance(trial_timeout, (int, float)) \
            or not math.isfinite(trial_timeout) or trial_timeout <= 0:
        raise ValueError(f"trial_timeout must be a positive number of seconds, got {trial_timeout!r}")
    if not own_workers(backend):
        raise ValueError(f"trial_timeout needs a backend whose workers hpsearch can stop (loky or multiprocessing), "
                         f"got backend={backend!r}: a {'thread' if backend == 'threading' else 'dask task'} "
                         f"cannot be stopped")
    return float(trial_timeout)


def own_workers(backend):
    """True when the backend's trials run on hpsearch's own worker processes (any ``n_jobs``)."""
    return check_backend(backend) in OWN_WORKERS


def start_method(backend):
    """The multiprocessing start method of ``backend``'s worker processes (None: the platform's default)."""
    return OWN_WORKERS[backend]


def make_parallel(n_jobs, **kwargs):
    """A ``joblib.Parallel`` whose call yields results one at a time as they complete.

    Use it as a context manager (``with make_parallel(2, backend="loky") as parallel``)
    so its pool is reused by every call. It returns results with
    ``return_as="generator_unordered"`` where the backend supports that; joblib's
    ``multiprocessing`` backend supports no generator, so there the tasks run in
    chunks of ``n_jobs`` and each chunk's results are yielded when it ends.
    """
    import joblib

    try:
        return joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered", **kwargs)
    except ValueError as exc:
        if "return_as" not in str(exc):
            raise
    return _ChunkedParallel(joblib.Parallel(n_jobs=n_jobs, return_as="list", **kwargs), n_jobs)


class _ChunkedParallel:
    """Yield a list-only backend's results chunk by chunk (so finished trials are stored early)."""

    def __init__(self, parallel, n_jobs):
        self._parallel, self._n_jobs = parallel, n_jobs

    def __enter__(self):
        self._parallel.__enter__()
        return self

    def __exit__(self, *exc):
        return self._parallel.__exit__(*exc)

    def __call__(self, tasks):
        tasks = iter(tasks)
        while True:
            chunk = list(itertools.islice(tasks, self._n_jobs))
            if not chunk:
                return
            yield from self._parallel(chunk)


@contextmanager
def parallel_context(backend, n_jobs, scheduler=None, probe=None):
    """Set up ``backend`` for ``n_jobs`` workers; yield ``joblib.Parallel`` keyword arguments.

    Args:
        backend: one of ``dask``, ``loky``, ``multiprocessing``, ``threading``.
        n_jobs: number of parallel workers (a dask LocalCluster gets this many processes).
        scheduler: a Dask scheduler address (``tcp://host:port``); dask only.
        probe: optional picklable object (the objective) that a cluster must be able to
            unpickle before the study starts; dask only.

    Yields:
        dict, e.g. ``{"backend": "loky"}``, to pass as ``joblib.Parallel(**kwargs)``.

    Raises:
        ValueError: unknown backend, or a scheduler without dask.
    """
    factory, _ = BACKENDS[check_backend(backend, scheduler)]
    with factory(backend, n_jobs, scheduler, probe) as kwargs:
        yield kwargs
