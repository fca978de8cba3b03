"""Activation layers by name (cs231n lecture 6, "Activation functions").

Every activation is a small class with ``forward(x, **params) -> out`` and
``backward(dout) -> (dx, grads)`` side by side; ``grads`` maps the names of its
learned parameters (only prelu's ``alpha``) to their gradients. One instance
serves one hidden layer and keeps what backward and the babysitting statistics
need from the last forward. Returned arrays are reused work buffers, valid until
the instance's next call.

Shapes: x (N, width_factor * H) pre-activations -> out (N, H), H hidden units.
``width_factor`` is 1 except for maxout (k), whose preceding affine layer
produces k linear pieces per unit.

Babysitting: ``dead_fraction()`` is the fraction of units that were never positive
on the last batch (relu-like activations only: relu, leaky_relu, prelu, elu,
selu); ``saturated_fraction()`` the fraction of activation values in the flat
tails (sigmoid within 0.02 of 0 or 1, tanh with |h| > 0.98). Both are 0.0 where the
notion does not apply.
"""
import numpy as np

from models._checks import int_at_least
from models.layers import Layer, WorkBuffers, column_sum

__all__ = ["ACTIVATIONS", "make_activation", "Activation"]

SELU_LAMBDA = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772


class Activation(Layer):
    """Base class: elementwise activations without parameters."""

    _transient = ("x", "out", "alpha", "neg", "expm")
    name = ""
    width_factor = 1
    relu_like = False  # "dead" units (never positive) are meaningful

    def __init__(self):
        self.x = None  # (N, width_factor * H) last input
        self.out = None  # (N, H) last output
        self._buf = WorkBuffers()

    def init_params(self, units, dtype):
        """Initial values of the learned parameters for ``units`` hidden units ({} if none)."""
        return {}

    def forward(self, x, **params):  # pragma: no cover - overridden
        raise NotImplementedError

    def backward(self, dout):  # pragma: no cover - overridden
        raise NotImplementedError

    def _out(self, x):
        return self._buf.get("out", x.shape, x.dtype)

    def _dx(self, dout):
        return self._buf.get("dx", dout.shape, dout.dtype)

    def dead_fraction(self):
        """Fraction of units never positive on the last batch (0.0 unless relu-like)."""
        if not self.relu_like or self.out is None:
            return 0.0
        return float(np.mean(~np.any(self.out > 0, axis=0)))

    def saturated_fraction(self):
        """Fraction of last outputs in a flat tail (0.0 unless sigmoid or tanh)."""
        return 0.0

    def __repr__(self):
        return f"{type(self).__name__}()"


class Sigmoid(Activation):
    """sigma(x) = 1 / (1 + exp(-x)); saturates and is not zero-centred."""

    name = "sigmoid"

    def forward(self, x):
        # sigma(x) = (1 + tanh(x / 2)) / 2: exact identity, ~10x faster than scipy's expit
        # (NumPy's tanh is vectorised); far tails round to exactly 0 or 1 (abs error < 6e-8)
        out = np.multiply(x, 0.5, out=self._out(x))
        np.tanh(out, out=out)
        out *= 0.5
        out += 0.5
        self.out = out
        return out

    def backward(self, dout):
        dx = self._dx(dout)
        np.subtract(1.0, self.out, out=dx)
        dx *= self.out
        dx *= dout
        return dx, {}

    def saturated_fraction(self):
        if self.out is None:
            return 0.0
        h = self.out
        return float(np.mean((h < 0.02) | (h > 0.98)))


class Tanh(Activation):
    """tanh(x): zero-centred but still saturates."""

    name = "tanh"

    def forward(self, x):
        self.out = np.tanh(x, out=self._out(x))
        return self.out

    def backward(self, dout):
        dx = self._dx(dout)
        np.multiply(self.out, self.out, out=dx)
        np.subtract(1.0, dx, out=dx)
        dx *= dout
        return dx, {}

    def saturated_fraction(self):
        if self.out is None:
            return 0.0
        return float(np.mean(np.abs(self.out) > 0.98))


