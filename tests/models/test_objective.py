"""MLPObjective: the search protocol, settings, validation, pickling and the per-process data cache."""
import json
import math
import pickle

import numpy as np
import pytest

from models import MLPObjective, load_dataset
from models import objective as objective_module

KEYS = {"val_acc", "best_val_acc", "train_acc", "loss", "epochs", "status", "checkpoint"}


@pytest.fixture(scope="module")
def spiral_objective():
    return MLPObjective("spiral", n_per_class=50, hidden_dims=[24], batch_size=32, preprocess="standardize")


def test_returns_the_documented_metrics(spiral_objective):
    out = spiral_objective({"lr": 1e-2, "reg": 1e-4}, budget=3, seed=5)
    assert set(out) == KEYS
    assert out["status"] == "ok" and out["epochs"] == 3
    assert all(isinstance(out[k], float) for k in ("val_acc", "best_val_acc", "train_acc", "loss"))
    assert 0.0 <= out["val_acc"] <= out["best_val_acc"] <= 1.0 and out["loss"] > 0


def test_digits_search_setting_learns(digits):
    obj = MLPObjective("digits", preprocess="standardize", batch_size=64)
    out = obj({"lr": 3e-3, "width": 100}, budget=8, seed=0)
    assert out["val_acc"] >= 0.93


def test_same_seed_same_result_other_seed_differs(spiral_objective):
    params = {"lr": 1e-2, "dropout": 0.1}
    a = spiral_objective(params, 2, 11)
    b = spiral_objective(params, 2, 11)
    c = spiral_objective(params, 2, 12)
    assert a == b
    assert a["loss"] != c["loss"]


def test_report_is_passed_to_the_trainer(spiral_objective):
    calls = []
    spiral_objective({"lr": 1e-2}, 3, 0, report=lambda e, m: calls.append((e, sorted(m))))
    assert [e for e, _ in calls] == [1, 2, 3]
    assert calls[0][1] == ["loss", "loss_iters", "lr", "train_acc", "val_acc"]


def test_divergence_is_returned_as_a_status(spiral_objective):
    out = spiral_objective({"optimizer": "sgd", "lr": 1e4}, 5, 0)
    assert out["status"] == "diverged" and out["epochs"] < 5
    assert not out["loss"] < 1e3 or math.isnan(out["loss"])


def test_width_and_depth():
    obj = MLPObjective("spiral", hidden_dims=[50, 40, 30])
    assert obj._resolve({"width": 16})[1] == [16, 16, 16]               # depth from the fixed hidden_dims
    assert obj._resolve({"width": 16, "depth": 2})[1] == [16, 16]
    assert obj._resolve({"depth": 2})[1] == [50, 50]                    # width from the fixed hidden_dims
    assert obj._resolve({"hidden_dims": [7]})[1] == [7]
    assert MLPObjective("spiral")._resolve({"width": 8})[1] == [8]      # default depth 1
    with pytest.raises(ValueError, match="either hidden_dims or width/depth"):
        obj.validate({"hidden_dims": [7], "width": 3})
    with pytest.raises(ValueError, match="width must be an integer >= 1, got 0"):
        obj.validate({"width": 0})


def test_optimizer_keywords_follow_the_optimizer():
    obj = MLPObjective("spiral", momentum=0.5, beta2=0.99)
    trainer = obj._resolve({"optimizer": "adam", "beta1": 0.8})[2]
    assert trainer["betas"] == (0.8, 0.99) and "momentum" not in trainer   # adam has no momentum
    trainer = obj._resolve({"optimizer": "nesterov"})[2]
    assert trainer["momentum"] == 0.5 and "betas" not in trainer
    with pytest.raises(ValueError, match="either betas or beta1/beta2"):
        obj.validate({"betas": [0.9, 0.99]})


