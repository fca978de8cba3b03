"""SQLite storage: round trips, spec checks, damaged files, leases across processes, concurrent writers."""
import math
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hpsearch.errors import HpsearchError, StorageError, StudyLockedError, StudyMismatchError
from hpsearch.storage.storage import SCHEMA_VERSION, Storage

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("_storage_worker.py")
SPEC = {"space": {"lr": {"type": "loguniform", "low": 1e-6, "high": 1e-1},
                  "hidden_dims": {"type": "choice", "values": [[50], [100]]}},
        "metric": "val_acc", "direction": "maximize", "seed": 0}


def make_record(number, status="ok", **changes):
    record = {"number": number, "stage": 0, "status": status,
              "params": {"lr": 1e-3 * (number + 1), "hidden_dims": [50, 20], "act": "relu"},
              "metrics": {"val_acc": 0.5 + number / 1000, "loss": 1.0},
              "budget": 3, "seed": 1000 + number, "start": 100.0 + number, "end": 101.5 + number,
              "duration": 1.5, "error": None,
              "curve": [{"epoch": 1, "loss": 2.0, "loss_iters": [2.5, 2.0]}, {"epoch": 2, "loss": 1.0}]}
    record.update(changes)
    return record


@pytest.fixture(params=["memory", "file"])
def storage(request, tmp_path):
    store = Storage(None if request.param == "memory" else tmp_path / "runs" / "demo" / "study.db")
    yield store
    store.close()


def spawn(mode, path, name, *args):
    proc = subprocess.Popen([sys.executable, str(WORKER), mode, str(path), name, *map(str, args)],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        raise AssertionError(f"worker did not start: {line!r} {proc.stderr.read()}")
    return proc


def kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)  # reaped, so its pid is really gone (a zombie would still answer os.kill)


# ------------------------------------------------------------------ round trips
def test_trial_round_trip_keeps_nan_inf_lists_and_extra_keys(storage):
    sid = storage.open_study("demo", SPEC)
    diverged = make_record(1, status="diverged",
                           metrics={"val_acc": float("nan"), "loss": float("inf"), "low": -math.inf},
                           curve=[{"epoch": 1, "loss": float("nan")}], worker="w1")
    storage.save_trial(sid, diverged)
    storage.save_trial(sid, make_record(0))
    failed = make_record(2, status="failed", metrics={}, error="ValueError: boom", curve=[])
    storage.save_trial(sid, failed)

    trials = storage.load_trials(sid)
    assert [t["number"] for t in trials] == [0, 1, 2]
    assert trials[0] == make_record(0)
    assert trials[2] == failed
    got = trials[1]
    assert math.isnan(got["metrics"]["val_acc"]) and got["metrics"]["loss"] == math.inf
    assert got["metrics"]["low"] == -math.inf and math.isnan(got["curve"][0]["loss"])
    assert got["params"]["hidden_dims"] == [50, 20] and got["worker"] == "w1"
    assert list(got)[:5] == ["number", "stage", "status", "params", "metrics"]
    assert storage.count_trials(sid) == 3
    assert storage.completed_numbers(sid) == {0, 1, 2}
    assert storage.completed_numbers(sid, include_failed=False) == {0, 1}
    assert all("curve" not in t for t in storage.load_trials(sid, curves=False))


def test_numpy_values_are_stored_as_plain_numbers(storage):
    sid = storage.open_study("demo", SPEC)
    storage.save_trial(sid, make_record(np.int64(4), stage=np.int64(1), budget=np.int32(5), seed=np.uint32(7),
                                        duration=np.float64(0.25),
                                        params={"lr": np.float32(0.5), "n": np.int64(3), "on": np.bool_(True),
                                                "w": np.array([1.0, 2.0])},
                                        metrics={"loss": np.float32(np.nan)}))
    (got,) = storage.load_trials(sid)
    assert got["number"] == 4 and type(got["number"]) is int and got["stage"] == 1
    assert got["budget"] == 5 and got["seed"] == 7 and got["duration"] == 0.25
    assert got["params"] == {"lr": 0.5, "n": 3, "on": True, "w": [1.0, 2.0]}
    assert type(got["params"]["on"]) is bool and math.isnan(got["metrics"]["loss"])


def test_save_trial_upserts_by_number(storage):
    sid = storage.open_study("demo", SPEC)
    storage.save_trial(sid, make_record(3, status="failed", error="RuntimeError: out of memory", metrics={}))
    storage.save_trial(sid, make_record(3))  # the retried trial replaces the failed row
    (got,) = storage.load_trials(sid)
    assert got == make_record(3)
    assert storage.count_trials(sid) == 1


