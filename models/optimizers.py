"""The SGD family of optimizers, following torch.optim's update rules exactly.

Every optimizer is a class whose hyperparameters are fixed and validated in the
constructor (torch's keyword names and default values), whose per-parameter
state lives inside it keyed by parameter name, and whose one method
``step(params, grads)`` updates the parameter arrays **in place**::

    opt = make_optimizer("adam", lr=1e-3)
    loss, grads = model.loss(X, y)
    opt.step(model.params, grads)

``lr`` is a plain mutable attribute so a schedule (the trainer's per-epoch
decay) can change it between steps.

Speed: the state buffers and scratch arrays are allocated once, on a
parameter's first step, in the parameter's dtype; every update is a short
sequence of NumPy ufuncs writing into them (``out=``), so a step allocates no
full-size arrays and float32 stays float32 (hyperparameters are plain Python
floats, which NumPy treats as "weak" scalars). Gradients are never modified.

Fused steps: with numba installed, SGD with momentum and Adam run their update as one
compiled pass over the arrays (``models._kernels``) instead of one NumPy pass per operation:
3x faster on the digits MLP (7,510 weights), 4x on 1.5M weights. The kernels repeat the
NumPy path's operations exactly, so the parameters are bit-identical either way.
``fused=None`` (the default) uses them when numba is importable; ``fused=False`` never;
``fused=True`` raises if numba is missing.
"""
import inspect
import math

import numpy as np

__all__ = [
    "Optimizer", "SGD", "Momentum", "Nesterov", "Adagrad", "RMSprop", "Adadelta", "Adam", "RAdam",
    "OPTIMIZERS", "make_optimizer", "fused_kernels",
]


