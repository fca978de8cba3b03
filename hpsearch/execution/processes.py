"""WorkerProcesses: the study's own trial worker processes, one pipe each.

Every trial of a process backend (``loky``, ``multiprocessing``) runs here, whatever
``n_jobs`` (1 included) and the probe trial of ``n_jobs="auto"`` too, so nothing an
objective does can hurt the study's own process.

Why not joblib's loky executor: it cannot say which trial killed a worker (a crash broke
the whole pool and every trial in flight had to run again), it cannot stop one trial
that runs past its time without breaking the pool, and its workers outlive a killed
parent (an idle one for its 300 s idle timeout, a busy one until its trial ends). Here
each worker has its own pipe, so the parent always knows which trial each one runs:

- a worker that dies (a segfault, ``os._exit``, the out-of-memory killer) fails exactly
  its own trial, is replaced, and the other trials in flight go on;
- a trial past its timeout has its worker killed (SIGKILL) and replaced; the clock starts
  when the worker calls the objective (start-up and data transfer are not counted);
- a worker ends within a second of its parent's death (``PR_SET_PDEATHSIG`` on Linux,
  and a thread polling ``os.getppid()`` everywhere);
- a worker ignores SIGINT: Ctrl-C at a terminal reaches the whole process group, and it is
  the parent's to handle (it stops the study, then its workers);
- a worker goes back to its start folder before each trial, so an objective's
  ``os.chdir()`` changes nothing for the next trial (and never the parent's folder).

The objective is pickled once with cloudpickle (as loky does, so functions and classes
defined in ``__main__`` work) and sent to each worker once, not with every trial.
Trial arguments and records are plain data (``pickle`` over our own pipes only).
"""
import os
import pickle
import signal
import sys
import threading
import time
from multiprocessing.connection import wait

__all__ = ["WorkerProcesses", "Lost", "PARENT_POLL_SECONDS", "serve"]

#: How often a worker checks that its parent is alive, in seconds (where prctl is not available).
PARENT_POLL_SECONDS = 0.5

#: How long a worker asked to stop may take before it is killed, in seconds.
STOP_GRACE_SECONDS = 2.0


class Lost:
    """What the parent knows of a trial that returned nothing: why (one line) and after how long."""

    def __init__(self, kind, message, seconds):
        self.kind, self.message, self.seconds = kind, message, seconds  # kind: "died" or "timeout"

    def __repr__(self):
        return f"Lost({self.kind!r}, {self.message!r}, {self.seconds!r})"


def describe_exit(exitcode):
    """How a worker process ended, for a failed trial's error (``exitcode`` as multiprocessing gives it)."""
    if exitcode is None:
        return "it stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        why = " (a crash in native code?)" if -exitcode in (signal.SIGSEGV, signal.SIGBUS, signal.SIGILL,
                                                            signal.SIGFPE, signal.SIGABRT) else \
            " (out of memory?)" if -exitcode == signal.SIGKILL else ""
        return f"killed by {name}{why}"
    return f"it exited with code {exitcode} (os._exit() in the objective?)"


# ---------------------------------------------------------------------- the worker's side
class _Unloadable:
    """Stands for an objective a worker could not unpickle: every trial fails with that error."""

    def __init__(self, exc):
        self.exc = exc

    def __call__(self, params, budget, seed, report=None):
        raise self.exc


def _die_with_parent(parent_pid):
    """End this process as soon as ``parent_pid`` is no longer its parent."""
    if sys.platform.startswith("linux"):
        try:  # the kernel kills us when the parent dies, even while the objective holds the GIL
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # it died before prctl took effect
        os._exit(1)

    def watch():
        while True:
            time.sleep(PARENT_POLL_SECONDS)
            if os.getppid() != parent_pid:  # re-parented: the study process is gone
                os._exit(1)

    threading.Thread(target=watch, name="hpsearch-parent-watch", daemon=True).start()