def test_unknown_setting_suggests_the_closest_name(spiral_objective):
    with pytest.raises(ValueError, match=r"unknown setting 'lrr'; did you mean 'lr'\?"):
        spiral_objective.validate({"lrr": 0.1})
    with pytest.raises(ValueError, match=r"unknown setting 'activaton'; did you mean 'activation'\?"):
        spiral_objective({"activaton": "tanh"}, 1, 0)
    with pytest.raises(ValueError, match=r"unknown setting 'hiden_dims'; did you mean 'hidden_dims'\?"):
        MLPObjective("digits", hiden_dims=[10])
    with pytest.raises(ValueError, match=r"unknown setting 'zzz'; expected one of hidden_dims, width"):
        spiral_objective.validate({"zzz": 1})


@pytest.mark.parametrize("settings,message", [
    (dict(activation="swish"), r"unknown activation 'swish'"),
    (dict(init="glorot"), r"unknown init 'glorot'"),
    (dict(optimizer="adamw"), r"unknown optimizer 'adamw'"),
    (dict(preprocess="zca"), r"unknown preprocess 'zca'"),
    (dict(dropout=1.5), r"dropout must be"),
    (dict(lr=0.0), r"lr must be"),
    (dict(batch_size=0), r"batch_size must be a positive integer"),
    (dict(val_fraction=0.0), r"val_fraction must be in"),
    (dict(n_classes=1), None),   # spiral option: only checked when the data is generated
])
def test_values_are_checked_at_construction_and_by_validate(settings, message):
    if message is None:
        MLPObjective("spiral", **settings)
        return
    with pytest.raises(ValueError, match=message):
        MLPObjective("spiral", **settings)
    obj = MLPObjective("spiral")
    with pytest.raises(ValueError, match=message):
        obj.validate(settings)


def test_unknown_dataset_fails_at_construction():
    with pytest.raises(ValueError, match=r"unknown dataset 'digitz'; expected one of digits"):
        MLPObjective("digitz")
    with pytest.raises(ValueError, match=r"unknown setting 'noise'"):
        MLPObjective("digits", noise=0.3)       # digits takes no source options
    MLPObjective("spiral", noise=0.3)


def test_pickle_is_small_and_drops_the_data(spiral_objective):
    spiral_objective({"lr": 1e-2}, 1, 0)
    assert spiral_objective._data is not None
    blob = pickle.dumps(spiral_objective)
    assert len(blob) < 2000
    clone = pickle.loads(blob)
    assert clone._data is None
    assert clone({"lr": 1e-2}, 2, 3) == spiral_objective({"lr": 1e-2}, 2, 3)


def test_data_is_loaded_once_per_process_and_cached(monkeypatch):
    calls = []
    real = objective_module.load_dataset
    monkeypatch.setattr(objective_module, "load_dataset", lambda *a, **k: calls.append(a) or real(*a, **k))
    monkeypatch.setattr(objective_module, "_DATA_CACHE", objective_module.OrderedDict())
    obj = MLPObjective("spiral", n_per_class=30)
    for seed in range(3):
        obj({"lr": 1e-2}, 1, seed)
    pickle.loads(pickle.dumps(obj))({"lr": 1e-2}, 1, 0)     # a "new worker" in the same process
    assert len(calls) == 1
    obj({"preprocess": "center"}, 1, 0)                     # other data settings: another entry
    assert len(calls) == 2


def test_dataset_object_is_used_and_pickled(rng):
    data = load_dataset("blobs", seed=0, n_samples=120)
    obj = MLPObjective(data, hidden_dims=[8])
    out = obj({"lr": 1e-2}, 2, 0)
    assert out["status"] == "ok"
    assert pickle.loads(pickle.dumps(obj))({"lr": 1e-2}, 2, 0) == out
    with pytest.raises(ValueError, match=r"unknown setting 'preprocess'"):
        obj.validate({"preprocess": "center"})    # the data is already prepared


def test_get_params_is_json_able():
    obj = MLPObjective("spiral", betas=(0.9, 0.99), hidden_dims=(np.int64(10),), preprocess="whiten")
    params = obj.get_params()
    assert params["dataset"] == "spiral" and params["betas"] == [0.9, 0.99]
    assert json.loads(json.dumps(params)) == params


