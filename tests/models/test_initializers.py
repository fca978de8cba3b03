"""Every registered initialiser: shape, dtype, spread, bounds, reproducibility."""
import math

import numpy as np
import pytest

from models.initializers import INITIALIZERS, get_initializer, init_bound, init_std

FAN_IN, FAN_OUT = 400, 200

EXPECTED_STD = {
    "small": 0.01,
    "xavier": math.sqrt(2 / (FAN_IN + FAN_OUT)),
    "xavier_uniform": math.sqrt(6 / (FAN_IN + FAN_OUT)) / math.sqrt(3),
    "he": math.sqrt(2 / FAN_IN),
    "he_uniform": math.sqrt(6 / FAN_IN) / math.sqrt(3),
    "lecun": math.sqrt(1 / FAN_IN),
    "lecun_uniform": math.sqrt(3 / FAN_IN) / math.sqrt(3),
}
EXPECTED_BOUND = {
    "xavier_uniform": math.sqrt(6 / (FAN_IN + FAN_OUT)),
    "he_uniform": math.sqrt(6 / FAN_IN),
    "lecun_uniform": math.sqrt(3 / FAN_IN),
}


def test_registry_names():
    assert sorted(INITIALIZERS) == sorted(EXPECTED_STD)


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shape_dtype_and_spread(name, dtype):
    W = INITIALIZERS[name](FAN_IN, FAN_OUT, np.random.default_rng(0), dtype)
    assert W.shape == (FAN_IN, FAN_OUT) and W.dtype == dtype
    # 80k draws: the sample std is within ~0.5% of the truth, the mean within ~0.4% of std
    assert W.std() == pytest.approx(EXPECTED_STD[name], rel=0.02)
    assert abs(W.mean()) < 0.02 * EXPECTED_STD[name]
    assert init_std(name, FAN_IN, FAN_OUT) == pytest.approx(EXPECTED_STD[name])


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_uniform_ones_fill_their_bounds(name):
    W = INITIALIZERS[name](FAN_IN, FAN_OUT, np.random.default_rng(1), np.float64)
    bound = EXPECTED_BOUND.get(name)
    assert init_bound(name, FAN_IN, FAN_OUT) == (None if bound is None else pytest.approx(bound))
    if bound is None:  # normal: tails well beyond 3 std in 80k draws
        assert np.abs(W).max() > 3.5 * EXPECTED_STD[name]
    else:
        assert np.abs(W).max() <= bound
        assert np.abs(W).max() > 0.999 * bound


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_same_seed_same_weights_in_both_dtypes(name):
    a = INITIALIZERS[name](30, 20, np.random.default_rng(5), np.float64)
    b = INITIALIZERS[name](30, 20, np.random.default_rng(5), np.float32)
    np.testing.assert_array_equal(a.astype(np.float32), b)
    c = INITIALIZERS[name](30, 20, np.random.default_rng(6), np.float64)
    assert not np.array_equal(a, c)


def test_unknown_init_names_the_choices():
    with pytest.raises(ValueError, match="unknown init 'glorot'; expected one of he, he_uniform, lecun"):
        get_initializer("glorot")
