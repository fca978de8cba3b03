"""Subprocess helper for test_storage.py: one process using a storage file.

    python _storage_worker.py hold   PATH NAME        acquire the study's lease, print "ready", wait forever
    python _storage_worker.py write  PATH NAME N      print "ready", wait for a line on stdin, save N trials
    python _storage_worker.py crash  PATH NAME        start a trial write, print "ready", wait inside it
    python _storage_worker.py race   PATH NAME        print "ready", wait for a line, try to acquire, print
                                                      "won" or "locked", hold until stdin closes

Run with the repository root on PYTHONPATH.
"""
import sys
import time

from hpsearch.storage.storage import Storage

SPEC = {"space": {"x": {"type": "uniform", "low": 0.0, "high": 1.0}}, "seed": 0}


def record(number):
    return {"number": number, "stage": 0, "status": "ok", "params": {"x": number / 1000},
            "metrics": {"loss": 1.0 / (number + 1)}, "budget": 1, "seed": number, "start": 0.0,
            "end": 0.0, "duration": 0.0, "error": None, "curve": [{"epoch": 1, "loss": 1.0}]}


def main(mode, path, name, n=0):
    storage = Storage(path, timeout=30.0)
    study_id = storage.open_study(name, SPEC)
    if mode == "hold":
        storage.acquire(study_id)
        print("ready", flush=True)
        while True:
            time.sleep(60)
    elif mode == "write":
        storage.acquire(study_id)
        print("ready", flush=True)
        sys.stdin.readline()
        for number in range(int(n)):
            storage.save_trial(study_id, record(number))
        storage.close()
    elif mode == "race":
        from hpsearch.errors import StudyLockedError

        print("ready", flush=True)
        sys.stdin.readline()
        try:
            storage.acquire(study_id)
            print("won", flush=True)
        except StudyLockedError:
            print("locked", flush=True)
        sys.stdin.read()
        storage.close()
    elif mode == "crash":
        # a trial row inside an open write transaction, as if the process died mid-write
        from hpsearch.storage import storage as module

        with storage._guard("save trial"), storage._transaction() as conn:
            conn.execute(module._SAVE_TRIAL, (study_id, 0, 0, "ok", 1, 0, 0.0, 0.0, 0.0, None,
                                              "{}", "{}", "[]", None))
            print("ready", flush=True)
            while True:
                time.sleep(60)
    else:
        raise SystemExit(f"unknown mode {mode!r}; expected one of hold, write, race, crash")


if __name__ == "__main__":
    main(*sys.argv[1:])
