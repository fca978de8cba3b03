"""Every registered activation: values, numeric gradients, dtypes, babysitting statistics."""
import numpy as np
import pytest
from scipy.special import expit

from models.activations import ACTIVATIONS, SELU_ALPHA, SELU_LAMBDA, make_activation

H = 4  # hidden units


def _reference(name, x, alpha=None, k=2):
    """The textbook formula of each activation, written independently of the layers."""
    if name == "sigmoid":
        return expit(x)
    if name == "tanh":
        return np.tanh(x)
    if name == "relu":
        return np.where(x > 0, x, 0.0)
    if name == "leaky_relu":
        return np.where(x > 0, x, 0.01 * x)
    if name == "prelu":
        return np.where(x > 0, x, alpha * x)
    if name == "elu":
        return np.where(x > 0, x, np.exp(x) - 1)
    if name == "selu":
        return SELU_LAMBDA * np.where(x > 0, x, SELU_ALPHA * (np.exp(x) - 1))
    if name == "maxout":
        n, width = x.shape
        return x.reshape(n, k, width // k).max(axis=1)
    raise AssertionError(name)


def _setup(name, rng, dtype=np.float64):
    act = make_activation(name)
    params = act.init_params(H, dtype)
    x = (rng.standard_normal((6, act.width_factor * H)) * 2).astype(dtype)
    return act, params, x


def test_registry_has_the_lecture_activations():
    assert sorted(ACTIVATIONS) == ["elu", "leaky_relu", "maxout", "prelu", "relu", "selu",
                                   "sigmoid", "tanh"]


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_forward_matches_formula(name, rng):
    act, params, x = _setup(name, rng)
    out = act.forward(x, **params)
    assert out.shape == (6, H)
    np.testing.assert_allclose(out, _reference(name, x, **params), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_gradients_match_numeric(name, rng, numeric_grad, rel_error):
    act, params, x = _setup(name, rng)
    if "alpha" in params:  # distinct slopes per unit catch a broadcasting mistake
        params["alpha"][:] = [0.1, 0.25, 0.5, 2.0]
    dout = rng.standard_normal((6, H))
    act.forward(x, **params)
    dx, grads = act.backward(dout)
    assert sorted(grads) == sorted(params)

    def f():
        return float(np.sum(make_activation(name).forward(x, **params) * dout))

    assert rel_error(dx, numeric_grad(f, x)) < 1e-7
    for pname, p in params.items():
        assert rel_error(grads[pname], numeric_grad(f, p)) < 1e-7


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_float32_stays_float32(name, rng):
    act, params, x = _setup(name, rng, np.float32)
    out = act.forward(x, **params)
    dx, grads = act.backward(np.ones_like(out))
    assert out.dtype == dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


def test_prelu_alpha_starts_at_a_quarter_per_unit():
    params = make_activation("prelu").init_params(7, np.float32)
    np.testing.assert_array_equal(params["alpha"], np.full(7, 0.25, np.float32))


def test_maxout_takes_k_pieces_and_routes_gradient_to_the_winner():
    act = make_activation("maxout", k=3)
    assert act.width_factor == 3
    x = np.array([[1.0, 5.0, 3.0, 2.0, 4.0, 3.0]])  # pieces of unit 0: 1, 3, 4; unit 1: 5, 2, 3
    np.testing.assert_array_equal(act.forward(x), [[4.0, 5.0]])
    dx, _ = act.backward(np.array([[10.0, 20.0]]))
    np.testing.assert_array_equal(dx, [[0, 20, 0, 0, 10, 0]])
    # ties: the first piece wins alone, so the gradient is not double counted
    act.forward(np.array([[2.0, 2.0, 2.0, 2.0, 1.0, 1.0]]))
    dx, _ = act.backward(np.array([[1.0, 1.0]]))
    np.testing.assert_array_equal(dx, [[1, 1, 0, 0, 0, 0]])


def test_dead_fraction_counts_units_never_positive():
    act = make_activation("relu")
    x = np.array([[1.0, -1.0, -2.0, 0.5], [2.0, -3.0, 1.0, -0.5]])
    act.forward(x)
    assert act.dead_fraction() == 0.25  # only unit 1 is never positive
    assert act.saturated_fraction() == 0.0


@pytest.mark.parametrize("name, x, expected", [
    ("sigmoid", [[-10.0, 0.0, 3.0, 4.0]], 0.5),  # expit(4) = 0.982 > 0.98, expit(3) = 0.953
    ("tanh", [[3.0, -3.0, 0.5, 2.0]], 0.5),  # tanh(2) = 0.964, tanh(3) = 0.995
])
def test_saturated_fraction(name, x, expected):
    act = make_activation(name)
    act.forward(np.array(x))
    assert act.saturated_fraction() == expected
    assert act.dead_fraction() == 0.0


def test_unknown_activation_names_the_choices():
    with pytest.raises(ValueError, match="unknown activation 'foo'; expected one of elu, leaky_relu, maxout"):
        make_activation("foo")


def test_bad_activation_options():
    with pytest.raises(ValueError, match="maxout_k must be an integer >= 2, got 1"):
        make_activation("maxout", k=1)
    with pytest.raises(ValueError, match="'relu' does not take options k"):
        make_activation("relu", k=2)
