"""MLPObjective's checkpoints: training to b1, then continuing to b2 equals one run to b2 bit for bit
(metrics, learning curve, weights, optimizer and RNG state), for every optimizer; bad
checkpoints are a named ValueError."""
import inspect
import math

import numpy as np
import pytest

from models import MLPObjective
from models.checkpoint import pack, unpack
from models.optimizers import OPTIMIZERS

LR = {"sgd": 0.05, "momentum": 0.02, "nesterov": 0.02, "adagrad": 0.05, "adadelta": 1.0, "rmsprop": 1e-3,
      "adam": 3e-3, "radam": 3e-3}


def _objective(optimizer="adam", dtype="float32", **settings):
    # batch norm, dropout and a per-epoch lr decay on: every piece of state must carry over
    settings = {"batchnorm": True, "dropout": 0.2, "lr_decay": 0.9, **settings}
    return MLPObjective("digits", preprocess="standardize", hidden_dims=[16], batch_size=128,
                        optimizer=optimizer, dtype=dtype, **settings)


def _run(objective, params, budget, seed, checkpoint=None):
    curve = []
    out = objective(params, budget, seed, report=lambda epoch, m: curve.append((epoch, m)),
                    checkpoint=checkpoint)
    return out, curve


def _without_checkpoint(metrics):
    return {k: v for k, v in metrics.items() if k != "checkpoint"}


def test_the_objective_says_it_supports_continuation():
    assert "checkpoint" in inspect.signature(MLPObjective.__call__).parameters


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_continuing_from_a_checkpoint_equals_one_uninterrupted_run(optimizer, dtype):
    objective = _objective(optimizer, dtype)
    params = {"lr": LR[optimizer], "reg": 1e-4}
    whole, whole_curve = _run(objective, params, 3, seed=7)
    first, first_curve = _run(objective, params, 1, seed=7)
    rest, rest_curve = _run(objective, params, 3, seed=7, checkpoint=first["checkpoint"])

    assert whole["status"] == "ok"
    assert _without_checkpoint(rest) == _without_checkpoint(whole)
    assert [e for e, _ in rest_curve] == [2, 3]                    # only the new epochs, numbered on
    assert first_curve + rest_curve == whole_curve                 # every reported value, every iteration's loss
    assert rest["checkpoint"] == whole["checkpoint"]               # weights, optimizer, RNGs, batch-norm stats
    state = unpack(rest["checkpoint"])
    for name, weights in state["model"]["params"].items():
        assert weights.dtype == np.dtype(dtype), name
    assert state["model"]["running_stats"] and state["trainer"]["optimizer"]["state"]


def test_a_chain_of_continuations_equals_one_run():
    objective = _objective("momentum")
    params = {"lr": 0.02, "dropout": 0.3}
    whole, whole_curve = _run(objective, params, 5, seed=3)
    a, curve_a = _run(objective, params, 1, seed=3)
    b, curve_b = _run(objective, params, 3, seed=3, checkpoint=a["checkpoint"])
    c, curve_c = _run(objective, params, 5, seed=3, checkpoint=b["checkpoint"])
    assert _without_checkpoint(c) == _without_checkpoint(whole) and c["checkpoint"] == whole["checkpoint"]
    assert curve_a + curve_b + curve_c == whole_curve


def test_best_val_acc_counts_the_epochs_before_the_checkpoint():
    objective = _objective("adam", lr_decay=1.0)
    params = {"lr": 0.05}   # high: val_acc peaks early, then wanders
    for seed in range(10):  # the first seed whose best epoch comes before the last one
        whole, curve = _run(objective, params, 5, seed=seed)
        accs = [m["val_acc"] for _, m in curve]
        best_epoch = accs.index(max(accs)) + 1
        if best_epoch < 5:
            break
    assert best_epoch < 5, "no seed of 10 had its best epoch before the last"
    first, _ = _run(objective, params, best_epoch, seed=seed)
    rest, _ = _run(objective, params, 5, seed=seed, checkpoint=first["checkpoint"])
    assert rest["best_val_acc"] == whole["best_val_acc"] == max(accs) > rest["val_acc"]


