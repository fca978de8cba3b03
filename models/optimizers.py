"""The SGD family of optimizers, following torch.optim's update rules exactly.

Every optimizer is a class whose hyperparameters are fixed and validated in the
constructor (torch's keyword names and default values), whose per-parameter
state lives inside it keyed by parameter name, and whose one method
``step(params, grads)`` updates the parameter arrays **in place**::

    opt = make_optimizer("adam", lr=1e-3)
    loss, grads = model.loss(X, y)
    opt.step(model.params, grads)       # any dict of arrays
    opt.step_flat(model.flat)           # the same update, through the model's flat buffers

``lr`` is a plain mutable attribute so a schedule (the trainer's per-epoch decay) can change it
between steps. ``state_dict()`` / ``load_state_dict(state)`` (torch's names) save and restore
the state as plain data, so a checkpointed run continues bit-identically. The loops and the
state live in the base class (``models.optimizer_base.Optimizer``); this module holds the rules.

Each rule's ``_update(param, grad, state)`` is the lecture's formula written as NumPy ufuncs
into preallocated arrays (``out=``): the state buffers and scratch arrays are allocated once,
on a parameter's first step, in its dtype, so a step allocates no full-size arrays and float32
stays float32 (hyperparameters are Python floats, which NumPy treats as "weak" scalars).
Gradients are never modified. The fast paths (flat buffers, numba's fused kernels for SGD with
momentum and Adam; ``fused=None`` uses them when numba is importable and the update large or
the kernels loaded, ``fused=False`` never, ``fused=True`` raises if numba is missing) live in
``models.fused`` and give bit-identical parameters.
"""
import inspect
import math

import numpy as np

from models._checks import flag, real
from models.fused import check_fused, fused_adam_step, fused_kernels, fused_sgd_step
from models.optimizer_base import Optimizer

__all__ = [
    "Optimizer", "SGD", "Momentum", "Nesterov", "Adagrad", "RMSprop", "Adadelta", "Adam", "RAdam",
    "OPTIMIZERS", "make_optimizer", "optimizer_keywords", "fused_kernels",
]


def _betas(betas):
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}") from None
    return (real("betas[0]", b1, 0.0, 1.0, high_open=True), real("betas[1]", b2, 0.0, 1.0, high_open=True))


def _decayed(param, grad, weight_decay, out):
    """torch's coupled L2 weight decay: ``grad + weight_decay * param`` (grad itself untouched)."""
    if weight_decay == 0.0:
        return grad
    np.multiply(param, weight_decay, out=out)
    out += grad
    return out


def _running_average(avg, x, decay, out):
    """``avg = decay * avg + (1 - decay) * x`` in place; ``out`` is scratch (it may be ``x``)."""
    avg *= decay
    avg += np.multiply(x, 1.0 - decay, out=out)


class SGD(Optimizer):
    """torch.optim.SGD: plain, momentum or Nesterov stochastic gradient descent.

    ``buf = grad`` on the first step, then ``buf = momentum * buf + (1 - dampening) * grad``;
    the step is ``param -= lr * (grad + momentum * buf)`` with Nesterov, ``param -= lr * buf``
    otherwise (``param -= lr * grad`` without momentum).

    Args:
        lr: learning rate (> 0; torch's default 1e-3).
        momentum: momentum factor (>= 0).
        dampening: dampening of the momentum (in [0, 1]).
        weight_decay: L2 penalty added to the gradient (>= 0).
        nesterov: Nesterov momentum (needs momentum > 0 and dampening == 0).
        fused: run the momentum update as one compiled pass (numba); None: when numba is
            installed and the update is large (``models.fused.FUSED_MIN_SIZE``) or the
            kernels are already loaded. Bit-identical results either way.

    Raises:
        ValueError: a value out of range, naming it.
    """

    def __init__(self, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 fused=None):
        super().__init__(lr)
        self.momentum = real("momentum", momentum, 0.0)
        self.dampening = real("dampening", dampening, 0.0, 1.0)
        self.weight_decay = real("weight_decay", weight_decay, 0.0)
        self.nesterov = flag("nesterov", nesterov)
        self.fused = check_fused(fused)
        if self.nesterov and (self.momentum <= 0.0 or self.dampening != 0.0):
            raise ValueError(f"nesterov=True needs momentum > 0 and dampening == 0, "
                             f"got momentum={self.momentum!r}, dampening={self.dampening!r}")
        if self.momentum != 0.0 and self.fused is not False:
            self._fused_step = fused_sgd_step

    def _buffer_names(self):
        return ("momentum_buffer",) if self.momentum != 0.0 else ()

    def _update(self, param, grad, st):
        lr, mu = self.lr, self.momentum
        tmp = st.scratch[0]
        d = _decayed(param, grad, self.weight_decay, tmp)
        if mu == 0.0:
            param -= np.multiply(d, lr, out=tmp)                    # param -= lr * d
            return
        buf = st.buffers["momentum_buffer"]
        if st.step == 1:
            np.copyto(buf, d)                                       # torch: buf starts as the first gradient
        else:
            buf *= mu                                               # buf = mu * buf + (1 - dampening) * d
            buf += d if self.dampening == 0.0 else np.multiply(d, 1.0 - self.dampening, out=tmp)
        if self.nesterov:                                           # param -= lr * (d + mu * buf)
            param -= np.multiply(d, lr, out=tmp)
            param -= np.multiply(buf, lr * mu, out=tmp)
        else:                                                       # param -= lr * buf
            param -= np.multiply(buf, lr, out=tmp)


