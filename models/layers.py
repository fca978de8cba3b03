"""Layers with forward and backward side by side: Affine, BatchNorm, Dropout, softmax loss.

Each layer is a small object. ``forward`` stores on the layer what ``backward``
needs (never positional cache tuples) and ``backward`` returns the gradients.
Parameters are passed in as arguments rather than held, so the model's ``params``
dict stays the single source of truth that optimizers update in place.

Speed: work arrays are reused while the batch shape repeats (``WorkBuffers``), so a
training step allocates almost nothing. Consequence for callers: an array
returned by ``forward`` or ``backward`` is only valid until the layer's next
call; copy it if you keep it. Every array keeps the dtype of its inputs (python
float constants are "weak" under NumPy 2, so they never upcast float32).

Shapes: N = batch size, D = input features, M = output features.
"""
import functools

import numpy as np

__all__ = ["Affine", "BatchNorm", "Dropout", "softmax_cross_entropy", "column_sum"]


class WorkBuffers:
    """Named work arrays, one per (name, shape, dtype), reused across calls.

    A training run alternates a few batch shapes (the training batch, the last short
    batch of an epoch, the evaluation chunks), so arrays are kept per shape; the cache is
    emptied if it ever holds more than ``max_arrays`` arrays (ever-changing shapes).
    """

    __slots__ = ("_arrays", "max_arrays")

    def __init__(self, max_arrays=64):
        self._arrays = {}
        self.max_arrays = max_arrays

    def get(self, name, shape, dtype):
        """An uninitialised array of ``shape`` and ``dtype`` reserved for ``name``."""
        key = (name, shape, dtype)
        arr = self._arrays.get(key)
        if arr is None:
            arr = self._store(key, np.empty(shape, dtype=dtype))
        return arr

    def const(self, name, shape, dtype, value):
        """A read-only array filled with ``value`` (zeros for np.maximum, ones for sums).

        ``np.maximum(x, zeros)`` and ``ones @ x`` are several times faster than
        ``np.maximum(x, 0)`` and ``x.sum(axis=0)`` on the small arrays of a training step.
        """
        key = (name, shape, dtype)
        arr = self._arrays.get(key)
        if arr is None:
            arr = np.full(shape, value, dtype=dtype)
            arr.flags.writeable = False
            arr = self._store(key, arr)
        return arr

    def _store(self, key, arr):
        if len(self._arrays) >= self.max_arrays:
            self._arrays.clear()
        self._arrays[key] = arr
        return arr

    def clear(self):
        self._arrays.clear()


class Layer:
    """Base of the layers: pickling drops the work buffers and what the last call cached."""

    _transient = ()  # attributes that only live between a forward and its backward

    def __getstate__(self):
        state = self.__dict__.copy()
        for name in self._transient:
            if name in state:
                state[name] = None
        state["_buf"] = WorkBuffers()
        return state


def column_sum(buf, x, out=None):
    """``x.sum(axis=0)`` for x (N, D) as ``ones (N,) @ x``: one BLAS gemv, in x's dtype."""
    ones = buf.const("ones", (x.shape[0],), x.dtype, 1)
    return np.matmul(ones, x, out=out)


class Affine(Layer):
    """Fully connected layer: ``out = x @ W + b``.

    forward(x (N, D), W (D, M), b (M,)) -> out (N, M)
    backward(dout (N, M)) -> (dx (N, D) or None, dW (D, M), db (M,))
    """

    _transient = ("x", "W")

    def __init__(self):
        self.x = None  # (N, D) input of the last forward
        self.W = None  # (D, M) weights of the last forward
        self._buf = WorkBuffers()

    def forward(self, x, W, b):
        """Return ``x @ W + b`` (N, M); keeps ``x`` and ``W`` for backward."""
        out = self._buf.get("out", (x.shape[0], W.shape[1]), W.dtype)
        np.matmul(x, W, out=out)
        out += b
        self.x, self.W = x, W
        return out

    def backward(self, dout, need_dx=True, dW=None, db=None):
        """Gradients of the last forward.

        Args:
            dout: (N, M) upstream gradient.
            need_dx: False skips dx (the first layer's gradient w.r.t. the network
                input is never used, and costs as much as dW).
            dW, db: optional (D, M) / (M,) arrays to write the gradients into.

        Returns:
            (dx (N, D) or None, dW (D, M), db (M,)).
        """
        dW = np.matmul(self.x.T, dout, out=dW)
        db = column_sum(self._buf, dout, out=db)
        dx = None
        if need_dx:
            dx = self._buf.get("dx", self.x.shape, dout.dtype)
            np.matmul(dout, self.W.T, out=dx)
        return dx, dW, db


