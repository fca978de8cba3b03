"""Checkpoints of paused trials: opaque bytes from the objective, kept until no rung needs them.

Multi-fidelity strategies continue a promoted trial from the state its objective returned
at the lower budget. The state is plain bytes (it crosses process and machine boundaries
with the trial's record); the parent process keeps it in the run folder beside
``study.db`` (``checkpoints/<study>/<number>.ckpt``), written atomically *before* the
trial's row is committed, so a study killed at any moment resumes with every stored
trial's checkpoint in place. A study without a storage file keeps them in memory.

Checkpoint files are written, read and removed through :mod:`hpsearch.storage.safe_files`: a
symbolic link anywhere in ``checkpoints/`` is refused, never followed, and clearing the folder
never removes anything outside the run folder.

hpsearch never interprets the bytes: only the objective that wrote them reads them back
(``models.MLPObjective`` parses them with ``numpy.load(..., allow_pickle=False)``).
"""
from pathlib import Path

from hpsearch.storage import safe_files

__all__ = ["CheckpointStore"]

_SUFFIX = ".ckpt"


class CheckpointStore:
    """Checkpoint bytes by trial number, in ``folder`` (created on the first save) or in memory.

    Args:
        folder: a folder path, or None to keep them in memory.
        root: the run folder ``folder`` lies in (default: its grandparent, as in
            ``<run>/checkpoints/<study>``): nothing between it and a checkpoint may be a symbolic link.

    Raises:
        UnsafePathError: the folder, or an entry in it, is a symbolic link.
    """

    def __init__(self, folder=None, root=None):
        self.folder = None if folder is None else Path(folder)
        self.root = None if folder is None else Path(root) if root is not None else self.folder.parent.parent
        self._memory = {}
        if self.folder is not None:
            safe_files.refuse_links(self.folder, self.root)
            if self.folder.is_dir():
                for entry in self.folder.iterdir():
                    safe_files.refuse_links(entry)
        self._sizes = {n: self._path(n).lstat().st_size for n in self.numbers()} if self.folder else {}
        #: the most bytes the checkpoints took at once since this store was opened
        self.peak_bytes = sum(self._sizes.values())

    def _path(self, number):
        return self.folder / f"{int(number)}{_SUFFIX}"

    def save(self, number, data):
        """Keep ``data`` (bytes) for trial ``number``, replacing any older one, atomically."""
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"a checkpoint must be bytes, got {type(data).__name__}")
        self._sizes[int(number)] = len(data)
        self.peak_bytes = max(self.peak_bytes, sum(self._sizes.values()))
        if self.folder is None:
            self._memory[int(number)] = bytes(data)
            return
        safe_files.write_bytes(self._path(number), bytes(data), root=self.root, sync=True)

    def load(self, number):
        """The bytes kept for trial ``number``, or None."""
        if self.folder is None:
            return self._memory.get(int(number))
        try:
            return safe_files.read_bytes(self._path(number), root=self.root)
        except FileNotFoundError:
            return None

    def delete(self, numbers):
        """Forget the checkpoints of ``numbers`` (missing ones are ignored)."""
        for number in numbers:
            self._sizes.pop(int(number), None)
            if self.folder is None:
                self._memory.pop(int(number), None)
            else:
                safe_files.remove_file(self._path(number), self.root)

    def numbers(self):
        """The trial numbers with a checkpoint, sorted."""
        if self.folder is None:
            return sorted(self._memory)
        if not self.folder.is_dir():
            return []
        return sorted(int(p.stem) for p in self.folder.glob(f"*{_SUFFIX}") if p.stem.isdigit())

    def disk_bytes(self):
        """Bytes the checkpoints take (on disk, or in memory)."""
        if self.folder is None:
            return sum(len(d) for d in self._memory.values())
        return sum(self._path(n).lstat().st_size for n in self.numbers())

    def clear(self):
        """Forget every checkpoint (the folder goes too, and its parent once empty: a run
        folder's ``checkpoints/`` holds one folder per study of its database)."""
        self._memory.clear()
        self._sizes.clear()
        if self.folder is not None and self.folder.is_dir():
            safe_files.remove_tree(self.folder, self.root)
            try:
                safe_files.refuse_links(self.folder.parent, self.root)
                self.folder.parent.rmdir()
            except OSError:  # another study's checkpoints are still there
                pass