def _real(name, value, low=None, high=None, low_open=False, high_open=False):
    """``value`` as a finite Python float inside the given bounds, else ValueError naming it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    ok = math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "-inf" if low is None else repr(low)
        hi = "inf" if high is None else repr(high)
        interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")
    return value


def _flag(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _fused(value):
    if value is not None and not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"fused must be None, True or False, got {value!r}")
    if value is None:
        return None
    value = bool(value)
    if value and fused_kernels() is None:
        raise ValueError(f"fused=True needs numba's compiled kernels, which are unavailable here "
                         f"({_KERNELS_MISSING}); use fused=None or False")
    return value


_KERNELS = None            # models._kernels once loaded; False when it cannot be
_KERNELS_MISSING = ""      # why not, for fused=True's error
_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def fused_kernels():
    """The compiled update kernels (``models._kernels``), or None when numba is not installed
    or its JIT is disabled (``NUMBA_DISABLE_JIT=1``: the kernels would run as slow Python)."""
    global _KERNELS, _KERNELS_MISSING
    if _KERNELS is None:
        try:
            import numba
        except ImportError as exc:  # not installed, or a version that rejects this NumPy
            _KERNELS, _KERNELS_MISSING = False, f"numba cannot be imported: {exc}"
        else:
            if numba.config.DISABLE_JIT:
                _KERNELS, _KERNELS_MISSING = False, "NUMBA_DISABLE_JIT is set"
            else:
                from models import _kernels

                _KERNELS = _kernels
    return _KERNELS or None


def _flat_views(arrays):
    """The arrays as 1-D views if a kernel can take them (one float32/float64 dtype, all
    C-contiguous, the first writeable), else None."""
    dtype = arrays[0].dtype
    if dtype not in _KERNEL_DTYPES or not arrays[0].flags.writeable:
        return None
    for a in arrays:
        if a.dtype != dtype or not a.flags.c_contiguous:
            return None
    return [a if a.ndim == 1 else a.reshape(-1) for a in arrays]


def _betas(betas):
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}") from None
    return (_real("betas[0]", b1, 0.0, 1.0, high_open=True), _real("betas[1]", b2, 0.0, 1.0, high_open=True))


class _State:
    """Per-parameter state: the step count, named buffers and scratch arrays."""

    __slots__ = ("step", "buffers", "scratch", "kernel_views")

    def __init__(self, param, buffers, n_scratch, fill=0.0):
        self.step = 0
        self.kernel_views = None
        self.buffers = {name: np.full_like(param, fill) for name in buffers}
        self.scratch = [np.empty_like(param) for _ in range(n_scratch)]


def _offset(view, base):
    """Element offset of ``view``'s first element inside ``base``."""
    return (view.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // base.itemsize


def _flat_layout(params, grads):
    """(flat params, flat grads, [(lo, hi)] per parameter) when the parameters are
    C-contiguous views that tile one 1-D array exactly and the gradients tile another one
    at the same offsets; otherwise None."""
    pbase = gbase = None
    spans = []
    for name, p in params.items():
        g = grads.get(name)
        if not isinstance(p, np.ndarray) or not isinstance(g, np.ndarray) or p.shape != g.shape:
            return None
        if pbase is None:
            pbase, gbase = p.base, g.base
            if not (isinstance(pbase, np.ndarray) and isinstance(gbase, np.ndarray)) or pbase is gbase \
                    or pbase.ndim != 1 or gbase.shape != pbase.shape or gbase.dtype != pbase.dtype \
                    or not (pbase.flags.c_contiguous and gbase.flags.c_contiguous and pbase.flags.writeable):
                return None
        if p.base is not pbase or g.base is not gbase or p.dtype != pbase.dtype \
                or not (p.flags.c_contiguous and g.flags.c_contiguous):
            return None
        lo = _offset(p, pbase)
        if _offset(g, gbase) != lo:
            return None
        spans.append((lo, lo + p.size))
    if pbase is None:
        return None
    covered = 0
    for lo, hi in sorted(spans):
        if lo != covered:
            return None  # a gap or an overlap
        covered = hi
    if covered != pbase.size:
        return None
    return pbase, gbase, spans


class _Flat:
    """The flat arrays behind a set of parameters and gradients, and their shared state."""

    __slots__ = ("names", "views", "params", "grads", "state", "substates")

    def __init__(self, params, grads, pbase, gbase, state, substates):
        self.names = tuple(params)
        self.views = [(params[n], grads[n]) for n in self.names]
        self.params, self.grads, self.state, self.substates = pbase, gbase, state, substates

    def matches(self, params, grads, states):
        """True when ``params`` and ``grads`` are still the views this was built from and the
        per-parameter states are still its own, at its step (no per-parameter step since)."""
        if len(params) != len(self.names):
            return False
        step = self.state.step
        for name, (p, g), st in zip(self.names, self.views, self.substates):
            if params.get(name) is not p or grads.get(name) is not g or states.get(name) is not st \
                    or st.step != step:
                return False
        return True


class Optimizer:
    """Base class: validates ``lr``, keeps state by parameter name, loops over parameters.

    Subclasses declare the state buffers they need (``_buffers``), how many
    scratch arrays (``_n_scratch``) and implement ``_update(param, grad, state)``.
    """

    _buffers = ()
    _n_scratch = 1

    def __init__(self, lr):
        self.lr = _real("lr", lr, 0.0, low_open=True)
        self.state = {}

    def _hyperparameters(self):
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._hyperparameters().items())
        return f"{type(self).__name__}({args})"

    def _new_state(self, param):
        return _State(param, self._buffers, self._n_scratch)

    def step(self, params, grads):
        """Update every array of ``params`` in place from ``grads``.

        Args:
            params: dict name -> float ndarray (updated in place).
            grads: dict with (at least) the keys of ``params``, arrays of the same shapes.

        Raises:
            KeyError: a parameter has no gradient.
            ValueError: a gradient's shape differs from its parameter's.
        """
        if self._flat_step(params, grads):
            return
        state = self.state
        for name, param in params.items():
            grad = grads.get(name)
            if grad is None:
                raise KeyError(f"no gradient for parameter {name!r}; grads has {sorted(grads)}")
            st = state.get(name)
            if st is None:
                if grad.shape != param.shape:
                    raise ValueError(f"gradient of {name!r} has shape {grad.shape}, parameter has {param.shape}")
                st = state[name] = self._new_state(param)
            st.step += 1
            self._update(param, grad, st)

    # ------------------------------------------------------------------ flat fast path
    # Every update rule is elementwise with the same hyperparameters for all parameters.
    # So when the parameters are views tiling one flat array and the gradients tile another
    # flat array the same way (models.MLP lays them out so), one update of the two flat
    # arrays equals the per-parameter updates, with one run of ufunc calls instead of one
    # run per parameter: on small networks that overhead is most of a step. The
    # per-parameter states then hold views of the flat state, so ``state[name]`` stays
    # valid and either path can run at any time.

    def _flat_step(self, params, grads):
        """Update through the flat arrays if ``params`` / ``grads`` tile them; True if done."""
        flat = getattr(self, "_flat", None)
        if flat is None or not flat.matches(params, grads, self.state):
            flat = self._flat = self._make_flat(params, grads)
            if flat is None:
                return False
        for st in flat.substates:
            st.step += 1
        flat.state.step += 1
        self._update(flat.params, flat.grads, flat.state)
        return True

    def _make_flat(self, params, grads):
        layout = _flat_layout(params, grads)
        if layout is None:
            return None
        pbase, gbase, spans = layout
        olds = [self.state.get(name) for name in params]
        steps = {st.step for st in olds if st is not None}
        if len(steps) > 1 or (steps and None in olds):
            return None  # parameters at different steps: update them one by one
        flat_state = self._new_state(pbase)
        flat_state.step = steps.pop() if steps else 0
        substates = []
        for (name, param), old, (lo, hi) in zip(params.items(), olds, spans):
            st = _State.__new__(_State)
            st.step = flat_state.step
            st.kernel_views = None
            st.buffers = {k: b[lo:hi].reshape(param.shape) for k, b in flat_state.buffers.items()}
            st.scratch = [b[lo:hi].reshape(param.shape) for b in flat_state.scratch]
            if old is not None:  # carry the state built so far over into the flat buffers
                for k, buf in old.buffers.items():
                    st.buffers[k][...] = buf
            self.state[name] = st
            substates.append(st)
        return _Flat(params, grads, pbase, gbase, flat_state, substates)

    def _kernel_arrays(self, st, param, grad, *buffers):
        """(kernels, 1-D views of param, grad and ``buffers``) when this step can run fused,
        else (None, None). The views are kept on the state while param and grad stay the same
        arrays (a model's do), so a step does not re-check them."""
        if self.fused is False:
            return None, None
        kernels = fused_kernels()
        if kernels is None:
            return None, None
        cached = st.kernel_views
        if cached is None or cached[0] is not param or cached[1] is not grad:
            cached = st.kernel_views = (param, grad, _flat_views((param, grad) + buffers))
        views = cached[2]
        return (kernels, views) if views is not None else (None, None)

    def _decayed(self, param, grad, weight_decay, out):
        """torch's coupled L2 weight decay: ``grad + weight_decay * param`` (grad itself untouched)."""
        if weight_decay == 0.0:
            return grad
        np.multiply(param, weight_decay, out=out)
        out += grad
        return out

    def _update(self, param, grad, st):  # pragma: no cover - abstract
        raise NotImplementedError


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
            installed. Bit-identical results either way.

    Raises:
        ValueError: a value out of range, naming it.
    """

    _buffers = ("momentum_buffer",)

    def __init__(self, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 fused=None):
        super().__init__(lr)
        self.momentum = _real("momentum", momentum, 0.0)
        self.dampening = _real("dampening", dampening, 0.0, 1.0)
        self.weight_decay = _real("weight_decay", weight_decay, 0.0)
        self.nesterov = _flag("nesterov", nesterov)
        self.fused = _fused(fused)
        if self.nesterov and (self.momentum <= 0.0 or self.dampening != 0.0):
            raise ValueError(f"nesterov=True needs momentum > 0 and dampening == 0, "
                             f"got momentum={self.momentum!r}, dampening={self.dampening!r}")

    def _new_state(self, param):
        buffers = self._buffers if self.momentum != 0.0 else ()
        return _State(param, buffers, 1)

    def _update(self, param, grad, st):
        lr, mu = self.lr, self.momentum
        if mu != 0.0:
            kernels, views = self._kernel_arrays(st, param, grad, st.buffers["momentum_buffer"])
            if kernels is not None:
                # every scalar rounded to the arrays' dtype as NumPy rounds a Python float
                f = views[0].dtype.type
                wd = self.weight_decay
                kernels.sgd_step(*views, f(lr), f(lr * mu), f(mu), f(1.0 - self.dampening), f(wd),
                                 wd != 0.0, st.step == 1, self.nesterov)
                return
        tmp = st.scratch[0]
        d = self._decayed(param, grad, self.weight_decay, tmp)
        if mu == 0.0:
            np.multiply(d, lr, out=tmp)
            param -= tmp
            return
        buf = st.buffers["momentum_buffer"]
        if st.step == 1:
            np.copyto(buf, d)  # torch: the buffer starts as a copy of the first gradient
        else:
            buf *= mu
            if self.dampening == 0.0:
                buf += d
            else:
                np.multiply(d, 1.0 - self.dampening, out=tmp)  # d is not needed afterwards (no nesterov)
                buf += tmp
        if self.nesterov:
            # param -= lr * (d + mu * buf), as two in-place subtractions
            np.multiply(d, lr, out=tmp)
            param -= tmp
            np.multiply(buf, lr * mu, out=tmp)
        else:
            np.multiply(buf, lr, out=tmp)
        param -= tmp


class Momentum(SGD):
    """SGD with momentum: torch.optim.SGD with ``momentum=0.9`` by default."""

    def __init__(self, lr=1e-3, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False,
                 fused=None):
        super().__init__(lr, momentum, dampening, weight_decay, nesterov, fused)


class Nesterov(SGD):
    """Nesterov momentum: torch.optim.SGD with ``momentum=0.9, nesterov=True`` by default."""

    def __init__(self, lr=1e-3, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=True,
                 fused=None):
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

    _buffers = ("sum",)
    _n_scratch = 2

    def __init__(self, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(lr)
        self.lr_decay = _real("lr_decay", lr_decay, 0.0)
        self.weight_decay = _real("weight_decay", weight_decay, 0.0)
        self.initial_accumulator_value = _real("initial_accumulator_value", initial_accumulator_value, 0.0)
        self.eps = _real("eps", eps, 0.0)

    def _new_state(self, param):
        return _State(param, self._buffers, self._n_scratch, fill=self.initial_accumulator_value)

    def _update(self, param, grad, st):
        s1, s2 = st.scratch
        d = self._decayed(param, grad, self.weight_decay, s1)
        clr = self.lr / (1.0 + (st.step - 1) * self.lr_decay)
        acc = st.buffers["sum"]
        np.multiply(d, d, out=s2)
        acc += s2
        np.sqrt(acc, out=s2)
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
        self.alpha = _real("alpha", alpha, 0.0, 1.0)
        self.eps = _real("eps", eps, 0.0)
        self.weight_decay = _real("weight_decay", weight_decay, 0.0)
        self.momentum = _real("momentum", momentum, 0.0)
        self.centered = _flag("centered", centered)

    def _new_state(self, param):
        buffers = ["square_avg"]
        if self.momentum > 0.0:
            buffers.append("momentum_buffer")
        if self.centered:
            buffers.append("grad_avg")
        return _State(param, buffers, self._n_scratch)

    def _update(self, param, grad, st):
        s1, s2 = st.scratch
        a = self.alpha
        d = self._decayed(param, grad, self.weight_decay, s1)
        sq = st.buffers["square_avg"]
        sq *= a
        np.multiply(d, d, out=s2)
        s2 *= 1.0 - a
        sq += s2
        if self.centered:
            gavg = st.buffers["grad_avg"]
            gavg *= a
            np.multiply(d, 1.0 - a, out=s2)
            gavg += s2
            np.multiply(gavg, gavg, out=s2)
            np.subtract(sq, s2, out=s2)
            np.sqrt(s2, out=s2)
        else:
            np.sqrt(sq, out=s2)
        s2 += self.eps
        np.divide(d, s2, out=s2)
        if self.momentum > 0.0:
            buf = st.buffers["momentum_buffer"]
            buf *= self.momentum
            buf += s2
            np.multiply(buf, self.lr, out=s2)
        else:
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

    _buffers = ("square_avg", "acc_delta")
    _n_scratch = 3

    def __init__(self, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        super().__init__(lr)
        self.rho = _real("rho", rho, 0.0, 1.0)
        self.eps = _real("eps", eps, 0.0)
        self.weight_decay = _real("weight_decay", weight_decay, 0.0)

    def _update(self, param, grad, st):
        s1, s2, s3 = st.scratch
        rho, eps = self.rho, self.eps
        d = self._decayed(param, grad, self.weight_decay, s1)
        sq, acc = st.buffers["square_avg"], st.buffers["acc_delta"]
        sq *= rho
        np.multiply(d, d, out=s2)
        s2 *= 1.0 - rho
        sq += s2
        np.add(sq, eps, out=s2)
        np.sqrt(s2, out=s2)              # std
        np.add(acc, eps, out=s3)
        np.sqrt(s3, out=s3)
        s3 /= s2
        s3 *= d                          # delta
        acc *= rho
        np.multiply(s3, s3, out=s2)
        s2 *= 1.0 - rho
        acc += s2
        s3 *= self.lr
        param -= s3


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
            installed. Bit-identical results either way.
    """

    _buffers = ("exp_avg", "exp_avg_sq")
    _n_scratch = 2

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 decoupled_weight_decay=False, fused=None):
        super().__init__(lr)
        self.betas = _betas(betas)
        self.eps = _real("eps", eps, 0.0)
        self.weight_decay = _real("weight_decay", weight_decay, 0.0)
        self.amsgrad = _flag("amsgrad", amsgrad)
        self.decoupled_weight_decay = _flag("decoupled_weight_decay", decoupled_weight_decay)
        self.fused = _fused(fused)

    def _new_state(self, param):
        buffers = self._buffers + (("max_exp_avg_sq",) if self.amsgrad else ())
        return _State(param, buffers, self._n_scratch)

    def _moments(self, param, grad, st):
        """Weight decay and the two moment updates shared with RAdam; returns (m, v, scratch)."""
        s1, s2 = st.scratch
        b1, b2 = self.betas
        if self.decoupled_weight_decay:
            if self.weight_decay != 0.0:
                param *= 1.0 - self.lr * self.weight_decay
            d = grad
        else:
            d = self._decayed(param, grad, self.weight_decay, s1)
        m, v = st.buffers["exp_avg"], st.buffers["exp_avg_sq"]
        m *= b1
        np.multiply(d, 1.0 - b1, out=s2)
        m += s2
        v *= b2
        np.multiply(d, d, out=s2)
        s2 *= 1.0 - b2
        v += s2
        return m, v, s2

    def _update(self, param, grad, st):
        b1, b2 = self.betas
        t = st.step
        c2 = math.sqrt(1.0 - b2 ** t)
        buffers = st.buffers
        m, v = buffers["exp_avg"], buffers["exp_avg_sq"]
        kernels, views = self._kernel_arrays(st, param, grad, m, v, buffers.get("max_exp_avg_sq", v))
        if kernels is not None:
            # every scalar rounded to the arrays' dtype as NumPy rounds a Python float
            f = views[0].dtype.type
            lr, wd, decoupled = self.lr, self.weight_decay, self.decoupled_weight_decay
            kernels.adam_step(*views, f(b1), f(1.0 - b1), f(b2), f(1.0 - b2), f(self.eps * c2),
                              f(lr * c2 / (1.0 - b1 ** t)), f(wd), f(1.0 - lr * wd),
                              wd != 0.0 and not decoupled, self.amsgrad)
            return
        m, v, s2 = self._moments(param, grad, st)
        if self.amsgrad:
            vmax = st.buffers["max_exp_avg_sq"]
            np.maximum(vmax, v, out=vmax)
            v = vmax
        # lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps) computed as
        # (lr * sqrt(bc2) / bc1) * m / (sqrt(v) + eps * sqrt(bc2)): the same value (up to
        # rounding) with one pass fewer over the arrays; on a large layer every pass costs
        # ~0.1-0.5 ms, and the step's time is the sum of its passes
        np.sqrt(v, out=s2)
        s2 += self.eps * c2
        np.divide(m, s2, out=s2)
        s2 *= self.lr * c2 / (1.0 - b1 ** t)
        param -= s2


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
