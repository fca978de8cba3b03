"""Seeded, stratified splits of sample indices: scikit-learn's ``train_test_split``, without importing it.

``split_indices(y, n_take, seed)`` returns exactly what
``sklearn.model_selection.train_test_split(np.arange(len(y)), test_size=n_take, stratify=y,
random_state=seed)`` returns (its ``StratifiedShuffleSplit``; ``ShuffleSplit`` when a class is too
small to stratify), so splits made before this module existed are unchanged (a test compares the
two). Importing scikit-learn costs a fresh worker process ~2.5 s (scipy.stats and more) before its
first trial; this module costs nothing. The draws use ``np.random.RandomState(seed)``, the legacy
generator scikit-learn seeds from an int: an explicit seeded instance, never the global RNG.

The algorithms follow scikit-learn's ``model_selection/_split.py`` and ``utils/extmath.py``
(BSD-3-Clause, Copyright the scikit-learn developers).
"""
import numpy as np

__all__ = ["split_indices", "check_split"]


def split_indices(y, n_take, seed):
    """(rest, taken): index arrays into ``y`` with ``n_take`` indices taken, stratified by ``y``
    when every class has at least 2 members and both parts can hold every class.

    Args:
        y: (n,) labels.
        n_take: how many indices to take, 0 <= n_take < n.
        seed: int seed of the draws.

    Returns:
        (rest (n - n_take,), taken (n_take,)) int arrays, each in a random order.
    """
    n = len(y)
    idx = np.arange(n)
    if n_take == 0:
        return idx, idx[:0]
    if not 0 < n_take < n:
        raise ValueError(f"cannot take {n_take} of {n} samples")
    n_rest = n - n_take
    classes, y_indices, counts = np.unique(y, return_inverse=True, return_counts=True)
    rng = np.random.RandomState(seed)
    if counts.min() < 2 or n_rest < len(classes) or n_take < len(classes):
        permutation = rng.permutation(n)   # ShuffleSplit: a class cannot be stratified
        return permutation[n_take:], permutation[:n_take]
    by_class = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(counts)[:-1])
    n_rest_i = _approximate_mode(counts, n_rest, rng)
    n_take_i = _approximate_mode(counts - n_rest_i, n_take, rng)
    rest, taken = [], []
    for i in range(len(classes)):
        members = by_class[i].take(rng.permutation(counts[i]), mode="clip")
        rest.extend(members[:n_rest_i[i]])
        taken.extend(members[n_rest_i[i]:n_rest_i[i] + n_take_i[i]])
    return rng.permutation(rest), rng.permutation(taken)


def _approximate_mode(class_counts, n_draws, rng):
    """Draws per class closest to the multivariate hypergeometric's mode (sum == n_draws),
    ties broken at random (scikit-learn's ``_approximate_mode``)."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        # np.sort(np.unique(remainder))[::-1], without np.unique: for floats it imports numpy.ma
        # (~35 ms of a fresh worker's first trial)
        ordered = np.sort(remainder)
        for value in ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))][::-1]:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need_to_add)
            floored[rng.choice(inds, size=add_now, replace=False)] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)


def _fraction(name, value, allow_zero):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) \
            or not (0.0 <= value < 1.0) or (value == 0.0 and not allow_zero):
        lo = "[0" if allow_zero else "(0"
        raise ValueError(f"{name} must be in {lo}, 1), got {value!r}")
    return float(value)


def check_split(val_fraction, test_fraction):
    """Validate the split fractions (each in [0, 1), val > 0, sum < 1); raises ValueError."""
    val = _fraction("val_fraction", val_fraction, allow_zero=False)
    test = _fraction("test_fraction", test_fraction, allow_zero=True)
    if val + test >= 1.0:
        raise ValueError(f"val_fraction + test_fraction must be < 1, got {val} + {test}")
    return val, test
