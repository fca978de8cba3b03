"""A finished run can be read where it cannot be written: show, plot --out and export."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import hpsearch as hp
from hpsearch.objectives import LogBowl
from hpsearch.storage.storage import Storage

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_folder(tmp_path):
    folder = tmp_path / "runs" / "ro"
    hp.Study(LogBowl({"lr": 1e-3}), {"lr": hp.LogUniform(1e-5, 1e-1), "reg": hp.LogUniform(1e-6, 1e-1)},
             metric="score", storage=folder / "study.db", name="ro").optimize(n_trials=6, seed=0)
    return folder


def _snapshot(folder):
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir()}


def _hpsearch(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "hpsearch", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_reading_a_run_writes_nothing_into_it(run_folder, tmp_path):
    before = _snapshot(run_folder)
    with Storage(run_folder / "study.db", readonly=True) as storage:
        assert storage.study_names() == ["ro"]
    assert len(hp.load_study(run_folder / "study.db", "ro").trials) == 6
    shown = _hpsearch("show", run_folder, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    plotted = _hpsearch("plot", run_folder, "--out", tmp_path / "elsewhere", cwd=tmp_path)
    assert plotted.returncode == 0, plotted.stderr
    exported = _hpsearch("export", run_folder, "--optuna", f"sqlite:///{tmp_path / 'optuna.db'}", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    after = _snapshot(run_folder)
    # the data is untouched; a live read-only view may leave SQLite's side files (the shared-memory
    # index and an empty write-ahead log), which hold no data
    assert {k: v for k, v in after.items() if k not in ("study.db-shm", "study.db-wal")} == before
    assert after.get("study.db-wal", (0, 0))[1] == 0
    assert (tmp_path / "elsewhere" / "slices.png").stat().st_size > 0


def test_a_read_only_storage_refuses_writes_with_one_line(run_folder):
    with Storage(run_folder / "study.db", readonly=True) as storage:
        study_id, _ = storage.find_study("ro")
        with pytest.raises(hp.HpsearchError, match="readonly"):
            storage.save_flags(study_id, [])


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0, reason="needs root and unshare to mount")
def test_show_plot_export_on_a_read_only_mount(run_folder, tmp_path):
    mount = tmp_path / "mounted"
    mount.mkdir()
    script = (f"mount --bind {run_folder} {mount} && mount -o remount,bind,ro {mount} && "
              f"{sys.executable} -m hpsearch show {mount} && "
              f"{sys.executable} -m hpsearch plot {mount} --out {tmp_path / 'plots'} && "
              f"{sys.executable} -m hpsearch export {mount} --optuna sqlite:///{tmp_path / 'o.db'}; "
              f"{sys.executable} -m hpsearch plot {mount}; echo plot-into-mount=$?")
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg"), timeout=180)
    if "mount:" in done.stderr and "permission denied" in done.stderr.lower():
        pytest.skip("this machine does not let root mount (a container without CAP_SYS_ADMIN)")
    assert "is read-only: opened for reading, nothing was written" in done.stdout, done.stderr
    assert "exported study 'ro'" in done.stdout
    assert "cannot write plots into" in done.stderr and "--out DIR" in done.stderr
    assert "plot-into-mount=2" in done.stdout
    assert "Traceback" not in done.stderr


def test_a_viewer_opened_before_the_writer_commits_sees_later_rows(tmp_path):
    # a finished run leaves no write-ahead log: the old read-only mode (immutable=1) froze here
    db = tmp_path / "study.db"
    with Storage(db) as writer:
        study_id = writer.open_study("live", {"metric": "score"})
    assert not (tmp_path / "study.db-wal").exists()
    with Storage(db, readonly=True) as viewer:
        assert viewer.count_trials(study_id) == 0
        version = viewer.data_version()
        with Storage(db) as writer:  # a resume: the writer commits after the viewer opened
            for number in range(3):
                writer.save_trial(study_id, {"number": number, "stage": 0, "status": "ok", "metrics": {"score": 1.0}})
            assert viewer.count_trials(study_id) == 3
            assert viewer.data_version() != version
            records, row = viewer.trials_since(study_id)
            assert [r["number"] for r in records] == [0, 1, 2]
            writer.save_trial(study_id, {"number": 3, "stage": 0, "status": "ok", "metrics": {"score": 2.0}})
            more, _ = viewer.trials_since(study_id, row)
            assert [r["number"] for r in more] == [3]