def test_save_trial_rejects_records_it_cannot_store(storage):
    sid = storage.open_study("demo", SPEC)
    record = make_record(0)
    del record["status"]
    with pytest.raises(ValueError, match="missing 'status'"):
        storage.save_trial(sid, record)
    with pytest.raises(ValueError, match="trial 1: 'budget' must be a number, a string or None, got dict"):
        storage.save_trial(sid, make_record(1, budget={"epochs": 3}))
    with pytest.raises(ValueError, match="trial 2: params cannot be stored: cannot store a builtin_function_or_method"):
        storage.save_trial(sid, make_record(2, params={"act": print}))
    with pytest.raises(ValueError, match="study spec of 'x' cannot be stored"):
        storage.open_study("x", {"objective": print})
    assert storage.count_trials(sid) == 0 and storage.study_names() == ["demo"]


def test_stages_and_flags_round_trip(storage):
    sid = storage.open_study("demo", SPEC)
    storage.save_stage(sid, 1, {"lr": {"low": 1e-4, "high": 1e-2}}, "random", 20, 15)
    storage.save_stage(sid, 0, SPEC["space"], "sobol", 60, 2)
    storage.save_stage(sid, 1, {"lr": {"low": 1e-4, "high": 1e-3}}, "grid", 16, 15)  # upsert
    assert storage.load_stages(sid) == [
        {"index": 0, "space": SPEC["space"], "sampler": "sobol", "n_trials": 60, "budget": 2},
        {"index": 1, "space": {"lr": {"low": 1e-4, "high": 1e-3}}, "sampler": "grid", "n_trials": 16, "budget": 15}]

    flag = {"param": "lr", "edge": "high", "value": 9.3e-4, "low": 1e-6, "high": 1e-3,
            "suggestion": "widen above", "top_share": 0.6}
    storage.save_flags(sid, [flag, {**flag, "param": "reg", "edge": "low"}])
    storage.save_flags(sid, [flag])  # replaces all
    assert storage.load_flags(sid) == [flag]
    storage.save_flags(sid, [])
    assert storage.load_flags(sid) == []


def test_studies_in_one_storage_are_separate(storage):
    a = storage.open_study("a", SPEC)
    b = storage.open_study("b", {**SPEC, "seed": 1})
    storage.save_trial(a, make_record(0))
    storage.save_trial(b, make_record(0, stage=2))
    storage.save_flags(a, [{"param": "lr"}])
    assert a != b and storage.study_names() == ["a", "b"]
    assert storage.load_trials(b)[0]["stage"] == 2 and storage.load_flags(b) == []
    assert storage.find_study("b") == (b, {**SPEC, "seed": 1})


def test_file_storage_persists_and_uses_wal(tmp_path):
    path = tmp_path / "nested" / "dir" / "study.db"
    with Storage(path) as store:
        sid = store.open_study("demo", SPEC)
        store.save_stage(sid, 0, SPEC["space"], "random", 10, 2)
        store.save_trial(sid, make_record(0, metrics={"loss": float("nan")}))
    with Storage(str(path)) as store:
        assert store.path == path
        assert store.find_study("demo") == (sid, SPEC)
        assert math.isnan(store.load_trials(sid)[0]["metrics"]["loss"])
        assert store.load_stages(sid)[0]["n_trials"] == 10
        conn = store._conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    conn = sqlite3.connect(path)
    assert dict(conn.execute("SELECT key, value FROM meta")) == {"app": "hpsearch",
                                                                 "schema_version": str(SCHEMA_VERSION)}
    # the record's numbers are real columns, queryable without parsing JSON
    assert conn.execute('SELECT number, status, seed, "end" FROM trials').fetchall() == [(0, "ok", 1000, 101.5)]
    conn.close()


def test_bad_arguments_and_memory_spelling():
    with pytest.raises(ValueError, match="timeout must be a non-negative number of seconds, got -1"):
        Storage(timeout=-1)
    with pytest.raises(ValueError, match="stale_after"):
        Storage(stale_after=float("nan"))
    with Storage(":memory:") as store:
        assert store.path is None and repr(store) == "Storage(None)"


def test_closed_storage_says_so(tmp_path):
    store = Storage(tmp_path / "s.db")
    store.close()
    store.close()  # idempotent
    with pytest.raises(StorageError, match="is closed"):
        store.study_names()


# ------------------------------------------------------------------ spec checks
def test_same_spec_after_json_normalisation_reopens():
    with Storage() as store:
        sid = store.open_study("demo", SPEC)
        store.save_trial(sid, make_record(0))
        # tuples are lists, numpy numbers are numbers, key order does not matter
        same = {"seed": np.int64(0), "direction": "maximize", "metric": "val_acc",
                "space": {"hidden_dims": {"values": ([50], [100]), "type": "choice"},
                          "lr": {"type": "loguniform", "low": np.float64(1e-6), "high": 0.1}}}
        assert store.open_study("demo", same) == sid
        assert store.count_trials(sid) == 1


