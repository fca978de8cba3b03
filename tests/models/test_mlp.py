"""MLP: the params/loss contract, whole-network gradient checks, validation, dtypes."""
import numpy as np
import pytest
from scipy.special import log_softmax

from models.activations import ACTIVATIONS
from models.initializers import INITIALIZERS
from models.mlp import MLP

D, C, N = 5, 3, 8

pytestmark = pytest.mark.usefixtures("single_blas_thread")


def _data(rng, n=N, dtype=np.float64):
    return rng.standard_normal((n, D)).astype(dtype), rng.integers(0, C, n)


def _check_gradients(model, X, y, numeric_grad, rel_error, seed=None, tol=1e-6):
    """Compare every analytic gradient with centred differences (float64 model)."""
    if seed is not None:
        model.rng = np.random.default_rng(seed)
    _, grads = model.loss(X, y)
    grads = {k: v.copy() for k, v in grads.items()}  # the next call reuses the arrays

    def f():
        if seed is not None:  # the same dropout masks on every evaluation
            model.rng = np.random.default_rng(seed)
        return model.loss(X, y)[0]

    for name, p in model.params.items():
        num = numeric_grad(f, p)
        err = rel_error(grads[name], num)
        # biases right before batchnorm have a zero gradient: compare those absolutely
        assert err < tol or np.abs(grads[name] - num).max() < 1e-9, f"{name}: relative error {err:.2e}"


@pytest.mark.parametrize("kwargs", [
    {},
    {"reg": 0.3},
    {"batchnorm": True},
    {"batchnorm": True, "reg": 0.1, "activation": "tanh"},
    {"activation": "prelu", "reg": 0.05},
    {"activation": "maxout", "maxout_k": 3, "batchnorm": True},
    {"activation": "selu", "init": "lecun"},
], ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "default")
def test_whole_network_gradients(kwargs, rng, numeric_grad, rel_error):
    model = MLP(D, [6, 4], C, dtype="float64", seed=1, bias_init=0.01, **kwargs)
    X, y = _data(rng)
    _check_gradients(model, X, y, numeric_grad, rel_error)


@pytest.mark.parametrize("batchnorm", [False, True])
def test_whole_network_gradients_with_dropout_fixed_seed(batchnorm, rng, numeric_grad, rel_error):
    # bias_init keeps pre-activations of fully dropped rows off ReLU's kink at exactly 0
    model = MLP(D, [7, 5], C, dropout=0.3, reg=0.05, batchnorm=batchnorm, dtype="float64", seed=2,
                bias_init=0.01)
    X, y = _data(rng)
    _check_gradients(model, X, y, numeric_grad, rel_error, seed=11)


def test_softmax_regression_without_hidden_layers(rng, numeric_grad, rel_error):
    model = MLP(D, [], C, dtype="float64", reg=0.2)
    assert sorted(model.params) == ["W1", "b1"]
    X, y = _data(rng)
    _check_gradients(model, X, y, numeric_grad, rel_error)


def test_params_names_shapes_and_dtypes():
    model = MLP(10, [8, 6], 4, activation="prelu", batchnorm=True)
    shapes = {k: v.shape for k, v in model.params.items()}
    assert shapes == {"W1": (10, 8), "b1": (8,), "gamma1": (8,), "beta1": (8,), "alpha1": (8,),
                      "W2": (8, 6), "b2": (6,), "gamma2": (6,), "beta2": (6,), "alpha2": (6,),
                      "W3": (6, 4), "b3": (4,)}
    assert all(v.dtype == np.float32 for v in model.params.values())
    np.testing.assert_array_equal(model.params["alpha1"], 0.25)
    np.testing.assert_array_equal(model.params["gamma2"], 1.0)
    maxout = MLP(10, [8], 4, activation="maxout", maxout_k=3)
    assert maxout.params["W1"].shape == (10, 24) and maxout.params["W2"].shape == (8, 4)


