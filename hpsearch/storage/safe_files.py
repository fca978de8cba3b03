"""Files in a run folder are data, never paths to follow: how hpsearch writes, reads and removes them.

Run folders are shared (copied from a colleague, unpacked from an archive), so any entry in one
may be a planted symbolic link. Following one would write, or delete, whatever it points at.
Every file hpsearch writes, reads or removes inside a run folder goes through this module:

- a write never goes through a link: the target itself, and every folder between the run folder
  and it, must not be a symbolic link (:class:`~hpsearch.errors.UnsafePathError` otherwise, one
  line naming the path); the bytes go to a temporary file beside the target, renamed over it, so a
  crash or a full disk never leaves half a file;
- a read opens the entry itself (``O_NOFOLLOW``): a link is refused, or ignored by callers that
  treat an unreadable file as absent;
- a removal checks that the path lies inside the run folder with no link on the way, then removes
  the entries themselves (``shutil.rmtree`` does not follow links inside the tree it removes).

The run folder itself (what the user named, e.g. ``runs/`` on another disk) may be a link: only
what lies below it is the folder's data.
"""
import os
import shutil
import tempfile
from pathlib import Path

from hpsearch.errors import UnsafePathError

_UMASK = os.umask(0o022)
os.umask(_UMASK)

__all__ = ["refuse_links", "write_bytes", "write_text", "read_bytes", "remove_file", "remove_tree",
           "UnsafePathError"]


def _link_error(path):
    try:
        target = f" (to {os.readlink(path)})"
    except OSError:
        target = ""
    return UnsafePathError(f"{path} is a symbolic link{target}; hpsearch never follows links inside a run "
                           f"folder (a planted link would make it write or delete files elsewhere): remove the "
                           f"link, or put the real file there")


def _between(path, root):
    """``path`` and its parents below ``root`` (``root`` excluded), deepest first; just ``path`` without root."""
    path = Path(path)
    if root is None:
        return [path]
    root = Path(root)
    chain = [path]
    for parent in path.parents:
        if parent == root or parent == Path("."):
            break
        chain.append(parent)
    else:
        # ``path`` is not written below ``root``: compare where both really are
        if not _inside(path, root):
            raise UnsafePathError(f"{path} lies outside the run folder {root}; hpsearch writes and removes "
                                  f"files only inside it")
    return chain


def _inside(path, root):
    try:
        return Path(os.path.realpath(path)).is_relative_to(Path(os.path.realpath(root)))
    except OSError:
        return False


def refuse_links(path, root=None):
    """Raise :class:`UnsafePathError` when ``path``, or a folder between ``root`` and it, is a symbolic link.

    Args:
        path: a file or folder inside the run folder ``root`` (it need not exist).
        root: the run folder, or None to check ``path`` alone.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    for entry in _between(path, root):
        if entry.is_symlink():
            raise _link_error(entry)
    return Path(path)


def write_bytes(path, data, root=None, sync=False):
    """Write ``data`` to ``path`` atomically, never through a symbolic link.

    Args:
        path: the file (its folder is created when missing).
        data: bytes.
        root: the run folder ``path`` lies in: no folder between it and ``path`` may be a link.
        sync: fsync before the rename (for files a resume relies on, e.g. checkpoints).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        UnsafePathError: ``path`` or a folder on the way is a symbolic link.
        OSError: the write failed (a full disk, no permission); its ``filename`` is ``path``, not
            the temporary file, so the message names the file the user knows.
    """
    path = refuse_links(path, root)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        refuse_links(path, root)   # mkdir made nothing through a link: re-checked now the folders exist
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)   # mkstemp makes it private; a result file is as readable as any other
        # rename replaces the directory entry itself: a link planted after the check is replaced, not followed
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    return path


def write_text(path, text, root=None):
    """:func:`write_bytes` of ``text`` in UTF-8."""
    return write_bytes(path, text.encode("utf-8"), root)


def read_bytes(path, root=None, limit=None):
    """The bytes of ``path``, opened without following a symbolic link.

    Args:
        path: the file.
        root: the run folder it lies in (no folder on the way may be a link).
        limit: read at most this many bytes (None: all).

    Raises:
        UnsafePathError: ``path`` or a folder on the way is a symbolic link.
        OSError: it cannot be read (FileNotFoundError when absent).
    """
    path = refuse_links(path, root)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        if path.is_symlink():
            raise _link_error(path) from None
        raise
    with os.fdopen(fd, "rb") as fh:
        if not _regular(fh.fileno()):
            raise OSError(21, "not a regular file", str(path))
        return fh.read() if limit is None else fh.read(limit)


def _regular(fd):
    import stat

    return stat.S_ISREG(os.fstat(fd).st_mode)


def remove_file(path, root):
    """Remove the entry ``path`` inside ``root`` (a link is removed itself, never its target); absent: nothing."""
    path = Path(path)
    if path.parent != Path(root):
        refuse_links(path.parent, root)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def remove_tree(path, root):
    """Remove the folder ``path`` and everything in it, only when it lies inside ``root`` with no link on the way.

    Raises:
        UnsafePathError: ``path`` or a folder between ``root`` and it is a symbolic link, or ``path``
            resolves outside ``root``: nothing is removed.
    """
    path = refuse_links(path, root)
    if not path.exists():
        return
    if not _inside(path, root) or Path(os.path.realpath(path)) == Path(os.path.realpath(root)):
        raise UnsafePathError(f"{path} does not lie inside the run folder {root}; nothing was removed")
    # rmtree removes links inside the tree as entries (it never descends into them)
    shutil.rmtree(path)
