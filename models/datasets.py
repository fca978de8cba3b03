"""Datasets: load, check, split (stratified, seeded) and preprocess, in one call.

    data = load_dataset("digits", seed=0, preprocess="standardize")
    data.X_train, data.y_train, data.X_val, data.y_val, data.X_test, data.y_test

Sources:

- named (``DATASETS``): ``digits`` (scikit-learn's bundled 1797 8x8 images),
  ``spiral`` (the lecture's K-class spiral), ``blobs`` (Gaussian blobs);
- a ``.npz`` file holding arrays ``X`` (n, ...) and ``y`` (n,);
- a ``.csv`` file: one sample per row, the last column is the label, an optional header row;
- a CIFAR-10 "python version" folder (``data_batch_1`` ... ``data_batch_5``, ``test_batch``).

Features become a 2-D float array (images are flattened), labels int64 in 0..C-1
(the sorted distinct labels, kept in ``Dataset.classes``). Bad data raises
:class:`DataError` naming the file and the problem; a missing file raises
:class:`DataFileNotFoundError` (also a ``FileNotFoundError``).
"""
import gzip
import importlib.util
import inspect
import os
from dataclasses import dataclass, field

import numpy as np

from models._checks import int_at_least, seed_int
from models.datafiles import (CIFAR_OPTIONS, FILE_READERS, DataError, DataFileNotFoundError,
                              check_arrays, read_cifar10)
from models.preprocess import make_preprocessor
from models.splits import check_split, split_indices

__all__ = ["Dataset", "DataError", "DataFileNotFoundError", "DATASETS", "load_dataset", "check_source",
           "source_keywords", "load_digits", "make_spiral", "make_blobs"]


