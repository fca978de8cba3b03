"""The optimizers' fast paths: parameters in one flat buffer, and numba's fused update kernels.

Neither changes a bit of the results; both only change how many passes a step makes.

**Flat buffers.** Every update rule is elementwise, with the same hyperparameters for every
parameter, so one update of a flat array that holds all the parameters equals the updates of
each one, with one run of ufunc calls instead of one run per parameter (on small networks that
overhead is most of a step). A model that keeps its parameters so owns a :class:`FlatParams`
and hands it over explicitly: ``optimizer.step_flat(model.flat)`` (``Trainer`` does this for
``models.MLP``). The optimizer then keeps one flat state (a :class:`FlatBinding`) whose buffers
the per-parameter states view, so ``optimizer.state[name]`` stays valid and the per-parameter
path (``optimizer.step(params, grads)``) can run at any time.

**Fused kernels.** With numba installed, SGD with momentum and Adam run their update as one
compiled pass over the arrays (``models._kernels``): 3x faster steps on the digits MLP, 4x on
1.5M weights. The kernels repeat the NumPy path's operations exactly (every scalar rounded to
the arrays' dtype as NumPy rounds a Python float), so the parameters are bit-identical either
way. Compiled code is cached on disk (numba's ``cache=True``): a new process loads it instead
of compiling, but still pays numba's own start on its first fused step (``import numba``
~0.3 s, its CPU target's first use ~0.45 s, a third of it importing scipy.linalg). A step of
a small network gains a few microseconds from the kernel (Adam on 40,000 values: 0.06 ms), so
a search's fresh worker would spend seconds of trials' worth of time to save milliseconds: by
default (``fused=None``) the kernels run only for updates of at least :data:`FUSED_MIN_SIZE`
values (where they repay that start within ~1,300 steps), or once they are loaded anyway.
"""
import math

import numpy as np

__all__ = ["FlatParams", "FlatBinding", "ParamState", "FUSED_MIN_SIZE", "fused_kernels", "check_fused",
           "fused_sgd_step", "fused_adam_step"]

_KERNELS = None            # models._kernels once loaded; False when it cannot be
_KERNELS_MISSING = ""      # why not, for fused=True's error
_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

#: fused=None runs the kernels for updates of at least this many values (or once loaded).
FUSED_MIN_SIZE = 500_000


class FlatParams:
    """A model's parameters and gradients as views into two flat 1-D arrays of one dtype.

    ``FlatParams(params)`` packs the dict's arrays into one new flat array *in place* (same
    values, same dict, same order: ``params[name]`` becomes a view) and lays out a zeroed
    gradient array the same way.

    Attributes:
        params: the dict given; its values are views into ``param``.
        grads: dict name -> view into ``grad`` with the parameter's shape (the model writes
            its gradients there).
        param, grad: the flat (P,) arrays.
        spans: dict name -> (lo, hi), each parameter's slice of the flat arrays.

    Raises:
        ValueError: parameters of different dtypes, or not float32 / float64 arrays.
    """

    __slots__ = ("params", "grads", "param", "grad", "spans", "_views")

    def __init__(self, params):
        dtypes = {np.asarray(p).dtype for p in params.values()}
        if len(dtypes) != 1 or dtypes.pop() not in _KERNEL_DTYPES:
            raise ValueError(f"FlatParams needs parameters of one dtype, float32 or float64; got "
                             f"{sorted({np.asarray(p).dtype.name for p in params.values()})}")
        dtype = np.asarray(next(iter(params.values()))).dtype
        size = sum(np.size(p) for p in params.values())
        self.param = np.empty(size, dtype=dtype)
        # zero, so a gradient that is never written (none today) cannot inject garbage
        self.grad = np.zeros(size, dtype=dtype)
        self.params, self.grads, self.spans = params, {}, {}
        lo = 0
        for name, p in params.items():
            hi = lo + np.size(p)
            view = self.param[lo:hi].reshape(np.shape(p))
            view[...] = p
            params[name] = view
            self.grads[name] = self.grad[lo:hi].reshape(np.shape(p))
            self.spans[name] = (lo, hi)
            lo = hi
        self._views = dict(params)

    def intact(self):
        """True while ``params`` still holds exactly the views made here (nobody rebound a key)."""
        views, params = self._views, self.params
        return len(params) == len(views) and all(params.get(k) is v for k, v in views.items())


class ParamState:
    """One parameter's optimizer state: the step count, named buffers and scratch arrays.

    Buffers and scratch arrays have the parameter's shape and dtype; they are allocated once, on
    the parameter's first step. ``kernel_views`` caches the 1-D views a fused kernel takes.
    """

    __slots__ = ("step", "buffers", "scratch", "kernel_views")

    def __init__(self, param, buffers, n_scratch, fill=0.0):
        self.step = 0
        self.kernel_views = None
        self.buffers = {name: np.full_like(param, fill) for name in buffers}
        self.scratch = [np.empty_like(param) for _ in range(n_scratch)]

    def view(self, lo, hi, shape):
        """A state over the slice [lo, hi) of this (flat) state's arrays, reshaped to ``shape``."""
        st = ParamState.__new__(ParamState)
        st.step, st.kernel_views = self.step, None
        st.buffers = {k: b[lo:hi].reshape(shape) for k, b in self.buffers.items()}
        st.scratch = [b[lo:hi].reshape(shape) for b in self.scratch]
        return st