def test_grads_have_exactly_the_params_keys_shapes_and_dtypes(rng):
    for activation in ACTIVATIONS:
        model = MLP(D, [6], C, activation=activation, batchnorm=True, dropout=0.2, reg=1e-3)
        X, y = _data(rng, dtype=np.float32)
        loss, grads = model.loss(X, y)
        assert isinstance(loss, float) and np.isfinite(loss)
        assert grads.keys() == model.params.keys()
        for name, g in grads.items():
            p = model.params[name]
            assert (g.shape, g.dtype) == (p.shape, p.dtype), f"{activation} {name}"


def test_float32_model_keeps_float32_for_float64_input(rng):
    model = MLP(D, [6], C)
    X, y = _data(rng, dtype=np.float64)
    assert model.loss(X).dtype == np.float32
    assert all(g.dtype == np.float32 for g in model.loss(X, y)[1].values())
    X32 = X.astype(np.float32)
    np.testing.assert_array_equal(model.loss(X), model.loss(X32))


def test_float32_and_float64_models_agree(rng):
    X, y = _data(rng, n=50)
    l32, g32 = MLP(D, [20], C, dtype="float32", seed=3).loss(X, y)
    l64, g64 = MLP(D, [20], C, dtype="float64", seed=3).loss(X, y)
    assert l32 == pytest.approx(l64, rel=1e-5)
    np.testing.assert_allclose(g32["W1"], g64["W1"], rtol=1e-3, atol=1e-6)


def test_evaluation_mode_is_deterministic_and_differs_from_training_with_dropout(rng):
    model = MLP(D, [50], C, dropout=0.5, seed=0)
    X, y = _data(rng)
    s1, s2 = model.loss(X), model.loss(X)
    assert s1.shape == (N, C)
    np.testing.assert_array_equal(s1, s2)
    eval_loss = model.loss(X, y, train=False)
    expected = -log_softmax(s1.astype(np.float64), axis=1)[np.arange(N), y].mean()
    assert eval_loss == pytest.approx(expected, rel=1e-5)
    train_losses = {round(model.loss(X, y)[0], 6) for _ in range(3)}
    assert len(train_losses) == 3  # fresh masks every training step


def test_evaluation_uses_batchnorm_running_statistics(rng):
    model = MLP(D, [6], C, batchnorm=True, dtype="float64")
    X, y = _data(rng)
    before = model.loss(X)  # running mean 0, var 1: batchnorm is ~identity
    bn = model.hidden_layers[0].batchnorm
    model.loss(X * 10 + 3, y)
    assert np.all(bn.running_mean != 0)
    after = model.loss(X)
    assert not np.allclose(before, after)
    np.testing.assert_array_equal(after, model.loss(X))  # evaluation does not update them


def test_l2_penalty_covers_weight_matrices_only(rng):
    X, y = _data(rng)
    plain = MLP(D, [6], C, activation="prelu", batchnorm=True, dtype="float64", seed=4)
    reg = MLP(D, [6], C, activation="prelu", batchnorm=True, dtype="float64", seed=4, reg=0.7)
    l0, g0 = plain.loss(X, y)
    g0 = {k: v.copy() for k, v in g0.items()}
    l1, g1 = reg.loss(X, y)
    P = reg.params
    penalty = 0.5 * 0.7 * (np.sum(P["W1"] ** 2) + np.sum(P["W2"] ** 2))
    assert l1 - l0 == pytest.approx(penalty, rel=1e-10)
    assert reg.penalty() == pytest.approx(penalty, rel=1e-10)
    for name in P:
        extra = 0.7 * P[name] if name in ("W1", "W2") else 0.0
        np.testing.assert_allclose(g1[name], g0[name] + extra, rtol=1e-10, atol=1e-14)


def test_params_are_updated_in_place_and_never_rebound(rng):
    model = MLP(D, [6], C)
    ids = {k: id(v) for k, v in model.params.items()}
    X, y = _data(rng, dtype=np.float32)
    before = model.loss(X)
    model.params["W2"] *= 2  # what an optimizer does
    np.testing.assert_allclose(model.loss(X), 2 * before - model.params["b2"], rtol=1e-5, atol=1e-6)
    model.loss(X, y)
    assert {k: id(v) for k, v in model.params.items()} == ids


def test_seed_controls_initialisation():
    a, b, c = MLP(D, [6], C, seed=7), MLP(D, [6], C, seed=7), MLP(D, [6], C, seed=8)
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])
    assert not np.array_equal(a.params["W1"], c.params["W1"])