class ReLU(Activation):
    """max(0, x): does not saturate for x > 0, fast; units can die."""

    name = "relu"
    relu_like = True

    def forward(self, x):
        self.x = x
        # np.maximum against a zeros array is several times faster than against scalar 0
        zeros = self._buf.const("zeros", x.shape, x.dtype, 0)
        self.out = np.maximum(x, zeros, out=self._out(x))
        return self.out

    def backward(self, dout):
        mask = self._buf.get("mask", dout.shape, np.bool_)
        np.greater(self.out, 0, out=mask)
        return np.multiply(dout, mask, out=self._dx(dout)), {}


class LeakyReLU(Activation):
    """max(0.01 x, x): never dies."""

    name = "leaky_relu"
    relu_like = True
    slope = 0.01

    def forward(self, x):
        self.x = x
        out = self._out(x)
        np.multiply(x, self.slope, out=out)
        self.out = np.maximum(x, out, out=out)  # valid because slope < 1
        return self.out

    def backward(self, dout):
        # dx = slope * dout + (1 - slope) * dout * [x > 0]; masked copies (np.copyto
        # with where=) are ~100x slower than these arithmetic passes
        mask = self._buf.get("mask", dout.shape, np.bool_)
        np.greater(self.x, 0, out=mask)
        dx = np.multiply(dout, mask, out=self._dx(dout))
        dx *= 1.0 - self.slope
        tmp = self._buf.get("tmp", dout.shape, dout.dtype)
        np.multiply(dout, self.slope, out=tmp)
        dx += tmp
        return dx, {}


class PReLU(Activation):
    """x for x > 0, alpha * x otherwise, with a learned slope ``alpha`` per unit (init 0.25)."""

    name = "prelu"
    relu_like = True
    alpha_init = 0.25

    def init_params(self, units, dtype):
        return {"alpha": np.full(units, self.alpha_init, dtype=dtype)}

    def forward(self, x, alpha):
        """x (N, H), alpha (H,) -> out (N, H)."""
        self.x = x
        neg = self._buf.get("neg", x.shape, x.dtype)  # min(x, 0), the part alpha scales
        np.minimum(x, self._buf.const("zeros", x.shape, x.dtype, 0), out=neg)
        out = np.maximum(x, self._buf.const("zeros", x.shape, x.dtype, 0), out=self._out(x))
        tmp = self._buf.get("tmp", x.shape, x.dtype)
        np.multiply(neg, alpha, out=tmp)
        out += tmp
        self.neg, self.alpha, self.out = neg, alpha, out
        return out

    def backward(self, dout):
        """Returns (dx (N, H), {"alpha": dalpha (H,)})."""
        # dx = dout * ([x > 0] + alpha * [x <= 0]); dalpha = sum_n dout * min(x, 0)
        tmp = self._buf.get("tmp", dout.shape, dout.dtype)
        np.multiply(dout, self.neg, out=tmp)
        dalpha = column_sum(self._buf, tmp)
        mask = self._buf.get("mask", dout.shape, np.bool_)
        np.less_equal(self.x, 0, out=mask)
        np.multiply(mask, self.alpha - 1.0, out=tmp, dtype=tmp.dtype)
        tmp += 1.0
        dx = np.multiply(dout, tmp, out=self._dx(dout))
        return dx, {"alpha": dalpha}