class Momentum(SGD):
    """SGD with momentum: torch.optim.SGD with ``momentum=0.9`` by default (same rule, same keywords)."""

    def __init__(self, lr=1e-3, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False, fused=None):
        super().__init__(lr, momentum, dampening, weight_decay, nesterov, fused)


class Nesterov(SGD):
    """Nesterov momentum: torch.optim.SGD with ``momentum=0.9, nesterov=True`` by default."""

    def __init__(self, lr=1e-3, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=True, fused=None):
        super().__init__(lr, momentum, dampening, weight_decay, nesterov, fused)


class Adagrad(Optimizer):
    """torch.optim.Adagrad.

    ``sum += grad**2``; ``param -= clr * grad / (sqrt(sum) + eps)`` with
    ``clr = lr / (1 + (t - 1) * lr_decay)`` at step t; ``sum`` starts at
    ``initial_accumulator_value``.

    Args:
        lr: learning rate (> 0; default 1e-2).
        lr_decay: per-step decay of the learning rate (>= 0).
        weight_decay: L2 penalty added to the gradient (>= 0).
        initial_accumulator_value: starting value of the squared-gradient sum (>= 0).
        eps: added to the denominator (>= 0; default 1e-10).
    """

    _n_scratch = 2

    def __init__(self, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(lr)
        self.lr_decay = real("lr_decay", lr_decay, 0.0)
        self.weight_decay = real("weight_decay", weight_decay, 0.0)
        self.initial_accumulator_value = real("initial_accumulator_value", initial_accumulator_value, 0.0)
        self.eps = real("eps", eps, 0.0)
        self._buffer_fill = self.initial_accumulator_value

    def _buffer_names(self):
        return ("sum",)

    def _update(self, param, grad, st):
        s1, s2 = st.scratch
        d = _decayed(param, grad, self.weight_decay, s1)
        clr = self.lr / (1.0 + (st.step - 1) * self.lr_decay)
        acc = st.buffers["sum"]
        acc += np.multiply(d, d, out=s2)                            # sum += d**2
        np.sqrt(acc, out=s2)                                        # param -= clr * d / (sqrt(sum) + eps)
        s2 += self.eps
        np.divide(d, s2, out=s2)
        s2 *= clr
        param -= s2


class RMSprop(Optimizer):
    """torch.optim.RMSprop (optionally centered, optionally with momentum).

    ``v = alpha * v + (1 - alpha) * grad**2``; centered: ``g_avg = alpha * g_avg + (1 - alpha) * grad``
    and ``v~ = v - g_avg**2``; ``avg = sqrt(v~) + eps``. With momentum:
    ``buf = momentum * buf + grad / avg; param -= lr * buf``, else ``param -= lr * grad / avg``.

    Args:
        lr: learning rate (> 0; default 1e-2).
        alpha: smoothing constant (in [0, 1]; default 0.99).
        eps: added to the denominator (>= 0; default 1e-8).
        weight_decay: L2 penalty added to the gradient (>= 0).
        momentum: momentum factor (>= 0).
        centered: normalise by the estimated variance instead of the raw second moment.
    """

    _n_scratch = 2

    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(lr)
        self.alpha = real("alpha", alpha, 0.0, 1.0)
        self.eps = real("eps", eps, 0.0)
        self.weight_decay = real("weight_decay", weight_decay, 0.0)
        self.momentum = real("momentum", momentum, 0.0)
        self.centered = flag("centered", centered)

    def _buffer_names(self):
        return ("square_avg",) + (("momentum_buffer",) if self.momentum > 0.0 else ()) \
            + (("grad_avg",) if self.centered else ())

    def _update(self, param, grad, st):
        s1, s2 = st.scratch
        a = self.alpha
        d = _decayed(param, grad, self.weight_decay, s1)
        sq = st.buffers["square_avg"]
        _running_average(sq, np.multiply(d, d, out=s2), a, s2)     # v = a * v + (1 - a) * d**2
        if self.centered:                                           # avg = sqrt(v - g_avg**2) + eps
            gavg = st.buffers["grad_avg"]
            _running_average(gavg, d, a, s2)
            np.multiply(gavg, gavg, out=s2)
            np.subtract(sq, s2, out=s2)
            np.sqrt(s2, out=s2)
        else:                                                       # avg = sqrt(v) + eps
            np.sqrt(sq, out=s2)
        s2 += self.eps
        np.divide(d, s2, out=s2)                                    # d / avg
        if self.momentum > 0.0:                                     # buf = mu * buf + d / avg; param -= lr * buf
            buf = st.buffers["momentum_buffer"]
            buf *= self.momentum
            buf += s2
            np.multiply(buf, self.lr, out=s2)
        else:                                                       # param -= lr * d / avg
            s2 *= self.lr
        param -= s2


class Adadelta(Optimizer):
    """torch.optim.Adadelta.

    ``v = rho * v + (1 - rho) * grad**2``; ``delta = sqrt(u + eps) / sqrt(v + eps) * grad``;
    ``u = rho * u + (1 - rho) * delta**2``; ``param -= lr * delta``.

    Args:
        lr: scale of the update (> 0; default 1.0).
        rho: decay of the running averages (in [0, 1]; default 0.9).
        eps: inside the square roots (>= 0; default 1e-6).
        weight_decay: L2 penalty added to the gradient (>= 0).
    """

    _n_scratch = 3

    def __init__(self, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        super().__init__(lr)
        self.rho = real("rho", rho, 0.0, 1.0)
        self.eps = real("eps", eps, 0.0)
        self.weight_decay = real("weight_decay", weight_decay, 0.0)

    def _buffer_names(self):
        return ("square_avg", "acc_delta")

    def _update(self, param, grad, st):
        s1, s2, delta = st.scratch
        rho, eps = self.rho, self.eps
        d = _decayed(param, grad, self.weight_decay, s1)
        v, u = st.buffers["square_avg"], st.buffers["acc_delta"]
        _running_average(v, np.multiply(d, d, out=s2), rho, s2)    # v = rho * v + (1 - rho) * d**2
        np.sqrt(np.add(v, eps, out=s2), out=s2)                     # delta = sqrt(u + eps) / sqrt(v + eps) * d
        np.sqrt(np.add(u, eps, out=delta), out=delta)
        delta /= s2
        delta *= d
        _running_average(u, np.multiply(delta, delta, out=s2), rho, s2)  # u = rho * u + (1 - rho) * delta**2
        delta *= self.lr                                            # param -= lr * delta
        param -= delta


class Adam(Optimizer):
    """torch.optim.Adam (optionally AMSGrad, optionally decoupled weight decay as AdamW).

    ``m = b1 * m + (1 - b1) * grad``, ``v = b2 * v + (1 - b2) * grad**2`` (AMSGrad: the running
    maximum of v is used), ``param -= lr / (1 - b1**t) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)``.

    Args:
        lr: learning rate (> 0; default 1e-3).
        betas: (beta1, beta2), each in [0, 1) (default (0.9, 0.999)).
        eps: added to the denominator (>= 0; default 1e-8).
        weight_decay: L2 penalty (>= 0); added to the gradient, or with
            ``decoupled_weight_decay=True`` applied as ``param *= 1 - lr * weight_decay``.
        amsgrad: use the AMSGrad variant.
        decoupled_weight_decay: AdamW-style weight decay.
        fused: run the whole update as one compiled pass (numba); None: when numba is
            installed and the update is large (``models.fused.FUSED_MIN_SIZE``) or the
            kernels are already loaded. Bit-identical results either way.
    """

    _n_scratch = 2

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 decoupled_weight_decay=False, fused=None):
        super().__init__(lr)
        self.betas = _betas(betas)
        self.eps = real("eps", eps, 0.0)
        self.weight_decay = real("weight_decay", weight_decay, 0.0)
        self.amsgrad = flag("amsgrad", amsgrad)
        self.decoupled_weight_decay = flag("decoupled_weight_decay", decoupled_weight_decay)
        self.fused = check_fused(fused)
        if self.fused is not False:
            self._fused_step = fused_adam_step

    def _buffer_names(self):
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if self.amsgrad else ())

    def _moments(self, param, grad, st):
        """Weight decay and the two moment updates shared with RAdam; returns (m, v, scratch)."""
        s1, s2 = st.scratch
        b1, b2 = self.betas
        if self.decoupled_weight_decay:
            if self.weight_decay != 0.0:
                param *= 1.0 - self.lr * self.weight_decay          # AdamW: param *= 1 - lr * wd
            d = grad
        else:
            d = _decayed(param, grad, self.weight_decay, s1)
        m, v = st.buffers["exp_avg"], st.buffers["exp_avg_sq"]
        _running_average(m, d, b1, s2)                              # m = b1 * m + (1 - b1) * d
        _running_average(v, np.multiply(d, d, out=s2), b2, s2)     # v = b2 * v + (1 - b2) * d**2
        return m, v, s2

    def _update(self, param, grad, st):
        m, v, s2 = self._moments(param, grad, st)
        if self.amsgrad:
            v = np.maximum(st.buffers["max_exp_avg_sq"], v, out=st.buffers["max_exp_avg_sq"])
        # the lecture's step, param -= lr * m_hat / (sqrt(v_hat) + eps), in bias_corrected's form
        step_size, eps_hat = self.bias_corrected(st.step)
        denom = np.sqrt(v, out=s2)
        denom += eps_hat
        np.divide(m, denom, out=s2)                                 # m / (sqrt(v) + eps_hat)
        s2 *= step_size
        param -= s2

    def bias_corrected(self, t):
        """``(step_size, eps_hat)`` of step ``t``: ``param -= step_size * m / (sqrt(v) + eps_hat)``.

        The step is ``lr * m_hat / (sqrt(v_hat) + eps)`` with ``m_hat = m / (1 - b1**t)`` and
        ``v_hat = v / (1 - b2**t)``. Multiplying numerator and denominator by ``sqrt(1 - b2**t)``
        gives the same value (up to rounding) with one pass fewer over the arrays (on a large
        layer every pass costs 0.1-0.5 ms), so ``step_size = lr * sqrt(1 - b2**t) / (1 - b1**t)``
        and ``eps_hat = eps * sqrt(1 - b2**t)``. The fused kernel takes the same two scalars.
        """
        b1, b2 = self.betas
        c2 = math.sqrt(1.0 - b2 ** t)
        return self.lr * c2 / (1.0 - b1 ** t), self.eps * c2