@dataclass(eq=False)
class Dataset:
    """Train / validation / test splits of one classification problem.

    Attributes:
        X_train, X_val, X_test: float arrays (n_split, input_dim).
        y_train, y_val, y_test: int64 arrays (n_split,) with labels in 0..num_classes-1.
        num_classes: number of classes C (default: 1 + the largest label in any split).
        name: where the data came from (a dataset name or a path).
        classes: the original label of each class index (None when the labels were already 0..C-1).
        preprocessor: the fitted preprocessor (its statistics come from the training split).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray = None
    y_test: np.ndarray = None
    num_classes: int = None
    name: str = "data"
    classes: np.ndarray = None
    preprocessor: object = field(default=None, repr=False)

    def __post_init__(self):
        if self.X_test is None:
            self.X_test = np.empty((0,) + np.shape(self.X_train)[1:], dtype=np.asarray(self.X_train).dtype)
            self.y_test = np.empty(0, dtype=np.int64)
        for split in ("train", "val", "test"):
            X, y = np.asarray(getattr(self, f"X_{split}")), getattr(self, f"y_{split}")
            setattr(self, f"X_{split}", X)
            if X.ndim != 2:
                raise DataError(f"{self.name}: X_{split} must be a 2-D array, got shape {np.shape(X)}")
            y = np.asarray(y)
            if y.ndim != 1 or len(y) != len(X):
                raise DataError(f"{self.name}: y_{split} must be 1-D with {len(X)} labels, got shape {y.shape}")
            if y.dtype != np.int64:
                setattr(self, f"y_{split}", y.astype(np.int64))
        if len(self.X_train) == 0 or len(self.X_val) == 0:
            raise DataError(f"{self.name}: the training and validation splits must not be empty")
        dims = {self.X_train.shape[1], self.X_val.shape[1], self.X_test.shape[1]}
        if len(dims) != 1:
            raise DataError(f"{self.name}: the splits have different numbers of features {sorted(dims)}")
        top = max(int(y.max()) for y in (self.y_train, self.y_val, self.y_test) if len(y))
        if self.num_classes is None:
            self.num_classes = top + 1
        elif top >= self.num_classes:
            raise DataError(f"{self.name}: label {top} is out of range for num_classes={self.num_classes}")

    @property
    def input_dim(self):
        """Number of features per sample (D)."""
        return self.X_train.shape[1]

    def __repr__(self):
        return (f"Dataset(name={self.name!r}, num_classes={self.num_classes}, input_dim={self.input_dim}, "
                f"train={len(self.X_train)}, val={len(self.X_val)}, test={len(self.X_test)}, "
                f"dtype={self.X_train.dtype})")


# ---------------------------------------------------------------- named sources

def load_digits(seed=0):
    """scikit-learn's bundled digits: 1797 images of 8x8 pixels (values 0..16), 10 classes.

    The same arrays, in the same order, as ``sklearn.datasets.load_digits(return_X_y=True)``:
    X (1797, 64) float64, y (1797,) int64. The data file that scikit-learn ships is read
    directly, without importing scikit-learn (which costs a fresh worker process seconds).
    """
    spec = importlib.util.find_spec("sklearn")   # finds the package, imports nothing
    folder = spec.submodule_search_locations[0] if spec and spec.submodule_search_locations else None
    path = os.path.join(folder, "datasets", "data", "digits.csv.gz") if folder else None
    if path is None or not os.path.exists(path):
        raise DataFileNotFoundError("digits: scikit-learn's data file digits.csv.gz was not found; "
                                    "install scikit-learn (pip install scikit-learn)")
    with gzip.open(path, "rb") as f:
        raw = f.read()
    data = _small_int_table(raw)
    if data is None:   # another layout than the one scikit-learn ships today: parse it in full
        data = np.loadtxt(raw.decode().splitlines(), delimiter=",")
    return data[:, :-1], data[:, -1].astype(np.int64)


def _small_int_table(raw):
    """The table of a CSV text whose every cell is a 1- or 2-digit integer, as float64 (n, m),
    parsed in one vectorised pass (~1 ms for digits; np.loadtxt takes ~40 ms); None for any other text."""
    data = np.frombuffer(raw if raw.endswith(b"\n") else raw + b"\n", dtype=np.uint8)
    newline = data == ord("\n")
    ends = np.flatnonzero(newline | (data == ord(",")))
    starts = np.concatenate(([0], ends[:-1] + 1))
    digits = data - np.uint8(ord("0"))   # wraps for separators: only cells are read below
    lengths = ends - starts
    if len(ends) == 0 or lengths.min() < 1 or lengths.max() > 2 or not np.all((digits <= 9) | (data == ord(","))
                                                                                | newline):
        return None
    values = digits[starts].astype(np.float64)
    two = lengths == 2
    values[two] = values[two] * 10 + digits[starts[two] + 1]
    rows = np.flatnonzero(newline[ends]) + 1        # cells up to the end of each row
    width = rows[0]
    if np.any(np.diff(rows, prepend=0) != width):
        return None
    return values.reshape(len(rows), width)


def make_spiral(seed=0, n_classes=3, n_per_class=100, noise=0.2):
    """The lecture's spiral: ``n_classes`` arms of ``n_per_class`` 2-D points, not linearly separable.

    Arm k has radius ``r`` in [0, 1] and angle ``4k + 4r + noise * N(0, 1)``.
    """
    n_classes = int_at_least("spiral: n_classes", n_classes, 2, DataError)
    n_per_class = int_at_least("spiral: n_per_class", n_per_class, 2, DataError)
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not np.isfinite(noise) or noise < 0:
        raise DataError(f"spiral: noise must be a non-negative number, got {noise!r}")
    rng = np.random.default_rng(seed)
    X = np.empty((n_per_class * n_classes, 2))
    y = np.repeat(np.arange(n_classes), n_per_class)
    r = np.linspace(0.0, 1.0, n_per_class)
    for k in range(n_classes):
        t = np.linspace(4.0 * k, 4.0 * (k + 1), n_per_class) + rng.standard_normal(n_per_class) * noise
        X[k * n_per_class:(k + 1) * n_per_class] = np.c_[r * np.sin(t), r * np.cos(t)]
    return X, y


def make_blobs(seed=0, n_samples=600, centers=3, n_features=2, cluster_std=1.0):
    """Isotropic Gaussian blobs (scikit-learn's ``make_blobs``), one class per blob."""
    from sklearn.datasets import make_blobs as _blobs

    n_samples = int_at_least("blobs: n_samples", n_samples, 2, DataError)
    centers = int_at_least("blobs: centers", centers, 2, DataError)
    n_features = int_at_least("blobs: n_features", n_features, 1, DataError)
    return _blobs(n_samples=n_samples, centers=centers, n_features=n_features, cluster_std=cluster_std,
                  random_state=int(seed))


DATASETS = {"digits": load_digits, "spiral": make_spiral, "blobs": make_blobs}


# ---------------------------------------------------------------- checks

def _features(X, dtype):
    return np.ascontiguousarray(X.reshape(len(X), int(np.prod(X.shape[1:]))), dtype=dtype)


def _is_pathlike(source):
    text = os.fspath(source)
    return os.sep in text or (os.altsep and os.altsep in text) or os.path.splitext(text)[1] != "" \
        or os.path.exists(text)


def source_keywords(source):
    """The source options ``source`` (a dataset name or a path) accepts, e.g. spiral's n_classes."""
    if isinstance(source, str) and source in DATASETS:
        return [p for p in inspect.signature(DATASETS[source]).parameters if p != "seed"]
    if not isinstance(source, (str, os.PathLike)):
        raise DataError(f"dataset must be a name or a path, got {source!r}")
    ext = os.path.splitext(os.fspath(source))[1].lower()
    if ext in FILE_READERS:
        return [p for p in inspect.signature(FILE_READERS[ext]).parameters if p != "path"]
    return list(CIFAR_OPTIONS)


def check_source(source, **options):
    """Check a source and its options without loading the data.

    Raises:
        DataError: unknown name (listing the valid ones), unknown option.
        DataFileNotFoundError: a path that does not exist.
    """
    if isinstance(source, str) and source in DATASETS:
        pass
    elif isinstance(source, (str, os.PathLike)) and _is_pathlike(source):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise DataFileNotFoundError(f"{path}: no such file or folder")
        ext = os.path.splitext(path)[1].lower()
        if not os.path.isdir(path) and ext not in FILE_READERS:
            raise DataError(f"{path}: unsupported file type {ext!r}; expected a .npz or .csv file "
                            f"or a CIFAR-10 folder")
    else:
        raise DataError(f"unknown dataset {source!r}; expected one of {', '.join(DATASETS)} "
                        f"or a .npz/.csv path or a CIFAR-10 folder")
    valid = source_keywords(source)
    for key in options:
        if key not in valid:
            raise DataError(f"unknown option {key!r} for dataset {os.fspath(source)!r}; "
                            f"expected {', '.join(valid) if valid else 'no options'}")


# ---------------------------------------------------------------- splitting

def _check_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f":
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return dt


# ---------------------------------------------------------------- the one entry point

def load_dataset(source, seed=0, val_fraction=0.2, test_fraction=0.2, preprocess="none", dtype="float32",
                 n_components=None, whiten_eps=1e-5, **options):
    """Load a dataset, check it, split it and preprocess it.

    Args:
        source: a name in ``DATASETS`` (digits, spiral, blobs), a ``.npz`` / ``.csv`` path or a
            CIFAR-10 python folder.
        seed: seeds the split and the generated sources (spiral, blobs).
        val_fraction: share of the samples for validation, in (0, 1).
        test_fraction: share for the test split, in [0, 1). CIFAR-10 uses its own test_batch
            instead and ignores it.
        preprocess: one of ``PREPROCESSORS`` (none, center, standardize, pca, whiten); fitted on
            the training split only, applied unchanged to validation and test.
        dtype: float dtype of the features ("float32" or "float64").
        n_components: components kept by pca / whiten (None: all).
        whiten_eps: added to each variance before whitening (ignored by the other preprocessors).
        **options: the source's options: spiral ``n_classes``, ``n_per_class``, ``noise``;
            blobs ``n_samples``, ``centers``, ``n_features``, ``cluster_std``; csv ``delimiter``,
            ``header``; npz ``x_key``, ``y_key``; CIFAR-10 ``n_train``.

    Returns:
        A :class:`Dataset`; splits are stratified by class and seeded.

    Raises:
        DataError: unknown source or option, bad data (naming the file and the problem).
        DataFileNotFoundError: a missing file.
        ValueError: bad fractions, dtype or preprocessing settings.
    """
    seed_int(seed)
    val_fraction, test_fraction = check_split(val_fraction, test_fraction)
    dt = _check_dtype(dtype)
    pre_options = {"n_components": n_components}
    if preprocess == "whiten":
        pre_options["eps"] = whiten_eps
    pre = make_preprocessor(preprocess, **pre_options)
    check_source(source, **options)

    where, X, y, X_test, y_test = _read(source, seed, options)
    classes, y, y_test = _encode_labels(y, y_test, where)
    train_idx, val_idx, test_idx = _split_indices(y, y_test is not None, val_fraction, test_fraction, seed, where)
    X_train = _features(X[train_idx], dt)
    X_val = _features(X[val_idx], dt)
    if y_test is not None:
        X_test = _features(X_test, dt)
    else:
        X_test, y_test = _features(X[test_idx], dt), y[test_idx]
    try:
        pre.fit(X_train)
    except ValueError as exc:
        raise ValueError(f"{where}: preprocess {preprocess!r}: {exc}") from None
    X_train, X_val, X_test = (pre.transform(A) for A in (X_train, X_val, X_test))
    is_identity = np.array_equal(classes, np.arange(len(classes)))
    return Dataset(X_train, y[train_idx], X_val, y[val_idx], X_test, y_test, num_classes=len(classes),
                   name=where, classes=None if is_identity else classes, preprocessor=pre)


def _read(source, seed, options):
    """(where, X, y, X_test, y_test) of a checked source; the test arrays are None unless the
    source has its own test split (CIFAR-10)."""
    X_test = y_test = None
    if isinstance(source, str) and source in DATASETS:
        where = source
        X, y = DATASETS[source](seed=seed, **options)
    else:
        where = os.fspath(source)
        if os.path.isdir(where):
            X, y, X_test, y_test = read_cifar10(where, **options)
        else:
            X, y = FILE_READERS[os.path.splitext(where)[1].lower()](where, **options)
    X, y = check_arrays(X, y, where)
    return where, X, y, X_test, y_test


def _encode_labels(y, y_test, where):
    """(classes, y, y_test) with labels coded 0..C-1 over every split together, so the same label
    means the same class; ``classes[code]`` is the original label."""
    all_y = y if y_test is None else np.concatenate([y, y_test])
    classes, codes = np.unique(all_y, return_inverse=True)
    codes = codes.astype(np.int64)
    if len(classes) < 2:
        raise DataError(f"{where}: needs at least 2 classes, found only label {_label(classes[0])} "
                        f"(in all {len(all_y)} samples)")
    return classes, codes[:len(y)], (None if y_test is None else codes[len(y):])


def _label(value):
    """A label as the user wrote it: ``0``, not ``np.float64(0.0)`` (CSV labels are read as floats)."""
    value = value.item()
    return int(value) if isinstance(value, float) and value.is_integer() else repr(value)


def _split_indices(y, own_test, val_fraction, test_fraction, seed, where):
    """(train, val, test) indices into y, stratified and seeded; test is None when the source
    has its own test split."""
    n = len(y)
    if own_test:
        rest, test_idx = np.arange(n), None
    else:
        rest, test_idx = split_indices(y, int(round(test_fraction * n)), seed)
    n_val = max(1, int(round(val_fraction * n)))
    if n_val >= len(rest):
        raise DataError(f"{where}: {n} samples are too few to split with val_fraction={val_fraction}, "
                        f"test_fraction={test_fraction}")
    n_classes = int(y.max()) + 1  # labels are coded 0..C-1
    if len(rest) - n_val < n_classes:
        n_test = 0 if test_idx is None else len(test_idx)
        raise DataError(f"{where}: {n} samples are too few: the split would train on {len(rest) - n_val} "
                        f"(validation {n_val}, test {n_test}), fewer than its {n_classes} classes; "
                        f"use more data (or a smaller val_fraction / test_fraction)")
    tr, va = split_indices(y[rest], n_val, seed)
    return rest[tr], rest[va], test_idx
