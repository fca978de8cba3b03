"""SQLite storage for studies: specs, stages, finished trials, boundary flags, leases.

One file holds any number of studies. Only finished trials are written, each in
its own transaction, so a process killed at any moment leaves every trial either
fully recorded or absent (the WAL journal rolls an interrupted write back when
the file is next opened). ``Storage(None)`` keeps everything in memory.

Concurrency policy: any number of processes may open the same file. Writes are
serialised by SQLite (``BEGIN IMMEDIATE`` plus a busy timeout), so different
studies in one file can be run at the same time. The same study is guarded by a
lease: a second process that tries to run it stops with
:class:`~hpsearch.errors.StudyLockedError` naming the holder, unless the holder
has died, in which case its lease is taken over.

Note that SQLite's WAL mode needs shared memory, so a storage file must live on
a local disk, not on a network file system shared between machines.
"""
import json
import math
import os
import socket
import time
from contextlib import contextmanager

from hpsearch.storage.database import SCHEMA_VERSION, Database, dumps as _dumps, sqlite_scalar as _sqlite_scalar
from hpsearch.errors import START_OVER, StorageError, StudyLockedError, StudyMismatchError
from hpsearch.storage.leases import Heartbeat, clock, process_identity
from hpsearch.storage.specs import spec_differences

__all__ = ["Storage", "SCHEMA_VERSION", "spec_differences"]

_TRIAL_COLUMNS = ("number", "stage", "status", "budget", "seed", "start", "end", "duration", "error")
_TRIAL_DEFAULTS = {"params": {}, "metrics": {}, "curve": [], "budget": None, "seed": None,
                   "start": None, "end": None, "duration": None, "error": None}

_SAVE_TRIAL = """
INSERT INTO trials (study_id, number, stage, status, budget, seed, start, "end", duration, error,
                    params, metrics, curve, extra)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (study_id, number) DO UPDATE SET
    stage = excluded.stage, status = excluded.status, budget = excluded.budget, seed = excluded.seed,
    start = excluded.start, "end" = excluded."end", duration = excluded.duration,
    error = excluded.error, params = excluded.params, metrics = excluded.metrics,
    curve = excluded.curve, extra = excluded.extra
"""



