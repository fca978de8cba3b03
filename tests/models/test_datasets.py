"""Datasets: every source, splits, preprocessing from train only, and every bad-data error."""
import os
import pickle
import re

import numpy as np
import pytest

from models.datasets import DATASETS, DataError, DataFileNotFoundError, Dataset, check_source, load_dataset


def _xy(rng, n=60, d=4, classes=3):
    X = rng.normal(size=(n, d))
    y = np.arange(n) % classes
    X[:, 0] += 3 * y      # learnable
    return X, y


def _fake_cifar(folder, rng, n_per_batch=20, n_batches=5, image=(3, 4, 4)):
    folder.mkdir()
    for i in range(1, n_batches + 1):
        batch = {b"data": rng.integers(0, 256, size=(n_per_batch, int(np.prod(image))), dtype=np.uint8),
                 b"labels": list(rng.integers(0, 10, size=n_per_batch)), b"batch_label": b"training batch"}
        with open(folder / f"data_batch_{i}", "wb") as f:
            pickle.dump(batch, f)
    test = {b"data": rng.integers(0, 256, size=(15, int(np.prod(image))), dtype=np.uint8),
            b"labels": list(rng.integers(0, 10, size=15))}
    with open(folder / "test_batch", "wb") as f:
        pickle.dump(test, f)
    return folder


def test_digits_is_the_real_set_split_and_standardised(digits):
    assert isinstance(digits, Dataset) and digits.name == "digits"
    n = len(digits.X_train) + len(digits.X_val) + len(digits.X_test)
    assert n == 1797 and digits.input_dim == 64 and digits.num_classes == 10
    assert digits.X_train.dtype == np.float32 and digits.y_train.dtype == np.int64
    assert len(digits.X_val) == len(digits.X_test) == round(0.2 * 1797)
    # stratified: every class is in every split in about the same share
    for y in (digits.y_train, digits.y_val, digits.y_test):
        share = np.bincount(y, minlength=10) / len(y)
        assert np.all(np.abs(share - 0.1) < 0.02)
    # standardised with train's statistics: train is exactly standard, val only roughly
    np.testing.assert_allclose(digits.X_train.mean(axis=0), 0, atol=1e-5)
    assert not np.allclose(digits.X_val.mean(axis=0), 0, atol=1e-5)


def test_splits_are_disjoint_and_seeded():
    a = load_dataset("digits", seed=1)
    b = load_dataset("digits", seed=1)
    c = load_dataset("digits", seed=2)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train, c.X_train)
    rows = {r.tobytes() for r in a.X_train}
    assert not any(r.tobytes() in rows for r in a.X_val)


def test_preprocess_is_fitted_on_train_only():
    raw = load_dataset("digits", seed=0)
    pre = load_dataset("digits", seed=0, preprocess="center", dtype="float64")
    np.testing.assert_allclose(pre.X_val, raw.X_val - raw.X_train.mean(axis=0, dtype=np.float64), rtol=1e-6)
    np.testing.assert_allclose(pre.X_test, raw.X_test - raw.X_train.mean(axis=0, dtype=np.float64), rtol=1e-6)
    assert pre.X_train.dtype == np.float64


def test_pca_options_reach_the_preprocessor():
    d = load_dataset("digits", preprocess="pca", n_components=20)
    assert d.input_dim == 20 and d.X_test.shape[1] == 20
    w = load_dataset("digits", preprocess="whiten", n_components=10, whiten_eps=1e-2)
    assert w.preprocessor.eps == 1e-2 and w.input_dim == 10


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_named_sources(name):
    d = load_dataset(name, seed=3)
    assert d.num_classes >= 2 and d.y_train.max() == d.num_classes - 1
    assert np.isfinite(d.X_train).all()


def test_spiral_options():
    d = load_dataset("spiral", n_classes=5, n_per_class=40, noise=0.0, val_fraction=0.25, test_fraction=0.25)
    assert d.num_classes == 5 and d.input_dim == 2
    assert len(d.X_train) + len(d.X_val) + len(d.X_test) == 200
    # every point lies within the unit disc, as in the lecture's construction
    assert np.all(np.hypot(*d.X_train.T) <= 1.0 + 1e-6)


def test_blobs_options_and_seed():
    a = load_dataset("blobs", seed=0, n_samples=90, centers=4, n_features=3)
    b = load_dataset("blobs", seed=0, n_samples=90, centers=4, n_features=3)
    assert a.num_classes == 4 and a.input_dim == 3
    np.testing.assert_array_equal(a.X_train, b.X_train)


