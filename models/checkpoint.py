"""Checkpoints as bytes: a nested dict of plain data (JSON values and NumPy arrays) in one .npz.

    data = pack({"epochs": 3, "model": model.state_dict()})    # bytes
    state = unpack(data)                                        # the same dict back

The arrays go into the archive as they are (``np.savez``'s format, with a fixed timestamp so
the same state gives the same bytes: dtype, shape and bits kept, float32 stays float32); everything else (ints, floats including NaN/inf, strings, bools, None,
lists, dicts: RNG states via ``bit_generator.state``) is one JSON document stored as a uint8
array, in which each array is replaced by ``{"__array__": "<entry name>"}``. Nothing is ever
unpickled: ``np.load(..., allow_pickle=False)``, so bytes that hold a pickle (an object array,
or a pickle instead of an archive) are rejected, never executed. Plain bytes cross process
boundaries (loky, dask workers on other machines) without a shared file system.
"""
import io
import json
import zipfile

import numpy as np

__all__ = ["pack", "unpack", "CheckpointError"]

_META = "meta"
_ARRAY = "__array__"
_KINDS = "biuf"   # bool, int, unsigned, float arrays only
_EPOCH = (1980, 1, 1, 0, 0, 0)   # the earliest zip timestamp


class CheckpointError(ValueError):
    """Bytes that are not a checkpoint, or a damaged one: the message says what is wrong."""


def pack(tree):
    """The nested dict ``tree`` as checkpoint bytes.

    Raises:
        TypeError: a value that is neither JSON data nor a numeric NumPy array.
    """
    arrays = {}

    def plain(value):
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in _KINDS:
                raise TypeError(f"checkpoint arrays must be numeric, got dtype {value.dtype}")
            name = f"a{len(arrays)}"
            arrays[name] = value
            return {_ARRAY: name}
        if isinstance(value, dict):
            if _ARRAY in value or not all(isinstance(k, str) for k in value):
                raise TypeError(f"checkpoint dicts need string keys other than {_ARRAY!r}")
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, np.generic):
            return value.item()
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"cannot store a {type(value).__name__} in a checkpoint")

    meta = json.dumps(plain(tree), separators=(",", ":")).encode()
    buffer = io.BytesIO()
    # np.savez's layout (one .npy per entry in a zip), written with a fixed timestamp so that
    # the same state always gives the same bytes
    with zipfile.ZipFile(buffer, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in {_META: np.frombuffer(meta, dtype=np.uint8), **arrays}.items():
            with archive.open(zipfile.ZipInfo(name + ".npy", date_time=_EPOCH), "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(array), allow_pickle=False)
    return buffer.getvalue()


def unpack(data):
    """The nested dict packed into ``data`` (bytes from :func:`pack`).

    Raises:
        CheckpointError: not bytes, not an archive, a pickle inside, no or bad metadata,
            missing / unexpected / non-numeric arrays.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CheckpointError(f"checkpoint must be bytes, got {type(data).__name__}")
    try:
        with np.load(io.BytesIO(bytes(data)), allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise CheckpointError("checkpoint is not an .npz archive")
            entries = {name: archive[name] for name in archive.files}
    except CheckpointError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError, TypeError, AttributeError) as exc:
        if isinstance(exc, ValueError) and "pickle" in str(exc):
            # numpy's own text suggests loading it unsafely: a checkpoint never needs that
            raise CheckpointError("checkpoint is damaged or not a checkpoint: reading it would need "
                                  "unpickling, which could run code and is never done") from None
        # TypeError / AttributeError: a bare .npy, which np.load returns as an array
        raise CheckpointError(f"checkpoint is damaged or not a checkpoint ({type(exc).__name__}: {exc})") from None
    meta = entries.pop(_META, None)
    if meta is None or meta.dtype != np.uint8 or meta.ndim != 1:
        raise CheckpointError("checkpoint has no metadata")
    try:
        tree = json.loads(meta.tobytes().decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint metadata is not JSON ({exc})") from None
    used = set()

    def restore(value):
        if isinstance(value, dict):
            if set(value) == {_ARRAY}:
                name = value[_ARRAY]
                array = entries.get(name) if isinstance(name, str) else None
                if array is None or name in used or array.dtype.kind not in _KINDS:
                    raise CheckpointError(f"checkpoint refers to a missing or invalid array {name!r}")
                used.add(name)
                return array
            return {k: restore(v) for k, v in value.items()}
        if isinstance(value, list):
            return [restore(v) for v in value]
        return value

    tree = restore(tree)
    if set(entries) != used:
        raise CheckpointError(f"checkpoint holds unexpected arrays {sorted(set(entries) - used)}")
    if not isinstance(tree, dict):
        raise CheckpointError("checkpoint metadata is not a dict")
    return tree