@pytest.mark.parametrize("b1", [2, 4], ids=["diverges-later", "diverges-in-the-first-new-epoch"])
def test_a_continued_run_that_diverges_ends_as_the_uninterrupted_one(b1):
    # sgd whose lr triples every epoch: the loss exceeds 3x the first one in epoch 5
    objective = MLPObjective("digits", preprocess="standardize", hidden_dims=[16], batch_size=64,
                             optimizer="sgd", lr_decay=3.0)
    whole, whole_curve = _run(objective, {"lr": 0.05}, 8, seed=3)
    assert whole["status"] == "diverged" and whole["epochs"] == 4 and whole["checkpoint"] is None
    first, first_curve = _run(objective, {"lr": 0.05}, b1, seed=3)
    rest, rest_curve = _run(objective, {"lr": 0.05}, 8, seed=3, checkpoint=first["checkpoint"])
    assert _without_checkpoint(rest) == _without_checkpoint(whole) and rest["checkpoint"] is None
    assert first_curve + rest_curve == whole_curve


def test_a_diverged_run_has_nothing_to_continue():
    out = _objective("sgd")({"lr": 1e3}, 3, seed=0)
    assert out["status"] == "diverged" and out["checkpoint"] is None


@pytest.fixture(scope="module")
def saved():
    objective = _objective("adam")
    return objective, objective({"lr": 3e-3, "reg": 1e-4}, 2, seed=5)["checkpoint"]


@pytest.mark.parametrize("change,message", [
    (dict(params={"lr": 1e-2, "reg": 1e-4}), r"checkpoint was made for other params \(differing: lr\)"),
    (dict(params={"lr": 3e-3}), r"checkpoint was made for other params \(differing: reg\)"),
    (dict(seed=6), r"checkpoint was made with seed 5, not 6"),
    (dict(budget=2), r"checkpoint holds 2 epochs: it can only continue to a larger budget than that, got budget 2"),
    (dict(budget=1), r"checkpoint holds 2 epochs"),
    (dict(objective=_objective("adam", dropout=0.1)), r"checkpoint was made by another objective"),
])
def test_a_checkpoint_for_another_trial_is_a_named_error(saved, change, message):
    objective, checkpoint = saved
    call = {"params": {"lr": 3e-3, "reg": 1e-4}, "budget": 4, "seed": 5, **change}
    with pytest.raises(ValueError, match=message):
        call.pop("objective", objective)(call["params"], call["budget"], call["seed"], checkpoint=checkpoint)


def _tampered(checkpoint, edit):
    state = unpack(checkpoint)
    edit(state)
    return pack(state)


@pytest.mark.parametrize("edit,message", [
    (lambda s: s.update(format="other/1"), r"checkpoint is not an MLPObjective checkpoint"),
    (lambda s: s.pop("trainer"), r"checkpoint is incomplete"),
    (lambda s: s["model"]["params"].update(W1=np.zeros((3, 3), np.float32)),
     r"checkpoint does not fit this trial: model state: params 'W1' is float32 \(3, 3\), the model's is float32 \(64, 16\)"),
    (lambda s: s["model"]["params"].update(W1=s["model"]["params"]["W1"].astype(np.float64)),
     r"checkpoint does not fit this trial: model state: params 'W1' is float64"),
    (lambda s: s["model"].update(rng={"bit_generator": "PCG64", "state": "x"}),
     r"checkpoint does not fit this trial: model state: rng is not a valid PCG64 state"),
    (lambda s: s["trainer"].update(epoch=-1), r"checkpoint does not fit this trial: trainer state: epoch -1"),
    (lambda s: s["trainer"]["optimizer"]["state"]["W1"].pop("exp_avg"),
     r"checkpoint does not fit this trial: optimizer state 'W1' has buffers \['exp_avg_sq'\]"),
])
def test_a_tampered_checkpoint_is_a_named_error(saved, edit, message):
    objective, checkpoint = saved
    with pytest.raises(ValueError, match=message):
        objective({"lr": 3e-3, "reg": 1e-4}, 4, seed=5, checkpoint=_tampered(checkpoint, edit))


@pytest.mark.parametrize("data", [b"garbage", b"", "text", 3])
def test_a_damaged_checkpoint_is_a_named_error(saved, data):
    objective, _ = saved
    with pytest.raises(ValueError, match="checkpoint"):
        objective({"lr": 3e-3, "reg": 1e-4}, 4, seed=5, checkpoint=data)


def test_the_checkpoint_is_small_weights_and_optimizer_buffers():
    objective = MLPObjective("digits", preprocess="center", batch_size=64, depth=1)
    out = objective({"lr": 2e-3, "width": 512}, 1, seed=0)
    n_params = 64 * 512 + 512 + 512 * 10 + 10
    # adam: the weights and two buffers of the same size, in float32, plus a few kB of metadata
    assert 3 * 4 * n_params < len(out["checkpoint"]) < 3 * 4 * n_params + 16_000
    assert not math.isnan(out["val_acc"])