def test_npz_with_images_flattened_and_labels_remapped(tmp_path, rng):
    X = rng.normal(size=(40, 2, 3))
    y = np.array([3, 7] * 20)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    d = load_dataset(str(tmp_path / "d.npz"), test_fraction=0.0)
    assert d.input_dim == 6 and d.num_classes == 2 and len(d.X_test) == 0
    assert set(np.unique(d.y_train)) == {0, 1} and list(d.classes) == [3, 7]


def test_csv_with_and_without_header(tmp_path, rng):
    X, y = _xy(rng)
    rows = np.column_stack([X, y])
    np.savetxt(tmp_path / "plain.csv", rows, delimiter=",")
    np.savetxt(tmp_path / "head.csv", rows, delimiter=",", header="a,b,c,d,label", comments="")
    a = load_dataset(str(tmp_path / "plain.csv"))
    b = load_dataset(str(tmp_path / "head.csv"))
    assert a.input_dim == 4 and a.num_classes == 3
    np.testing.assert_array_equal(a.X_train, b.X_train)


def test_cifar_folder(tmp_path, rng):
    folder = _fake_cifar(tmp_path / "cifar-10-batches-py", rng)
    d = load_dataset(str(folder), val_fraction=0.1)
    assert d.input_dim == 48 and len(d.X_test) == 15            # the official test batch
    assert len(d.X_train) + len(d.X_val) == 100 and len(d.X_val) == 10
    assert d.X_train.dtype == np.float32 and d.X_train.max() > 1
    small = load_dataset(str(folder), n_train=50)
    assert len(small.X_train) + len(small.X_val) == 50


# ---- bad data: the file and the problem are named