class RAdam(Adam):
    """torch.optim.RAdam: Adam with the variance of the adaptive step rectified.

    With ``rho_inf = 2 / (1 - b2) - 1`` and ``rho_t = rho_inf - 2 t b2**t / (1 - b2**t)``:
    when ``rho_t > 5``, ``param -= lr * m_hat * r_t * sqrt(1 - b2**t) / (sqrt(v) + eps)`` with
    ``r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))``;
    otherwise the un-adapted step ``param -= lr * m_hat`` (``m_hat = m / (1 - b1**t)``).

    Args:
        lr: learning rate (> 0; default 1e-3).
        betas: (beta1, beta2), each in [0, 1) (default (0.9, 0.999)).
        eps: added to the denominator (>= 0; default 1e-8).
        weight_decay: L2 penalty (>= 0), coupled or (``decoupled_weight_decay=True``) decoupled.
        decoupled_weight_decay: AdamW-style weight decay.
    """

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False):
        super().__init__(lr, betas, eps, weight_decay, False, decoupled_weight_decay, fused=False)

    def _update(self, param, grad, st):
        m, v, s2 = self._moments(param, grad, st)
        b1, b2 = self.betas
        t = st.step
        bc1 = 1.0 - b1 ** t
        bc2 = 1.0 - b2 ** t
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        rho_t = rho_inf - 2.0 * t * b2 ** t / bc2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
            np.sqrt(v, out=s2)
            s2 += self.eps
            np.divide(m, s2, out=s2)
            s2 *= self.lr * rect * math.sqrt(bc2) / bc1
        else:
            np.multiply(m, self.lr / bc1, out=s2)
        param -= s2