class BatchNorm(Layer):
    """Batch normalisation over the batch axis, with torch.nn.BatchNorm1d's conventions.

    Training normalises with the batch mean and the biased batch variance, and updates
    ``running = (1 - momentum) * running + momentum * batch_stat`` where the variance
    fed to the running estimate is the unbiased one (N / (N - 1)). Evaluation uses the
    running statistics. momentum 0.1, eps 1e-5; running_mean starts at 0, running_var at 1.

    forward(x (N, D), gamma (D,), beta (D,), train) -> out (N, D)
    backward(dout (N, D)) -> (dx (N, D), dgamma (D,), dbeta (D,))   (training forwards only)
    """

    _transient = ("xhat", "inv_std", "gamma")

    def __init__(self, num_features, dtype=np.float32, momentum=0.1, eps=1e-5):
        dtype = np.dtype(dtype)
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.running_mean = np.zeros(num_features, dtype=dtype)  # (D,)
        self.running_var = np.ones(num_features, dtype=dtype)  # (D,)
        self.xhat = None  # (N, D) normalised input of the last training forward
        self.inv_std = None  # (D,) 1 / sqrt(batch var + eps)
        self.gamma = None  # (D,)
        self._buf = WorkBuffers()

    def forward(self, x, gamma, beta, train=True):
        """Normalise ``x`` (N, D) and apply ``gamma * xhat + beta``.

        Raises:
            ValueError: training on a batch of one sample (the variance is undefined;
                torch raises too).
        """
        n, d = x.shape
        out = self._buf.get("out", (n, d), x.dtype)
        if not train:
            scale = gamma / np.sqrt(self.running_var + self.eps)
            shift = beta - self.running_mean * scale
            np.multiply(x, scale, out=out)
            out += shift
            return out
        if n < 2:
            raise ValueError(f"BatchNorm needs more than 1 sample per batch in training, got {n}")
        mean = column_sum(self._buf, x)
        mean *= 1.0 / n
        xhat = self._buf.get("xhat", (n, d), x.dtype)
        np.subtract(x, mean, out=xhat)
        sq = self._buf.get("tmp", (n, d), x.dtype)
        np.multiply(xhat, xhat, out=sq)
        var = column_sum(self._buf, sq)
        var *= 1.0 / n  # biased: used for normalisation
        inv_std = 1.0 / np.sqrt(var + self.eps)
        xhat *= inv_std
        np.multiply(xhat, gamma, out=out)
        out += beta
        m = self.momentum
        self.running_mean *= 1.0 - m
        self.running_mean += m * mean
        self.running_var *= 1.0 - m
        self.running_var += (m * n / (n - 1)) * var  # unbiased, as torch
        self.xhat, self.inv_std, self.gamma = xhat, inv_std, gamma
        return out

    def backward(self, dout, dgamma=None, dbeta=None):
        """Gradients of the last training forward: (dx (N, D), dgamma (D,), dbeta (D,)).

        Uses the compact form dx = gamma * inv_std / N * (N * dout - dbeta - xhat * dgamma).
        """
        n, d = dout.shape
        xhat = self.xhat
        tmp = self._buf.get("tmp", (n, d), dout.dtype)
        np.multiply(dout, xhat, out=tmp)
        dgamma = column_sum(self._buf, tmp, out=dgamma)
        dbeta = column_sum(self._buf, dout, out=dbeta)
        np.multiply(xhat, dgamma, out=tmp)
        dx = self._buf.get("dx", (n, d), dout.dtype)
        np.multiply(dout, n, out=dx)
        dx -= dbeta
        dx -= tmp
        dx *= self.gamma * self.inv_std * (1.0 / n)
        return dx, dgamma, dbeta