def _save_npz(tmp_path, name="bad.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return str(path)


def test_missing_file_is_a_file_not_found_error(tmp_path):
    path = str(tmp_path / "nope.npz")
    with pytest.raises(FileNotFoundError, match=r"nope\.npz: no such file"):
        load_dataset(path)
    with pytest.raises(DataFileNotFoundError):
        load_dataset(str(tmp_path / "gone.csv"))


@pytest.mark.parametrize("arrays,message", [
    (dict(X=np.ones((10, 3)), y=np.zeros(9)), r"X has 10 samples but y has 9 labels"),
    (dict(X=np.array([[0.0, np.nan]] * 10), y=np.arange(10) % 2), r"features contain NaN"),
    (dict(X=np.array([[0.0, np.inf]] * 10), y=np.arange(10) % 2), r"features contain inf"),
    (dict(X=np.ones((10, 2)), y=np.arange(10) % 2 + 0.5), r"labels must be non-negative integers, found 0.5"),
    (dict(X=np.ones((10, 2)), y=np.arange(10) % 2 - 1), r"labels must be non-negative integers, found -1"),
    (dict(X=np.ones((10, 2)), y=np.array(["a", "b"] * 5)), r"labels must be non-negative integers, got dtype"),
    (dict(X=np.ones(10), y=np.arange(10) % 2), r"X must have one row per sample .* got shape \(10,\)"),
    (dict(X=np.ones((10, 2)), y=np.zeros((10, 2))), r"y must be 1-D .* got shape \(10, 2\)"),
    (dict(X=np.ones((10, 2)), y=np.zeros(10)), r"needs at least 2 classes"),
    (dict(X=np.ones((10, 2))), r"missing array 'y'; the file holds X"),
])
def test_bad_npz(tmp_path, arrays, message):
    path = _save_npz(tmp_path, **arrays)
    with pytest.raises(DataError, match=r"bad\.npz: " + message):
        load_dataset(path)


def test_bad_csv(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("1,2,0\n3,oops,1\n")
    with pytest.raises(DataError, match=r"bad\.csv: .*oops"):
        load_dataset(str(path))
    path.write_text("1,2,0.5\n3,4,1\n5,6,0\n")
    with pytest.raises(DataError, match=r"bad\.csv: labels must be non-negative integers, found 0.5"):
        load_dataset(str(path))
    path.write_text("")
    with pytest.raises(DataError, match=r"bad\.csv: empty file"):
        load_dataset(str(path))


def test_a_one_class_csv_names_the_label_as_written(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("x1,x2,label\n" + "".join(f"{i},{2 * i},0\n" for i in range(30)))
    with pytest.raises(DataError) as info:
        load_dataset(str(path))
    assert str(info.value) == f"{path}: needs at least 2 classes, found only label 0 (in all 30 samples)"


@pytest.mark.parametrize("rows, sizes", [(2, "train on 1 (validation 1, test 0)"),
                                         (3, "train on 1 (validation 1, test 1)"),
                                         (4, "train on 2 (validation 1, test 1), fewer than its 3 classes")])
def test_too_few_rows_to_train_on_every_class_is_an_error_naming_the_sizes(tmp_path, rows, sizes):
    path = tmp_path / "tiny.csv"
    n_classes = 3 if rows == 4 else 2
    path.write_text("".join(f"{i},{i % n_classes}\n" for i in range(rows)))
    with pytest.raises(DataError, match=rf"tiny\.csv: {rows} samples are too few: the split would {re.escape(sizes)}"):
        load_dataset(str(path))
    # 8 rows: 4 to train on, every class can be learned
    path.write_text("".join(f"{i},{i % 2}\n" for i in range(8)))
    data = load_dataset(str(path))
    assert len(data.X_train) >= 2 and data.num_classes == 2


def test_not_an_npz(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"junk\.npz: not a readable \.npz file"):
        load_dataset(str(path))


def test_bad_cifar_folders(tmp_path, rng):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"empty: not a CIFAR-10 folder"):
        load_dataset(str(empty))
    folder = _fake_cifar(tmp_path / "c", rng)
    os.remove(folder / "test_batch")
    with pytest.raises(FileNotFoundError, match=r"test_batch: no such file"):
        load_dataset(str(folder))
    folder = _fake_cifar(tmp_path / "c2", rng)
    with open(folder / "data_batch_2", "wb") as f:
        pickle.dump({b"data": np.zeros((3, 48), np.uint8), b"labels": [1, 2]}, f)
    with pytest.raises(DataError, match=r"data_batch_2: X has 3 samples but y has 2 labels"):
        load_dataset(str(folder))
    (folder / "data_batch_2").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"data_batch_2: not a CIFAR-10 python batch"):
        load_dataset(str(folder))


def test_unknown_source_and_options(tmp_path):
    with pytest.raises(DataError, match=r"unknown dataset 'mnist'; expected one of digits, spiral, blobs "
                                         r"or a \.npz/\.csv path or a CIFAR-10 folder"):
        load_dataset("mnist")
    with pytest.raises(DataError, match=r"unknown option 'n_class' for dataset 'spiral'; expected n_classes"):
        load_dataset("spiral", n_class=4)
    with pytest.raises(DataError, match=r"unknown option 'noise' for dataset 'digits'; expected no options"):
        check_source("digits", noise=1.0)
    path = tmp_path / "data.json"
    path.write_text("{}")
    with pytest.raises(DataError, match=r"data\.json: unsupported file type '\.json'"):
        load_dataset(str(path))


@pytest.mark.parametrize("kwargs,message", [
    (dict(val_fraction=0.0), r"val_fraction must be in \(0, 1\), got 0.0"),
    (dict(test_fraction=1.0), r"test_fraction must be in \[0, 1\), got 1.0"),
    (dict(val_fraction=0.6, test_fraction=0.5), r"val_fraction \+ test_fraction must be < 1"),
    (dict(dtype="int32"), r"dtype must be 'float32' or 'float64', got 'int32'"),
    (dict(preprocess="zca"), r"unknown preprocess 'zca'"),
    (dict(n_per_class=1), r"spiral: n_per_class must be an integer >= 2, got 1"),
    (dict(seed=-3), r"seed must be a non-negative integer, got -3"),
])
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_dataset("spiral", **kwargs)


def test_dataset_accepts_user_arrays(rng):
    X, y = _xy(rng)
    d = Dataset(X[:40], y[:40], X[40:], y[40:], name="mine")
    assert d.num_classes == 3 and d.input_dim == 4 and len(d.X_test) == 0
    with pytest.raises(DataError, match=r"mine: y_val must be 1-D with 20 labels"):
        Dataset(X[:40], y[:40], X[40:], y[41:], name="mine")


def test_digits_are_scikit_learns_arrays_read_without_importing_it():
    from sklearn.datasets import load_digits as sklearn_digits

    from models.datasets import load_digits

    X, y = load_digits()
    X_ref, y_ref = sklearn_digits(return_X_y=True)
    assert X.dtype == X_ref.dtype and y.dtype == y_ref.dtype and X.shape == (1797, 64)
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)


@pytest.mark.parametrize("text", [b"1,2\n3\n", b"1.5,2\n", b"1,,2\n", b"", b"100,1\n", b"1, 2\n", b"a,b\n"])
def test_the_fast_digits_parser_gives_up_on_any_other_layout(text):
    from models.datasets import _small_int_table

    assert _small_int_table(text) is None


def test_the_fast_digits_parser_reads_small_integer_tables():
    from models.datasets import _small_int_table

    np.testing.assert_array_equal(_small_int_table(b"0,16,3\n12,1,9\n"), [[0, 16, 3], [12, 1, 9]])
    np.testing.assert_array_equal(_small_int_table(b"4,5\n6,7"), [[4, 5], [6, 7]])