def test_budget_and_seed_are_checked(spiral_objective):
    with pytest.raises(ValueError, match="budget must be an integer >= 1, got 0"):
        spiral_objective({}, 0, 0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        spiral_objective({}, 1, -1)


def test_a_fresh_process_loads_the_data_lazily_and_agrees():
    """What a joblib/dask worker does: unpickle the objective, load the data once, run trials."""
    import os
    import subprocess
    import sys

    obj = MLPObjective("spiral", n_per_class=30, hidden_dims=[8])
    trials = [({"lr": lr}, 2, seed) for seed, lr in enumerate([1e-2, 3e-2, 1e-1])]
    serial = [obj(*t) for t in trials]
    code = ("import pickle, sys\n"
            "obj, trials = pickle.load(sys.stdin.buffer)\n"
            "pickle.dump([obj(*t) for t in trials], sys.stdout.buffer)\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, "-c", code], input=pickle.dumps((obj, trials)), capture_output=True,
                          cwd=root, env={**os.environ, "PYTHONPATH": root}, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert pickle.loads(done.stdout) == serial


def test_preprocessing_options_apply_only_where_meaningful():
    obj = MLPObjective("spiral", n_components=1, whiten_eps=1e-3)
    assert "n_components" not in obj._resolve({"preprocess": "standardize"})[3]
    data = obj._resolve({"preprocess": "pca"})[3]
    assert data["n_components"] == 1 and "whiten_eps" not in data
    assert obj._resolve({"preprocess": "whiten"})[3]["whiten_eps"] == 1e-3
    obj.validate({"preprocess": "standardize"})


def test_epochs_is_the_budget_not_a_setting():
    with pytest.raises(ValueError, match=r"'epochs': the number of epochs is the trial's budget"):
        MLPObjective("spiral", epochs=5)


def test_every_mlp_setting_is_accepted_and_reaches_the_model(spiral_objective):
    """A new MLP keyword must be searchable: output_scale changes the initial loss."""
    from models import MLP

    for name in ("bias_init", "maxout_k", "output_scale"):
        assert name in MLPObjective("spiral").valid_settings()
    near, plain = ({"lr": 1e-9, "output_scale": s, "hidden_dims": [24]} for s in (0.1, 1.0))
    first_near = spiral_objective(near, budget=1, seed=0)["loss"]
    first_plain = spiral_objective(plain, budget=1, seed=0)["loss"]
    assert first_near != first_plain
    with pytest.raises(ValueError, match="output_scale"):
        MLPObjective("spiral", output_scale=-1.0)
    assert MLP(2, [3], 2, output_scale=0.5).params["W2"].dtype == np.float32


def test_each_optimizer_takes_its_lecture_hyperparameters_and_rejects_others():
    obj = MLPObjective("spiral")
    assert obj._resolve({"optimizer": "momentum", "momentum": 0.8})[2]["momentum"] == 0.8
    assert obj._resolve({"optimizer": "nesterov", "momentum": 0.95})[2]["momentum"] == 0.95
    assert obj._resolve({"optimizer": "rmsprop", "rho": 0.9})[2]["alpha"] == 0.9      # torch's alpha
    assert obj._resolve({"optimizer": "adadelta", "rho": 0.95})[2]["rho"] == 0.95
    assert obj._resolve({"optimizer": "radam", "beta1": 0.8, "beta2": 0.99})[2]["betas"] == (0.8, 0.99)
    with pytest.raises(ValueError, match=r"^beta1=0.9 does not belong to optimizer 'sgd', which takes momentum"):
        obj.validate({"optimizer": "sgd", "beta1": 0.9})
    with pytest.raises(ValueError, match=r"^rho=0.9 does not belong to optimizer 'adagrad'"):
        obj({"optimizer": "adagrad", "rho": 0.9, "lr": 0.1}, 1, seed=0)
    with pytest.raises(ValueError, match=r"^momentum=0.9 does not belong to optimizer 'adam'"):
        MLPObjective("spiral", optimizer="adam", momentum=0.9)
    with pytest.raises(ValueError, match="either rho or alpha"):
        obj.validate({"optimizer": "rmsprop", "rho": 0.9, "alpha": 0.9})