class FlatBinding:
    """An optimizer's state for one :class:`FlatParams`: one flat state and its per-parameter views."""

    __slots__ = ("flat", "state", "substates")

    def __init__(self, flat, state, substates):
        self.flat, self.state, self.substates = flat, state, substates

    @classmethod
    def bind(cls, flat, states, new_state):
        """Bind ``flat``, carrying the per-parameter states built so far into the flat buffers.

        Args:
            flat: the FlatParams.
            states: the optimizer's dict name -> ParamState, updated to hold the views.
            new_state: ``new_state(name, array)`` -> a fresh ParamState for ``array``.

        Returns:
            The binding, or None when the parameters are at different steps (then they must
            be updated one by one).
        """
        olds = [states.get(name) for name in flat.params]
        steps = {st.step for st in olds if st is not None}
        if len(steps) > 1 or (steps and None in olds):
            return None
        state = new_state(None, flat.param)
        state.step = steps.pop() if steps else 0
        substates = []
        for (name, param), old in zip(flat.params.items(), olds):
            st = state.view(*flat.spans[name], param.shape)
            if old is not None:
                for k, buf in old.buffers.items():
                    st.buffers[k][...] = buf
            states[name] = st
            substates.append(st)
        return cls(flat, state, substates)

    def advance(self):
        """Count one step on the flat state and on every per-parameter view of it."""
        for st in self.substates:
            st.step += 1
        self.state.step += 1


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


def check_fused(value):
    """The ``fused`` keyword: None, True (numba must be usable) or False; else ValueError."""
    if value is not None and not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"fused must be None, True or False, got {value!r}")
    if value is None:
        return None
    if value and fused_kernels() is None:
        raise ValueError(f"fused=True needs numba's compiled kernels, which are unavailable here "
                         f"({_KERNELS_MISSING}); use fused=None or False")
    return bool(value)


def _kernel_arrays(fused, st, param, grad, *buffers):
    """(kernels, 1-D views of param, grad and ``buffers``) when this step runs fused (``fused``
    True, or None with a large update or the kernels loaded) and a kernel can take the arrays
    (one float32/float64 dtype, all C-contiguous, param writeable), else (None, None). The views
    are cached on the state while param and grad stay the same arrays (a model's do)."""
    if not (fused or _KERNELS or param.size >= FUSED_MIN_SIZE):
        return None, None
    kernels = fused_kernels()
    if kernels is None:
        return None, None
    cached = st.kernel_views
    if cached is None or cached[0] is not param or cached[1] is not grad:
        arrays = (param, grad) + buffers
        dtype = param.dtype
        ok = dtype in _KERNEL_DTYPES and param.flags.writeable \
            and all(a.dtype == dtype and a.flags.c_contiguous for a in arrays)
        views = [a.reshape(-1) for a in arrays] if ok else None
        cached = st.kernel_views = (param, grad, views)
    views = cached[2]
    return (kernels, views) if views is not None else (None, None)


def fused_sgd_step(opt, param, grad, st):
    """``SGD._update`` (with momentum) as one kernel pass; False when it cannot run fused."""
    kernels, views = _kernel_arrays(opt.fused, st, param, grad, st.buffers["momentum_buffer"])
    if kernels is None:
        return False
    f = views[0].dtype.type
    lr, mu, wd = opt.lr, opt.momentum, opt.weight_decay
    kernels.sgd_step(*views, f(lr), f(lr * mu), f(mu), f(1.0 - opt.dampening), f(wd),
                     wd != 0.0, st.step == 1, opt.nesterov)
    return True


def fused_adam_step(opt, param, grad, st):
    """``Adam._update`` as one kernel pass; False when it cannot run fused."""
    buffers = st.buffers
    m, v = buffers["exp_avg"], buffers["exp_avg_sq"]
    kernels, views = _kernel_arrays(opt.fused, st, param, grad, m, v, buffers.get("max_exp_avg_sq", v))
    if kernels is None:
        return False
    f = views[0].dtype.type
    b1, b2 = opt.betas
    t, lr, wd = st.step, opt.lr, opt.weight_decay
    c2 = math.sqrt(1.0 - b2 ** t)
    kernels.adam_step(*views, f(b1), f(1.0 - b1), f(b2), f(1.0 - b2), f(opt.eps * c2),
                      f(lr * c2 / (1.0 - b1 ** t)), f(wd), f(1.0 - lr * wd),
                      wd != 0.0 and not opt.decoupled_weight_decay, opt.amsgrad)
    return True
