"""Where a run's files live: the one place that knows the run-folder layout.

``hpsearch run`` writes a study into ``runs/<name>/``::

    runs/digits-mlp/
        study.db        the SQLite storage (every finished trial)
        trials.csv      the trials table
        run.json        how the run was started (study file, name, the command that resumes it)
        confirmation.csv  the confirmation runs (when the study confirms its top candidates)
        checkpoints/    paused trials of multi-fidelity strategies, one folder per study name
        *.png           the plots (named by hpsearch.plots)

``hpsearch compare`` writes ``compare.db`` (one study per run) and ``comparison.csv`` instead.

Everything below a run folder is data: a symbolic link where the folder keeps its files is refused
(:meth:`RunFolder.refuse_links`), and every write, read and removal goes through
:mod:`hpsearch.storage.safe_files`, which never follows one.
``show``, ``plot`` and ``export`` accept a run folder or a storage file and pick the study in it
with the same rules (:func:`open_database`, :func:`pick_study`).
"""
import json
import os
import shlex
from pathlib import Path

from hpsearch.checks import check_name
from hpsearch.errors import HpsearchError
from hpsearch.storage import safe_files

__all__ = ["RUNS", "DB_NAME", "COMPARE_DB", "TRIALS_CSV", "RUN_INFO", "CONFIRMATION_CSV", "COMPARISON_CSV",
           "CHECKPOINTS", "LR_RANGE", "SQLITE_SIDE_FILES", "RunFolder", "open_database", "pick_study",
           "checkpoint_dir"]

RUNS = Path("runs")
DB_NAME = "study.db"
COMPARE_DB = "compare.db"
TRIALS_CSV = "trials.csv"
RUN_INFO = "run.json"
CONFIRMATION_CSV = "confirmation.csv"
COMPARISON_CSV = "comparison.csv"
CHECKPOINTS = "checkpoints"
#: the learning-rate range check's result, written by ``hpsearch sanity`` (shown by the dashboard)
LR_RANGE = "lr_range.json"
#: the files SQLite keeps beside a database (the write-ahead log, its index, a rollback journal)
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
#: the entries of a run folder hpsearch writes, reads or removes (plots: every ``*.png``)
_OWN = (DB_NAME, COMPARE_DB, TRIALS_CSV, RUN_INFO, CONFIRMATION_CSV, COMPARISON_CSV, CHECKPOINTS, LR_RANGE) + tuple(
    db + side for db in (DB_NAME, COMPARE_DB) for side in SQLITE_SIDE_FILES)


class RunFolder:
    """The folder of one run: its storage, trials table, run information and plots.

    Args:
        path: the folder (it is not created until :meth:`create`).
    """

    def __init__(self, path):
        self.path = Path(path)

    @classmethod
    def for_study(cls, name, out=None):
        """``out`` if given, else ``runs/<name>/``; ``name`` must be a valid study name."""
        check_name(name, "the study name")
        return cls(out if out is not None else RUNS / name)

    @property
    def db(self):
        return self.path / DB_NAME

    @property
    def compare_db(self):
        return self.path / COMPARE_DB

    @property
    def trials_csv(self):
        return self.path / TRIALS_CSV

    @property
    def confirmation_csv(self):
        return self.path / CONFIRMATION_CSV

    @property
    def comparison_csv(self):
        return self.path / COMPARISON_CSV

    def create(self):
        """Make the folder (and its parents); returns self."""
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    def refuse_links(self):
        """Raise :class:`~hpsearch.errors.UnsafePathError` when an entry hpsearch keeps in this folder
        (storage and its side files, tables, ``run.json``, plots, anything under ``checkpoints/``)
        is a symbolic link; returns self. A folder that does not exist yet has none.

        Checked before a command touches the folder, so a planted link stops it with one line
        before anything runs; the writers check again as they write.
        """
        if not self.path.is_dir():
            return self
        with os.scandir(self.path) as entries:
            for entry in entries:
                if (entry.name in _OWN or entry.name.endswith(".png")) and entry.is_symlink():
                    safe_files.refuse_links(entry.path)
        for top, dirs, files in os.walk(self.path / CHECKPOINTS):   # never descends into a link
            for name in dirs + files:
                safe_files.refuse_links(Path(top) / name)
        return self

    def write_table(self, path, frame):
        """Write the DataFrame ``frame`` as CSV to ``path`` in this folder (never through a link)."""
        return safe_files.write_text(path, frame.to_csv(index=False), root=self.path)

    def read_info(self):
        """The run information written by :meth:`write_info` ({} when absent, unreadable or a link)."""
        try:
            info = json.loads(safe_files.read_bytes(self.path / RUN_INFO, limit=1 << 20))
        except (HpsearchError, OSError, ValueError):
            return {}
        return info if isinstance(info, dict) else {}

    def write_info(self, **info):
        """Write ``run.json`` (JSON-able values), never through a link."""
        safe_files.write_text(self.path / RUN_INFO, json.dumps(info, indent=2) + "\n", root=self.path)

    def rerun_command(self):
        """The command that started this run (and resumes it), correct from the current directory.

        Its paths are relative to the directory the run was started from, so from anywhere
        else the command first changes to that directory. None when ``run.json`` does not say.
        ``run.json`` is data from whoever made the folder: the command is split into words and
        every word quoted again, so the line (which users paste) runs ``hpsearch`` and nothing else.
        """
        info = self.read_info()
        command, started_in = info.get("resume"), info.get("cwd")
        try:
            words = shlex.split(command) if isinstance(command, str) else []
        except ValueError:
            words = []
        if not words or words[0] != "hpsearch":
            return None
        command = " ".join(shlex.quote(w) for w in words)
        if not isinstance(started_in, str) or _same_dir(started_in, Path.cwd()):
            return command
        return f"cd {shlex.quote(started_in)} && {command}"

    def __repr__(self):
        return f"RunFolder({str(self.path)!r})"


