"""Copying a run folder so that it arrives whole: ``hpsearch copy RUN_DIR DEST``.

A study killed outright (or still running) keeps its newest trials in SQLite's write-ahead log
(``study.db-wal``) beside the file; ``cp study.db`` alone copies an empty study. Here the
database is copied with SQLite's backup API (a consistent snapshot, log included, as one
self-contained file, safe while a run writes to it) and the folder's other files beside it. No
symbolic link is followed: a planted one in the source is refused as everywhere else.
"""
import os
import shutil
from pathlib import Path

from hpsearch.errors import HpsearchError
from hpsearch.storage.runfolder import COMPARE_DB, DB_NAME, SQLITE_SIDE_FILES, RunFolder, open_database

__all__ = ["copy_run"]

_DATABASES = {DB_NAME, COMPARE_DB}


def copy_run(source, dest):
    """Copy the run folder ``source`` to the new folder ``dest``.

    Args:
        source: a run folder (holding ``study.db`` or ``compare.db``).
        dest: a folder that does not exist yet, or is empty.

    Returns:
        list of the :class:`~pathlib.Path` written in ``dest`` (the database first).

    Raises:
        HpsearchError: ``source`` is no run folder, ``dest`` is not empty, or a link is planted in ``source``.
    """
    from hpsearch.storage.database import Database

    source, dest = Path(source), Path(dest)
    if not source.is_dir():
        raise HpsearchError(f"{source}: not a run folder (hpsearch copy copies a whole run folder)")
    db = open_database(source)   # refuses planted links in the folder
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise HpsearchError(f"{dest} exists and is not an empty folder; copy into a new folder")
    if Path(os.path.realpath(dest)).is_relative_to(os.path.realpath(source)):
        raise HpsearchError(f"{dest} lies inside {source}; copy the run folder somewhere else")
    RunFolder(dest).create()
    written = []
    for name in sorted(_DATABASES, key=lambda n: n != db.name):   # the one show/plot read first
        if (source / name).is_file():
            with Database(source / name, readonly=True) as database:
                written.append(database.backup(dest / name))
    skipped = {name + side for name in _DATABASES for side in SQLITE_SIDE_FILES} | _DATABASES
    for entry in sorted(source.iterdir()):
        if entry.name in skipped or entry.name.startswith("."):
            continue   # the database is copied above; dot-files are temporary writes in flight
        target = dest / entry.name
        if entry.is_symlink():
            continue   # a link of the user's own (hpsearch's entries were checked): never followed
        if entry.is_dir():
            shutil.copytree(entry, target, symlinks=True)
        else:
            shutil.copy2(entry, target, follow_symlinks=False)
        written.append(target)
    return written