def test_spec_mismatch_names_what_differs(tmp_path):
    path = tmp_path / "runs" / "demo" / "study.db"
    with Storage(path) as store:
        sid = store.open_study("demo", SPEC)
        for n in range(40):
            store.save_trial(sid, make_record(n))
        changed = {**SPEC, "seed": 1, "space": {**SPEC["space"], "lr": {**SPEC["space"]["lr"], "low": 1e-5}}}
        with pytest.raises(StudyMismatchError) as err:
            store.open_study("demo", changed)
        msg = str(err.value)
        assert "\n" not in msg and f"study 'demo' in {path}" in msg
        assert "space.lr.low: 1e-06 -> 1e-05" in msg and "seed: 0 -> 1" in msg
        assert "--name" in msg and "overwrite=True" in msg and "40 trials" in msg

        many = {**changed, "metric": "loss", "direction": "minimize", "extra": 3}
        with pytest.raises(StudyMismatchError, match=r"and 2 more") as err:
            store.open_study("demo", many)
        assert "extra: (absent) -> 3" not in str(err.value)  # only the first three are listed
        assert store.count_trials(sid) == 40  # nothing was touched


def test_overwrite_discards_trials_stages_and_flags():
    with Storage() as store:
        sid = store.open_study("demo", SPEC)
        store.save_trial(sid, make_record(0))
        store.save_stage(sid, 0, SPEC["space"], "random", 5, 1)
        store.save_flags(sid, [{"param": "lr"}])
        other = {**SPEC, "seed": 9}
        assert store.open_study("demo", other, overwrite=True) == sid
        assert store.find_study("demo") == (sid, other)
        assert store.count_trials(sid) == 0 and store.load_stages(sid) == [] and store.load_flags(sid) == []


def test_find_study_unknown_lists_the_names_present():
    with Storage() as store:
        with pytest.raises(StorageError, match="unknown study 'x' in the in-memory storage; it holds no studies"):
            store.find_study("x")
        store.open_study("alpha", SPEC)
        store.open_study("beta", SPEC)
        with pytest.raises(StorageError, match="unknown study 'gamma' .*studies present: alpha, beta"):
            store.find_study("gamma")


@pytest.mark.parametrize("name", ["", "  ", None, 3])
def test_study_name_must_be_a_string(name):
    with Storage() as store, pytest.raises(ValueError, match="study name"):
        store.open_study(name, SPEC)


# ------------------------------------------------------------------ files that are not ours
def _real_database(path, n_trials):
    with Storage(path) as store:
        sid = store.open_study("demo", SPEC)
        for n in range(n_trials):
            store.save_trial(sid, make_record(n, curve=[{"epoch": e, "loss_iters": [0.5] * 40} for e in range(8)]))
    return path.read_bytes()  # closing checkpoints the WAL into the main file


def _garbage(path):
    path.write_bytes(np.random.default_rng(0).bytes(5000))


def _text(path):
    path.write_text("trial,loss\n0,1.5\n")


