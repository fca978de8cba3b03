"""The optimizers' flat fast path (parameters that tile one array, as models.MLP lays them out)
gives exactly the per-parameter updates, and hands over to the per-parameter path and back."""
import numpy as np
import pytest

from models import MLP
from models.optimizers import OPTIMIZERS, make_optimizer


def _model_and_grads(seed=0):
    model = MLP(6, [5, 4], 3, dtype="float64", seed=seed)
    X = np.random.default_rng(seed).standard_normal((8, 6))
    y = np.arange(8) % 3
    return model, X, y


def _separate(arrays):
    """The same arrays as independent copies (no shared base): the per-parameter path."""
    return {k: np.array(v, copy=True) for k, v in arrays.items()}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_flat_path_equals_per_parameter_updates(name):
    model, X, y = _model_and_grads()
    params_flat = model.params
    params_sep = _separate(model.params)
    kwargs = {"weight_decay": 0.01} if name != "sgd" else {"momentum": 0.9, "weight_decay": 0.01}
    opt_flat, opt_sep = make_optimizer(name, lr=0.01, **kwargs), make_optimizer(name, lr=0.01, **kwargs)
    for _ in range(5):
        _, grads = model.loss(X, y)
        opt_sep.step(params_sep, _separate(grads))
        opt_flat.step(params_flat, grads)
        assert opt_flat._flat is not None  # the fast path really ran
        for k in params_sep:
            np.testing.assert_allclose(params_flat[k], params_sep[k], rtol=1e-12, atol=1e-15)
    for k in params_sep:  # the per-parameter state is visible and the same
        assert opt_flat.state[k].step == opt_sep.state[k].step == 5
        for buf in opt_sep.state[k].buffers:
            np.testing.assert_allclose(opt_flat.state[k].buffers[buf], opt_sep.state[k].buffers[buf],
                                       rtol=1e-12, atol=1e-15)


def test_mlp_parameters_and_gradients_tile_one_array_each():
    model, X, y = _model_and_grads()
    _, grads = model.loss(X, y)
    bases = {id(p.base) for p in model.params.values()}
    assert len(bases) == 1 and all(p.base is not None for p in model.params.values())
    assert len({id(g.base) for g in grads.values()}) == 1
    assert next(iter(model.params.values())).base.size == sum(p.size for p in model.params.values())


def test_switching_between_flat_and_per_parameter_paths_keeps_one_state():
    model, X, y = _model_and_grads()
    reference, _, _ = _model_and_grads()
    params_ref = _separate(reference.params)
    opt, opt_ref = make_optimizer("adam", lr=0.01), make_optimizer("adam", lr=0.01)
    for i in range(6):
        _, grads = model.loss(X, y)
        opt_ref.step(params_ref, _separate(grads))
        # odd steps: gradients as separate arrays, so the per-parameter path runs
        opt.step(model.params, grads if i % 2 == 0 else _separate(grads))
    for k in params_ref:
        np.testing.assert_allclose(model.params[k], params_ref[k], rtol=1e-12, atol=1e-15)
        assert opt.state[k].step == 6


def test_a_subset_of_the_parameters_is_updated_alone():
    model, X, y = _model_and_grads()
    _, grads = model.loss(X, y)
    before = {k: v.copy() for k, v in model.params.items()}
    opt = make_optimizer("sgd", lr=0.1)
    opt.step({"W1": model.params["W1"]}, grads)   # does not tile the flat array: only W1 moves
    assert not np.array_equal(model.params["W1"], before["W1"])
    for k in before:
        if k != "W1":
            np.testing.assert_array_equal(model.params[k], before[k])


def test_pickled_model_is_flat_again():
    import pickle

    model, X, y = _model_and_grads()
    clone = pickle.loads(pickle.dumps(model))
    assert len({id(p.base) for p in clone.params.values()}) == 1
    for k in model.params:
        np.testing.assert_array_equal(clone.params[k], model.params[k])