class ELU(Activation):
    """x for x > 0, alpha (exp(x) - 1) otherwise (alpha 1): smooth, mean closer to 0."""

    name = "elu"
    relu_like = True
    alpha = 1.0
    scale = 1.0

    def forward(self, x):
        self.x = x
        zeros = self._buf.const("zeros", x.shape, x.dtype, 0)
        expm = self._buf.get("expm", x.shape, x.dtype)  # exp(min(x, 0)) - 1
        np.minimum(x, zeros, out=expm)
        np.expm1(expm, out=expm)
        out = np.maximum(x, zeros, out=self._out(x))
        tmp = self._buf.get("tmp", x.shape, x.dtype)
        np.multiply(expm, self.alpha, out=tmp)
        out += tmp
        if self.scale != 1.0:
            out *= self.scale
        self.expm, self.out = expm, out
        return out

    def backward(self, dout):
        # d/dx = scale for x > 0, scale * alpha * exp(x) otherwise:
        # scale * (alpha * (expm + 1) + (1 - alpha) * [x > 0]) since expm = 0 for x > 0
        mask = self._buf.get("mask", dout.shape, np.bool_)
        np.greater(self.x, 0, out=mask)
        dx = self._dx(dout)
        np.multiply(mask, self.scale * (1.0 - self.alpha), out=dx, dtype=dx.dtype)
        tmp = self._buf.get("tmp", dout.shape, dout.dtype)
        np.add(self.expm, 1.0, out=tmp)
        tmp *= self.scale * self.alpha
        dx += tmp
        dx *= dout
        return dx, {}


class SELU(ELU):
    """lambda * elu_alpha(x) with the self-normalising constants (lambda 1.0507, alpha 1.6733)."""

    name = "selu"
    alpha = SELU_ALPHA
    scale = SELU_LAMBDA


class Maxout(Activation):
    """max over k linear pieces per unit (Goodfellow et al. 2013): x (N, k*H) -> out (N, H).

    Piece j of unit u is column ``j * H + u`` of the input: the preceding affine layer's
    weights have shape (D, k * H) and are laid out as k blocks of H columns. The gradient
    goes to the winning piece (the first one on ties).
    """

    name = "maxout"

    def __init__(self, k=2):
        super().__init__()
        self.k = int_at_least("maxout_k", k, 2)
        self.width_factor = self.k

    def forward(self, x):
        n, width = x.shape
        if width % self.k:
            raise ValueError(f"maxout input width {width} is not a multiple of k={self.k}")
        h = width // self.k
        self.x = x
        out = self._buf.get("out", (n, h), x.dtype)
        np.maximum(x[:, :h], x[:, h:2 * h], out=out)
        for j in range(2, self.k):
            np.maximum(out, x[:, j * h:(j + 1) * h], out=out)
        self.out = out
        return out

    def backward(self, dout):
        n, h = dout.shape
        k, x, out = self.k, self.x, self.out
        dx = self._buf.get("dx", (n, k * h), dout.dtype)
        won = self._buf.get("won", (n, h), np.bool_)
        taken = self._buf.get("taken", (n, h), np.bool_)
        for j in range(k - 1):
            piece = slice(j * h, (j + 1) * h)
            np.equal(x[:, piece], out, out=won)
            if j == 0:
                taken[...] = won
            else:
                np.greater(won, taken, out=won)  # won and not taken by an earlier piece
                taken |= won
            np.multiply(dout, won, out=dx[:, piece])
        np.logical_not(taken, out=won)  # the last piece wins wherever no earlier one did
        np.multiply(dout, won, out=dx[:, (k - 1) * h:])
        return dx, {}

    def __repr__(self):
        return f"Maxout(k={self.k})"


ACTIVATIONS = {
    cls.name: cls for cls in (Sigmoid, Tanh, ReLU, LeakyReLU, PReLU, ELU, SELU, Maxout)
}


def make_activation(name, **options):
    """Build a fresh activation layer by registry name.

    Args:
        name: one of ``ACTIVATIONS`` (elu, leaky_relu, maxout, prelu, relu, selu, sigmoid, tanh).
        **options: constructor options; only maxout has one (``k``, default 2).

    Raises:
        ValueError: unknown name, or an option the activation does not take.
    """
    try:
        cls = ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown activation {name!r}; expected one of {', '.join(sorted(ACTIVATIONS))}"
        ) from None
    try:
        return cls(**options)
    except TypeError:
        raise ValueError(
            f"activation {name!r} does not take options {', '.join(sorted(options))}; "
            "only maxout takes one (k)"
        ) from None
