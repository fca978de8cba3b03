"""Leases: one live process runs a study at a time.

A lease row (pid, host, process start time, heartbeat) marks the process running a
study. A second process that wants the same study asks whether the holder is alive:
on this host by asking the operating system (a reused pid is told apart by its start
time), on another host by the age of the heartbeat. :class:`Heartbeat` refreshes the
lease from a daemon thread while the study runs, however long its trials take.
"""
import os
import threading
import time

__all__ = ["process_identity", "clock", "Heartbeat", "HEARTBEAT_SECONDS"]

#: Seconds between lease refreshes while a study runs.
HEARTBEAT_SECONDS = 5.0


def process_identity(pid):
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


def clock(timestamp):
    moment = time.localtime(timestamp)
    if time.strftime("%Y-%m-%d", moment) == time.strftime("%Y-%m-%d"):
        return time.strftime("%H:%M:%S", moment)
    return time.strftime("%Y-%m-%d %H:%M:%S", moment)


class Heartbeat:
    """Refreshes a study's lease every ``every`` seconds from a daemon thread (a context manager).

    Args:
        refresh: a callable doing one refresh (``storage.heartbeat(study_id)``).
        every: seconds between refreshes.
    """

    def __init__(self, refresh, every=HEARTBEAT_SECONDS):
        self._refresh, self._every = refresh, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hpsearch-heartbeat", daemon=True)

    def _run(self):
        while not self._stop.wait(self._every):
            try:
                self._refresh()
            except Exception:  # the main thread sees storage problems on its next write
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False
