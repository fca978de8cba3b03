"""final=True: the chosen configuration's one evaluation on the test split. Without it the
objective never reads the test split."""
import inspect
import math

import numpy as np
import pytest

from models import MLPObjective, load_dataset

PARAMS = {"lr": 3e-3, "reg": 1e-4}


class _Untouchable:
    """Stands in for a test array: any use of it fails the test."""

    def __init__(self, name):
        self.name = name

    def _touched(self, *args, **kwargs):
        raise AssertionError(f"the objective read the test split ({self.name})")

    __getattr__ = __len__ = __getitem__ = __array__ = __iter__ = _touched


@pytest.fixture
def objective():
    return MLPObjective("digits", preprocess="standardize", hidden_dims=[32], batch_size=64)


@pytest.fixture
def guarded(objective, monkeypatch):
    """The objective with its (cached, per-process) dataset's test arrays made untouchable."""
    data = objective.load_data(PARAMS)
    monkeypatch.setattr(data, "X_test", _Untouchable("X_test"))
    monkeypatch.setattr(data, "y_test", _Untouchable("y_test"))
    return objective


def test_the_objective_accepts_the_final_keyword():
    assert inspect.signature(MLPObjective.__call__).parameters["final"].default is False


def test_without_final_the_test_split_is_never_read(guarded):
    out = guarded(PARAMS, 3, seed=0)
    assert out["status"] == "ok" and "test_acc" not in out and "test_loss" not in out
    rest = guarded(PARAMS, 5, seed=0, checkpoint=out["checkpoint"])   # nor when continuing
    assert "test_acc" not in rest


def test_the_guard_catches_a_read(guarded):
    with pytest.raises(AssertionError, match="read the test split"):
        guarded(PARAMS, 1, seed=0, final=True)


def test_final_adds_test_metrics_after_the_same_training(objective):
    plain = objective(PARAMS, 4, seed=2)
    final = objective(PARAMS, 4, seed=2, final=True)
    assert {k: v for k, v in final.items() if not k.startswith("test_")} == plain   # training unchanged
    n_test = len(objective.load_data(PARAMS).y_test)
    assert n_test == 359   # 20% of the 1797 digits
    assert abs(final["test_acc"] - final["val_acc"]) < 0.05 and 0.0 < final["test_loss"] < 1.0   # a held-out twin of val
    assert final["test_acc"] == round(final["test_acc"] * n_test) / n_test   # a share of the test images


def test_final_after_a_continuation_equals_final_after_one_run(objective):
    first = objective(PARAMS, 2, seed=4)
    assert objective(PARAMS, 5, seed=4, final=True, checkpoint=first["checkpoint"]) == \
        objective(PARAMS, 5, seed=4, final=True)


def test_a_diverged_configuration_has_nan_test_metrics():
    out = MLPObjective("digits", optimizer="sgd", hidden_dims=[16])({"lr": 1e3}, 2, seed=0, final=True)
    assert out["status"] == "diverged" and math.isnan(out["test_acc"]) and math.isnan(out["test_loss"])


def test_final_without_a_test_split_is_a_named_error():
    with pytest.raises(ValueError, match=r"final=True needs a test split, and 'digits' has none \(test_fraction=0.0\)"):
        MLPObjective("digits", test_fraction=0.0)(PARAMS, 1, seed=0, final=True)
    data = load_dataset("spiral", seed=0, test_fraction=0.0)
    with pytest.raises(ValueError, match="final=True needs a test split"):
        MLPObjective(data)(PARAMS, 1, seed=0, final=True)


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_final_must_be_a_bool(objective, bad):
    with pytest.raises(ValueError, match="final must be True or False"):
        objective(PARAMS, 1, seed=0, final=bad)
    assert np.isfinite(objective(PARAMS, 1, seed=0, final=np.bool_(False))["val_acc"])
