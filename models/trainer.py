"""Trainer: the minibatch loop, its history, divergence detection and the report hook.

    hist = Trainer(model, data, optimizer="adam", lr=1e-3, epochs=10, batch_size=128, seed=0).train()
    hist["status"], hist["val_acc"], hist["best_val_acc"]

The loop is where hyperparameter searches spend their time, so it is kept lean:
indices (not the data) are shuffled each epoch with the trainer's own
``numpy.random.default_rng``, one batch at a time is gathered into a reused
buffer, and the optimizer updates the model's arrays in place.
"""
import math
import numbers
import sys
import time
from contextlib import nullcontext

import numpy as np

from models._checks import is_int, positive_int, seed_int
from models.flat_params import FlatParams
from models.optimizers import make_optimizer

__all__ = ["Trainer", "check_trainer_settings", "DIVERGENCE_FACTOR"]

# The run is stopped as diverged when a loss exceeds this multiple of the first loss.
DIVERGENCE_FACTOR = 3.0

# Matrix products below this many multiply-adds (batch x fan_in x fan_out) run on one BLAS
# thread: a second thread gains nothing on them on an idle machine (digits, 200 x 64 x 100:
# 54.7 vs 56.0 ms per run) and costs 10-50x when another process competes for the cores
# (benchmarks/bench_mlp.py). Larger products (CIFAR-sized layers) keep every thread.
SMALL_PRODUCT = 1e7

# One ThreadpoolController per process, rebuilt when modules were imported since (one may
# have loaded another BLAS). Building one scans every loaded library, 0.3-4 ms, which
# threadpool_limits() pays on entry and again on exit: ~7% of a 50 ms digits run, paid by
# every trial of a search. Limiting through a cached controller costs ~7 us.
# (hpsearch.execution.worker keeps the same cache for its own limits: models never imports hpsearch.)
_controller = None
_controller_modules = -1


def _one_blas_thread():
    """A context manager running the BLAS pools on one thread."""
    global _controller, _controller_modules
    from threadpoolctl import ThreadpoolController

    if _controller is None or _controller_modules != len(sys.modules):
        _controller = ThreadpoolController()
        _controller_modules = len(sys.modules)
    return _controller.limit(limits=1, user_api="blas")


def check_trainer_settings(epochs=1, batch_size=128, lr_decay=1.0, train_acc_samples=1000, seed=0, eval_every=1):
    """Validate the trainer's own settings; returns them normalised. Raises ValueError naming the bad one."""
    epochs = positive_int("epochs", epochs)
    batch_size = positive_int("batch_size", batch_size)
    if isinstance(lr_decay, bool) or not isinstance(lr_decay, numbers.Real) \
            or not math.isfinite(lr_decay) or lr_decay <= 0:
        raise ValueError(f"lr_decay must be a positive finite number (1.0 = no decay), got {lr_decay!r}")
    if train_acc_samples is not None:
        train_acc_samples = positive_int("train_acc_samples", train_acc_samples)
    seed = seed_int(seed)
    if eval_every is not None:
        eval_every = positive_int("eval_every", eval_every)
    return epochs, batch_size, float(lr_decay), train_acc_samples, seed, eval_every


def _model_dtype(model):
    for p in model.params.values():
        return p.dtype
    return np.dtype(np.float32)


