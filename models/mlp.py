"""MLP: a fully connected softmax classifier with the cs231n model contract.

    model = MLP(64, [100], 10, activation="relu", init="he")
    scores = model.loss(X)              # evaluation mode -> (N, C)
    loss, grads = model.loss(X, y)      # training mode -> float, dict like model.params
    val_loss = model.loss(X, y, train=False)

Each hidden layer is affine -> [batchnorm] -> activation -> [dropout]; the output layer is
affine -> softmax cross-entropy. The L2 penalty 0.5 * reg * sum(W**2) covers the weight
matrices only (not biases, gamma, beta or alpha).

Speed: everything stays in the model's dtype (float32 by default), work arrays are
reused while the batch shape repeats, and the gradient with respect to the network input
is never computed.
"""
import math
from dataclasses import dataclass

import numpy as np

from models._checks import flag, int_at_least, is_int, real, seed_int
from models.activations import ACTIVATIONS, Activation, make_activation
from models.initializers import get_initializer
from models.flat_params import FlatParams
from models.layers import Affine, BatchNorm, Dropout, softmax_cross_entropy

__all__ = ["MLP"]

_DTYPES = ("float32", "float64")


@dataclass
class HiddenLayer:
    """The layers and parameter names of one hidden layer (index starting at 1)."""

    index: int
    units: int
    affine: Affine
    activation: Activation
    batchnorm: BatchNorm | None
    dropout: Dropout | None
    W: str
    b: str
    gamma: str | None
    beta: str | None
    act_params: dict  # activation parameter name -> params key, e.g. {"alpha": "alpha1"}


