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

Workers outlive a study that ends normally, parked for the next one in this process (as
loky's reusable executor does for scikit-learn), because starting one costs a fresh
interpreter and its imports: a second of start-up that a ``SearchCV.fit`` of a few seconds
would otherwise pay on every call. A parked worker drops its objective, takes the next
study's (with that study's working folder and ``sys.path``), and ends by itself after
:data:`PARKED_SECONDS` unused; one whose study was interrupted is never parked.
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

#: How long a parked worker waits for another study before it ends, in seconds.
PARKED_SECONDS = 300.0

# messages to a worker: the first byte says what follows
_OBJECTIVE, _TRIAL, _PARK = b"O", b"T", b"P"


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


def _load_objective(body):
    """The objective of an objective message, and the study's working folder."""
    import cloudpickle

    folder, path, payload = pickle.loads(body)
    sys.path[:0] = [entry for entry in path if entry not in sys.path]  # the study's modules import here
    try:
        return cloudpickle.loads(payload), folder
    except Exception as exc:  # e.g. the objective's module cannot be imported here
        return _Unloadable(exc), folder


def serve(conn, parent_pid, folder):
    """A worker process's main loop: run trials of the objective it was last sent until told to stop.

    Messages from the parent, each tagged by its first byte: an objective (with its study's
    working folder and ``sys.path``), a trial's pickled
    :func:`~hpsearch.execution.worker.run_trial` keyword arguments, "parked" (the study ended:
    drop the objective and wait up to :data:`PARKED_SECONDS` for another), and an empty
    message to stop. To the parent: ``("start",)`` as the objective is called, then
    ``("done", record)``.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent_pid)
    from hpsearch.execution.worker import run_trial

    objective, parked = None, False
    while True:
        try:
            if parked and not conn.poll(PARKED_SECONDS):
                return  # unused for a while: nothing keeps it
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return  # the parent closed the pipe
        if not data:
            return
        kind, body = data[:1], data[1:]
        parked = kind == _PARK
        if parked:
            objective = None  # the finished study's objective (and the data it holds) is freed
        elif kind == _OBJECTIVE:
            objective, folder = _load_objective(body)
        else:
            kwargs = pickle.loads(body)
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
        self.sent = None      # the objective message the worker has
        self.retired = False  # killed on purpose: never given another trial
        self.key = None
        self.started = None   # when the objective was called (monotonic), once the worker says so
        self.deadline = None
        self.parked_at = None

    def send_objective(self):
        if self.sent is not self.payload:
            self.conn.send_bytes(_OBJECTIVE + self.payload)
            self.sent = self.payload

    def assign(self, key, kwargs, timeout):
        self.send_objective()
        self.conn.send_bytes(_TRIAL + pickle.dumps(kwargs, protocol=pickle.HIGHEST_PROTOCOL))
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

    def park(self):
        """Keep this idle worker for the next study of this process; False if it cannot be."""
        try:
            self.conn.send_bytes(_PARK)
        except OSError:
            return False
        self.parked_at, self.payload = time.monotonic(), None
        return True

    def reusable(self):
        """Parked, alive, and not about to end for having waited too long."""
        return (self.parked_at is not None and self.process.is_alive()
                and time.monotonic() - self.parked_at < PARKED_SECONDS - 30)


# idle workers of finished studies, by start method: the next study of this process takes them
_parked = {}
_parked_lock = threading.Lock()


def _end_parked():
    """At exit: end the parked workers now (multiprocessing would wait for them to end by themselves)."""
    with _parked_lock:
        workers = [w for pool in _parked.values() for w in pool]
        _parked.clear()
    for worker in workers:
        _kill(worker.process)
    for worker in workers:
        worker.process.join(STOP_GRACE_SECONDS)


def _park(start_method, workers):
    with _parked_lock:
        if not _parked:  # the first parking of this process (the keys stay once added)
            import atexit

            # registered after multiprocessing's own exit handler, so it runs before it
            atexit.register(_end_parked)
        _parked.setdefault(start_method, []).extend(workers)


def _take_parked(start_method, n):
    """Up to ``n`` parked workers of ``start_method`` that can run another study."""
    with _parked_lock:
        pool = _parked.get(start_method, [])
        taken = []
        while pool and len(taken) < n:
            worker = pool.pop()
            if worker.reusable():
                taken.append(worker)
            else:
                worker.stop()
                _kill(worker.process)
    return taken


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
        self._start_method = start_method
        self._payload = pickle.dumps((os.getcwd(), list(sys.path),
                                      cloudpickle.dumps(objective, protocol=pickle.HIGHEST_PROTOCOL)),
                                     protocol=pickle.HIGHEST_PROTOCOL)
        self._n = n
        self._workers = []

    def __enter__(self):
        self.resize(self._n)
        return self

    def __exit__(self, exc_type, *exc):
        self.close(park=exc_type is None)
        return False

    def resize(self, n):
        """Have ``n`` workers (parked ones first, then new ones started at once; there are never
        fewer than already running)."""
        self._n = max(self._n, n)
        new = _take_parked(self._start_method, self._n - len(self._workers))
        new += [_Worker(self._context, None) for _ in range(self._n - len(self._workers) - len(new))]
        self._workers.extend(new)
        for worker in new:  # after every start, so the workers' start-ups overlap
            worker.payload, worker.parked_at = self._payload, None
            worker.send_objective()

    def close(self, park=False):
        """Stop every worker: idle ones are parked for the next study (``park``, a study that
        ended normally) or asked to end, busy ones (a study interrupted) killed."""
        kept = [w for w in self._workers if park and w.key is None and not w.retired and w.process.is_alive()
                and w.park()]
        if kept:
            _park(self._start_method, kept)
        self._workers = [w for w in self._workers if w not in kept]
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
