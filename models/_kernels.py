"""Fused optimizer steps compiled with numba: one pass over the arrays instead of ~12.

Imported only through ``models.fused.fused_kernels()``, and only when numba is installed
(``pip install numba``, or the ``fast`` extra). Each kernel performs exactly the floating-point
operations of its optimizer's NumPy path, in the same order and precision (scalars arrive in
the arrays' dtype, no fast-math, so no FMA contraction), so both paths give bit-identical
parameters: a study's results do not depend on whether numba is installed.

All arrays are 1-D, C-contiguous and of one dtype (float32 or float64); numba compiles one
version per dtype on first use and caches it on disk (``cache=True``) for later processes.
``nogil=True`` lets the threading backend run two trials' steps at once, as NumPy's ufuncs do.
``error_model="numpy"``: a zero denominator gives inf/nan, as in NumPy, instead of raising.
"""
import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)


@_jit
def adam_step(param, grad, m, v, vmax, b1, c1, b2, c2, eps, step_size, weight_decay, decay,
              coupled, amsgrad):
    """Adam / AdamW / AMSGrad in place, as ``Adam._update``'s NumPy path.

    ``c1 = 1 - b1``, ``c2 = 1 - b2``; ``eps`` and ``step_size`` already carry the bias
    corrections; ``coupled``: add ``weight_decay * param`` to the gradient; else, if
    ``decay != 1``, ``param *= decay`` first (decoupled). ``vmax`` is used when ``amsgrad``.
    """
    for i in range(param.shape[0]):
        p = param[i]
        if coupled:
            d = p * weight_decay + grad[i]
        else:
            p = p * decay
            d = grad[i]
        mi = m[i] * b1 + d * c1
        vi = v[i] * b2 + (d * d) * c2
        m[i] = mi
        v[i] = vi
        if amsgrad:
            a = vmax[i]
            if a != a or a > vi:  # np.maximum: NaN if either is NaN, else the larger
                vi = a
            vmax[i] = vi
        param[i] = p - (mi / (np.sqrt(vi) + eps)) * step_size


@_jit
def sgd_step(param, grad, buf, lr, lr_momentum, momentum, dampening_factor, weight_decay, coupled, first,
             nesterov):
    """SGD with momentum (optionally Nesterov, dampening, weight decay) in place, as
    ``SGD._update``'s NumPy path (which needs momentum > 0); ``lr_momentum = lr * momentum``
    rounded once, as NumPy does; ``dampening_factor = 1 - dampening`` (1 means none);
    ``first``: the buffer starts as a copy of the gradient."""
    for i in range(param.shape[0]):
        p = param[i]
        d = p * weight_decay + grad[i] if coupled else grad[i]
        if first:
            b = d
        elif dampening_factor == 1.0:
            b = buf[i] * momentum + d
        else:
            b = buf[i] * momentum + d * dampening_factor
        buf[i] = b
        if nesterov:
            p = p - d * lr
            p = p - b * lr_momentum
        else:
            p = p - b * lr
        param[i] = p
