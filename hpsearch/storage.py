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
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from hpsearch.errors import StorageError, StudyLockedError, StudyMismatchError

__all__ = ["Storage", "SCHEMA_VERSION", "spec_differences"]

SCHEMA_VERSION = 1
_APP = "hpsearch"
_APPLICATION_ID = 0x68707372  # "hpsr" in the SQLite header, so `file` can tell our databases apart
_SQLITE_MAGIC = b"SQLite format 3\x00"
_TABLES = ("meta", "studies", "stages", "trials", "flags", "leases")
_TRIAL_COLUMNS = ("number", "stage", "status", "budget", "seed", "start", "end", "duration", "error")
_TRIAL_JSON = ("params", "metrics", "curve")
_TRIAL_DEFAULTS = {"params": {}, "metrics": {}, "curve": [], "budget": None, "seed": None,
                   "start": None, "end": None, "duration": None, "error": None}
_HEARTBEAT_EVERY = 5.0  # seconds between lease refreshes piggybacked on save_trial

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS studies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS stages (
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    space TEXT NOT NULL,
    sampler TEXT NOT NULL,
    n_trials INTEGER NOT NULL,
    budget,
    PRIMARY KEY (study_id, idx)
);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    stage INTEGER,
    status TEXT NOT NULL,
    budget,
    seed INTEGER,
    start REAL,
    "end" REAL,
    duration REAL,
    error TEXT,
    params TEXT NOT NULL,
    metrics TEXT NOT NULL,
    curve TEXT NOT NULL,
    extra TEXT,
    UNIQUE (study_id, number)
);
CREATE INDEX IF NOT EXISTS trials_status ON trials (study_id, status);
CREATE TABLE IF NOT EXISTS flags (
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    flag TEXT NOT NULL,
    PRIMARY KEY (study_id, position)
);
CREATE TABLE IF NOT EXISTS leases (
    study_id INTEGER PRIMARY KEY REFERENCES studies(id) ON DELETE CASCADE,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    proc_start TEXT,
    started REAL NOT NULL,
    heartbeat REAL NOT NULL
);
"""

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


def _json_default(value):
    # numpy scalars and arrays (and anything else array-like) become plain Python values;
    # duck-typed so that storage does not import numpy.
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store a {type(value).__name__} value ({value!r}) as JSON; "
                    "use numbers, strings, booleans, lists or dicts")


def _dumps(value):
    # allow_nan: the NaN/inf losses of diverged trials must survive (json.loads reads them back).
    return json.dumps(value, allow_nan=True, default=_json_default, separators=(",", ":"))


def _plain(value):
    """A scalar SQLite can bind: numpy scalars become Python ones."""
    if value is None or type(value) in (int, float, str, bool):
        return value
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    return value


def _flatten(value, prefix=""):
    """Nested dicts -> {"a.b.c": leaf}; lists and scalars are leaves."""
    if isinstance(value, dict) and value:
        flat = {}
        for key, sub in value.items():
            flat.update(_flatten(sub, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: value}


def _same(a, b):
    """Equality of JSON values where NaN equals NaN and True is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _short(value, width=60):
    text = "(absent)" if value is _ABSENT else repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


_ABSENT = object()


def spec_differences(old, new):
    """Human-readable differences between two study specs, dotted keys, in key order.

    Returns:
        list of "key: old -> new" strings (empty when the specs are the same).
    """
    old_flat, new_flat = _flatten(old), _flatten(new)
    keys = list(old_flat) + [k for k in new_flat if k not in old_flat]
    diffs = []
    for key in keys:
        a, b = old_flat.get(key, _ABSENT), new_flat.get(key, _ABSENT)
        if a is _ABSENT or b is _ABSENT or not _same(a, b):
            diffs.append(f"{key}: {_short(a)} -> {_short(b)}")
    return diffs


