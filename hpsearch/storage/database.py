"""Database: a SQLite file holding hpsearch's schema, opened safely.

Opening checks what the file is before anything is written: a folder, a file that is not
SQLite, another application's database, a newer schema or a damaged file is a one-line
:class:`~hpsearch.errors.StorageError`. SQLite errors of any later statement become one-line
StorageErrors too (:meth:`Database._guard`). :class:`~hpsearch.storage.storage.Storage` puts the
studies, stages, trials, flags and leases on top.

Write-ahead log: while a study runs, its newest trials sit in ``study.db-wal`` beside the file.
Closing a writable database (the end of every run, also after Ctrl-C or SIGTERM) checkpoints the
log into the file and truncates it, so a finished or interrupted run folder is one self-contained
``study.db``. Only a run killed outright (SIGKILL, a power cut) or still running leaves data in the
log: a copy of ``study.db`` without its ``-wal`` file, or a read-only folder without the ``-shm``
file SQLite needs to read the log, is refused with a message naming the missing file;
:meth:`Database.backup` (``hpsearch copy``) copies a consistent, self-contained snapshot.
"""
import json
import math
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

from hpsearch.errors import StorageError

__all__ = ["Database", "SCHEMA_VERSION", "dumps", "COPY_ADVICE"]

#: How to copy a run folder so its database arrives whole (said wherever a copy lost its log).
COPY_ADVICE = ("copy a run folder with 'hpsearch copy RUN_DIR DEST' (a self-contained snapshot, safe even "
               "while it runs), or copy the whole folder, -wal and -shm files included")

SCHEMA_VERSION = 1
_APP = "hpsearch"
_APPLICATION_ID = 0x68707372  # "hpsr" in the SQLite header, so `file` can tell our databases apart
_SQLITE_MAGIC = b"SQLite format 3\x00"
_TABLES = ("meta", "studies", "stages", "trials", "flags", "leases")
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


def dumps(value):
    # allow_nan: the NaN/inf losses of diverged trials must survive (json.loads reads them back).
    return json.dumps(value, allow_nan=True, default=_json_default, separators=(",", ":"))


def sqlite_scalar(value):
    """A scalar SQLite can bind: numpy scalars become Python ones."""
    if value is None or type(value) in (int, float, str, bool):
        return value
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    return value



