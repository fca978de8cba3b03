"""SIGTERM ends a command as Ctrl-C does (finished trials kept, a resume line), with its own words and status.

``kill PID``, a batch scheduler's time limit or ``docker stop`` send SIGTERM. Python's default is
to die at once, without a word. While a command runs, :func:`sigterm_as_interrupt` turns it into
the same orderly stop as Ctrl-C; :func:`stopped` and :func:`exit_status` then say which signal it
was: ``terminated (SIGTERM)`` and 143 (128 + 15, what a shell reports for a process SIGTERM
ended), or ``interrupted`` and 130.
"""
import os
import signal
import threading
from contextlib import contextmanager

__all__ = ["EXIT_INTERRUPTED", "EXIT_TERMINATED", "sigterm_as_interrupt", "stopped", "exit_status"]

EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143   # 128 + SIGTERM
_received = []
_owner = [0]   # the process that installed the handler


def _on_sigterm(signum, frame):
    if os.getpid() != _owner[0]:
        # a worker forked from the command (the multiprocessing backend) inherited this handler: a
        # SIGTERM there is its pool ending it, so it ends as it would have without us
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    _received.append(signum)
    raise KeyboardInterrupt


@contextmanager
def sigterm_as_interrupt():
    """While inside, SIGTERM raises KeyboardInterrupt in the main thread (elsewhere: nothing changes)."""
    _received.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _owner[0] = os.getpid()
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stopped():
    """How the command was stopped, for messages: ``"terminated (SIGTERM)"`` or ``"interrupted"``."""
    return "terminated (SIGTERM)" if _received else "interrupted"


def exit_status():
    """143 after SIGTERM, else 130 (Ctrl-C)."""
    return EXIT_TERMINATED if _received else EXIT_INTERRUPTED
