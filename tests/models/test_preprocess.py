"""Preprocessing: statistics from the training split only, whitening, PCA, registry errors."""
import numpy as np
import pytest

from models.preprocess import PREPROCESSORS, make_preprocessor


@pytest.fixture
def splits(rng):
    # correlated features with different scales and offsets; val drawn from a shifted distribution
    mix = rng.normal(size=(5, 5))
    train = rng.normal(size=(400, 5)) @ mix * [1, 2, 3, 4, 5] + [10, -3, 0, 1, 7]
    val = rng.normal(loc=2.0, size=(50, 5)) @ mix + 100.0
    return train, val


@pytest.mark.parametrize("name", sorted(PREPROCESSORS))
def test_val_is_transformed_with_train_statistics(name, splits):
    train, val = splits
    pre = make_preprocessor(name).fit(train)
    got = pre.transform(val)
    refit = make_preprocessor(name).fit(val).transform(val)   # the "common mistake"
    if name == "none":
        np.testing.assert_array_equal(got, val)
        return
    mean = train.mean(axis=0)
    if name == "center":
        want = val - mean
    elif name == "standardize":
        want = (val - mean) / train.std(axis=0)
    else:
        cov = np.cov(train.T, bias=True)
        eigval, eigvec = np.linalg.eigh(cov)
        U = eigvec[:, ::-1]
        want_abs = np.abs((val - mean) @ U)
        if name == "whiten":
            want_abs = want_abs / np.sqrt(eigval[::-1] + 1e-5)
        np.testing.assert_allclose(np.abs(got), want_abs, rtol=1e-8, atol=1e-8)
        assert not np.allclose(np.abs(got), np.abs(refit))
        return
    np.testing.assert_allclose(got, want, rtol=1e-10)
    # a preprocessor fitted on val would give something else: the statistics really are train's
    assert not np.allclose(got, refit)


def test_center_and_standardize_on_train(splits):
    train, _ = splits
    c = make_preprocessor("center").fit_transform(train)
    np.testing.assert_allclose(c.mean(axis=0), 0, atol=1e-10)
    s = make_preprocessor("standardize").fit_transform(train)
    np.testing.assert_allclose(s.std(axis=0), 1, rtol=1e-10)


def test_standardize_keeps_constant_features_finite():
    X = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    out = make_preprocessor("standardize").fit_transform(X)
    np.testing.assert_array_equal(out[:, 1], 0.0)


def test_whitening_gives_identity_covariance_on_train(splits):
    train, _ = splits
    pre = make_preprocessor("whiten")
    white = pre.fit_transform(train)
    np.testing.assert_allclose(white.mean(axis=0), 0, atol=1e-10)
    cov = np.cov(white.T, bias=True)
    np.testing.assert_allclose(cov, np.eye(5), atol=1e-4)
    # exactly var / (var + eps) on the diagonal: eps is the only departure from identity
    var = pre.explained_variance_
    np.testing.assert_allclose(np.diag(cov), var / (var + 1e-5), rtol=1e-10)


def test_pca_decorrelates_and_reduces(splits):
    train, val = splits
    pca = make_preprocessor("pca", n_components=2).fit(train)
    out = pca.fit_transform(train)
    assert out.shape == (400, 2) and pca.transform(val).shape == (50, 2)
    cov = np.cov(out.T, bias=True)
    assert abs(cov[0, 1]) < 1e-8 and cov[0, 0] >= cov[1, 1]
    # the first component carries the largest variance of any direction
    total = np.cov(train.T, bias=True)
    assert cov[0, 0] == pytest.approx(np.linalg.eigvalsh(total).max())


def test_dtype_is_preserved(splits):
    train, val = splits
    for name in PREPROCESSORS:
        pre = make_preprocessor(name).fit(train.astype(np.float32))
        assert pre.transform(val.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("call,message", [
    (lambda: make_preprocessor("zca"), r"unknown preprocess 'zca'; expected one of none, center, standardize, pca, whiten"),
    (lambda: make_preprocessor("center", eps=1.0), r"unknown option 'eps' for preprocess 'center'"),
    (lambda: make_preprocessor("pca", n_components=0), r"n_components must be a positive integer"),
    (lambda: make_preprocessor("whiten", eps=0.0), r"eps must be a positive"),
    (lambda: make_preprocessor("pca", n_components=9).fit(np.ones((4, 3))), r"n_components=9 exceeds .* \(3\)"),
    (lambda: make_preprocessor("center").fit(np.ones((4, 3))).transform(np.ones((2, 4))),
     r"fitted on 3 features, got an array of shape \(2, 4\)"),
])
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("name", sorted(PREPROCESSORS))
def test_n_components_none_is_accepted_everywhere(name, splits):
    """``n_components=None`` means "all": the same preprocessor as without it, every feature kept."""
    train, val = splits
    pre = make_preprocessor(name, n_components=None)
    assert type(pre) is PREPROCESSORS[name] and repr(pre) == repr(make_preprocessor(name))
    out = pre.fit(train).transform(val)
    assert out.shape == val.shape and pre.n_features_out_ == train.shape[1]
    np.testing.assert_array_equal(out, make_preprocessor(name).fit(train).transform(val))
