"""Trainer: learning, determinism, divergence as a status, the report hook, lr decay, settings."""
import math

import types

import numpy as np
import pytest

from models import MLP, Trainer, load_dataset, make_optimizer


@pytest.fixture(scope="module")
def spiral():
    return load_dataset("spiral", seed=0, n_per_class=60)


def _mlp(data, seed=0, **kwargs):
    return MLP(data.input_dim, kwargs.pop("hidden_dims", [32]), data.num_classes, seed=seed, **kwargs)


def test_digits_small_mlp_reaches_95_percent(digits):
    model = MLP(64, [100], 10, seed=0)
    hist = Trainer(model, digits, optimizer="adam", lr=3e-3, epochs=15, batch_size=64, seed=0).train()
    assert hist["status"] == "ok" and hist["epochs_run"] == 15
    assert hist["val_acc"][-1] >= 0.95
    assert hist["best_val_acc"] == max(hist["val_acc"])
    assert hist["val_acc"][hist["best_epoch"] - 1] == hist["best_val_acc"]
    # the loss fell from about ln(10) at the start
    assert hist["loss"][0] == pytest.approx(math.log(10), rel=0.5) and np.mean(hist["loss"][-10:]) < 0.3


def test_history_layout(spiral):
    hist = Trainer(_mlp(spiral), spiral, epochs=3, batch_size=50, seed=0).train()
    iters_per_epoch = math.ceil(len(spiral.X_train) / 50)
    assert len(hist["loss"]) == 3 * iters_per_epoch
    for key in ("train_acc", "val_acc", "lr", "epoch_time"):
        assert len(hist[key]) == 3
    assert all(isinstance(v, float) for v in hist["loss"] + hist["train_acc"] + hist["val_acc"] + hist["lr"])


def test_same_seed_same_history_other_seed_differs(spiral):
    runs = [Trainer(_mlp(spiral, seed=1, dropout=0.2), spiral, optimizer="momentum", lr=0.05, epochs=4,
                    batch_size=32, seed=t).train() for t in (7, 7, 8)]
    assert runs[0]["loss"] == runs[1]["loss"] and runs[0]["val_acc"] == runs[1]["val_acc"]
    assert runs[0]["loss"] != runs[2]["loss"]   # the shuffles come from the trainer's seed


def test_divergence_is_a_status_not_an_exception(spiral):
    model = _mlp(spiral)
    hist = Trainer(model, spiral, optimizer="sgd", lr=1e4, epochs=20, batch_size=16, seed=0).train()
    assert hist["status"] == "diverged"
    assert hist["epochs_run"] < 20
    bad = hist["loss"][-1]
    assert not (bad <= 3 * hist["loss"][0])     # the loss that stopped the run is recorded
    assert all(v <= 3 * hist["loss"][0] for v in hist["loss"][:-1])


def test_nan_loss_diverges_at_once(spiral):
    model = _mlp(spiral)
    model.params["W1"][0, 0] = np.nan
    calls = []
    hist = Trainer(model, spiral, epochs=5, report=lambda e, m: calls.append(e)).train()
    assert hist["status"] == "diverged" and len(hist["loss"]) == 1 and math.isnan(hist["loss"][0])
    assert hist["epochs_run"] == 0 and calls == [] and math.isnan(hist["best_val_acc"])


def test_report_once_per_epoch_with_documented_metrics(spiral):
    calls = []
    hist = Trainer(_mlp(spiral), spiral, epochs=4, batch_size=40, lr=0.01, seed=3,
                   report=lambda epoch, metrics: calls.append((epoch, metrics))).train()
    assert [e for e, _ in calls] == [1, 2, 3, 4]
    per_epoch = math.ceil(len(spiral.X_train) / 40)
    for i, (epoch, m) in enumerate(calls):
        assert set(m) == {"loss", "loss_iters", "train_acc", "val_acc", "lr"}
        assert m["loss_iters"] == hist["loss"][i * per_epoch:(i + 1) * per_epoch]
        assert m["loss"] == pytest.approx(np.mean(m["loss_iters"]))
        assert m["val_acc"] == hist["val_acc"][i] and m["train_acc"] == hist["train_acc"][i]
        assert type(m["loss"]) is float and all(type(v) is float for v in m["loss_iters"])


