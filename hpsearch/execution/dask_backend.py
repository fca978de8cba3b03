"""Run a study's trials on a Dask distributed cluster, through joblib's dask backend.

``dask_backend(n_jobs, scheduler)`` connects to a running scheduler (started with dask's
own ``dask scheduler`` and ``dask worker`` commands), or starts a ``LocalCluster`` of
``n_jobs`` single-threaded worker processes on this machine, and yields the keyword
arguments for ``joblib.Parallel``. The parent still draws every trial's parameters and
seed, so the results are the same as with loky. Heavy state (the MLP's dataset) is loaded
lazily by the objective once per worker process and stays there for the whole study.

Why a backend *instance* rather than ``backend="dask"``: joblib 1.6 passes its internal
``nesting_level`` to a backend named by string, and its dask backend forwards unknown
keywords to ``client.submit``, so every task fails with ``Batch.__call__() got an
unexpected keyword argument 'nesting_level'``. An instance is used as given.
"""
from contextlib import ExitStack, contextmanager
import logging
import os
import socket
import warnings
from urllib.parse import urlsplit

from hpsearch.errors import HpsearchError

__all__ = ["dask_backend", "local_cluster", "DASK_MISSING"]

DASK_MISSING = "the dask backend needs dask[distributed]: pip install 'hpsearch[dask]'"


def _import_dask():
    try:
        import distributed
        from joblib.parallel import BACKENDS, EXTERNAL_BACKENDS

        if "dask" not in BACKENDS:
            EXTERNAL_BACKENDS["dask"]()  # joblib's own lazy registration of its dask backend
    except ImportError:
        raise HpsearchError(DASK_MISSING) from None
    return distributed, BACKENDS["dask"]


def _check_reachable(scheduler, timeout):
    """Fail fast, with a one-line message, when nothing listens at a tcp:// address.

    A ``distributed.Client`` that cannot connect waits for its whole timeout and then leaves
    noise at interpreter exit; a plain socket says "refused" at once.
    """
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise HpsearchError(f"scheduler must be an address like tcp://HOST:8786, got {scheduler!r}")
    address = scheduler if "://" in scheduler else f"tcp://{scheduler}"
    parts = urlsplit(address)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("tcp", "tls", "ws", "wss", "inproc", "ucx") or not parts.hostname or port is None:
        raise HpsearchError(f"scheduler must be an address like tcp://HOST:8786 (the one `dask scheduler` "
                            f"prints), got {scheduler!r}")
    if parts.scheme == "tcp":
        try:
            with socket.create_connection((parts.hostname, port), timeout=timeout):
                pass
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            if isinstance(exc, socket.timeout):
                reason = f"no answer within {timeout:g} s"
            raise HpsearchError(f"cannot reach the dask scheduler at {address}: {reason}; start one with "
                                f"`dask scheduler` (and workers with `dask worker {address}`) or check "
                                f"--scheduler") from None
    return address


def local_cluster(n_workers):
    """A ``distributed.LocalCluster`` of ``n_workers`` single-threaded processes on 127.0.0.1.

    No dashboard. The scheduler still serves its small HTTP API, on port 8787 when free; when a
    cluster already holds that port it takes another, and we drop distributed's warning about it.
    """
    import distributed

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Port \d+ is already in use", category=UserWarning)
        return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                        host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR)


def _probe(payload):
    """Runs on a worker: proves the cluster can unpickle hpsearch code and ``payload``."""
    import hpsearch

    return hpsearch.__version__, type(payload).__name__


def _check_environment(client, address, timeout, probe):
    """Run one small task through the scheduler before the study starts.

    joblib's dask backend waits forever when the scheduler cannot unpickle a task (a scheduler
    or worker started where hpsearch, or the objective's module, is not importable); a task
    submitted here fails at once instead, and we can say what to fix.
    """
    future = client.submit(_probe, probe, pure=False)
    try:
        future.result(timeout=timeout)
    except (TimeoutError, OSError):
        raise HpsearchError(f"the dask cluster at {address} ran no test task within {timeout:g} s; are its "
                            f"workers busy or unable to reach this machine?") from None
    except Exception as exc:
        # The scheduler's "Error during deserialization of the task graph" carries the real
        # reason (ModuleNotFoundError: No module named ...) as its cause.
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        said = " ".join(str(cause).split()).split(" For more information")[0] or type(cause).__name__
        raise HpsearchError(
            f"the dask cluster at {address} cannot run hpsearch trials ({type(cause).__name__}: {said}); the "
            f"scheduler and every worker need the packages this process uses (hpsearch and the module "
            f"of the objective): install them there, or start `dask scheduler` and `dask worker` with "
            f"PYTHONPATH set to your code") from None
    finally:
        future.release()


@contextmanager
def dask_backend(n_jobs, scheduler=None, timeout=20.0, probe=None):
    """Connect to (or start) a Dask cluster for the duration of a study.

    Args:
        n_jobs: worker processes of the LocalCluster started when ``scheduler`` is None
            (``-1`` or ``None``: one per CPU). Ignored with a scheduler: joblib then uses every
            worker thread of the cluster.
        scheduler: None, or a scheduler address such as ``"tcp://10.0.0.5:8786"``.
        timeout: seconds to wait for the scheduler to answer, for a first worker and for the
            test task.
        probe: with a scheduler, an object (the objective) shipped to a worker in a test task
            before the study starts, so a cluster that cannot import its module (or hpsearch)
            fails at once with a clear message instead of hanging. hpsearch itself is always
            checked.

    Yields:
        dict of ``joblib.Parallel`` keyword arguments: ``{"backend": <joblib dask backend>}``
        (an instance bound to this cluster's client; reusable by several ``Parallel`` calls).

    Raises:
        HpsearchError: dask[distributed] is not installed; the scheduler address is malformed,
            unreachable, has no worker within ``timeout``, or cannot import hpsearch (or
            ``probe``'s module).
    """
    distributed, DaskDistributedBackend = _import_dask()
    with ExitStack() as stack:
        if scheduler is None:
            workers = int(n_jobs) if n_jobs is not None and int(n_jobs) > 0 else (os.cpu_count() or 1)
            cluster = stack.enter_context(local_cluster(workers))
            client = stack.enter_context(distributed.Client(cluster, set_as_default=False))
        else:
            address = _check_reachable(scheduler, timeout)
            try:
                client = distributed.Client(address, timeout=timeout, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise HpsearchError(f"cannot connect to the dask scheduler at {address}: "
                                    f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
            stack.callback(client.close)
            try:
                client.wait_for_workers(1, timeout=timeout)
            except (TimeoutError, OSError):
                raise HpsearchError(f"the dask scheduler at {address} has no worker after {timeout:g} s; "
                                    f"start some with `dask worker {address}`") from None
            _check_environment(client, address, timeout, probe)
        yield {"backend": DaskDistributedBackend(client=client)}