class Dropout(Layer):
    """Inverted dropout: drop each unit with probability ``p``, scale kept ones by 1 / (1 - p).

    The expectation of the output equals the input, so evaluation is the identity.
    The mask comes from the ``numpy.random.Generator`` passed to ``forward``: 16 random
    bits per unit (four units per raw 64-bit draw, ~3x faster than uniform floats), so the
    drop probability is ``p`` rounded to a multiple of 2**-16 (``self.p_effective``, at most
    7.6e-6 away) and kept units are scaled by exactly 1 / (1 - p_effective).

    forward(x (N, D), rng, train) -> out (N, D)
    backward(dout (N, D)) -> dx (N, D)
    """

    _transient = ("mask",)

    def __init__(self, p):
        p = float(p)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout must be in [0, 1) (probability of dropping), got {p!r}")
        self.p = p
        self._threshold = min(round(p * 65536), 65535)  # drop when the 16 random bits < this
        self.p_effective = self._threshold / 65536
        self.scale = 1.0 / (1.0 - self.p_effective)
        self.mask = None  # (N, D) 0 or scale, in the input's dtype
        self._buf = WorkBuffers()

    def forward(self, x, rng, train=True):
        """Apply a fresh mask drawn from ``rng`` in training; return ``x`` unchanged in evaluation."""
        if not train or self._threshold == 0:
            self.mask = None
            return x
        size = x.size
        bits = rng.bit_generator.random_raw(-(-size // 4)).view(np.uint16)[:size].reshape(x.shape)
        keep = self._buf.get("keep", x.shape, np.bool_)
        np.greater_equal(bits, self._threshold, out=keep)
        mask = self._buf.get("mask", x.shape, x.dtype)
        np.multiply(keep, self.scale, out=mask, dtype=mask.dtype)
        self.mask = mask
        out = self._buf.get("out", x.shape, x.dtype)
        return np.multiply(x, mask, out=out)

    def backward(self, dout):
        """dx = dout * mask (the identity after an evaluation forward)."""
        if self.mask is None:
            return dout
        dx = self._buf.get("dx", dout.shape, dout.dtype)
        return np.multiply(dout, self.mask, out=dx)


@functools.lru_cache(maxsize=16)
def _softmax_consts(n, c, dtype):
    """Flat offsets of each row's start (N,) and a ones vector (C,), cached per shape."""
    row_starts = np.arange(n, dtype=np.intp) * c
    ones = np.ones(c, dtype=dtype)
    row_starts.flags.writeable = False
    ones.flags.writeable = False
    return row_starts, ones


def softmax_cross_entropy(scores, y):
    """Mean softmax cross-entropy loss and its gradient, numerically stable.

    Args:
        scores: (N, C) class scores.
        y: (N,) integer labels in [0, C).

    Returns:
        (loss, dscores): the loss as a python float, and dscores (N, C), a new array in the
        dtype of ``scores``. Subtracting each row's maximum keeps exp() from overflowing.
    """
    n, c = scores.shape
    row_starts, ones = _softmax_consts(n, c, scores.dtype)
    # Row reductions over C ~ 10 columns are slow in NumPy; argmax + take and a gemv
    # with a ones vector do the same work several times faster.
    row_max = scores.ravel().take(row_starts + scores.argmax(axis=1))
    shifted = np.subtract(scores, row_max[:, None])
    probs = np.exp(shifted)
    sums = np.matmul(probs, ones)  # (N,)
    correct = row_starts + y  # flat index of each row's true class
    loss = float(np.log(sums).sum() - shifted.ravel().take(correct).sum()) / n
    # dscores = (softmax - onehot) / N
    np.divide(1.0 / n, sums, out=sums)
    probs *= sums[:, None]
    flat = probs.ravel()
    flat[correct] -= 1.0 / n
    return loss, probs