class MLP:
    """Fully connected network for classification, trained by an external optimizer.

    Args:
        input_dim: D, the number of input features (int >= 1).
        hidden_dims: sizes of the hidden layers (sequence of ints >= 1; may be empty for
            softmax regression; a single int means one hidden layer).
        num_classes: C (int >= 2).
        activation: name in ``ACTIVATIONS``.
        init: weight initialiser name in ``INITIALIZERS``.
        batchnorm: insert batch normalisation between each hidden affine and its activation.
        dropout: probability of dropping a hidden unit in training, in [0, 1).
        reg: L2 strength >= 0; penalty 0.5 * reg * sum(W**2) over weight matrices.
        dtype: "float32" (default, fast) or "float64" (gradient checks).
        seed: non-negative int; ``np.random.default_rng(seed)`` draws the initial weights
            and then the dropout masks (``model.rng``).
        bias_init: initial value of every bias (the lecture suggests 0.01 for ReLU).
        maxout_k: linear pieces per unit for ``activation="maxout"`` (int >= 2).
        output_scale: the output layer's initial weights are the initialiser's draw times this
            (>= 0). The default 0.1 starts with near-uniform class probabilities, so the initial
            loss is ~ln(C) (the lecture's first sanity check) whatever the hidden init; with
            1.0, "he" gives overconfident initial scores. Like timm's ``head_init_scale``;
            ViT uses 0.

    Attributes:
        params: dict name -> ndarray of ``dtype``: "W1" (D, k*H1), "b1" (k*H1,), ...,
            "WL" (H_last, C), "bL" (C,); "gamma{i}", "beta{i}" (k*H_i,) with batchnorm;
            "alpha{i}" (H_i,) with prelu (k = maxout_k for maxout, else 1). Optimizers
            update these arrays in place; the model never rebinds them.
        flat: the ``models.flat_params.FlatParams`` behind ``params``: every parameter is a view
            into one flat array, every gradient ``loss(X, y)`` returns into another, so an
            optimizer updates them all in one pass with ``optimizer.step_flat(model.flat)``
            (``Trainer`` does).
        hidden_layers: list of ``HiddenLayer`` (its ``activation.out`` holds the last
            forward's activations, used by ``models.babysit``).
        rng: the model's ``numpy.random.Generator``.

    Raises:
        ValueError: any invalid argument, naming it, its value and what is valid.
    """

    def __init__(self, input_dim, hidden_dims, num_classes, activation="relu", init="he",
                 batchnorm=False, dropout=0.0, reg=0.0, dtype="float32", seed=0,
                 bias_init=0.0, maxout_k=2, output_scale=0.1):
        self.input_dim = int_at_least("input_dim", input_dim, 1)
        if is_int(hidden_dims):
            hidden_dims = (hidden_dims,)
        if isinstance(hidden_dims, (str, bytes)) or not hasattr(hidden_dims, "__iter__"):
            raise ValueError(f"hidden_dims must be a sequence of integers >= 1, got {hidden_dims!r}")
        hidden_dims = tuple(hidden_dims)
        for h in hidden_dims:
            if not is_int(h) or h < 1:
                raise ValueError(f"hidden_dims must be a sequence of integers >= 1, got {hidden_dims!r}")
        self.hidden_dims = tuple(int(h) for h in hidden_dims)
        self.num_classes = int_at_least("num_classes", num_classes, 2)
        if activation not in ACTIVATIONS:
            make_activation(activation)  # raises the registry's "unknown activation" error
        self.activation = activation
        self.init = init
        get_initializer(init)  # raises the registry's "unknown initializer" error
        self.batchnorm = flag("batchnorm", batchnorm)
        self.dropout = real("dropout", dropout, 0.0, 1.0, high_open=True)
        self.reg = real("reg", reg, 0.0)
        self.dtype = _check_dtype(dtype)
        self.seed = seed_int(seed)
        self.bias_init = real("bias_init", bias_init)
        self.maxout_k = int_at_least("maxout_k", maxout_k, 2)
        self.output_scale = real("output_scale", output_scale, 0.0)
        self.rng = np.random.default_rng(self.seed)

        self.params = {}
        self.hidden_layers = []
        self._build(get_initializer(init))
        self.weight_names = [layer.W for layer in self.hidden_layers] + [self._W_out]
        self.flat = FlatParams(self.params)

    # ------------------------------------------------------------------ public API
    def loss(self, X, y=None, train=None):
        """Scores, or the loss and gradients.

        Args:
            X: (N, D) inputs; cast to the model's dtype if needed (pass that dtype to avoid a copy).
            y: (N,) integer labels in [0, C), or None.
            train: only with ``y``: True (default) trains, False evaluates.

        Returns:
            - ``loss(X)``: scores (N, C), evaluation mode (no dropout, batchnorm running
              statistics).
            - ``loss(X, y)``: ``(loss, grads)`` in training mode; ``grads`` has exactly the keys,
              shapes and dtypes of ``params``. The gradient arrays are reused by the next
              training call: consume (or copy) them before calling again.
            - ``loss(X, y, train=False)``: the evaluation-mode loss (data loss + L2 penalty)
              as a float, nothing updated.
        """
        X = self._check_X(X)
        if y is None:
            if train:
                raise ValueError("train=True needs labels y")
            return self._eval_scores(X)
        y = self._check_y(y, X.shape[0])
        if train is None or train:
            return self._train_step(X, y)
        return self._eval_loss(X, y)

    def predict(self, X, batch_size=1024):
        """Predicted labels (N,) int64, in evaluation mode, ``batch_size`` rows at a time."""
        X = self._check_X(X)
        batch_size = int_at_least("batch_size", batch_size, 1)
        out = np.empty(X.shape[0], dtype=np.int64)
        for start in range(0, X.shape[0], batch_size):
            stop = start + batch_size
            out[start:stop] = self._forward(X[start:stop], train=False).argmax(axis=1)
        return out

    def accuracy(self, X, y, batch_size=1024):
        """Fraction of rows of X (N, D) whose predicted label equals y (N,)."""
        X = self._check_X(X)
        y = self._check_y(y, X.shape[0])
        return float(np.mean(self.predict(X, batch_size) == y))

    def penalty(self):
        """The L2 penalty 0.5 * reg * sum(W**2) over the weight matrices, as a float."""
        if self.reg == 0.0:
            return 0.0
        total = 0.0
        for name in self.weight_names:
            w = self.params[name].ravel()
            total += float(np.dot(w, w))
        return 0.5 * self.reg * total

    @property
    def running_stats(self):
        """Batchnorm running statistics: {"running_mean{i}", "running_var{i}": live (k*H_i,) arrays}.

        They are state, not parameters: optimizers never see them; copy them along with
        ``params`` to snapshot or restore a batchnorm model.
        """
        stats = {}
        for layer in self.hidden_layers:
            if layer.batchnorm is not None:
                stats[f"running_mean{layer.index}"] = layer.batchnorm.running_mean
                stats[f"running_var{layer.index}"] = layer.batchnorm.running_var
        return stats

    def state_dict(self):
        """Everything training changes, as plain data (copies): ``{"params": {name: array},
        "running_stats": {name: array}, "rng": the generator's bit_generator.state}``.

        With the same constructor arguments, ``load_state_dict`` of it restores the model
        exactly: weights, batchnorm statistics and the dropout masks still to come.
        """
        return {"params": {k: v.copy() for k, v in self.params.items()},
                "running_stats": {k: v.copy() for k, v in self.running_stats.items()},
                "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state):
        """Restore a ``state_dict()`` of a model built with the same arguments (values are copied
        into the existing arrays, so ``params`` and ``flat`` stay the same objects).

        Raises:
            ValueError: missing or extra arrays, a shape or dtype that differs, a bad rng state.
        """
        if not isinstance(state, dict) or set(state) != {"params", "running_stats", "rng"}:
            raise ValueError("model state must be a dict with keys 'params', 'running_stats' and 'rng'")
        pairs = [(state["params"], self.params), (state["running_stats"], self.running_stats)]
        for what, (saved, live) in zip(("params", "running_stats"), pairs):
            _check_matching("model state: " + what, saved, live)
        rng = type(self.rng.bit_generator)()
        try:
            rng.state = state["rng"]   # validated on a scratch generator first
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"model state: rng is not a valid {type(rng).__name__} state ({exc})") from None
        for saved, live in pairs:
            for name, target in live.items():
                target[...] = saved[name]
        self.rng.bit_generator.state = rng.state

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["flat"]  # pickling would copy each view into its own array: packed again on load
        state.pop("_scratch_buf", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.flat = FlatParams(self.params)

    def __repr__(self):
        return (f"MLP(input_dim={self.input_dim}, hidden_dims={list(self.hidden_dims)}, "
                f"num_classes={self.num_classes}, activation={self.activation!r}, init={self.init!r}, "
                f"batchnorm={self.batchnorm}, dropout={self.dropout}, reg={self.reg}, "
                f"dtype={self.dtype.name!r}, seed={self.seed})")

    # ------------------------------------------------------------------ internals
    def _build(self, initializer):
        """Create the layers and their initial parameters, drawing the weights from ``self.rng``."""
        fan_in = self.input_dim
        for i, units in enumerate(self.hidden_dims, start=1):
            act = make_activation(self.activation, **({"k": self.maxout_k} if self.activation == "maxout" else {}))
            width = act.width_factor * units  # maxout: k linear pieces per unit
            layer = HiddenLayer(
                index=i, units=units, affine=Affine(), activation=act,
                batchnorm=BatchNorm(width, self.dtype) if self.batchnorm else None,
                dropout=Dropout(self.dropout) if self.dropout > 0 else None,
                W=f"W{i}", b=f"b{i}",
                gamma=f"gamma{i}" if self.batchnorm else None,
                beta=f"beta{i}" if self.batchnorm else None,
                act_params={},
            )
            self.params[layer.W] = initializer(fan_in, width, self.rng, self.dtype)
            self.params[layer.b] = np.full(width, self.bias_init, dtype=self.dtype)
            if self.batchnorm:
                self.params[layer.gamma] = np.ones(width, dtype=self.dtype)
                self.params[layer.beta] = np.zeros(width, dtype=self.dtype)
            for pname, value in act.init_params(units, self.dtype).items():
                key = f"{pname}{i}"
                layer.act_params[pname] = key
                self.params[key] = value
            self.hidden_layers.append(layer)
            fan_in = units
        last = len(self.hidden_dims) + 1
        self._W_out, self._b_out = f"W{last}", f"b{last}"
        W_out = initializer(fan_in, self.num_classes, self.rng, self.dtype)
        if self.output_scale != 1.0:
            W_out *= self.output_scale
        self.params[self._W_out] = W_out
        self.params[self._b_out] = np.full(self.num_classes, self.bias_init, dtype=self.dtype)
        self._out_affine = Affine()

    def _check_X(self, X):
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.input_dim:
            raise ValueError(f"X must have shape (N, {self.input_dim}), got {X.shape}")
        if X.dtype != self.dtype:
            X = X.astype(self.dtype)
        return X

    def _check_y(self, y, n):
        y = np.asarray(y)
        if y.shape != (n,) or y.dtype.kind not in "iu":
            raise ValueError(f"y must be an integer array of shape ({n},), got {y.dtype} {y.shape}")
        if n:
            # one reduction catches both ends: negative labels are huge when read as unsigned
            unsigned = y.view(np.dtype(f"u{y.dtype.itemsize}")) if y.dtype.kind == "i" else y
            if unsigned.max() >= self.num_classes:
                bad = y[(y < 0) | (y >= self.num_classes)][0]
                raise ValueError(f"y has label {bad}, outside 0..{self.num_classes - 1} "
                                 f"(num_classes={self.num_classes})")
        return y

    def _forward(self, X, train):
        """Scores (N, C) (a work buffer); stores on each layer what backward needs."""
        P = self.params
        h = X
        for layer in self.hidden_layers:
            a = layer.affine.forward(h, P[layer.W], P[layer.b])
            if layer.batchnorm is not None:
                a = layer.batchnorm.forward(a, P[layer.gamma], P[layer.beta], train)
            if layer.act_params:
                h = layer.activation.forward(a, **{k: P[v] for k, v in layer.act_params.items()})
            else:
                h = layer.activation.forward(a)
            if layer.dropout is not None:
                h = layer.dropout.forward(h, self.rng, train)
        return self._out_affine.forward(h, P[self._W_out], P[self._b_out])

    def _train_step(self, X, y):
        scores = self._forward(X, train=True)
        data_loss, dscores = softmax_cross_entropy(scores, y)
        P = self.params
        grads = self.flat.grads
        dh, _, _ = self._out_affine.backward(
            dscores, need_dx=bool(self.hidden_layers),
            dW=grads[self._W_out], db=grads[self._b_out])
        for layer in reversed(self.hidden_layers):
            if layer.dropout is not None:
                dh = layer.dropout.backward(dh)
            da, act_grads = layer.activation.backward(dh)
            for pname, g in act_grads.items():
                grads[layer.act_params[pname]][...] = g
            if layer.batchnorm is not None:
                da, _, _ = layer.batchnorm.backward(
                    da, dgamma=grads[layer.gamma], dbeta=grads[layer.beta])
            dh, _, _ = layer.affine.backward(
                da, need_dx=layer.index > 1, dW=grads[layer.W], db=grads[layer.b])
        loss = data_loss
        if self.reg != 0.0:
            reg = self.reg
            for name in self.weight_names:
                W, dW = P[name], grads[name]
                w = W.ravel()
                loss += 0.5 * reg * float(np.dot(w, w))
                # dW += reg * W without a full-size temporary array
                scratch = self._scratch(W.shape)
                np.multiply(W, reg, out=scratch)
                dW += scratch
        return loss, grads

    def _scratch(self, shape):
        buf = getattr(self, "_scratch_buf", None)
        size = math.prod(shape)
        if buf is None or buf.size < size:
            buf = self._scratch_buf = np.empty(size, dtype=self.dtype)
        return buf[:size].reshape(shape)

    def _eval_scores(self, X, batch_size=1024):
        scores = np.empty((X.shape[0], self.num_classes), dtype=self.dtype)
        for start in range(0, X.shape[0], batch_size):
            stop = start + batch_size
            scores[start:stop] = self._forward(X[start:stop], train=False)
        return scores

    def _eval_loss(self, X, y, batch_size=1024):
        total = 0.0
        for start in range(0, X.shape[0], batch_size):
            stop = min(start + batch_size, X.shape[0])
            scores = self._forward(X[start:stop], train=False)
            loss, _ = softmax_cross_entropy(scores, y[start:stop])
            total += loss * (stop - start)
        return total / max(X.shape[0], 1) + self.penalty()


def _check_dtype(value):
    try:
        dtype = None if value is None else np.dtype(value)
    except TypeError:
        dtype = None
    if dtype is None or dtype.name not in _DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}, got {value!r}")
    return dtype


def _check_matching(what, saved, live):
    """Raise ValueError unless ``saved`` has exactly the names of ``live`` with the same shapes and dtypes."""
    if not isinstance(saved, dict) or set(saved) != set(live):
        names = sorted(saved) if isinstance(saved, dict) else type(saved).__name__
        raise ValueError(f"{what} holds {names}, the model has {sorted(live)}")
    for name, target in live.items():
        value = saved[name]
        if not isinstance(value, np.ndarray) or value.shape != target.shape or value.dtype != target.dtype:
            got = f"{value.dtype} {value.shape}" if isinstance(value, np.ndarray) else type(value).__name__
            raise ValueError(f"{what} {name!r} is {got}, the model's is {target.dtype} {target.shape}")