def test_output_scale_shrinks_only_the_output_layer():
    a = MLP(D, [6, 6], C, output_scale=1.0, seed=5)
    b = MLP(D, [6, 6], C, seed=5)  # default 0.1
    z = MLP(D, [6, 6], C, output_scale=0.0, seed=5)
    np.testing.assert_array_equal(a.params["W2"], b.params["W2"])
    np.testing.assert_allclose(b.params["W3"], 0.1 * a.params["W3"], rtol=1e-6)
    np.testing.assert_array_equal(z.params["W3"], 0.0)


@pytest.mark.parametrize("init", sorted(INITIALIZERS))
def test_every_initializer_builds_a_model(init):
    model = MLP(D, [6], C, init=init, bias_init=0.01)
    np.testing.assert_array_equal(model.params["b1"], np.float32(0.01))
    assert model.params["W1"].std() > 0


def test_predict_and_accuracy_in_batches(rng):
    model = MLP(D, [6], C)
    X, _ = _data(rng, n=25, dtype=np.float32)
    labels = model.loss(X).argmax(axis=1)
    pred = model.predict(X, batch_size=4)
    np.testing.assert_array_equal(pred, labels)
    assert model.accuracy(X, labels, batch_size=7) == 1.0
    assert model.accuracy(X, (labels + 1) % C) == 0.0


@pytest.mark.parametrize("kwargs, message", [
    ({"input_dim": 0}, "input_dim must be an integer >= 1, got 0"),
    ({"input_dim": 2.5}, "input_dim must be an integer >= 1, got 2.5"),
    ({"hidden_dims": [10, 0]}, r"hidden_dims must be a sequence of integers >= 1, got \(10, 0\)"),
    ({"hidden_dims": "100"}, "hidden_dims must be a sequence of integers >= 1, got '100'"),
    ({"num_classes": 1}, "num_classes must be an integer >= 2, got 1"),
    ({"activation": "swish"}, "unknown activation 'swish'; expected one of elu, leaky_relu"),
    ({"init": "glorot"}, "unknown init 'glorot'; expected one of he, he_uniform"),
    ({"batchnorm": "yes"}, "batchnorm must be True or False, got 'yes'"),
    ({"dropout": 1.0}, r"dropout must be a finite number in \[0.0, 1.0\), got 1.0"),
    ({"dropout": -0.1}, r"dropout must be a finite number in \[0.0, 1.0\), got -0.1"),
    ({"reg": -1e-3}, r"reg must be a finite number in \[0.0, inf\), got -0.001"),
    ({"reg": float("nan")}, "reg must be a finite number"),
    ({"dtype": "float16"}, "dtype must be one of float32, float64, got 'float16'"),
    ({"dtype": None}, "dtype must be one of float32, float64, got None"),
    ({"seed": -1}, "seed must be a non-negative integer, got -1"),
    ({"bias_init": float("inf")}, "bias_init must be a finite number"),
    ({"maxout_k": 1, "activation": "maxout"}, "maxout_k must be an integer >= 2, got 1"),
    ({"output_scale": -1}, r"output_scale must be a finite number in \[0.0, inf\), got -1"),
])
def test_bad_arguments_are_named(kwargs, message):
    args = {"input_dim": D, "hidden_dims": [6], "num_classes": C, **kwargs}
    with pytest.raises(ValueError, match=message):
        MLP(**args)


def test_bad_inputs_to_loss(rng):
    model = MLP(D, [6], C)
    X, y = _data(rng)
    with pytest.raises(ValueError, match=r"X must have shape \(N, 5\), got \(8, 4\)"):
        model.loss(X[:, :4])
    with pytest.raises(ValueError, match=r"y must be an integer array of shape \(8,\)"):
        model.loss(X, y[:3])
    with pytest.raises(ValueError, match="y must be an integer array"):
        model.loss(X, y.astype(float))
    for bad in (-1, C):
        labels = y.copy()
        labels[2] = bad
        with pytest.raises(ValueError, match=rf"y has label {bad}, outside 0..2 \(num_classes=3\)"):
            model.loss(X, labels)
        with pytest.raises(ValueError, match=f"y has label {bad}"):
            model.loss(X, labels.astype(np.int32), train=False)


