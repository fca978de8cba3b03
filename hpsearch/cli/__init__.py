"""The ``hpsearch`` command: run, compare, show, plot, copy, sanity, export, dashboard.

Every mistake in the user's input (a study file, an option, a storage) ends as
one line ``hpsearch: error: <message>`` on stderr and exit status 2, never a
traceback; Ctrl-C keeps the finished trials, prints how to resume and exits 130
(SIGTERM does the same and exits 143).
A bug inside hpsearch still shows its traceback.
"""
import os
import sys
import warnings

from hpsearch.cli.output import err, error_line
from hpsearch.cli.parser import EXIT_USAGE, build_parser
from hpsearch.cli.signals import exit_status, sigterm_as_interrupt, stopped
from hpsearch.errors import HpsearchError, StudyFailedError, StudyInterrupted

__all__ = ["main", "build_parser"]

EXIT_FAILED = 1  # the study ran but produced no result, or a check failed
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE
# Errors that come from what the user typed or pointed us at (OSError covers missing
# files, permissions and full disks).
_USER_ERRORS = (HpsearchError, ValueError, OSError)


def main(argv=None):
    """Run the ``hpsearch`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
    handler = _handler(args.command)
    try:
        with warnings.catch_warnings(), sigterm_as_interrupt():  # restores the caller's settings afterwards
            warnings.showwarning = _show_warning
            return handler(args, argv)
    except StudyInterrupted as exc:
        # A command without its own resume message (compare handles it itself).
        err(f"{stopped()}: {exc}")
        return exit_status()
    except KeyboardInterrupt:
        err(stopped())
        return exit_status()
    except BrokenPipeError:
        # the reader went away (`hpsearch show ... | head`): stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except StudyFailedError as exc:
        err(f"error: {error_line(exc)}")
        return EXIT_FAILED
    except _USER_ERRORS as exc:
        err(f"error: {error_line(exc)}")
        return EXIT_USAGE


def _handler(command):
    """The function running ``command`` (each command's module is imported only when used)."""
    if command in ("run", "compare"):
        from hpsearch.cli import run as module
    elif command == "sanity":
        from hpsearch.cli import sanity as module
    elif command == "dashboard":
        from hpsearch.cli import dashboard as module
    else:
        from hpsearch.cli import view as module
    return getattr(module, f"cmd_{command}")


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings are for users here: one line, no source file or code."""
    err(f"warning: {error_line(message)}")


