"""The write-ahead log (issue 29, item 4): a finished run is one file; a copy that lost its log says so.

While a study runs, its newest trials sit in ``study.db-wal``. A run that ends (or is interrupted)
checkpoints the log into ``study.db``; a folder copied mid-run without its ``-wal`` file, or read
read-only without the ``-shm`` file, is refused with a message naming the missing file and how to
copy a run folder safely; ``hpsearch copy`` copies a consistent, self-contained snapshot.
"""
import shutil
import sqlite3

import pytest

import hpsearch as hp
from hpsearch.errors import StorageError
from hpsearch.objectives import LogBowl
from hpsearch.storage.database import Database
from hpsearch.storage.storage import Storage

SPACE = {"lr": hp.LogUniform(1e-5, 1e-1)}


def study(db):
    return hp.Study(LogBowl({"lr": 1e-3}), SPACE, metric="score", storage=db, name="w")


def copy_mid_run(tmp_path, files):
    """Run 8 trials; after the 4th, copy ``files`` (suffixes of study.db) as a copy made mid-run would."""
    db, crashed = tmp_path / "run" / "study.db", tmp_path / "crashed"
    crashed.mkdir()

    def copy(record):
        if record["number"] == 3:
            for suffix in files:
                shutil.copy(f"{db}{suffix}", crashed / f"study.db{suffix}")
    study(db).optimize(n_trials=8, seed=0, callbacks=[copy])
    return db, crashed


def test_a_finished_run_is_one_self_contained_study_db_even_while_a_reader_holds_it(tmp_path):
    db = tmp_path / "run" / "study.db"
    study(db).optimize(n_trials=2, seed=0)
    reader = sqlite3.connect(db)     # e.g. `hpsearch show` in another terminal: SQLite alone would keep the log
    reader.execute("SELECT COUNT(*) FROM trials").fetchall()
    try:
        study(db).optimize(n_trials=6, seed=0)
        shutil.copy(db, tmp_path / "alone.db")
    finally:
        reader.close()
    assert len(hp.load_study(tmp_path / "alone.db", "w").trials) == 6


def test_a_study_db_copied_without_its_log_names_the_missing_file(tmp_path, run_cli):
    _, crashed = copy_mid_run(tmp_path, [""])
    for argv in (["show", crashed], ["run", "unused.toml"]):
        if argv[0] == "run":   # resuming there must not start the study anew in the emptied copy
            with pytest.raises(StorageError) as info:
                Storage(crashed / "study.db")
            message = str(info.value)
        else:
            code, _, err = run_cli(*argv)
            assert code == 2 and err.count("\n") == 1, err
            message = err
        assert "no study.db-wal beside it" in message and "hpsearch copy RUN_DIR DEST" in message, message
        assert "not an hpsearch database" not in message


def test_a_read_only_open_without_the_shm_file_names_it(tmp_path, monkeypatch):
    _, crashed = copy_mid_run(tmp_path, ["", "-wal"])
    connect = Database._connect

    def read_only_folder(self, target):   # as root, chmod cannot stop SQLite creating -shm: refuse it here
        if "mode=ro" in target:
            raise StorageError("unable to open database file")
        return connect(self, target)
    monkeypatch.setattr(Database, "_connect", read_only_folder)
    with pytest.raises(StorageError, match=r"its newest data is in study.db-wal, and reading that log needs "
                                           r"study.db-shm, which is missing"):
        Storage(crashed / "study.db", readonly=True)


def test_hpsearch_copy_of_a_killed_run_gives_a_self_contained_database(tmp_path, run_cli):
    db, crashed = copy_mid_run(tmp_path, ["", "-wal", "-shm"])   # what a SIGKILL mid-run leaves
    (crashed / "trials.csv").write_text("number\n0\n")
    code, out, err = run_cli("copy", crashed, tmp_path / "copy")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == ["study.db", "trials.csv"]
    shutil.copy(tmp_path / "copy" / "study.db", tmp_path / "alone.db")   # the database alone is whole
    assert len(hp.load_study(tmp_path / "alone.db", "w").trials) == 4
    code, _, err = run_cli("copy", crashed, tmp_path / "copy")
    assert code == 2 and "is not an empty folder" in err
