"""Where a run's files live: the one place that knows the run-folder layout.

``hpsearch run`` writes a study into ``runs/<name>/``::

    runs/digits-mlp/
        study.db        the SQLite storage (every finished trial)
        trials.csv      the trials table
        run.json        how the run was started (study file, name, the command that resumes it)
        checkpoints/    paused trials of multi-fidelity strategies, one folder per study name
        *.png           the plots (named by hpsearch.plots)

``hpsearch compare`` writes ``compare.db`` instead of ``study.db``, holding one study per run.
``show``, ``plot`` and ``export`` accept a run folder or a storage file and pick the study in it
with the same rules (:func:`open_database`, :func:`pick_study`).
"""
import json
import shlex
from pathlib import Path

from hpsearch.checks import check_name
from hpsearch.errors import HpsearchError

__all__ = ["RUNS", "DB_NAME", "COMPARE_DB", "TRIALS_CSV", "RUN_INFO", "CHECKPOINTS", "LR_RANGE", "RunFolder",
           "open_database", "pick_study", "checkpoint_dir"]

RUNS = Path("runs")
DB_NAME = "study.db"
COMPARE_DB = "compare.db"
TRIALS_CSV = "trials.csv"
RUN_INFO = "run.json"
CHECKPOINTS = "checkpoints"
#: the learning-rate range check's result, written by ``hpsearch sanity`` (shown by the dashboard)
LR_RANGE = "lr_range.json"


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

    def create(self):
        """Make the folder (and its parents); returns self."""
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    def read_info(self):
        """The run information written by :meth:`write_info` ({} when absent or unreadable)."""
        try:
            info = json.loads((self.path / RUN_INFO).read_text())
        except (OSError, ValueError):
            return {}
        return info if isinstance(info, dict) else {}

    def write_info(self, **info):
        """Write ``run.json`` (JSON-able values)."""
        (self.path / RUN_INFO).write_text(json.dumps(info, indent=2) + "\n")

    def rerun_command(self):
        """The command that started this run (and resumes it), correct from the current directory.

        Its paths are relative to the directory the run was started from, so from anywhere
        else the command first changes to that directory. None when ``run.json`` does not say.
        """
        info = self.read_info()
        command, started_in = info.get("resume"), info.get("cwd")
        if not isinstance(command, str) or not command:
            return None
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
    """
    path = Path(path)
    if path.is_file():
        return path
    if not path.exists():
        raise HpsearchError(f"{path}: no such run folder or storage file")
    folder = RunFolder(path)
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
    table = folder.path / "comparison.csv"
    table = f"its table is {table}, and " if table.is_file() else ""
    return (f"{folder.path} is a comparison folder ({db.name} holds {len(names)} runs: {shown}); show, plot and "
            f"export read one run: add --name RUN (e.g. --name {names[0]}); {table}its summary and plots come "
            f"from running its command again, which trains nothing twice: {rerun}")