def test_hidden_dims_accepts_a_single_int_and_numpy_ints():
    model = MLP(np.int64(D), np.int64(6), C)
    assert model.hidden_dims == (6,) and model.input_dim == D


def test_pickle_keeps_params_running_stats_and_rng_but_not_work_arrays(rng):
    import pickle

    model = MLP(D, [400], C, batchnorm=True, dropout=0.3)
    X, y = _data(rng, n=300, dtype=np.float32)
    model.loss(X, y)
    blob = pickle.dumps(model)
    assert len(blob) < 60_000  # params ~11 kB; the ~2 MB of batch-sized work arrays are dropped
    copy = pickle.loads(blob)
    np.testing.assert_array_equal(copy.loss(X), model.loss(X))
    assert sorted(copy.running_stats) == ["running_mean1", "running_var1"]
    np.testing.assert_array_equal(copy.running_stats["running_var1"], model.running_stats["running_var1"])
    assert copy.loss(X, y)[0] == model.loss(X, y)[0]  # same rng state: same dropout masks


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_no_float64_intermediates_in_a_float32_model(activation, rng):
    model = MLP(D, [6, 5], C, activation=activation, batchnorm=True, dropout=0.3, reg=1e-2)
    X, y = _data(rng, n=16, dtype=np.float32)
    model.loss(X, y)
    model.loss(X)
    arrays = []
    for layer in model.hidden_layers:
        for part in (layer.affine, layer.activation, layer.batchnorm, layer.dropout):
            arrays += [v for v in vars(part).values() if isinstance(v, np.ndarray)]
            arrays += list(part._buf._arrays.values())
    floats = [a.dtype for a in arrays if a.dtype.kind == "f"]
    assert floats and set(floats) == {np.dtype(np.float32)}


def test_state_dict_round_trip_restores_weights_statistics_and_dropout_masks():
    X = np.random.default_rng(0).standard_normal((16, 5))
    y = np.arange(16) % 3
    model = MLP(5, [8], 3, batchnorm=True, dropout=0.5, seed=1)
    model.loss(X, y)
    state = model.state_dict()
    assert set(state) == {"params", "running_stats", "rng"}
    clone = MLP(5, [8], 3, batchnorm=True, dropout=0.5, seed=2)
    flat = clone.flat
    clone.load_state_dict(state)
    assert clone.flat is flat and clone.flat.intact()
    loss_a, grads_a = model.loss(X, y)     # the same dropout masks are drawn next
    loss_b, grads_b = clone.loss(X, y)
    assert loss_a == loss_b
    for key in grads_a:
        np.testing.assert_array_equal(grads_a[key], grads_b[key])
    model.params["W1"][...] = 0.0          # the state was a copy
    assert np.any(state["params"]["W1"] != 0.0)


@pytest.mark.parametrize("edit,message", [
    (lambda s: s.pop("rng"), "model state must be a dict with keys"),
    (lambda s: s["params"].pop("b1"), r"model state: params holds \['W1', 'W2', 'b2', 'beta1', 'gamma1'\]"),
    (lambda s: s["running_stats"].update(running_mean1=np.zeros(3, np.float32)),
     r"model state: running_stats 'running_mean1' is float32 \(3,\), the model's is float32 \(8,\)"),
    (lambda s: s["params"].update(W2=[[0.0]]), r"model state: params 'W2' is list"),
    (lambda s: s.update(rng={"bit_generator": "PCG64"}), r"model state: rng is not a valid PCG64 state"),
])
def test_a_state_of_another_model_is_a_named_error(edit, message):
    state = MLP(5, [8], 3, batchnorm=True, seed=1).state_dict()
    edit(state)
    model = MLP(5, [8], 3, batchnorm=True, seed=3)
    before = {k: v.copy() for k, v in model.params.items()}
    with pytest.raises(ValueError, match=message):
        model.load_state_dict(state)
    for key in before:   # nothing was half-loaded
        np.testing.assert_array_equal(model.params[key], before[key])
