"""The lecture's checks that babysit a training run (cs231n lecture 6, "Babysitting the learning process").

Before searching hyperparameters, check that the network and its loss are sane:

1. ``initial_loss_check``: with reg = 0 the initial softmax loss is about ln(C) (the
   scores are near zero, so every class gets probability ~1/C).
2. ``reg_check``: from the same initialisation the loss rises when reg rises.
3. ``overfit_check``: a tiny training subset (20 samples) is fitted to 100% train accuracy
   with reg = 0; if not, something is broken or the learning rate is off.
4. ``layer_statistics``: per hidden layer, the mean / std of the activations, the fraction
   of dead ReLU-like units and of saturated sigmoid / tanh values, and the norm of the
   weight gradient, from one forward/backward pass: the vanishing-gradient picture (a
   10-layer tanh net with ``small`` init collapses to zero activations; ``xavier`` does not).

``sanity_report`` runs them all for the CLI (``hpsearch sanity``). ``data`` is any object
with ``X_train, y_train, X_val, y_val`` arrays (e.g. ``models.load_dataset(...)``).
"""
import math

import numpy as np

from models._checks import positive_int
from models.mlp import MLP

__all__ = ["initial_loss_check", "reg_check", "overfit_check", "layer_statistics", "sanity_report",
           "DEFAULT_REGS"]

DEFAULT_REGS = (0.0, 1e-1, 1e0, 1e1)
_INITIAL_LOSS_TOLERANCE = 0.10  # relative agreement of the initial loss with ln(C)
_MAX_HISTOGRAM_VALUES = 10_000
_CHECK_SAMPLES = 1000  # training samples used for the loss and statistics checks


class _Overfitted(Exception):
    """Raised from the trainer's report hook to stop once train accuracy reaches 100%."""


def _check_data(data):
    missing = [a for a in ("X_train", "y_train", "X_val", "y_val") if not hasattr(data, a)]
    if missing:
        raise ValueError(f"data must have X_train, y_train, X_val, y_val arrays; missing {', '.join(missing)}")
    X, y = np.asarray(data.X_train), np.asarray(data.y_train)
    if X.ndim != 2 or y.shape != (len(X),) or len(X) == 0:
        raise ValueError(f"X_train {X.shape} and y_train {y.shape} must be (N, D) and (N,) with N > 0")
    return X, y


def _num_classes(data):
    c = getattr(data, "num_classes", None)
    if c is None:
        c = int(max(np.max(data.y_train), np.max(data.y_val))) + 1
    return int(c)


def _build(data, model_kwargs, **overrides):
    X, _ = _check_data(data)
    kwargs = {**model_kwargs, **overrides}
    return MLP(X.shape[1], kwargs.pop("hidden_dims", (100,)), _num_classes(data), **kwargs)


def _head(data, n):
    """The first ``n`` training samples (the lecture's "take the first 20 examples")."""
    X, y = _check_data(data)
    return X[:n], y[:n]


def initial_loss_check(data, **model_kwargs):
    """Initial training-mode loss of a fresh MLP with reg = 0 against ln(C).

    Args:
        data: object with X_train, y_train, X_val, y_val.
        **model_kwargs: MLP settings (hidden_dims, activation, init, batchnorm, dropout, seed,
            ...); ``reg`` is forced to 0.

    Returns:
        {"initial_loss": float, "expected_initial_loss": ln(C), "ok": relative difference <= 10%}
        computed on the first 1000 training samples.
    """
    model = _build(data, model_kwargs, reg=0.0)
    X, y = _head(data, _CHECK_SAMPLES)
    loss, _ = model.loss(X, y)
    expected = math.log(model.num_classes)
    ok = bool(abs(loss - expected) <= _INITIAL_LOSS_TOLERANCE * expected)
    return {"initial_loss": float(loss), "expected_initial_loss": expected, "ok": ok}


def reg_check(data, regs=DEFAULT_REGS, **model_kwargs):
    """Training-mode loss at each ``reg`` from the same initialisation (same seed, same masks).

    Returns:
        {"regs": [...], "losses": [...], "ok": the losses strictly increase with reg}.

    Raises:
        ValueError: fewer than two regs, or regs not strictly increasing.
    """
    regs = [float(r) for r in regs]
    if len(regs) < 2 or any(b <= a for a, b in zip(regs, regs[1:])):
        raise ValueError(f"regs must be at least two strictly increasing values, got {regs!r}")
    X, y = _head(data, _CHECK_SAMPLES)
    losses = [float(_build(data, model_kwargs, reg=r).loss(X, y)[0]) for r in regs]
    ok = all(b > a for a, b in zip(losses, losses[1:]))
    return {"regs": regs, "losses": losses, "ok": bool(ok)}


class _Subset:
    """The first n training samples as both the training and the validation split."""

    def __init__(self, X, y):
        self.X_train = self.X_val = X
        self.y_train = self.y_val = y