class Storage(Database):
    """A SQLite database of studies, shared safely between threads and processes.

    Args:
        path: a database file (str or Path; parent folders are created), or None for an
            in-memory database that lives as long as this object.
        timeout: seconds to wait for another process's write to finish before giving up
            with :class:`StorageError`.
        stale_after: seconds without a heartbeat after which a lease held by a process on
            another host is considered abandoned (a lease on this host is checked directly
            by asking whether its process is alive).
        readonly: open an existing file for reading only (see :class:`~hpsearch.storage.database.Database`).

    Raises:
        StorageError: the file is not SQLite, is damaged, belongs to another application,
            was written by a newer hpsearch, or cannot be created.

    Use as a context manager, or call :meth:`close`, which also releases held leases.
    """

    def __init__(self, path=None, timeout=30.0, stale_after=3600.0, readonly=False):
        if isinstance(stale_after, bool) or not isinstance(stale_after, (int, float)) \
                or not 0 <= stale_after < math.inf:
            raise ValueError(f"stale_after must be a non-negative number of seconds, got {stale_after!r}")
        self.stale_after = float(stale_after)
        self._held = set()  # ids of the studies whose lease this object holds
        self._pid = os.getpid()
        self._host = socket.gethostname()
        super().__init__(path, timeout, readonly=readonly)

    def _study_name(self, study_id):
        row = self._conn.execute("SELECT name FROM studies WHERE id = ?", (study_id,)).fetchone()
        if row is None:
            raise StorageError(f"no study with id {study_id!r} in {self._where}")
        return row[0]

    # ---------------------------------------------------------------- studies
    def open_study(self, name, spec, overwrite=False):
        """Create the study ``name``, or check that its stored spec equals ``spec``.

        Args:
            name: the study's name (a non-empty string).
            spec: a JSON-able dict that identifies the study's settings (space, metric,
                strategy, seed, objective parameters). Compared after a JSON round trip,
                ignoring key order.
            overwrite: discard the stored study's trials, stages and flags and store ``spec``.

        Returns:
            the study id (an int) to pass to the other methods.

        Raises:
            StudyMismatchError: the study exists with another spec and ``overwrite`` is False.
            StudyLockedError: ``overwrite`` would discard a study that a live process is running.
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"study name must be a non-empty string, got {name!r}")
        if not isinstance(spec, dict):
            raise ValueError(f"study spec must be a dict, got {type(spec).__name__}")
        try:
            text = _dumps(spec)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"study spec of {name!r} cannot be stored: {exc}") from None
        new = json.loads(text)
        with self._guard("open study"), self._transaction() as conn:
            row = conn.execute("SELECT id, spec FROM studies WHERE name = ?", (name,)).fetchone()
            if row is None:
                cur = conn.execute("INSERT INTO studies (name, spec, created) VALUES (?, ?, ?)",
                                   (name, text, time.time()))
                return cur.lastrowid
            study_id, old = row[0], self._loads(row[1], f"spec of study {name!r}")
            if overwrite:
                self._check_lease(conn, study_id)
                for table in ("trials", "stages", "flags"):
                    conn.execute(f"DELETE FROM {table} WHERE study_id = ?", (study_id,))
                conn.execute("UPDATE studies SET spec = ?, created = ? WHERE id = ?", (text, time.time(), study_id))
                return study_id
            diffs = spec_differences(old, new)
            if diffs:
                n = conn.execute("SELECT COUNT(*) FROM trials WHERE study_id = ?", (study_id,)).fetchone()[0]
                shown = "; ".join(diffs[:3]) + (f"; and {len(diffs) - 3} more" if len(diffs) > 3 else "")
                raise StudyMismatchError(
                    f"study {name!r} in {self._where} was created with other settings ({shown}); "
                    f"{START_OVER}, which discards its "
                    f"{n} trial{'' if n == 1 else 's'}")
            return study_id

    def replace_spec(self, study_id, spec):
        """Store ``spec`` as the study's spec (an extended study: its trials stay)."""
        with self._guard("update study"), self._transaction() as conn:
            conn.execute("UPDATE studies SET spec = ? WHERE id = ?", (_dumps(spec), study_id))

    def find_study(self, name):
        """The (study_id, spec) of an existing study.

        Raises:
            StorageError: no study of that name; the message lists the names present.
        """
        with self._guard("read study"):
            row = self._conn.execute("SELECT id, spec FROM studies WHERE name = ?", (name,)).fetchone()
            if row is None:
                names = self.study_names()
                present = f"studies present: {', '.join(names)}" if names else "it holds no studies"
                raise StorageError(f"unknown study {name!r} in {self._where}; {present}")
            return row[0], self._loads(row[1], f"spec of study {name!r}")

    def study_names(self):
        """Names of all studies in the storage, oldest first."""
        with self._guard("list studies"):
            return [r[0] for r in self._conn.execute("SELECT name FROM studies ORDER BY id")]

    # ---------------------------------------------------------------- leases
    def _holder_alive(self, pid, host, proc_start, heartbeat):
        if host == self._host:
            alive, start = process_identity(pid)
            # a different start time means the pid was reused by an unrelated process
            return alive and (proc_start is None or start is None or start == proc_start)
        return time.time() - heartbeat < self.stale_after

    def _check_lease(self, conn, study_id):
        """Raise StudyLockedError if another live process holds the study's lease."""
        row = conn.execute("SELECT pid, host, proc_start, started, heartbeat FROM leases WHERE study_id = ?",
                           (study_id,)).fetchone()
        if row is None:
            return
        pid, host, proc_start, started, heartbeat = row
        if (pid, host) == (self._pid, self._host):
            return
        if self._holder_alive(pid, host, proc_start, heartbeat):
            raise StudyLockedError(
                f"study {self._study_name(study_id)!r} in {self._where} is being run by process {pid} "
                f"on host {host} since {clock(started)}; wait for it to finish, or use another --name")

    def acquire(self, study_id):
        """Take the study's lease for this process (re-acquiring it is fine).

        A lease held by a dead process on this host, or not refreshed for ``stale_after``
        seconds by a process on another host, is taken over.

        Raises:
            StudyLockedError: another live process holds it; the message names pid, host and start.
        """
        now = time.time()
        with self._guard("acquire study"), self._transaction() as conn:
            self._study_name(study_id)
            self._check_lease(conn, study_id)
            conn.execute(
                "INSERT INTO leases (study_id, pid, host, proc_start, started, heartbeat) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (study_id) DO UPDATE SET pid = excluded.pid, host = excluded.host,"
                " proc_start = excluded.proc_start, started = excluded.started, heartbeat = excluded.heartbeat",
                (study_id, self._pid, self._host, process_identity(self._pid)[1], now, now))
        self._held.add(study_id)

    def heartbeat(self, study_id):
        """Refresh this process's lease on the study (taking it again if it was dropped).

        Raises:
            StudyLockedError: another live process has taken the study over meanwhile.
        """
        now = time.time()
        with self._guard("refresh lease"):
            cur = self._conn.execute("UPDATE leases SET heartbeat = ? WHERE study_id = ? AND pid = ? AND host = ?",
                                     (now, study_id, self._pid, self._host))
            if cur.rowcount == 1:
                return
        self.acquire(study_id)

    @contextmanager
    def lease(self, study_id):
        """Hold the study's lease while the block runs: acquire, refresh it every few seconds
        from a daemon thread (trials may be long), release at the end.

        Raises:
            StudyLockedError: another live process holds it (see :meth:`acquire`).
        """
        self.acquire(study_id)
        try:
            with Heartbeat(lambda: self.heartbeat(study_id)):
                yield
        finally:
            self.release(study_id)

    def release(self, study_id):
        """Give up this process's lease on the study (a no-op if it holds none)."""
        with self._guard("release lease"):
            self._conn.execute("DELETE FROM leases WHERE study_id = ? AND pid = ? AND host = ?",
                               (study_id, self._pid, self._host))
            self._held.discard(study_id)

    # ---------------------------------------------------------------- stages
    def save_stage(self, study_id, index, space, sampler, n_trials, budget):
        """Store (or replace) stage ``index``: its space (JSON-able dict), sampler name, trials and budget."""
        with self._guard("save stage"), self._transaction() as conn:
            conn.execute(
                "INSERT INTO stages (study_id, idx, space, sampler, n_trials, budget) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (study_id, idx) DO UPDATE SET space = excluded.space, sampler = excluded.sampler,"
                " n_trials = excluded.n_trials, budget = excluded.budget",
                (study_id, _sqlite_scalar(index), _dumps(space), str(sampler), _sqlite_scalar(n_trials), _sqlite_scalar(budget)))

    def load_stages(self, study_id):
        """The stored stages, by index: list of {"index", "space", "sampler", "n_trials", "budget"}."""
        with self._guard("read stages"):
            rows = self._conn.execute("SELECT idx, space, sampler, n_trials, budget FROM stages"
                                      " WHERE study_id = ? ORDER BY idx", (study_id,)).fetchall()
        return [{"index": i, "space": self._loads(sp, f"space of stage {i}"), "sampler": sa, "n_trials": n,
                 "budget": b} for i, sp, sa, n, b in rows]

    # ---------------------------------------------------------------- trials
    def save_trial(self, study_id, record):
        """Store one finished trial in its own transaction, replacing a stored one of the same number.

        Args:
            record: dict with "number", "stage", "status" and optionally "params" (dict),
                "metrics" (dict; NaN/inf kept), "budget", "seed", "start", "end", "duration",
                "error", "curve" (list of dicts). Other keys are stored and given back too.
        """
        for key in ("number", "stage", "status"):
            if key not in record:
                raise ValueError(f"trial record is missing {key!r}; it has {', '.join(map(repr, record))}")
        full = {**_TRIAL_DEFAULTS, **record}
        columns = []
        for key in _TRIAL_COLUMNS:
            value = _sqlite_scalar(full[key])
            if not (value is None or isinstance(value, (int, float, str))):
                raise ValueError(f"trial {full['number']!r}: {key!r} must be a number, a string or None, "
                                 f"got {type(value).__name__} {value!r}")
            columns.append(value)
        extra = {k: v for k, v in record.items() if k not in _TRIAL_DEFAULTS and k not in _TRIAL_COLUMNS}
        texts = []
        for key, value in (("params", full["params"]), ("metrics", full["metrics"]), ("curve", full["curve"]),
                           ("extra keys", extra)):
            try:
                texts.append(_dumps(value) if value or key != "extra keys" else None)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"trial {full['number']!r}: {key} cannot be stored: {exc}") from None
        values = (study_id, *columns, *texts)
        with self._guard("save trial"), self._transaction() as conn:
            conn.execute(_SAVE_TRIAL, values)

    def load_trials(self, study_id, curves=True):
        """The stored trials, sorted by number, as the dicts given to :meth:`save_trial`.

        Values come back through JSON: tuples become lists, numpy scalars Python numbers.
        With ``curves=False`` the (possibly large) learning curves are not read and
        "curve" is absent.
        """
        with self._guard("read trials"):
            rows = self._conn.execute(f"SELECT {self._trial_columns(curves)} FROM trials WHERE study_id = ?"
                                      " ORDER BY number", (study_id,)).fetchall()
        return [self._record(row, curves) for row in rows]

    def trials_since(self, study_id, row=0, curves=True):
        """The trials stored since an earlier look, for a viewer that follows a run.

        Args:
            study_id: the study.
            row: the ``row`` this method returned last time (0 the first time).
            curves: read the learning curves too.

        Returns:
            ``(records, row)``: the records of the rows added after ``row``, in the order they
            were first stored, and the new ``row`` to pass next time. A row replaced in place (a
            failed trial run again) keeps its position and is not returned: compare
            :meth:`count_trials` by status to notice it.
        """
        with self._guard("read trials"):
            rows = self._conn.execute(f"SELECT id, {self._trial_columns(curves)} FROM trials"
                                      " WHERE study_id = ? AND id > ? ORDER BY id", (study_id, row)).fetchall()
        return [self._record(r[1:], curves) for r in rows], max([row] + [r[0] for r in rows])

    @staticmethod
    def _trial_columns(curves):
        columns = ", ".join(f'"{c}"' for c in _TRIAL_COLUMNS) + ", params, metrics, extra"
        return columns + ", curve" if curves else columns

    def _record(self, row, curves):
        n = len(_TRIAL_COLUMNS)
        plain = dict(zip(_TRIAL_COLUMNS, row))
        what = f"record of trial {plain['number']}"
        record = {"number": plain["number"], "stage": plain["stage"], "status": plain["status"],
                  "params": self._loads(row[n], what), "metrics": self._loads(row[n + 1], what)}
        record.update((k, plain[k]) for k in _TRIAL_COLUMNS[3:])
        if curves:
            record["curve"] = self._loads(row[n + 3], what)
        if row[n + 2]:
            record.update(self._loads(row[n + 2], what))
        return record

    def completed_numbers(self, study_id, include_failed=True):
        """Numbers of the stored trials (failed ones only if ``include_failed``), as a set."""
        sql = "SELECT number FROM trials WHERE study_id = ?" + ("" if include_failed else " AND status != 'failed'")
        with self._guard("read trials"):
            return {r[0] for r in self._conn.execute(sql, (study_id,))}

    def count_trials(self, study_id, status=None):
        """How many trials of the study are stored (with ``status`` only, if given)."""
        sql, args = "SELECT COUNT(*) FROM trials WHERE study_id = ?", (study_id,)
        if status is not None:
            sql, args = sql + " AND status = ?", (study_id, status)
        with self._guard("read trials"):
            return self._conn.execute(sql, args).fetchone()[0]

    # ---------------------------------------------------------------- flags
    def save_flags(self, study_id, flags):
        """Replace the study's boundary flags with ``flags`` (a list of JSON-able dicts)."""
        rows = [(study_id, i, _dumps(flag)) for i, flag in enumerate(flags)]
        with self._guard("save flags"), self._transaction() as conn:
            conn.execute("DELETE FROM flags WHERE study_id = ?", (study_id,))
            conn.executemany("INSERT INTO flags (study_id, position, flag) VALUES (?, ?, ?)", rows)

    def load_flags(self, study_id):
        """The study's boundary flags, in the order they were saved."""
        with self._guard("read flags"):
            rows = self._conn.execute("SELECT flag FROM flags WHERE study_id = ? ORDER BY position",
                                      (study_id,)).fetchall()
        return [self._loads(r[0], "boundary flag") for r in rows]

    # ---------------------------------------------------------------- closing
    def close(self):
        """Release this object's leases and close the connection (idempotent)."""
        with self._lock:
            if self._conn is None:
                return
            try:
                for study_id in list(self._held):
                    self.release(study_id)
            except StorageError:
                pass  # closing must not fail because the file went away; the lease dies with the process
            finally:
                super().close()

    def __repr__(self):
        return f"Storage({None if self.path is None else str(self.path)!r})"