OPTIMIZERS = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adadelta": Adadelta,
    "adam": Adam,
    "radam": RAdam,
}


def optimizer_keywords(name):
    """The keyword arguments optimizer ``name`` accepts (torch's names), in signature order."""
    cls = _optimizer_class(name)
    return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]


def _optimizer_class(name):
    cls = OPTIMIZERS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}")
    return cls


def make_optimizer(name, **kwargs):
    """Build a registered optimizer by name.

    Args:
        name: one of ``OPTIMIZERS`` (sgd, momentum, nesterov, adagrad, rmsprop, adadelta, adam,
            radam), or an optimizer object (anything with ``step``), returned as is when no
            keywords are given.
        **kwargs: the optimizer's hyperparameters, with torch.optim's names and defaults.

    Returns:
        The optimizer.

    Raises:
        ValueError: unknown name, unknown keyword (listing the valid ones) or invalid value.
    """
    if not isinstance(name, str) and callable(getattr(name, "step", None)):
        if kwargs:
            raise ValueError(f"keywords {sorted(kwargs)} cannot be applied to the optimizer object {name!r}")
        return name
    cls = _optimizer_class(name)
    valid = optimizer_keywords(name)
    unknown = [k for k in kwargs if k not in valid]
    if unknown:
        raise ValueError(f"unknown keyword {unknown[0]!r} for optimizer {name!r}; expected one of {', '.join(valid)}")
    return cls(**kwargs)