class Trainer:
    """Minibatch training of a model with the cs231n contract (``params``, ``loss(X[, y])``).

    Args:
        model: e.g. ``models.MLP``; its ``params`` are updated in place.
        data: any object with ``X_train, y_train, X_val, y_val`` arrays (a ``Dataset``). The
            features are cast once to the model's dtype if they differ.
        optimizer: a name in ``OPTIMIZERS`` or an optimizer object with ``step`` and ``lr``.
        lr: learning rate; None uses the optimizer's own (torch's) default, e.g. 1e-3 for adam.
        epochs: passes over the training data per ``train()`` call (positive int).
        batch_size: samples per step (the last batch of an epoch may be smaller).
        seed: seeds the trainer's RNG (shuffling and the train-accuracy subsample).
        lr_decay: the learning rate is multiplied by this after every epoch.
        report: optional ``report(epoch, metrics)`` called after every epoch (1-based) with
            ``{"loss": mean loss of the epoch, "loss_iters": [loss of every iteration],
            "train_acc", "val_acc" (NaN when the epoch is not evaluated), "lr": the epoch's
            learning rate}`` (plain floats).
        train_acc_samples: size of the fixed random training subsample on which train accuracy
            is measured (None: all training samples).
        eval_every: measure train and validation accuracy after every ``eval_every``-th epoch
            and after the last one (Keras' ``validation_freq``); None never measures them. The
            epochs in between record NaN accuracies. Default 1: every epoch, as searches need.
        **optimizer_kwargs: the optimizer's keywords (torch names: momentum, betas, eps, ...).

    Raises:
        ValueError: an invalid setting, an unknown optimizer or optimizer keyword (named).
    """

    def __init__(self, model, data, optimizer="adam", lr=None, epochs=10, batch_size=128, seed=0,
                 lr_decay=1.0, report=None, train_acc_samples=1000, eval_every=1, **optimizer_kwargs):
        (self.epochs, self.batch_size, self.lr_decay, self.train_acc_samples,
         self.seed, self.eval_every) = check_trainer_settings(epochs, batch_size, lr_decay,
                                                              train_acc_samples, seed, eval_every)
        if report is not None and not callable(report):
            raise ValueError(f"report must be callable or None, got {report!r}")
        self.report = report
        self.model = model
        if isinstance(optimizer, str):
            if lr is not None:
                optimizer_kwargs["lr"] = lr
            self.optimizer = make_optimizer(optimizer, **optimizer_kwargs)
        else:
            if lr is not None or optimizer_kwargs:
                raise ValueError("lr and optimizer keywords cannot be given with an optimizer object; "
                                 "set them on the object")
            self.optimizer = make_optimizer(optimizer)
        if not isinstance(getattr(self.optimizer, "lr", None), numbers.Real):
            raise ValueError(f"the optimizer needs a numeric lr attribute, got {self.optimizer!r}")

        missing = [a for a in ("X_train", "y_train", "X_val", "y_val") if not hasattr(data, a)]
        if missing:
            raise ValueError(f"data must have X_train, y_train, X_val, y_val arrays; missing {', '.join(missing)}")
        dtype = _model_dtype(model)
        self.X_train = np.ascontiguousarray(data.X_train, dtype=dtype)
        self.y_train = np.asarray(data.y_train, dtype=np.int64)
        self.X_val = np.ascontiguousarray(data.X_val, dtype=dtype)
        self.y_val = np.asarray(data.y_val, dtype=np.int64)
        if self.X_train.ndim != 2 or len(self.X_train) != len(self.y_train) or len(self.X_train) == 0:
            raise ValueError(f"X_train {self.X_train.shape} and y_train {self.y_train.shape} must be "
                             f"(N, D) and (N,) with N > 0")
        if self.X_val.ndim != 2 or len(self.X_val) != len(self.y_val) or len(self.X_val) == 0:
            raise ValueError(f"X_val {self.X_val.shape} and y_val {self.y_val.shape} must be "
                             f"(N, D) and (N,) with N > 0")

        # two independent streams: the shuffles, and the fixed train-accuracy subsample
        shuffle_seq, subsample_seq = np.random.SeedSequence(self.seed).spawn(2)
        self.rng = np.random.default_rng(shuffle_seq)
        n = len(self.X_train)
        if self.train_acc_samples is None or self.train_acc_samples >= n:
            self._acc_X, self._acc_y = self.X_train, self.y_train
        else:
            pick = np.sort(np.random.default_rng(subsample_seq).choice(n, self.train_acc_samples, replace=False))
            self._acc_X, self._acc_y = self.X_train[pick], self.y_train[pick]
        self.history = None
        self.epoch = 0                 # epochs completed, over every train() call
        self._limit = None             # the divergence threshold, 3x the very first loss
        self._best = (math.nan, 0)     # (best val_acc, its epoch) over every completed epoch

    def _accuracy(self, X, y):
        acc = getattr(self.model, "accuracy", None)
        if acc is not None:
            return float(acc(X, y))
        return float(np.mean(np.argmax(self.model.loss(X), axis=1) == y))

    def _blas_threads(self, batch_size):
        """One BLAS thread while training a network whose largest product per step is small."""
        weights = [p.shape[0] * p.shape[1] for p in self.model.params.values() if getattr(p, "ndim", 0) == 2]
        if weights and batch_size * max(weights) < SMALL_PRODUCT:
            return _one_blas_thread()
        return nullcontext()

    def train(self):
        """Run ``epochs`` more epochs. Calling again (or after ``load_state_dict``) continues from
        the current weights, optimizer state, learning rate, shuffling stream, divergence threshold
        and epoch count: the epochs are numbered on, as in one longer run.

        Returns:
            dict with this call's ``loss`` (every iteration), ``train_acc``, ``val_acc`` (NaN on
            epochs not evaluated, see ``eval_every``), ``lr``, ``epoch_time`` (seconds) per
            completed epoch; ``best_val_acc`` (NaN if no epoch was evaluated) and ``best_epoch``
            (1-based, 0 if none) over every epoch this trainer completed, ``epochs_run`` (the
            epochs completed in all) and ``status``: ``"diverged"`` as soon as a loss is NaN/inf
            or above 3x the very first loss (training stops at once; the unfinished epoch is not
            reported), else ``"ok"``.
        """
        hist = {"loss": [], "train_acc": [], "val_acc": [], "lr": [], "epoch_time": [],
                "best_val_acc": self._best[0], "best_epoch": self._best[1], "epochs_run": self.epoch,
                "status": "ok"}
        bs = min(self.batch_size, len(self.X_train))
        # gather each batch into reused buffers instead of allocating one per step
        batch = (np.empty((bs,) + self.X_train.shape[1:], dtype=self.X_train.dtype),
                 np.empty(bs, dtype=self.y_train.dtype))
        step = self._stepper()
        with self._blas_threads(bs), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            last = self.epoch + self.epochs
            for epoch in range(self.epoch + 1, last + 1):
                t0 = time.perf_counter()
                lr = float(self.optimizer.lr)
                first = len(hist["loss"])
                if not self._run_epoch(hist["loss"], batch, step):
                    hist["status"] = "diverged"
                    break
                self._end_epoch(hist, epoch, epoch == last, lr, t0, hist["loss"][first:])
        self.history = hist
        return hist

    def _stepper(self):
        """``step(grads)``: the optimizer's update of the model's parameters, through the model's
        flat buffers (``optimizer.step_flat(model.flat)``) when both support it."""
        opt, params = self.optimizer, self.model.params
        flat = getattr(self.model, "flat", None)
        step_flat = getattr(opt, "step_flat", None)
        step = opt.step
        if not (isinstance(flat, FlatParams) and step_flat is not None and flat.intact()):
            return lambda grads: step(params, grads)
        flat_grads = flat.grads

        def flat_step(grads):
            if grads is flat_grads:
                step_flat(flat)
            else:
                step(params, grads)
        return flat_step

    def _run_epoch(self, losses, batch, step):
        """One pass over the training data in a fresh shuffled order, appending each iteration's
        loss to ``losses``; False as soon as a loss diverges (the step is then not taken)."""
        X, y = self.X_train, self.y_train
        xbuf, ybuf = batch
        bs = len(ybuf)
        loss_fn = self.model.loss
        limit = self._limit   # kept across train() calls: continued training compares to the very first loss
        order = self.rng.permutation(len(X))
        for start in range(0, len(X), bs):
            idx = order[start:start + bs]
            m = len(idx)
            xb, yb = (xbuf, ybuf) if m == bs else (xbuf[:m], ybuf[:m])
            # mode="clip": the indices come from a permutation, so never clip; the
            # default mode="raise" buffers the output and is ~35% slower
            np.take(X, idx, axis=0, out=xb, mode="clip")
            np.take(y, idx, out=yb, mode="clip")
            loss, grads = loss_fn(xb, yb)
            loss = float(loss)
            losses.append(loss)
            if limit is None:
                limit = self._limit = DIVERGENCE_FACTOR * loss
            if not loss <= limit:   # also true for NaN
                return False
            step(grads)
        return True

    def _end_epoch(self, hist, epoch, is_last, lr, t0, epoch_losses):
        """Evaluate (every ``eval_every``-th epoch and the last), record, decay the lr, report."""
        every = self.eval_every
        if every is not None and (epoch % every == 0 or is_last):
            train_acc = self._accuracy(self._acc_X, self._acc_y)
            val_acc = self._accuracy(self.X_val, self.y_val)
        else:
            train_acc = val_acc = math.nan
        hist["train_acc"].append(train_acc)
        hist["val_acc"].append(val_acc)
        hist["lr"].append(lr)
        hist["epochs_run"] = self.epoch = epoch
        if val_acc > (self._best[0] if self._best[1] else -math.inf):
            self._best = hist["best_val_acc"], hist["best_epoch"] = val_acc, epoch
        if self.lr_decay != 1.0:
            self.optimizer.lr = lr * self.lr_decay
        hist["epoch_time"].append(time.perf_counter() - t0)
        if self.report is not None:
            self.report(epoch, {"loss": math.fsum(epoch_losses) / len(epoch_losses),
                                "loss_iters": list(epoch_losses), "train_acc": train_acc,
                                "val_acc": val_acc, "lr": lr})

    # ------------------------------------------------------------------ state
    def state_dict(self):
        """The training state as plain data, with the optimizer's (the model keeps its own)::

            {"epoch": completed epochs, "rng": the shuffling generator's bit_generator.state,
             "divergence_limit": float or None, "best_val_acc": float, "best_epoch": int,
             "optimizer": optimizer.state_dict()}

        A trainer built with the same settings continues from it bit-identically after
        ``load_state_dict``, on a model restored with ``model.load_state_dict``.

        Raises:
            ValueError: the optimizer has no ``state_dict``.
        """
        if not callable(getattr(self.optimizer, "state_dict", None)):
            raise ValueError(f"the optimizer {self.optimizer!r} has no state_dict(): its state cannot be saved")
        return {"epoch": self.epoch, "rng": self.rng.bit_generator.state, "divergence_limit": self._limit,
                "best_val_acc": self._best[0], "best_epoch": self._best[1],
                "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state):
        """Restore a ``state_dict()``: the optimizer's state, the epoch count, the shuffling
        stream, the divergence threshold and the best epoch so far.

        Raises:
            ValueError: a state of another shape (missing keys, bad values), naming the problem.
        """
        keys = {"epoch", "rng", "divergence_limit", "best_val_acc", "best_epoch", "optimizer"}
        if not isinstance(state, dict) or set(state) != keys:
            raise ValueError(f"trainer state must be a dict with keys {', '.join(sorted(keys))}")
        epoch, best_epoch, limit = state["epoch"], state["best_epoch"], state["divergence_limit"]
        if not is_int(epoch) or epoch < 0 or not is_int(best_epoch) or not 0 <= best_epoch <= epoch:
            raise ValueError(f"trainer state: epoch {epoch!r} and best_epoch {best_epoch!r} must be integers "
                             f"with 0 <= best_epoch <= epoch")
        if limit is not None and not isinstance(limit, float) or not isinstance(state["best_val_acc"], float):
            raise ValueError("trainer state: divergence_limit and best_val_acc must be floats")
        rng = type(self.rng.bit_generator)()
        try:
            rng.state = state["rng"]
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"trainer state: rng is not a valid {type(rng).__name__} state ({exc})") from None
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = rng.state
        self.epoch, self._limit, self._best = int(epoch), limit, (state["best_val_acc"], int(best_epoch))
