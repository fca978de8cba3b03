"""The lecture's babysitting facts on the real digits data."""
import math

import numpy as np
import pytest

from models.babysit import (initial_loss_check, layer_statistics, overfit_check, reg_check,
                            sanity_report)
from models.mlp import MLP

pytestmark = pytest.mark.usefixtures("single_blas_thread")


def test_initial_loss_is_log_of_classes_with_reg_zero(digits):
    check = initial_loss_check(digits, hidden_dims=(100,), activation="relu", init="he")
    assert check["expected_initial_loss"] == pytest.approx(math.log(10))
    assert check["initial_loss"] == pytest.approx(math.log(10), rel=0.03)
    assert check["ok"]


def test_initial_loss_check_catches_overconfident_initial_scores(digits):
    # "he" on the output layer too (output_scale=1): scores of std ~1.4, loss well above ln(10)
    check = initial_loss_check(digits, hidden_dims=(100,), init="he", output_scale=1.0)
    assert check["initial_loss"] > 1.2 * math.log(10)
    assert not check["ok"]


def test_loss_rises_with_reg_from_the_same_initialisation(digits):
    check = reg_check(digits, regs=[0.0, 1e-1, 1.0, 10.0], hidden_dims=(50,), dropout=0.5,
                      batchnorm=True)
    assert check["regs"] == [0.0, 0.1, 1.0, 10.0]
    assert all(b > a for a, b in zip(check["losses"], check["losses"][1:]))
    assert check["ok"]
    # reg 0 is the plain initial loss: the same weights and dropout masks for every reg
    same = initial_loss_check(digits, hidden_dims=(50,), dropout=0.5, batchnorm=True)
    assert check["losses"][0] == pytest.approx(same["initial_loss"])


def test_reg_check_rejects_unordered_regs(digits):
    with pytest.raises(ValueError, match="regs must be at least two strictly increasing values"):
        reg_check(digits, regs=[1.0, 0.1])


def test_twenty_samples_overfit_to_full_train_accuracy(digits):
    check = overfit_check(digits, n_samples=20, max_epochs=200, hidden_dims=(100,))
    assert check["n_samples"] == 20
    assert check["train_acc"] == 1.0 and check["ok"]
    assert 1 <= check["epochs"] < 200  # stops as soon as it gets there


def test_overfit_check_reports_failure_when_out_of_epochs(digits):
    check = overfit_check(digits, n_samples=20, max_epochs=1, lr=1e-6, hidden_dims=(10,))
    assert check["epochs"] == 1
    assert check["train_acc"] < 1.0 and not check["ok"]


@pytest.mark.parametrize("init, check", [
    ("small", lambda std: std < 1e-3),  # activations collapse to zero layer after layer
    ("xavier", lambda std: std > 0.1),  # variance preserved
])
def test_vanishing_activations_in_a_deep_tanh_net(digits, init, check):
    model = MLP(64, [200] * 10, 10, activation="tanh", init=init, seed=0)
    stats = layer_statistics(model, digits.X_train[:300], digits.y_train[:300])
    assert [s["layer"] for s in stats] == list(range(1, 11))
    stds = [s["std"] for s in stats]
    assert check(stds[-1]), stds
    if init == "small":
        assert all(b < a for a, b in zip(stds, stds[1:]))  # shrinking every layer
        assert stats[0]["grad_norm"] < 1e-6  # and so do the gradients


def test_dead_relu_units_are_counted(digits):
    model = MLP(64, [30, 30], 10, activation="relu", bias_init=-50.0)  # every unit off
    stats = layer_statistics(model, digits.X_train[:200], digits.y_train[:200])
    assert [s["dead_fraction"] for s in stats] == [1.0, 1.0]
    assert stats[0]["grad_norm"] == 0.0  # no gradient flows through dead units
    alive = layer_statistics(MLP(64, [30], 10), digits.X_train[:200], digits.y_train[:200])
    assert alive[0]["dead_fraction"] < 0.2


def test_saturated_tanh_units_are_counted(digits):
    model = MLP(64, [30], 10, activation="tanh", init="small")
    calm = layer_statistics(model, digits.X_train[:200], digits.y_train[:200])[0]
    model.params["W1"] *= 1000  # huge pre-activations: tanh saturates
    hot = layer_statistics(model, digits.X_train[:200], digits.y_train[:200])[0]
    assert calm["saturated_fraction"] == 0.0
    assert hot["saturated_fraction"] > 0.9


def test_sanity_report_keys_and_verdict(digits):
    report = sanity_report(digits, hidden_dims=(100, 50), activation="relu", init="he", seed=0)
    assert set(report) == {"num_classes", "initial_loss", "expected_initial_loss", "initial_loss_ok",
                           "reg_check", "overfit", "layers", "ok"}
    assert report["num_classes"] == 10
    assert set(report["reg_check"]) == {"regs", "losses", "ok"}
    assert set(report["overfit"]) == {"n_samples", "epochs", "train_acc", "ok"}
    assert report["overfit"]["n_samples"] == 20
    assert len(report["layers"]) == 2
    for i, layer in enumerate(report["layers"], start=1):
        assert set(layer) == {"layer", "activation", "mean", "std", "dead_fraction",
                              "saturated_fraction", "grad_norm", "values"}
        assert layer["layer"] == i and layer["activation"] == "relu"
        assert isinstance(layer["values"], np.ndarray) and layer["values"].ndim == 1
        assert 0 < layer["values"].size <= 10_000
        assert all(isinstance(layer[k], float) for k in ("mean", "std", "dead_fraction",
                                                           "saturated_fraction", "grad_norm"))
    assert report["initial_loss_ok"] and report["reg_check"]["ok"] and report["overfit"]["ok"]
    assert report["ok"] is True


def test_sanity_report_rejects_bad_input(digits):
    with pytest.raises(ValueError, match="data must have X_train, y_train, X_val, y_val arrays; missing X_val"):
        sanity_report(type("D", (), {"X_train": 1, "y_train": 1, "y_val": 1})())
    with pytest.raises(ValueError, match="n_overfit must be a positive integer, got 0"):
        sanity_report(digits, n_overfit=0)
    with pytest.raises(ValueError, match="unknown activation 'sigmoyd'"):
        sanity_report(digits, activation="sigmoyd")
