"""models.splits: the same stratified (or, when a class is too small, plain) shuffled splits as
scikit-learn's train_test_split, without importing scikit-learn."""
import numpy as np
import pytest

from models.splits import split_indices

CASES = {
    "balanced": np.repeat(np.arange(3), 20),
    "unbalanced": np.repeat(np.arange(4), [50, 7, 13, 2]),
    "ties-to-break": np.repeat(np.arange(7), 9),
    "shuffled-labels": np.random.default_rng(0).integers(0, 5, 101),
    "string-labels": np.array(list("abcab") * 9),
    "one-member-class": np.array([0] * 10 + [1] * 9 + [2]),       # cannot stratify: plain shuffle
    "too-few-taken": np.repeat(np.arange(6), 3),                  # n_take < classes: plain shuffle
}


@pytest.mark.parametrize("seed", [0, 1, 12345])
@pytest.mark.parametrize("n_take", [1, 3, 7])
@pytest.mark.parametrize("name", sorted(CASES))
def test_the_same_indices_as_scikit_learns_train_test_split(name, n_take, seed):
    from sklearn.model_selection import train_test_split

    y = CASES[name]
    idx = np.arange(len(y))
    try:
        want = train_test_split(idx, test_size=n_take, stratify=y, random_state=seed)
    except ValueError:  # what load_dataset did before: fall back to an unstratified split
        want = train_test_split(idx, test_size=n_take, random_state=seed)
    got = split_indices(y, n_take, seed)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_taking_nothing_or_everything():
    rest, taken = split_indices(np.arange(5) % 2, 0, seed=0)
    assert list(rest) == [0, 1, 2, 3, 4] and len(taken) == 0
    with pytest.raises(ValueError, match="cannot take 5 of 5 samples"):
        split_indices(np.arange(5) % 2, 5, seed=0)


def test_the_parts_partition_the_indices_and_keep_class_shares():
    y = np.repeat(np.arange(10), 30)
    rest, taken = split_indices(y, 60, seed=3)
    assert sorted(np.concatenate([rest, taken])) == list(range(300))
    assert np.all(np.bincount(y[taken]) == 6)
