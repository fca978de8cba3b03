"""Optimizer state as plain data: state_dict / load_state_dict continue a run bit for bit, and
Momentum / Nesterov are SGD with other defaults (same rule, own names)."""
import pickle

import numpy as np
import pytest

from models import MLP
from models.optimizers import OPTIMIZERS, SGD, Momentum, Nesterov, make_optimizer, optimizer_keywords

VARIANTS = [(name, {}) for name in sorted(OPTIMIZERS)] + [
    ("sgd", {"momentum": 0.5, "dampening": 0.2}), ("adam", {"amsgrad": True}),
    ("rmsprop", {"centered": True, "momentum": 0.5}), ("adagrad", {"initial_accumulator_value": 0.1}),
]
IDS = [f"{name}-{'-'.join(kw) or 'defaults'}" for name, kw in VARIANTS]


def _batch():
    X = np.random.default_rng(1).standard_normal((16, 6))
    return X, np.arange(16) % 3


def _train(opt, model, steps, flat):
    X, y = _batch()
    for _ in range(steps):
        _, grads = model.loss(X, y)
        if flat:
            opt.step_flat(model.flat)
        else:
            opt.step(model.params, {k: g.copy() for k, g in grads.items()})
        opt.lr *= 0.9   # a schedule: the current lr is part of the state


@pytest.mark.parametrize("flat", [True, False], ids=["flat", "per-parameter"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,kwargs", VARIANTS, ids=IDS)
def test_a_loaded_state_continues_bit_identically(name, kwargs, dtype, flat):
    whole = MLP(6, [5], 3, seed=0, dtype=dtype)
    opt = make_optimizer(name, lr=0.01, **kwargs)
    _train(opt, whole, 6, flat)

    part = MLP(6, [5], 3, seed=0, dtype=dtype)
    first = make_optimizer(name, lr=0.01, **kwargs)
    _train(first, part, 3, flat)
    state = first.state_dict()
    _train(first, MLP(6, [5], 3, seed=5, dtype=dtype), 2, flat)   # the saved state is a copy
    second = make_optimizer(name, lr=0.01, **kwargs)
    second.load_state_dict(pickle.loads(pickle.dumps(state)))
    assert second.lr == state["lr"]
    _train(second, part, 3, flat)

    for key in whole.params:
        assert part.params[key].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(part.params[key], whole.params[key])
    assert second.state_dict()["lr"] == opt.lr


@pytest.mark.parametrize("name,kwargs", VARIANTS, ids=IDS)
def test_state_dict_is_plain_data_with_torchs_keys(name, kwargs):
    model = MLP(6, [5], 3, seed=0)
    opt = make_optimizer(name, lr=0.01, **kwargs)
    _train(opt, model, 2, True)
    state = opt.state_dict()
    assert set(state) == {"lr", "state"} and isinstance(state["lr"], float)
    assert set(state["state"]) == set(model.params)
    for key, entry in state["state"].items():
        assert entry["step"] == 2 and type(entry["step"]) is int
        buffers = {k: v for k, v in entry.items() if k != "step"}
        assert sorted(buffers) == sorted(opt._buffer_names())
        for buf in buffers.values():
            assert type(buf) is np.ndarray and buf.shape == model.params[key].shape
            assert buf.dtype == np.float32 and not np.shares_memory(buf, model.flat.param)


def test_state_dict_before_any_step_and_after_loading_without_a_step():
    opt = make_optimizer("adam")
    assert opt.state_dict() == {"lr": 0.001, "state": {}}
    model = MLP(6, [5], 3, seed=0)
    _train(opt, model, 1, True)
    clone = make_optimizer("adam")
    clone.load_state_dict(opt.state_dict())
    again = clone.state_dict()   # loaded, not stepped yet: still the same state
    for key, entry in opt.state_dict()["state"].items():
        assert again["state"][key]["step"] == 1
        np.testing.assert_array_equal(again["state"][key]["exp_avg"], entry["exp_avg"])


@pytest.mark.parametrize("state,message", [
    ([], r"optimizer state must be a dict with keys 'lr' and 'state'"),
    ({"lr": 0.1}, r"optimizer state must be a dict with keys 'lr' and 'state'"),
    ({"lr": -1.0, "state": {}}, r"optimizer state lr must be a finite number in \(0.0, inf\)"),
    ({"lr": 0.1, "state": {"W1": {"step": -1, "exp_avg": np.zeros(2), "exp_avg_sq": np.zeros(2)}}},
     r"optimizer state 'W1': step must be an integer >= 0, got -1"),
    ({"lr": 0.1, "state": {"W1": {"step": 1, "momentum_buffer": np.zeros(2)}}},
     r"optimizer state 'W1' has buffers \['momentum_buffer'\]; Adam keeps \['exp_avg', 'exp_avg_sq'\]"),
    ({"lr": 0.1, "state": {"W1": {"step": 1, "exp_avg": np.zeros(2), "exp_avg_sq": np.zeros(3)}}},
     r"optimizer state 'W1': buffers must be float arrays of one shape and dtype"),
    ({"lr": 0.1, "state": {"W1": {"step": 1, "exp_avg": [0.0], "exp_avg_sq": [0.0]}}},
     r"optimizer state 'W1': buffers must be float arrays"),
])
def test_a_bad_state_is_a_named_error(state, message):
    with pytest.raises(ValueError, match=message):
        make_optimizer("adam").load_state_dict(state)


def test_a_state_that_does_not_fit_the_parameter_is_named_on_its_step():
    opt = make_optimizer("adam")
    opt.load_state_dict({"lr": 0.1, "state": {"W": {"step": 1, "exp_avg": np.zeros(2, np.float64),
                                                    "exp_avg_sq": np.zeros(2, np.float64)}}})
    with pytest.raises(ValueError, match=r"loaded optimizer state 'W': exp_avg is float64 \(2,\), "
                                         r"the parameter float32 \(3,\)"):
        opt.step({"W": np.zeros(3, np.float32)}, {"W": np.ones(3, np.float32)})


@pytest.mark.parametrize("cls,name,defaults", [(Momentum, "momentum", {"momentum": 0.9, "nesterov": False}),
                                               (Nesterov, "nesterov", {"momentum": 0.9, "nesterov": True})])
def test_momentum_and_nesterov_are_sgd_with_other_defaults(cls, name, defaults):
    opt = make_optimizer(name, lr=0.1)
    assert type(opt) is cls and isinstance(opt, SGD) and cls.__name__ == name.capitalize()
    assert optimizer_keywords(name) == optimizer_keywords("sgd")
    assert {k: getattr(opt, k) for k in defaults} == defaults
    assert repr(opt) == (f"{cls.__name__}(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, "
                         f"nesterov={defaults['nesterov']}, fused=None)")
    assert cls(0.2, 0.5).momentum == 0.5 and cls(0.2, 0.5).lr == 0.2   # positional, as SGD's
    assert type(pickle.loads(pickle.dumps(opt))) is cls
    with pytest.raises(TypeError):
        cls(0.1, bogus=1)