def _process_identity(pid):
    """(alive, start-time token) of a local process; the token tells a reused pid apart.

    On Linux the start time comes from /proc; elsewhere it is None and only the pid is checked.
    A zombie (killed but not yet reaped by its parent) counts as dead.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False, None
    except PermissionError:
        pass  # it exists, it is just someone else's
    except OSError:
        return False, None
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode("ascii", "replace")
    except OSError:
        return True, None
    fields = stat[stat.rindex(")") + 2:].split()  # the command name may contain spaces and parens
    if fields[0] in ("Z", "X"):
        return False, None
    return True, fields[19]  # field 22 of /proc/<pid>/stat: start time in clock ticks since boot


def _clock(timestamp):
    moment = time.localtime(timestamp)
    if time.strftime("%Y-%m-%d", moment) == time.strftime("%Y-%m-%d"):
        return time.strftime("%H:%M:%S", moment)
    return time.strftime("%Y-%m-%d %H:%M:%S", moment)


class Storage:
    """A SQLite database of studies, shared safely between threads and processes.

    Args:
        path: a database file (str or Path; parent folders are created), or None for an
            in-memory database that lives as long as this object.
        timeout: seconds to wait for another process's write to finish before giving up
            with :class:`StorageError`.
        stale_after: seconds without a heartbeat after which a lease held by a process on
            another host is considered abandoned (a lease on this host is checked directly
            by asking whether its process is alive).

    Raises:
        StorageError: the file is not SQLite, is damaged, belongs to another application,
            was written by a newer hpsearch, or cannot be created.

    Use as a context manager, or call :meth:`close`, which also releases held leases.
    """

    def __init__(self, path=None, timeout=30.0, stale_after=3600.0):
        for key, value in (("timeout", timeout), ("stale_after", stale_after)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise ValueError(f"{key} must be a non-negative number of seconds, got {value!r}")
        if isinstance(path, str) and path == ":memory:":
            path = None  # sqlite3's own spelling of an in-memory database
        self.path = None if path is None else Path(path)
        self.timeout = float(timeout)
        self.stale_after = float(stale_after)
        self._where = "the in-memory storage" if path is None else str(self.path)
        self._lock = threading.RLock()
        self._held = {}  # study_id -> time of the last heartbeat we wrote
        self._pid = os.getpid()
        self._host = socket.gethostname()
        self._conn = None
        if self.path is not None:
            self._check_file()
        try:
            self._conn = sqlite3.connect(":memory:" if path is None else str(self.path),
                                         timeout=self.timeout, isolation_level=None,
                                         check_same_thread=False)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {self._where}: {exc}") from None
        try:
            self._setup()
        except BaseException:
            self._conn.close()
            self._conn = None
            raise

    # ---------------------------------------------------------------- opening
    def _not_ours(self, why):
        return StorageError(f"{self._where} is not an hpsearch database: {why}")

    def _check_file(self):
        path = self.path
        if path.is_dir():
            raise self._not_ours("it is a directory")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                with open(path, "rb") as fh:
                    head = fh.read(100)
            else:
                head = b""
        except OSError as exc:
            raise StorageError(f"cannot open {self._where}: {exc.strerror or exc}") from None
        # A zero-length file is a fresh database; anything else must carry SQLite's header.
        if head and (len(head) < 100 or not head.startswith(_SQLITE_MAGIC)):
            raise self._not_ours("not a SQLite file")

    def _setup(self):
        with self._guard("open"):
            conn = self._conn
            conn.execute("PRAGMA foreign_keys = ON")
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not tables:
                self._initialise()
            else:
                self._check_schema(tables)
            # WAL: readers never block the writer, and a crash mid-write rolls back on next open.
            # synchronous=NORMAL is durable against process crashes (a power cut may lose the last
            # trials, never corrupt the file) and keeps a commit free of fsync.
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")

    def _initialise(self):
        conn = self._conn
        conn.execute("PRAGMA journal_mode = WAL")  # must precede the first transaction
        with self._transaction():
            # statements one by one: executescript() would commit behind our back
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('app', ?)", (_APP,))
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                         (str(SCHEMA_VERSION),))
            conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")

    def _check_schema(self, tables):
        if "meta" not in tables:
            shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
            raise self._not_ours(f"it holds other tables ({shown}) and no hpsearch schema version")
        try:
            meta = dict(self._conn.execute("SELECT key, value FROM meta"))
        except sqlite3.OperationalError:
            raise self._not_ours("its meta table is not hpsearch's") from None
        if meta.get("app") != _APP:
            raise self._not_ours(f"its meta table names the application {meta.get('app')!r}, not 'hpsearch'")
        version = meta.get("schema_version")
        if not str(version).isdigit():
            raise self._not_ours(f"unknown schema version {version!r}")
        if int(version) > SCHEMA_VERSION:
            raise StorageError(f"{self._where} was written by a newer hpsearch (schema version {version}; "
                               f"this one reads up to {SCHEMA_VERSION}); upgrade hpsearch to open it")
        missing = [t for t in _TABLES if t not in tables]
        if missing:
            raise self._not_ours(f"missing tables: {', '.join(missing)}")

    # ---------------------------------------------------------------- plumbing
    @contextmanager
    def _guard(self, action):
        """Hold the connection lock and turn SQLite errors into one-line StorageErrors."""
        with self._lock:
            if self._conn is None:
                raise StorageError(f"{self._where} is closed; open a new Storage")
            try:
                yield
            except sqlite3.IntegrityError as exc:
                raise StorageError(f"cannot {action} in {self._where}: {exc}") from None
            except sqlite3.DatabaseError as exc:
                code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
                if code in (5, 6):  # SQLITE_BUSY, SQLITE_LOCKED
                    raise StorageError(f"{self._where} stayed locked by another process for longer than "
                                       f"the {self.timeout:g} s timeout; try again, or raise timeout") from None
                if code in (11, 26):  # SQLITE_CORRUPT, SQLITE_NOTADB
                    raise self._not_ours(f"the file is damaged ({exc})") from None
                raise StorageError(f"cannot {action} in {self._where}: {exc}") from None

    @contextmanager
    def _transaction(self):
        # BEGIN IMMEDIATE takes the write lock up front (waiting up to `timeout`), so a
        # read-then-write never fails half-way on a lock upgrade.
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise

    def _loads(self, text, what):
        try:
            return json.loads(text)
        except (TypeError, ValueError):
            # SQLite checks its pages, not our JSON; damage inside a value surfaces here
            raise self._not_ours(f"the file is damaged (unreadable {what})") from None

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
                    f"use a new name (--name) or overwrite=True (--overwrite) to discard its "
                    f"{n} trial{'' if n == 1 else 's'}")
            return study_id

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
            alive, start = _process_identity(pid)
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
                f"on host {host} since {_clock(started)}; wait for it to finish, or use another --name")

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
                (study_id, self._pid, self._host, _process_identity(self._pid)[1], now, now))
        self._held[study_id] = now

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
                self._held[study_id] = now
                return
        self.acquire(study_id)

    def release(self, study_id):
        """Give up this process's lease on the study (a no-op if it holds none)."""
        with self._guard("release lease"):
            self._conn.execute("DELETE FROM leases WHERE study_id = ? AND pid = ? AND host = ?",
                               (study_id, self._pid, self._host))
            self._held.pop(study_id, None)

    # ---------------------------------------------------------------- stages
    def save_stage(self, study_id, index, space, sampler, n_trials, budget):
        """Store (or replace) stage ``index``: its space (JSON-able dict), sampler name, trials and budget."""
        with self._guard("save stage"), self._transaction() as conn:
            conn.execute(
                "INSERT INTO stages (study_id, idx, space, sampler, n_trials, budget) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (study_id, idx) DO UPDATE SET space = excluded.space, sampler = excluded.sampler,"
                " n_trials = excluded.n_trials, budget = excluded.budget",
                (study_id, _plain(index), _dumps(space), str(sampler), _plain(n_trials), _plain(budget)))

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
            value = _plain(full[key])
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
        now = time.time()
        with self._guard("save trial"), self._transaction() as conn:
            conn.execute(_SAVE_TRIAL, values)
            last = self._held.get(study_id)
            if last is not None and now - last > _HEARTBEAT_EVERY:
                # keep the lease fresh for free, inside the same transaction
                conn.execute("UPDATE leases SET heartbeat = ? WHERE study_id = ? AND pid = ? AND host = ?",
                             (now, study_id, self._pid, self._host))
                self._held[study_id] = now

    def load_trials(self, study_id, curves=True):
        """The stored trials, sorted by number, as the dicts given to :meth:`save_trial`.

        Values come back through JSON: tuples become lists, numpy scalars Python numbers.
        With ``curves=False`` the (possibly large) learning curves are not read and
        "curve" is absent.
        """
        columns = ", ".join(f'"{c}"' for c in _TRIAL_COLUMNS) + ", params, metrics, extra"
        if curves:
            columns += ", curve"
        with self._guard("read trials"):
            rows = self._conn.execute(f"SELECT {columns} FROM trials WHERE study_id = ? ORDER BY number",
                                      (study_id,)).fetchall()
        n = len(_TRIAL_COLUMNS)
        trials = []
        for row in rows:
            plain = dict(zip(_TRIAL_COLUMNS, row))
            what = f"record of trial {plain['number']}"
            record = {"number": plain["number"], "stage": plain["stage"], "status": plain["status"],
                      "params": self._loads(row[n], what), "metrics": self._loads(row[n + 1], what)}
            record.update((k, plain[k]) for k in _TRIAL_COLUMNS[3:])
            if curves:
                record["curve"] = self._loads(row[n + 3], what)
            if row[n + 2]:
                record.update(self._loads(row[n + 2], what))
            trials.append(record)
        return trials

    def completed_numbers(self, study_id, include_failed=True):
        """Numbers of the stored trials (failed ones only if ``include_failed``), as a set."""
        sql = "SELECT number FROM trials WHERE study_id = ?" + ("" if include_failed else " AND status != 'failed'")
        with self._guard("read trials"):
            return {r[0] for r in self._conn.execute(sql, (study_id,))}

    def count_trials(self, study_id):
        """How many trials of the study are stored."""
        with self._guard("read trials"):
            return self._conn.execute("SELECT COUNT(*) FROM trials WHERE study_id = ?", (study_id,)).fetchone()[0]

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
                self._conn.close()
                self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"Storage({None if self.path is None else str(self.path)!r})"