class Database:
    """A SQLite file with hpsearch's schema (created when the file is new or empty).

    Args:
        path: a database file (str or Path; parent folders are created), or None for an
            in-memory database that lives as long as this object.
        timeout: seconds to wait for another process's write to finish before giving up
            with :class:`StorageError`.
        readonly: open an existing file for reading only: nothing is written, not even SQLite's
            side files when none exist, so a run folder on a read-only mount can be viewed.

    Raises:
        StorageError: the file is not SQLite, is damaged, belongs to another application,
            was written by a newer hpsearch, or cannot be created (or, read-only, does not exist).
    """

    def __init__(self, path=None, timeout=30.0, readonly=False):
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 <= timeout < math.inf:
            raise ValueError(f"timeout must be a non-negative number of seconds, got {timeout!r}")
        if isinstance(path, str) and path == ":memory:":
            path = None  # sqlite3's own spelling of an in-memory database
        self.path = None if path is None else Path(path)
        self.timeout = float(timeout)
        self._where = "the in-memory storage" if path is None else str(self.path)
        self._lock = threading.RLock()
        self._conn = None
        self._uri = None
        self.readonly = bool(readonly)
        if self.readonly and (self.path is None or not self.path.is_file()):
            raise StorageError(f"cannot open {self._where} read-only: no such file")
        if self.path is not None:
            self._check_file()
        for uri in self._uris():
            try:
                self._uri = uri
                self._conn = self._connect(uri)
                self._setup()
                break
            except StorageError:
                self._close_quietly()
                if uri == self._uris()[-1]:
                    raise
            except BaseException:
                self._close_quietly()
                raise

    def _uris(self):
        """The ways to open the file: read-write, or read-only.

        Read-only opens in SQLite's ``mode=ro`` first, which takes part in the writer's locking
        and shared-memory index, so a viewer opened before a run (or before a resume) sees every
        later commit. ``immutable=1`` promises SQLite that nobody changes the file, so it is only
        the fallback for when ``mode=ro`` cannot open at all: a read-only mount or a folder you may
        not write, where SQLite cannot create the shared-memory file a WAL database needs and no
        writer is running either.
        """
        if self.path is None:
            return [":memory:"]
        if not self.readonly:
            return [str(self.path)]
        from urllib.parse import quote

        base = "file:" + quote(str(self.path.resolve()))
        return [base + "?mode=ro", base + "?immutable=1"]

    def _connect(self, target):
        try:
            return sqlite3.connect(target, timeout=self.timeout, isolation_level=None, check_same_thread=False,
                                   uri=target.startswith("file:"))
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {self._where}: {exc}") from None

    def _close_quietly(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ---------------------------------------------------------------- opening
    def _not_ours(self, why):
        return StorageError(f"{self._where} is not an hpsearch database: {why}")

    def _check_file(self):
        path = self.path
        if path.is_dir():
            raise self._not_ours("it is a directory")
        try:
            if not self.readonly:
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
            self._check_log(tables)
            if self.readonly:
                self._check_schema(tables)
                return
            if not tables:
                self._initialise()
            else:
                self._check_schema(tables)
            # WAL: readers never block the writer, and a crash mid-write rolls back on next open.
            # synchronous=NORMAL is durable against process crashes (a power cut may lose the last
            # trials, never corrupt the file) and keeps a commit free of fsync.
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")

    def _log(self):
        return self.path.with_name(self.path.name + "-wal")

    def _check_log(self, tables):
        """A write-ahead log that cannot be read, or a database whose log is missing, says so
        (never "not an hpsearch database", never a silently empty or stale study)."""
        if self.path is None:
            return
        log = self._log()
        try:
            pending = log.stat().st_size > 0
        except OSError:
            pending = False
        if pending and self._uri.endswith("immutable=1"):
            # read-only opening fell back to ignoring the log: its data would be missing
            raise StorageError(f"cannot read {self._where}: its newest data is in {log.name}, and reading that "
                               f"log needs {self.path.name}-shm, which is missing and cannot be created here "
                               f"(a read-only folder); {COPY_ADVICE}, into a writable place and read the copy")
        if not tables and not pending and self.path.is_file() and self.path.stat().st_size > 0:
            # hpsearch commits its schema with the file's first write: tables missing means the
            # log holding them (and the trials) did not come along
            raise StorageError(f"{self._where} holds no tables and there is no {log.name} beside it: a study "
                               f"killed mid-run (or still running) keeps its newest data in that write-ahead "
                               f"log, so {self.path.name} was probably copied without it; {COPY_ADVICE}")

    def backup(self, target):
        """Copy this database into the new file ``target`` with SQLite's backup API: a consistent snapshot,
        the write-ahead log included, readable without any side file (safe while a study runs).

        Raises:
            StorageError: ``target`` exists or cannot be written.
        """
        target = Path(target)
        if target.exists() or target.is_symlink():
            raise StorageError(f"cannot copy {self._where} to {target}: it exists already")
        with self._guard("copy"):
            try:
                copy = sqlite3.connect(str(target))
            except sqlite3.Error as exc:
                raise StorageError(f"cannot copy {self._where} to {target}: {exc}") from None
            try:
                self._conn.backup(copy)
                copy.execute("PRAGMA journal_mode = DELETE")   # one file: no log to carry along
            except sqlite3.Error as exc:
                raise StorageError(f"cannot copy {self._where} to {target}: {exc}") from None
            finally:
                copy.close()
        return target

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

    def data_version(self):
        """SQLite's ``PRAGMA data_version``: changes whenever another connection commits, so a
        viewer can tell in microseconds that nothing was written since its last look."""
        with self._guard("read"):
            return self._conn.execute("PRAGMA data_version").fetchone()[0]

    def close(self):
        """Checkpoint the write-ahead log into the file (writable databases) and close (idempotent).

        SQLite checkpoints only when the last connection closes; doing it here also while a
        reader (``hpsearch show``) holds the file leaves a finished run one self-contained file.
        """
        with self._lock:
            if self._conn is not None:
                if not self.readonly and self.path is not None:
                    try:
                        # TRUNCATE waits for other processes' writes: briefly, closing must stay quick
                        self._conn.execute("PRAGMA busy_timeout = 2000")
                        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    except sqlite3.Error:
                        pass  # a busy reader: the log stays and SQLite checkpoints it later
                self._conn.close()
                self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