def test_lr_decay_per_epoch(spiral):
    trainer = Trainer(_mlp(spiral), spiral, optimizer="sgd", lr=0.1, lr_decay=0.5, epochs=4, seed=0)
    hist = trainer.train()
    assert hist["lr"] == pytest.approx([0.1, 0.05, 0.025, 0.0125])
    assert trainer.optimizer.lr == pytest.approx(0.00625)


def test_default_lr_is_the_optimizers(spiral):
    assert Trainer(_mlp(spiral), spiral, optimizer="adagrad").optimizer.lr == 1e-2
    assert Trainer(_mlp(spiral), spiral).optimizer.lr == 1e-3


def test_optimizer_keywords_and_objects(spiral):
    t = Trainer(_mlp(spiral), spiral, optimizer="rmsprop", lr=0.01, momentum=0.5, centered=True)
    assert t.optimizer.momentum == 0.5 and t.optimizer.centered
    opt = make_optimizer("nesterov", lr=0.02)
    assert Trainer(_mlp(spiral), spiral, optimizer=opt).optimizer is opt
    with pytest.raises(ValueError, match="cannot be given with an optimizer object"):
        Trainer(_mlp(spiral), spiral, optimizer=opt, lr=0.1)


def test_train_accuracy_on_a_fixed_subsample(spiral):
    hist = Trainer(_mlp(spiral), spiral, epochs=3, train_acc_samples=25, seed=0).train()
    for acc in hist["train_acc"]:
        assert (acc * 25) == pytest.approx(round(acc * 25))
    full = Trainer(_mlp(spiral), spiral, epochs=1, train_acc_samples=None, seed=0)
    assert full._acc_X is full.X_train


def test_data_is_not_copied_or_modified(spiral):
    before = spiral.X_train.copy()
    trainer = Trainer(_mlp(spiral), spiral, epochs=2)
    assert trainer.X_train is spiral.X_train          # same dtype: no copy
    trainer.train()
    np.testing.assert_array_equal(spiral.X_train, before)   # indices were shuffled, not the data


def test_float64_model_with_float32_data(spiral):
    model = _mlp(spiral, dtype="float64")
    hist = Trainer(model, spiral, epochs=2).train()
    assert hist["status"] == "ok" and model.params["W1"].dtype == np.float64


def test_any_object_with_the_arrays_works(spiral):
    class Plain:
        X_train, y_train, X_val, y_val = spiral.X_train, spiral.y_train, spiral.X_val, spiral.y_val

    assert Trainer(_mlp(spiral), Plain(), epochs=1).train()["status"] == "ok"
    with pytest.raises(ValueError, match="missing X_val, y_val"):
        Trainer(_mlp(spiral), type("D", (), {"X_train": 1, "y_train": 2})())