def _same_dir(a, b):
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def checkpoint_dir(db_path, study_name):
    """The folder holding the checkpoints of study ``study_name`` stored in ``db_path``.

    Study names from Python may hold any character: the folder name escapes the ones a
    path cannot (``/``, a leading ``.``) so no name can climb out of ``checkpoints/``.
    """
    from urllib.parse import quote

    safe = quote(study_name, safe="-_").replace(".", "%2E") if study_name else "_"
    return Path(db_path).parent / CHECKPOINTS / safe


def open_database(path):
    """The storage file a ``show`` / ``plot`` / ``export`` argument names.

    Args:
        path: a run folder (holding ``study.db``, or ``compare.db`` from ``hpsearch compare``)
            or a storage file.

    Raises:
        HpsearchError: no such folder or file, or a folder without a storage.
        UnsafePathError: the folder's storage (or another file it keeps) is a symbolic link.
    """
    path = Path(path)
    if path.is_file():
        for side in SQLITE_SIDE_FILES:   # SQLite would write through them
            safe_files.refuse_links(path.with_name(path.name + side))
        return path
    if not path.exists():
        raise HpsearchError(f"{path}: no such run folder or storage file")
    folder = RunFolder(path).refuse_links()
    for db in (folder.db, folder.compare_db):
        if db.is_file():
            return db
    raise HpsearchError(f"{path}: not a run folder (no {DB_NAME} or {COMPARE_DB}); "
                        f"run 'hpsearch run STUDY.toml' first")


def pick_study(db, names, name=None):
    """The study to read from ``db``: ``name``, else the only one, else the one ``run.json`` names.

    Args:
        db: the storage file (for messages and its folder's ``run.json``).
        names: the study names it holds, oldest first.
        name: the name the user asked for, or None.

    Raises:
        HpsearchError: ``name`` is not there, the storage is empty, or it holds several studies
            and nothing says which (the message lists them and says how to choose).
    """
    if name is not None:
        if name not in names:
            raise HpsearchError(f"{db}: no study named {name!r}; studies present: {', '.join(names) or 'none'}")
        return name
    if len(names) == 1:
        return names[0]
    if not names:
        raise HpsearchError(f"{db}: holds no study yet")
    folder = RunFolder(Path(db).parent)
    info_name = folder.read_info().get("name")
    if info_name in names:
        return info_name
    shown = ", ".join(names[:6]) + (f", ... ({len(names)} in all)" if len(names) > 6 else "")
    if Path(db).name == COMPARE_DB:
        raise HpsearchError(_comparison_message(folder, db, names, shown))
    raise HpsearchError(f"{db} holds several studies ({shown}); choose one with --name (Python: name=...)")


def _comparison_message(folder, db, names, shown):
    """What works on a ``hpsearch compare`` folder, where show/plot/export need one run."""
    rerun = folder.rerun_command() or "hpsearch compare STUDY.toml --out " + shlex.quote(str(folder.path))
    table = folder.comparison_csv
    table = f"its table is {table}, and " if table.is_file() else ""
    return (f"{folder.path} is a comparison folder ({db.name} holds {len(names)} runs: {shown}); show, plot and "
            f"export read one run: add --name RUN (e.g. --name {shlex.quote(names[0])}); {table}its summary and plots come "
            f"from running its command again, which trains nothing twice: {rerun}")