def serve(conn, parent_pid, folder):
    """A worker process's main loop: receive the objective, then run trials until told to stop.

    Messages from the parent: the pickled objective first, then pickled
    :func:`~hpsearch.execution.worker.run_trial` keyword arguments per trial, and an empty
    message to stop. To the parent: ``("start",)`` as the objective is called, then
    ``("done", record)``.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent_pid)
    from hpsearch.execution.worker import run_trial

    try:
        import cloudpickle

        objective = cloudpickle.loads(conn.recv_bytes())
    except (EOFError, OSError):
        return
    except Exception as exc:  # e.g. the objective's module cannot be imported here
        objective = _Unloadable(exc)
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return  # the parent closed the pipe
        if not data:
            return
        kwargs = pickle.loads(data)
        try:
            os.chdir(folder)  # an earlier trial's os.chdir() must not move this one
        except OSError:
            pass
        conn.send(("start",))
        record = run_trial(objective, in_worker=True, **kwargs)
        conn.send(("done", record))


# ---------------------------------------------------------------------- the parent's side
def _kill(process):
    """SIGKILL ``process`` if it still runs (loky's processes have no ``kill()``; SIGTERM can be caught)."""
    if process.exitcode is None:
        try:
            os.kill(process.pid, getattr(signal, "SIGKILL", signal.SIGTERM))
        except (ProcessLookupError, OSError):
            pass


class _Worker:
    """One worker process, its pipe, and the task it runs (None when idle)."""

    def __init__(self, context, payload):
        parent_end, child_end = context.Pipe(duplex=True)
        self.process = context.Process(target=serve, args=(child_end, os.getpid(), os.getcwd()),
                                       name="hpsearch-worker")
        self.process.start()
        child_end.close()
        self.conn, self.payload = parent_end, payload
        self.sent = False
        self.retired = False  # killed on purpose: never given another trial
        self.key = None
        self.started = None   # when the objective was called (monotonic), once the worker says so
        self.deadline = None

    def send_objective(self):
        if not self.sent:
            self.conn.send_bytes(self.payload)
            self.sent = True

    def assign(self, key, kwargs, timeout):
        self.send_objective()
        self.conn.send_bytes(pickle.dumps(kwargs, protocol=pickle.HIGHEST_PROTOCOL))
        self.key, self.started, self.deadline, self.timeout = key, None, None, timeout

    def receive(self):
        """The finished record, or None while the trial runs; EOFError when the worker died."""
        while self.conn.poll():
            message = self.conn.recv()
            if message[0] == "start":
                self.started = time.monotonic()
                if self.timeout is not None:
                    self.deadline = self.started + self.timeout
            else:
                self.key = self.started = self.deadline = None
                return message[1]
        return None

    def kill(self):
        if self.process.is_alive():
            _kill(self.process)
        self.process.join(STOP_GRACE_SECONDS)
        self.conn.close()

    def retire(self):
        """Kill this worker mid-trial (a timeout, or a study that stopped); it takes no more trials."""
        self.key, self.retired = None, True
        _kill(self.process)

    def stop(self):
        """Ask an idle worker to end (it is killed later if it does not)."""
        try:
            self.conn.send_bytes(b"")
        except OSError:
            pass


class WorkerProcesses:
    """``n`` trial worker processes for one study (use it as a context manager; see the module docstring).

    Args:
        objective: the study's objective (picklable by cloudpickle).
        n: how many workers (a positive int); :meth:`resize` can add more later.
        start_method: ``"loky"`` (loky's spawn: a fresh interpreter that, unlike multiprocessing's
            ``spawn``, does not run the script's ``__main__`` again, so a script without an
            ``if __name__ == "__main__"`` guard works), or a multiprocessing start method
            (None: the platform's default).
    """

    def __init__(self, objective, n, start_method="loky"):
        import multiprocessing

        import cloudpickle  # loky sends callables with it too

        if start_method == "loky":
            from joblib.externals.loky.backend.context import get_context

            self._context = get_context("loky")
        else:
            self._context = multiprocessing.get_context(start_method)
        self._payload = cloudpickle.dumps(objective, protocol=pickle.HIGHEST_PROTOCOL)
        self._n = n
        self._workers = []

    def __enter__(self):
        self.resize(self._n)
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def resize(self, n):
        """Have ``n`` workers (more start at once; there are never fewer than already running)."""
        self._n = max(self._n, n)
        new = [_Worker(self._context, self._payload) for _ in range(self._n - len(self._workers))]
        self._workers.extend(new)
        for worker in new:  # after every start, so the workers' start-ups overlap
            worker.send_objective()

    def close(self):
        """Stop every worker: idle ones are asked, busy ones (a study interrupted) killed."""
        for worker in self._workers:
            if worker.key is None and worker.process.is_alive():
                worker.stop()
            else:
                _kill(worker.process)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for worker in self._workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            worker.kill()
        self._workers = []

    def _fresh(self, index):
        """Worker ``index``, replaced by a new process if it died or was killed."""
        worker = self._workers[index]
        if worker.retired or not worker.process.is_alive():
            worker.kill()
            worker = self._workers[index] = _Worker(self._context, self._payload)
        return worker

    def run(self, jobs, timeout=None):
        """Run ``jobs`` (``(key, run_trial keyword arguments)`` pairs) on the workers.

        Yields ``(key, record)`` as each trial finishes, or ``(key, Lost)`` for a trial whose
        worker died or ran past ``timeout`` seconds (that worker is replaced when next needed).
        """
        jobs = iter(jobs)  # drawn one at a time as workers free up (a job may carry a large checkpoint)
        try:
            while True:
                for index in range(len(self._workers)):
                    if self._workers[index].key is None:
                        job = next(jobs, None)
                        if job is not None:
                            self._fresh(index).assign(job[0], job[1], timeout)
                busy = [w for w in self._workers if w.key is not None]
                if not busy:
                    return
                deadlines = [w.deadline for w in busy if w.deadline is not None]
                wait_for = None if not deadlines else max(0.0, min(deadlines) - time.monotonic())
                wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=wait_for)
                for worker in busy:
                    yield from self._collect(worker)
        finally:
            for worker in self._workers:
                if worker.key is not None:  # abandoned mid-trial (the study stopped): its answer is stale
                    worker.retire()

    def _collect(self, worker):
        key = worker.key
        try:
            record = worker.receive()
        except (EOFError, OSError):  # its end of the pipe closed: it is dying, or must (it cannot answer)
            record = None
            worker.process.join(STOP_GRACE_SECONDS)
            _kill(worker.process)
            worker.process.join(STOP_GRACE_SECONDS)
        if record is not None:
            yield key, record
            return
        seconds = None if worker.started is None else time.monotonic() - worker.started
        if not worker.process.is_alive():
            worker.process.join(STOP_GRACE_SECONDS)
            worker.key = None
            yield key, Lost("died", f"the worker process running this trial died: "
                                    f"{describe_exit(worker.process.exitcode)}", seconds)
        elif worker.deadline is not None and time.monotonic() >= worker.deadline:
            worker.retire()
            yield key, Lost("timeout", f"timed out after {worker.timeout:g} s (its worker was stopped)", seconds)