def overfit_check(data, n_samples=20, max_epochs=200, optimizer="adam", lr=1e-3, seed=0,
                  **model_kwargs):
    """Train a fresh MLP with reg = 0 on the first ``n_samples`` training samples.

    Full-batch steps with ``models.trainer.Trainer``, stopping at the first epoch whose
    train accuracy is 100% (or after ``max_epochs``).

    Returns:
        {"n_samples": int, "epochs": epochs run, "train_acc": final train accuracy,
         "ok": train accuracy reached 1.0, "status": the trainer's "ok" / "diverged"}.
    """
    from models.trainer import Trainer  # the trainer is only needed for this check

    n_samples = positive_int("n_overfit", n_samples)
    max_epochs = positive_int("max_overfit_epochs", max_epochs)
    X, y = _head(data, n_samples)
    model = _build(data, {**model_kwargs, "seed": seed}, reg=0.0)
    accs = []

    def report(epoch, metrics):
        accs.append(metrics["train_acc"])
        if metrics["train_acc"] >= 1.0:
            raise _Overfitted

    trainer = Trainer(model, _Subset(X, y), optimizer=optimizer, lr=lr, epochs=max_epochs,
                      batch_size=len(X), seed=seed, report=report)
    status = "ok"
    try:
        status = trainer.train()["status"]
    except _Overfitted:
        pass
    train_acc = accs[-1] if accs else 0.0
    return {"n_samples": len(X), "epochs": len(accs), "train_acc": float(train_acc),
            "ok": bool(train_acc >= 1.0), "status": status}


def layer_statistics(model, X, y, max_values=_MAX_HISTOGRAM_VALUES, seed=0):
    """Per-hidden-layer activation statistics and weight-gradient norms from one training step.

    Runs ``model.loss(X, y)`` once (training mode: batchnorm batch statistics, dropout
    masks drawn; parameters are not changed) and reads each activation layer's output
    (before dropout).

    Args:
        model: an ``MLP``.
        X, y: (N, D) inputs and (N,) labels.
        max_values: at most this many activation values per layer are returned for histograms
            (a random subset, drawn with ``seed``).

    Returns:
        list of dicts, one per hidden layer: {"layer": i (1-based), "activation": name,
        "mean", "std", "dead_fraction" (units never positive on the batch; relu-like only),
        "saturated_fraction" (values in sigmoid's / tanh's flat tails), "grad_norm" (the
        Frobenius norm of dL/dW_i), "values": 1-D float64 array of <= max_values activations}.
    """
    _, grads = model.loss(X, y)
    rng = np.random.default_rng(seed)
    stats = []
    for layer in model.hidden_layers:
        act = layer.activation
        h = act.out.astype(np.float64).ravel()
        values = h if h.size <= max_values else rng.choice(h, size=max_values, replace=False)
        stats.append({
            "layer": layer.index,
            "activation": act.name,
            "mean": float(h.mean()),
            "std": float(h.std()),
            "dead_fraction": act.dead_fraction(),
            "saturated_fraction": act.saturated_fraction(),
            "grad_norm": float(np.linalg.norm(grads[layer.W].astype(np.float64))),
            "values": values,
        })
    return stats


def sanity_report(data, hidden_dims=(100,), activation="relu", init="he", batchnorm=False, dropout=0.0,
                  optimizer="adam", lr=1e-3, seed=0, n_overfit=20, max_overfit_epochs=200,
                  **model_options):
    """Run every babysitting check on one MLP configuration (what ``hpsearch sanity`` prints).

    Args:
        data: object with X_train, y_train, X_val, y_val (and optionally num_classes).
        hidden_dims, activation, init, batchnorm, dropout, seed: the MLP's settings.
        optimizer, lr: used by the overfitting check.
        n_overfit: training samples to overfit; max_overfit_epochs: full-batch epochs allowed.
        **model_options: further MLP keywords (dtype, bias_init, maxout_k).

    Returns:
        {"num_classes": int, "initial_loss": float, "expected_initial_loss": float,
         "initial_loss_ok": bool, "reg_check": {"regs", "losses", "ok"},
         "overfit": {"n_samples", "epochs", "train_acc", "ok"},
         "layers": [layer_statistics entries], "ok": all three checks passed}.
        Losses and layer statistics use the first 1000 training samples.

    Raises:
        ValueError: bad data or settings (named), from the checks or the MLP.
    """
    if "reg" in model_options:
        raise ValueError("sanity_report sets reg itself (0, and the reg_check sweep); do not pass reg")
    model_kwargs = {"hidden_dims": hidden_dims, "activation": activation, "init": init,
                    "batchnorm": batchnorm, "dropout": dropout, "seed": seed, **model_options}
    positive_int("n_overfit", n_overfit)
    positive_int("max_overfit_epochs", max_overfit_epochs)
    initial = initial_loss_check(data, **model_kwargs)
    regs = reg_check(data, **model_kwargs)
    overfit = overfit_check(data, n_samples=n_overfit, max_epochs=max_overfit_epochs,
                            optimizer=optimizer, lr=lr, **model_kwargs)
    X, y = _head(data, _CHECK_SAMPLES)
    layers = layer_statistics(_build(data, model_kwargs, reg=0.0), X, y, seed=seed)
    return {
        "num_classes": _num_classes(data),
        "initial_loss": initial["initial_loss"],
        "expected_initial_loss": initial["expected_initial_loss"],
        "initial_loss_ok": initial["ok"],
        "reg_check": regs,
        "overfit": {k: overfit[k] for k in ("n_samples", "epochs", "train_acc", "ok")},
        "layers": layers,
        "ok": bool(initial["ok"] and regs["ok"] and overfit["ok"]),
    }
