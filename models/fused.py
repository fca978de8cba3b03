"""numba's fused update kernels: SGD with momentum and Adam as one compiled pass.

With numba installed, SGD with momentum and Adam run their update as one compiled pass over the
arrays (``models._kernels``): 3x faster steps on the digits MLP, 4x on 1.5M weights. The kernels
repeat the NumPy path's operations exactly (every scalar rounded to the arrays' dtype as NumPy
rounds a Python float), so the parameters are bit-identical either way. Compiled code is cached
on disk (numba's ``cache=True``): a new process loads it instead of compiling, but still pays
numba's own start on its first fused step (``import numba`` ~0.3 s, its CPU target's first use
~0.45 s, a third of it importing scipy.linalg). A step of a small network gains a few
microseconds from the kernel (Adam on 40,000 values: 0.06 ms), so a search's fresh worker would
spend seconds of trials' worth of time to save milliseconds: by default (``fused=None``) the
kernels run only for updates of at least :data:`FUSED_MIN_SIZE` values (where they repay that
start within ~1,300 steps), or once they are loaded anyway.
"""
import numpy as np

from models.flat_params import FLOAT_DTYPES

__all__ = ["FUSED_MIN_SIZE", "fused_kernels", "check_fused", "fused_sgd_step", "fused_adam_step"]

_KERNELS = None            # models._kernels once loaded; False when it cannot be
_KERNELS_MISSING = ""      # why not, for fused=True's error

#: fused=None runs the kernels for updates of at least this many values (or once loaded).
FUSED_MIN_SIZE = 500_000


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
        ok = dtype in FLOAT_DTYPES and param.flags.writeable \
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
    lr, wd = opt.lr, opt.weight_decay
    step_size, eps_hat = opt.bias_corrected(st.step)
    kernels.adam_step(*views, f(b1), f(1.0 - b1), f(b2), f(1.0 - b2), f(eps_hat),
                      f(step_size), f(wd), f(1.0 - lr * wd),
                      wd != 0.0 and not opt.decoupled_weight_decay, opt.amsgrad)
    return True
