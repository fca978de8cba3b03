"""Reading data files (.npz, .csv, CIFAR-10 python batches) and checking the arrays they hold.

Every reader returns raw arrays; :func:`check_arrays` checks shapes, lengths, finiteness and
labels. Bad data raises :class:`DataError` naming the file and the problem; a missing file
raises :class:`DataFileNotFoundError` (also a ``FileNotFoundError``).
"""
import os
import pickle

import numpy as np

from models._checks import int_at_least

__all__ = ["DataError", "DataFileNotFoundError", "FILE_READERS", "CIFAR_OPTIONS", "read_npz", "read_csv",
           "read_cifar10", "check_arrays"]


class DataError(ValueError):
    """Data that cannot be used: the message names the file (or source) and the problem."""


class DataFileNotFoundError(DataError, FileNotFoundError):
    """A data file or folder that does not exist."""


def read_npz(path, x_key="X", y_key="y"):
    """Arrays ``x_key`` and ``y_key`` of an .npz file (never unpickled: allow_pickle=False)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in (x_key, y_key) if k not in npz.files]
            if missing:
                raise DataError(f"{path}: missing array {missing[0]!r}; the file holds "
                                f"{', '.join(npz.files) or 'no arrays'}")
            return npz[x_key], npz[y_key]
    except DataError:
        raise
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None


def read_csv(path, delimiter=",", header=None):
    """Rows of numbers, last column the label; ``header=None`` detects a non-numeric first row."""
    with open(path, encoding="utf-8") as f:
        first = f.readline()
    if not first.strip():
        raise DataError(f"{path}: empty file")
    if header is None:
        try:
            [float(cell) for cell in first.strip().split(delimiter)]
            header = False
        except ValueError:
            header = True
    try:
        data = np.loadtxt(path, delimiter=delimiter, skiprows=int(bool(header)), ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from None
    if data.shape[0] == 0:
        raise DataError(f"{path}: no data rows")
    if data.shape[1] < 2:
        raise DataError(f"{path}: needs at least 2 columns (features..., label), got {data.shape[1]}")
    return data[:, :-1], data[:, -1]


def read_cifar_batch(path):
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
    except FileNotFoundError:
        raise DataFileNotFoundError(f"{path}: no such file") from None
    except Exception as exc:  # any unpickling failure means "not a CIFAR batch"
        raise DataError(f"{path}: not a CIFAR-10 python batch ({type(exc).__name__}: {exc})") from None
    if not isinstance(batch, dict):
        raise DataError(f"{path}: not a CIFAR-10 python batch (a {type(batch).__name__}, not a dict)")
    get = lambda key: batch.get(key.encode(), batch.get(key))  # noqa: E731 - bytes keys, str in some copies
    data, labels = get("data"), get("labels")
    if data is None or labels is None:
        raise DataError(f"{path}: not a CIFAR-10 python batch (needs keys b'data' and b'labels')")
    data = np.asarray(data)
    labels = np.asarray(labels)
    check_arrays(data, labels, path)
    return data, labels


def cifar_batch_names(folder):
    names = sorted((n for n in os.listdir(folder) if n.startswith("data_batch_")),
                   key=lambda n: (len(n), n))
    return names


def read_cifar10(folder, n_train=None):
    """The training batches and the official test batch of a CIFAR-10 python folder.

    The batches are Python pickles (the format CIFAR-10 is distributed in): only load
    folders you trust.
    """
    names = cifar_batch_names(folder)
    if not names:
        raise DataError(f"{folder}: not a CIFAR-10 folder (no data_batch_1 ... data_batch_5 files)")
    if not os.path.exists(os.path.join(folder, "test_batch")):
        raise DataFileNotFoundError(f"{os.path.join(folder, 'test_batch')}: no such file (CIFAR-10 test batch)")
    parts = [read_cifar_batch(os.path.join(folder, n)) for n in names]
    X = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    if n_train is not None:
        n_train = int_at_least(f"{folder}: n_train", n_train, 2, DataError)
        X, y = X[:n_train], y[:n_train]
    X_test, y_test = read_cifar_batch(os.path.join(folder, "test_batch"))
    if X_test.shape[1:] != X.shape[1:]:
        raise DataError(f"{folder}: test_batch images have shape {X_test.shape[1:]}, training ones {X.shape[1:]}")
    return X, y, X_test, y_test


FILE_READERS = {".npz": read_npz, ".csv": read_csv}
CIFAR_OPTIONS = ("n_train",)


def check_arrays(X, y, where):
    """Shapes, lengths and finiteness; raises DataError naming ``where``."""
    X = np.asarray(X)
    y = np.asarray(y)
    if X.dtype.kind not in "biuf":
        raise DataError(f"{where}: features must be numbers, got dtype {X.dtype}")
    if X.ndim < 2:
        raise DataError(f"{where}: X must have one row per sample (2-D, or images (n, ...) to flatten), "
                        f"got shape {X.shape}")
    if y.ndim != 1:
        raise DataError(f"{where}: y must be 1-D (one label per sample), got shape {y.shape}")
    if len(X) != len(y):
        raise DataError(f"{where}: X has {len(X)} samples but y has {len(y)} labels")
    if len(X) == 0 or X[0].size == 0:
        raise DataError(f"{where}: no data (X has shape {X.shape})")
    if X.dtype.kind == "f":
        bad = ~np.isfinite(X)
        if bad.any():
            row, *col = np.argwhere(bad)[0]
            kind = "NaN" if np.isnan(X[tuple([row, *col])]) else "inf"
            raise DataError(f"{where}: features contain {kind} ({int(bad.sum())} non-finite values, "
                            f"first in sample {row})")
    if y.dtype.kind not in "biuf":
        raise DataError(f"{where}: labels must be non-negative integers, got dtype {y.dtype}")
    if y.dtype.kind == "f":
        frac = ~np.isfinite(y) | (y != np.round(y))
        if frac.any():
            raise DataError(f"{where}: labels must be non-negative integers, found {y[frac][0].item()!r}")
    if len(y) and y.min() < 0:
        raise DataError(f"{where}: labels must be non-negative integers, found {y.min().item()!r}")
    return X, y