@pytest.mark.parametrize("kwargs,message", [
    (dict(optimizer="sgd", momentom=0.9), r"unknown keyword 'momentom' for optimizer 'sgd'; expected one of lr, momentum"),
    (dict(optimizer="lbfgs"), r"unknown optimizer 'lbfgs'; expected one of sgd"),
    (dict(epochs=0), r"epochs must be a positive integer, got 0"),
    (dict(batch_size=2.5), r"batch_size must be a positive integer, got 2.5"),
    (dict(lr_decay=0.0), r"lr_decay must be a positive finite number"),
    (dict(lr=-1.0), r"lr must be a finite number in \(0.0, inf\), got -1.0"),
    (dict(train_acc_samples=0), r"train_acc_samples must be a positive integer"),
    (dict(seed=-1), r"seed must be a non-negative integer"),
    (dict(eval_every=0), r"eval_every must be a positive integer, got 0"),
    (dict(report="print"), r"report must be callable"),
])
def test_bad_settings_are_named(spiral, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Trainer(_mlp(spiral), spiral, **kwargs)


def test_eval_every_measures_some_epochs_and_never_changes_training(spiral):
    def run(eval_every, calls=None):
        report = None if calls is None else (lambda epoch, m: calls.append((epoch, m["train_acc"], m["val_acc"])))
        return Trainer(_mlp(spiral, dropout=0.1), spiral, epochs=7, batch_size=40, lr=0.01, seed=3,
                       eval_every=eval_every, report=report).train()

    every, calls = run(1), []
    sparse = run(3, calls)
    assert sparse["loss"] == every["loss"]          # evaluating draws nothing and updates nothing
    measured = [3, 6, 7]                            # every 3rd epoch, and always the last
    for e in range(1, 8):
        for key in ("train_acc", "val_acc"):
            if e in measured:
                assert sparse[key][e - 1] == every[key][e - 1]
            else:
                assert math.isnan(sparse[key][e - 1])
    assert len(sparse["lr"]) == len(sparse["val_acc"]) == 7 and sparse["epochs_run"] == 7
    assert sparse["best_val_acc"] == max(every["val_acc"][e - 1] for e in measured)
    assert sparse["val_acc"][sparse["best_epoch"] - 1] == sparse["best_val_acc"]
    assert [e for e, _, _ in calls] == list(range(1, 8))   # the hook still sees every epoch
    assert [e for e, t, v in calls if not math.isnan(t) and not math.isnan(v)] == measured


def test_eval_every_none_never_evaluates(spiral, monkeypatch):
    model = _mlp(spiral)
    monkeypatch.setattr(model, "accuracy", lambda X, y: pytest.fail("accuracy measured with eval_every=None"))
    hist = Trainer(model, spiral, epochs=3, seed=0, eval_every=None).train()
    assert hist["status"] == "ok" and hist["epochs_run"] == 3
    assert all(math.isnan(v) for v in hist["train_acc"] + hist["val_acc"])
    assert math.isnan(hist["best_val_acc"]) and hist["best_epoch"] == 0


def test_train_again_continues(spiral):
    trainer = Trainer(_mlp(spiral), spiral, optimizer="sgd", lr=0.1, lr_decay=0.5, epochs=2, seed=0)
    first = trainer.train()
    second = trainer.train()
    assert second["lr"] == pytest.approx([0.025, 0.0125])      # the schedule goes on
    assert second["status"] == "ok" and np.mean(second["loss"]) < np.mean(first["loss"])


def _blas_threads():
    from threadpoolctl import threadpool_info

    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


@pytest.mark.parametrize("features, hidden, small", [(64, [100], True), (512, [256], False)])
def test_small_networks_train_on_one_blas_thread(features, hidden, small):
    """Tiny products gain nothing from more BLAS threads and lose badly on a busy machine."""
    from threadpoolctl import threadpool_limits

    from models import MLP, Trainer

    rng = np.random.default_rng(0)
    data = types.SimpleNamespace(X_train=rng.standard_normal((256, features)).astype(np.float32),
                                 y_train=np.arange(256) % 3, X_val=rng.standard_normal((32, features)).astype(np.float32),
                                 y_val=np.arange(32) % 3)
    seen = []
    with threadpool_limits(limits=2, user_api="blas"):
        outside = _blas_threads()
        Trainer(MLP(features, hidden, 3, seed=0), data, epochs=1, batch_size=256, seed=0,
                report=lambda epoch, metrics: seen.append(_blas_threads())).train()
        assert _blas_threads() == outside          # restored afterwards
    assert seen == [{1}] if small else seen == [outside]


def test_the_blas_limit_reuses_one_controller_until_modules_are_imported(monkeypatch):
    """Building a ThreadpoolController scans every loaded library (0.3-4 ms per train() call,
    on entry and exit); the trainer builds one per process and rebuilds it only when modules
    were imported since, since one of them may have brought another BLAS."""
    import sys

    from models import trainer

    monkeypatch.setattr(trainer, "_controller", None)
    controllers = []
    for _ in range(3):
        with trainer._one_blas_thread():
            controllers.append(trainer._controller)
            blas = trainer._controller.select(user_api="blas").lib_controllers
            assert blas and {lib.num_threads for lib in blas} == {1}
    assert controllers[0] is controllers[1] is controllers[2]
    monkeypatch.setitem(sys.modules, "_hpsearch_test_new_module", types.ModuleType("_hpsearch_test_new_module"))
    with trainer._one_blas_thread():
        assert trainer._controller is not controllers[0]


def test_train_again_numbers_the_epochs_on_and_keeps_the_best(spiral):
    epochs = []
    trainer = Trainer(_mlp(spiral), spiral, epochs=2, seed=0, report=lambda e, m: epochs.append(e))
    first = trainer.train()
    second = trainer.train()
    assert epochs == [1, 2, 3, 4] and trainer.epoch == 4 and second["epochs_run"] == 4
    accs = first["val_acc"] + second["val_acc"]
    assert second["best_val_acc"] == max(accs) and second["best_epoch"] == accs.index(max(accs)) + 1


@pytest.mark.parametrize("optimizer", ["adam", "nesterov", "rmsprop"])
def test_a_restored_trainer_continues_bit_identically(spiral, optimizer):
    def fresh(epochs):
        model = _mlp(spiral, seed=4, batchnorm=True, dropout=0.3)
        return model, Trainer(model, spiral, optimizer=optimizer, lr=0.01, epochs=epochs, batch_size=32,
                              seed=9, lr_decay=0.8)

    whole_model, whole = fresh(4)
    whole_hist = whole.train()
    model, trainer = fresh(2)
    trainer.train()
    saved = (model.state_dict(), trainer.state_dict())
    model2, trainer2 = fresh(2)
    model2.load_state_dict(saved[0])
    trainer2.load_state_dict(saved[1])
    hist = trainer2.train()
    assert hist["loss"] == whole_hist["loss"][len(whole_hist["loss"]) // 2:]
    assert hist["val_acc"] == whole_hist["val_acc"][2:] and hist["lr"] == whole_hist["lr"][2:]
    assert hist["best_val_acc"] == whole_hist["best_val_acc"] and hist["epochs_run"] == 4
    for key in whole_model.params:
        np.testing.assert_array_equal(model2.params[key], whole_model.params[key])
    for key, stat in whole_model.running_stats.items():
        np.testing.assert_array_equal(model2.running_stats[key], stat)


def test_the_divergence_threshold_survives_a_restore(spiral):
    model = _mlp(spiral)
    trainer = Trainer(model, spiral, epochs=1, seed=0)
    trainer.train()
    state = trainer.state_dict()
    assert state["divergence_limit"] == 3.0 * trainer.history["loss"][0]
    restored = Trainer(_mlp(spiral), spiral, epochs=1, seed=0)
    restored.load_state_dict(state)
    assert restored.state_dict()["divergence_limit"] == state["divergence_limit"]


@pytest.mark.parametrize("edit,message", [
    (lambda s: s.pop("rng"), r"trainer state must be a dict with keys best_epoch, best_val_acc"),
    (lambda s: s.update(epoch=2.5), r"trainer state: epoch 2.5 and best_epoch"),
    (lambda s: s.update(best_epoch=9), r"0 <= best_epoch <= epoch"),
    (lambda s: s.update(divergence_limit="high"), r"divergence_limit and best_val_acc must be floats"),
    (lambda s: s.update(rng={"bit_generator": "MT19937"}), r"trainer state: rng is not a valid PCG64 state"),
    (lambda s: s["optimizer"].update(lr=0.0), r"optimizer state lr must be"),
])
def test_a_bad_trainer_state_is_a_named_error(spiral, edit, message):
    trainer = Trainer(_mlp(spiral), spiral, epochs=1, seed=0)
    trainer.train()
    state = trainer.state_dict()
    edit(state)
    fresh = Trainer(_mlp(spiral), spiral, epochs=1, seed=0)
    with pytest.raises(ValueError, match=message):
        fresh.load_state_dict(state)
    assert fresh.epoch == 0   # nothing was half-loaded


def test_an_optimizer_without_state_cannot_be_saved(spiral):
    class Plain:
        lr = 0.1

        def step(self, params, grads):
            pass

    with pytest.raises(ValueError, match="has no state_dict"):
        Trainer(_mlp(spiral), spiral, optimizer=Plain(), epochs=1).state_dict()