def _truncated(path):
    data = _real_database(path.with_name("whole.db"), 150)
    path.write_bytes(data[: len(data) // 2])


def _other_app(path):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()


def _foreign_meta(path):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE meta (key TEXT, value TEXT)")
    conn.execute("INSERT INTO meta VALUES ('app', 'mlflow')")
    conn.commit()
    conn.close()


def _newer_schema(path):
    _real_database(path, 1)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()


@pytest.mark.parametrize("damage, why", [
    (_garbage, "not a SQLite file"), (_text, "not a SQLite file"), (_truncated, "damaged"),
    (_other_app, r"other tables \(users\)"), (_foreign_meta, "'mlflow'"), (_newer_schema, "newer hpsearch"),
])
def test_a_file_that_is_not_an_hpsearch_database(tmp_path, damage, why):
    path = tmp_path / "runs" / "study.db"
    path.parent.mkdir()
    damage(path)
    with pytest.raises(StorageError, match=why) as err:
        Storage(path)
    assert str(err.value).startswith(f"{path} ") and "\n" not in str(err.value)
    assert isinstance(err.value, HpsearchError)


def test_damage_inside_a_value_is_reported_not_raised_as_json_error(tmp_path):
    path = tmp_path / "study.db"
    _real_database(path, 2)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE trials SET metrics = '{\"loss\": 1.' WHERE number = 1")
    conn.commit()
    conn.close()
    with Storage(path) as store, pytest.raises(StorageError, match="damaged .*trial 1"):
        store.load_trials(store.find_study("demo")[0])


def test_a_zero_length_file_and_a_directory(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    with Storage(empty) as store:
        assert store.study_names() == []
    with pytest.raises(StorageError, match="is a directory"):
        Storage(tmp_path)


# ------------------------------------------------------------------ leases
def test_second_process_cannot_run_a_leased_study_until_the_holder_dies(tmp_path):
    path = tmp_path / "study.db"
    holder = spawn("hold", path, "demo")
    try:
        with Storage(path) as store:
            sid = store.open_study("demo", {"space": {"x": {"type": "uniform", "low": 0.0, "high": 1.0}},
                                            "seed": 0})
            with pytest.raises(StudyLockedError) as err:
                store.acquire(sid)
            msg = str(err.value)
            assert f"study 'demo' in {path} is being run by process {holder.pid} on host" in msg
            assert "--name" in msg and "\n" not in msg
            with pytest.raises(StudyLockedError):  # overwriting it under the holder is refused too
                store.open_study("demo", {"seed": 5}, overwrite=True)
            other = store.open_study("other", SPEC)
            store.acquire(other)  # other studies in the same file are free

            kill(holder)
            store.acquire(sid)  # the dead holder's lease is taken over
            store.heartbeat(sid)
            lease = store._conn.execute("SELECT pid FROM leases WHERE study_id = ?", (sid,)).fetchone()
            assert lease == (os.getpid(),)
    finally:
        if holder.poll() is None:
            kill(holder)


def test_processes_racing_for_one_study_leave_exactly_one_winner(tmp_path):
    path = tmp_path / "study.db"
    racers = [spawn("race", path, "demo") for _ in range(3)]
    try:
        for proc in racers:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outcomes = sorted(proc.stdout.readline().strip() for proc in racers)
        assert outcomes == ["locked", "locked", "won"]
    finally:
        for proc in racers:
            proc.stdin.close()
            proc.wait(timeout=30)


def test_same_process_reacquires_and_close_releases(tmp_path):
    path = tmp_path / "study.db"
    with Storage(path) as first:
        sid = first.open_study("demo", SPEC)
        first.acquire(sid)
        first.acquire(sid)
        with Storage(path) as second:
            second.acquire(sid)
    with Storage(path) as store:
        assert store._conn.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0


def test_lease_from_another_host_is_taken_over_only_when_stale(tmp_path):
    import time

    path = tmp_path / "study.db"
    with Storage(path, stale_after=600) as store:
        sid = store.open_study("demo", SPEC)
        now = time.time()
        store._conn.execute("INSERT INTO leases VALUES (?, 4242, 'gpu-box', NULL, ?, ?)", (sid, now - 60, now - 60))
        with pytest.raises(StudyLockedError, match="process 4242 on host gpu-box"):
            store.acquire(sid)
        store._conn.execute("UPDATE leases SET heartbeat = ?", (now - 3600,))
        store.acquire(sid)
        store.release(sid)
        assert store._conn.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0


# ------------------------------------------------------------------ crashes and concurrency
def test_a_write_killed_mid_transaction_leaves_no_trace(tmp_path):
    path = tmp_path / "study.db"
    proc = spawn("crash", path, "demo")
    with Storage(path, timeout=0.2) as waiting:  # the busy timeout bounds the wait for the writer
        with pytest.raises(StorageError, match=f"{path} stayed locked by another process .* 0.2 s timeout"):
            waiting.save_trial(waiting.find_study("demo")[0], make_record(5))
    kill(proc)
    with Storage(path) as store:
        sid, _ = store.find_study("demo")
        assert store.count_trials(sid) == 0
        store.save_trial(sid, make_record(0))  # the write lock died with the process
        assert store._conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_two_processes_write_two_studies_in_one_file_concurrently(tmp_path):
    path = tmp_path / "study.db"
    Storage(path).close()  # both workers open an existing hpsearch file
    workers = [spawn("write", path, name, 200) for name in ("left", "right")]
    for proc in workers:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in workers:
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    with Storage(path) as store:
        for name in ("left", "right"):
            sid, _ = store.find_study(name)
            assert store.completed_numbers(sid) == set(range(200))
            assert [t["number"] for t in store.load_trials(sid, curves=False)] == list(range(200))
        conn = store._conn
        assert conn.execute("SELECT COUNT(*) FROM trials").fetchone() == (400,)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT COUNT(*) FROM leases").fetchone() == (0,)


def test_progress_callbacks_from_another_thread_may_use_the_storage():
    import threading

    with Storage() as store:
        sid = store.open_study("demo", SPEC)
        errors = []

        def save(start):
            try:
                for n in range(start, start + 50):
                    store.save_trial(sid, make_record(n))
            except Exception as exc:  # pragma: no cover - reported by the assert below
                errors.append(exc)

        threads = [threading.Thread(target=save, args=(k * 50,)) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and store.completed_numbers(sid) == set(range(150))
