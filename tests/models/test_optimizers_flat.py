"""The flat fast path: a model's FlatParams handed to ``step_flat`` gives exactly the
per-parameter updates, and hands over to the per-parameter path and back."""
import pickle

import numpy as np
import pytest

from models import MLP
from models.flat_params import FlatParams
from models.optimizers import OPTIMIZERS, make_optimizer


def _model_and_batch(seed=0):
    model = MLP(6, [5, 4], 3, dtype="float64", seed=seed, batchnorm=True)
    X = np.random.default_rng(seed).standard_normal((8, 6))
    y = np.arange(8) % 3
    return model, X, y


def _separate(arrays):
    """The same arrays as independent copies (no shared buffer)."""
    return {k: np.array(v, copy=True) for k, v in arrays.items()}


def _kwargs(name):
    return {"weight_decay": 0.01} if name != "sgd" else {"momentum": 0.9, "weight_decay": 0.01}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_step_flat_equals_per_parameter_updates_bit_for_bit(name):
    model, X, y = _model_and_batch()
    params_sep = _separate(model.params)
    opt_flat, opt_sep = make_optimizer(name, lr=0.01, **_kwargs(name)), make_optimizer(name, lr=0.01, **_kwargs(name))
    for _ in range(5):
        _, grads = model.loss(X, y)
        assert grads is model.flat.grads
        opt_sep.step(params_sep, _separate(grads))
        opt_flat.step_flat(model.flat)
        for k in params_sep:
            np.testing.assert_array_equal(model.params[k], params_sep[k])
    for k in params_sep:  # the per-parameter state is visible and the same
        assert opt_flat.state[k].step == opt_sep.state[k].step == 5
        for buf in opt_sep.state[k].buffers:
            np.testing.assert_array_equal(opt_flat.state[k].buffers[buf], opt_sep.state[k].buffers[buf])


def test_flat_params_tile_one_array_each_and_keep_the_values():
    params = {"W": np.arange(6.0).reshape(2, 3), "b": np.array([7.0, 8.0])}
    original = _separate(params)
    flat = FlatParams(params)
    assert flat.params is params and flat.spans == {"W": (0, 6), "b": (6, 8)}
    np.testing.assert_array_equal(flat.param, [0, 1, 2, 3, 4, 5, 7, 8])
    for k in original:
        np.testing.assert_array_equal(params[k], original[k])
        assert np.shares_memory(params[k], flat.param) and np.shares_memory(flat.grads[k], flat.grad)
        assert flat.grads[k].shape == original[k].shape
    assert np.all(flat.grad == 0.0) and flat.intact()
    params["b"] = np.zeros(2)      # a rebound key: the flat buffer no longer backs the dict
    assert not flat.intact()


def test_flat_params_need_one_float_dtype():
    with pytest.raises(ValueError, match="FlatParams needs parameters of one dtype"):
        FlatParams({"W": np.ones(2, np.float32), "b": np.ones(2, np.float64)})
    with pytest.raises(ValueError, match="float32 or float64"):
        FlatParams({"W": np.ones(2, np.int64)})


def test_switching_between_flat_and_per_parameter_paths_keeps_one_state():
    model, X, y = _model_and_batch()
    reference, _, _ = _model_and_batch()
    params_ref = _separate(reference.params)
    opt, opt_ref = make_optimizer("adam", lr=0.01), make_optimizer("adam", lr=0.01)
    for i in range(6):
        _, grads = model.loss(X, y)
        opt_ref.step(params_ref, _separate(grads))
        if i % 2 == 0:
            opt.step_flat(model.flat)
        else:
            opt.step(model.params, _separate(grads))
    for k in params_ref:
        np.testing.assert_array_equal(model.params[k], params_ref[k])
        assert opt.state[k].step == 6


def test_parameters_at_different_steps_are_updated_one_by_one():
    model, X, y = _model_and_batch()
    params_ref = _separate(model.params)
    opt, opt_ref = make_optimizer("adam", lr=0.01), make_optimizer("adam", lr=0.01)
    _, grads = model.loss(X, y)
    opt.step({"W1": model.params["W1"]}, {"W1": grads["W1"]})      # W1 one step ahead
    opt_ref.step({"W1": params_ref["W1"]}, {"W1": grads["W1"].copy()})
    for _ in range(3):
        _, grads = model.loss(X, y)
        opt_ref.step(params_ref, _separate(grads))
        opt.step_flat(model.flat)
    assert opt.state["W1"].step == 4 and opt.state["b1"].step == 3
    for k in params_ref:
        np.testing.assert_array_equal(model.params[k], params_ref[k])


def test_a_subset_of_the_parameters_is_updated_alone():
    model, X, y = _model_and_batch()
    _, grads = model.loss(X, y)
    before = _separate(model.params)
    make_optimizer("sgd", lr=0.1).step({"W1": model.params["W1"]}, grads)
    assert not np.array_equal(model.params["W1"], before["W1"])
    for k in before:
        if k != "W1":
            np.testing.assert_array_equal(model.params[k], before[k])


def test_pickled_model_is_flat_again():
    model, X, y = _model_and_batch()
    clone = pickle.loads(pickle.dumps(model))
    assert clone.flat.intact() and clone.flat.params is clone.params
    for k in model.params:
        np.testing.assert_array_equal(clone.params[k], model.params[k])
        assert np.shares_memory(clone.params[k], clone.flat.param)
    _, grads = clone.loss(X, y)
    assert grads is clone.flat.grads


def test_trainer_steps_through_the_flat_buffers(monkeypatch):
    from models import Trainer, load_dataset
    from models.optimizer_base import Optimizer

    calls = []
    monkeypatch.setattr(Optimizer, "step_flat", lambda self, flat: calls.append(flat))
    model = MLP(2, [8], 3, seed=0)
    Trainer(model, load_dataset("spiral", seed=0, n_per_class=60), epochs=1, batch_size=50, seed=0).train()
    assert calls and all(flat is model.flat for flat in calls)
