"""What the commands print: one-line messages, the result summary and its boundary flags."""
import copy
import os
import shlex
import sys

from hpsearch.checks import one_line

__all__ = ["PROG", "for_humans", "say", "err", "error_line", "resume_command", "report"]

PROG = "hpsearch"


def for_humans(text):
    """``text`` with absolute paths under the working folder written relative to it. The run
    folder is made absolute before any trial runs (so an objective's chdir moves nothing), but
    the user reads the paths as they typed them."""
    here = os.path.join(os.getcwd(), "")
    return str(text).replace(here, "") if len(here) > 1 else str(text)


def say(text="", verbatim=False):
    """Print ``text``; ``verbatim``: as it is (a command to paste elsewhere keeps its absolute paths)."""
    print(text if verbatim else for_humans(text), flush=True)


def err(message):
    print(f"{PROG}: {for_humans(message)}", file=sys.stderr, flush=True)


def error_line(exc):
    """An exception as one line; an OSError as ``<file>: <reason>``."""
    if isinstance(exc, OSError) and getattr(exc, "filename", None) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return one_line(exc)


def resume_command(argv):
    """The command to run again to resume: the same one without --overwrite/--dry-run."""
    kept = [a for a in argv if a not in ("--overwrite", "--dry-run")]
    return " ".join([PROG] + [shlex.quote(a) for a in kept])


def report(result, top):
    """The summary of a result without its flags, then the flags in their own block."""
    plain = copy.copy(result)
    plain.boundary = []
    say(plain.summary(top=top))
    if not result.boundary:
        say("boundary: no best value sits at the edge of its range")
        return
    n = len(result.boundary)
    say("")
    say(f"!! {n} boundary flag{'s' if n > 1 else ''}: the good trials crowd toward the edge of a range, "
        f"so the optimum may lie outside it. Widen the range and run again:")
    for flag in result.boundary:
        say(f"!!   {flag}")
