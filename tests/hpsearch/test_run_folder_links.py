"""A run folder is data, never a path to follow (issue 29, item 1).

A symbolic link planted where a run folder keeps its files (checkpoints/, a plot, trials.csv,
run.json, confirmation.csv, study.db) never makes hpsearch write, read or delete anything outside
the folder: the real ``hpsearch`` command, in a subprocess, refuses it with one line and exit 2,
and the file or folder the link points at is untouched.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hpsearch.errors import UnsafePathError
from hpsearch.storage import safe_files
from hpsearch.storage.checkpoints import CheckpointStore
from study_fixtures import subprocess_env

ROOT = Path(__file__).resolve().parents[2]

# a Hyperband-style study on LearningCurve (it pauses trials in checkpoints), confirmed and tested
STUDY = """\
name = "hb"
metric = "score"
direction = "maximize"

[trainer]
objective = "hpsearch.objectives:LearningCurve"
[trainer.settings]
optimum = { lr = 3e-3 }

[space]
lr = { type = "loguniform", low = 1e-4, high = 1e-1 }

[search]
strategy = "sha"
min_budget = 1
max_budget = 9
eta = 3

[confirm]
top = 2
seeds = 2
"""
VICTIM_TEXT = "a colleague's file: hpsearch must never touch it\n"


def hpsearch(cwd, *args):
    env = subprocess_env()
    return subprocess.run([sys.executable, "-m", "hpsearch", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def finished(tmp_path, run_cli, monkeypatch):
    """A finished run folder (runs/hb, plots not drawn) and a victim folder beside it."""
    (tmp_path / "hb.toml").write_text(STUDY)
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli("run", "hb.toml", "--n-jobs", 1, "--no-plots", "--quiet")
    assert code == 0, err
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "notes.txt").write_text(VICTIM_TEXT)
    return tmp_path, tmp_path / "runs" / "hb", victim


def assert_refused(proc, link):
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"{link} is a symbolic link" in proc.stderr and "never follows links" in proc.stderr, proc.stderr


@pytest.mark.parametrize("entry, argv", [
    ("trials.csv", ["run", "hb.toml", "--n-jobs", 1, "--quiet"]),
    ("run.json", ["run", "hb.toml", "--n-jobs", 1, "--quiet"]),
    ("confirmation.csv", ["run", "hb.toml", "--n-jobs", 1, "--quiet"]),
    ("slices.png", ["plot", "runs/hb"]),
    ("slices.png", ["run", "hb.toml", "--n-jobs", 1, "--quiet"]),
])
def test_a_planted_file_link_is_refused_and_its_target_untouched(finished, entry, argv):
    cwd, folder, victim = finished
    target = victim / "notes.txt"
    link = folder / entry
    link.unlink(missing_ok=True)
    link.symlink_to(target)
    proc = hpsearch(cwd, *argv)
    assert_refused(proc, Path("runs/hb") / entry)
    assert target.read_text() == VICTIM_TEXT


def test_a_checkpoints_link_to_another_folder_deletes_nothing_there(finished):
    # the case: checkpoint clean-up used to delete the victim's hb/ folder, a user file included
    cwd, folder, victim = finished
    (victim / "hb").mkdir()
    (victim / "hb" / "own-file.txt").write_text(VICTIM_TEXT)
    (victim / "hb" / "4.ckpt").write_bytes(b"not ours")
    (folder / "checkpoints").symlink_to(victim, target_is_directory=True)
    proc = hpsearch(cwd, "run", "hb.toml", "--n-jobs", 1, "--quiet", "--overwrite")
    assert_refused(proc, Path("runs/hb/checkpoints"))
    assert sorted(p.name for p in (victim / "hb").iterdir()) == ["4.ckpt", "own-file.txt"]
    assert (victim / "hb" / "own-file.txt").read_text() == VICTIM_TEXT


def test_a_checkpoint_file_link_inside_checkpoints_is_refused(finished):
    cwd, folder, victim = finished
    (folder / "checkpoints" / "hb").mkdir(parents=True)
    (folder / "checkpoints" / "hb" / "3.ckpt").symlink_to(victim / "notes.txt")
    proc = hpsearch(cwd, "run", "hb.toml", "--n-jobs", 1, "--quiet")
    assert_refused(proc, Path("runs/hb/checkpoints/hb/3.ckpt"))
    assert (victim / "notes.txt").read_text() == VICTIM_TEXT


@pytest.mark.parametrize("argv", [["show", "runs/hb"], ["plot", "runs/hb"], ["run", "hb.toml", "--quiet"]])
def test_a_study_db_link_to_another_database_is_refused(finished, argv):
    cwd, folder, victim = finished
    elsewhere = victim / "other.db"
    os.replace(folder / "study.db", elsewhere)
    for side in ("-wal", "-shm"):
        Path(f"{folder / 'study.db'}{side}").unlink(missing_ok=True)
    before = elsewhere.read_bytes()
    (folder / "study.db").symlink_to(elsewhere)
    proc = hpsearch(cwd, *argv)
    assert_refused(proc, Path("runs/hb/study.db"))
    assert elsewhere.read_bytes() == before and not Path(f"{elsewhere}-wal").exists()


def test_show_refuses_a_run_json_link_and_reads_nothing_through_it(finished):
    cwd, folder, victim = finished
    secret = victim / "secret.json"
    secret.write_text('{"resume": "hpsearch run leaked-secret.toml", "cwd": "/"}')
    (folder / "run.json").unlink()
    (folder / "run.json").symlink_to(secret)
    proc = hpsearch(cwd, "show", "runs/hb")
    assert_refused(proc, Path("runs/hb/run.json"))
    assert "leaked-secret" not in proc.stdout + proc.stderr


def test_a_planted_run_json_can_only_ever_print_an_hpsearch_command(tmp_path, monkeypatch):
    # run.json is data: the resume line show prints is split and quoted again, so pasting it runs hpsearch only
    from hpsearch.storage.runfolder import RunFolder

    monkeypatch.chdir(tmp_path)
    folder = tmp_path
    (folder / "run.json").write_text('{"resume": "hpsearch run x.toml; rm -rf ~", "cwd": "%s"}' % tmp_path)
    assert RunFolder(folder).rerun_command() == "hpsearch run 'x.toml;' rm -rf '~'"
    (folder / "run.json").write_text('{"resume": "rm -rf ~", "cwd": "%s"}' % tmp_path)
    assert RunFolder(folder).rerun_command() is None


def test_clearing_checkpoints_never_removes_outside_the_run_folder(tmp_path):
    run, victim = tmp_path / "run", tmp_path / "victim"
    (victim / "s").mkdir(parents=True)
    (victim / "s" / "keep.txt").write_text(VICTIM_TEXT)
    run.mkdir()
    (run / "checkpoints").symlink_to(victim, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="checkpoints is a symbolic link"):
        CheckpointStore(run / "checkpoints" / "s")
    with pytest.raises(UnsafePathError):
        safe_files.remove_tree(run / "checkpoints" / "s", run)
    with pytest.raises(UnsafePathError, match="outside the run folder"):
        safe_files.remove_tree(victim / "s", run)
    assert (victim / "s" / "keep.txt").read_text() == VICTIM_TEXT


def test_safe_writes_replace_nothing_through_a_link_and_name_the_file_on_a_full_disk(tmp_path, monkeypatch):
    target = tmp_path / "victim.txt"
    target.write_text(VICTIM_TEXT)
    (tmp_path / "table.csv").symlink_to(target)
    with pytest.raises(UnsafePathError):
        safe_files.write_text(tmp_path / "table.csv", "x")
    assert target.read_text() == VICTIM_TEXT

    def full(*args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(safe_files.os, "replace", full)
    with pytest.raises(OSError) as info:
        safe_files.write_text(tmp_path / "trials.csv", "a,b\n")
    assert info.value.filename == str(tmp_path / "trials.csv") and info.value.errno == 28
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []   # no half-written file left


def test_export_into_the_run_folder_refuses_a_planted_optuna_db_link(finished):
    cwd, folder, victim = finished
    target = victim / "notes.txt"
    (folder / "optuna.db").symlink_to(target)
    proc = hpsearch(cwd, "export", "runs/hb", "--optuna", "sqlite:///runs/hb/optuna.db")
    assert_refused(proc, Path("runs/hb/optuna.db"))
    assert target.read_text() == VICTIM_TEXT


@pytest.mark.parametrize("folder, entry, argv", [
    ("runs/hb-compare", "comparison.csv", ["compare", "hb.toml", "--repeats", 1, "--strategies", "random"]),
    ("runs/hb", "sanity.png", ["sanity", "hb.toml"]),
    ("runs/hb", "lr_range.png", ["sanity", "hb.toml"]),
])
def test_compare_and_sanity_refuse_a_planted_link_before_running(tmp_path, folder, entry, argv):
    (tmp_path / "hb.toml").write_text(STUDY)
    target = tmp_path / "victim.txt"
    target.write_text(VICTIM_TEXT)
    (tmp_path / folder).mkdir(parents=True)
    (tmp_path / folder / entry).symlink_to(target)
    proc = hpsearch(tmp_path, *argv)
    assert_refused(proc, Path(folder) / entry)
    assert target.read_text() == VICTIM_TEXT
