"""Fixtures shared by the tests of models/: numeric gradients and relative errors.

    def test_something(numeric_grad, rel_error):
        x = rng.standard_normal((4, 5))                 # float64!
        num = numeric_grad(lambda: float(f(x)), x)      # perturbs x in place, restores it
        assert rel_error(num, analytic) < 1e-6

Gradient checks only make sense in float64: centred differences with h = 1e-5 have a
truncation error ~h^2 and a rounding error ~eps/h, both ~1e-10 in float64 but ~1e-2 in
float32.
"""
import numpy as np
import pytest


def _numeric_gradient(f, x, h=1e-5):
    """Centred-difference gradient of the scalar function ``f()`` w.r.t. the array ``x``.

    ``f`` takes no arguments and reads ``x`` (or something sharing its memory), which is
    perturbed in place one entry at a time and restored afterwards.

    Returns:
        ndarray of x's shape (float64).
    """
    if x.dtype != np.float64:
        raise TypeError(f"numeric gradients need float64 arrays, got {x.dtype}")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = f()
        x[i] = old - h
        minus = f()
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
        it.iternext()
    return grad


def _rel_error(a, b, floor=1e-8):
    """Relative error max|a - b| / max(max|a|, max|b|, floor) of two same-shape arrays.

    Scaled by the arrays' largest entry rather than elementwise, so entries that are
    zero up to rounding (e.g. a dead unit's gradient) do not dominate.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shapes differ: {a.shape} vs {b.shape}"
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0), floor)
    return float(np.max(np.abs(a - b), initial=0.0) / scale)


@pytest.fixture
def numeric_grad():
    """``numeric_grad(f, x, h=1e-5)``: centred-difference gradient of scalar ``f()`` w.r.t. ``x``."""
    return _numeric_gradient


@pytest.fixture
def single_blas_thread():
    """Limit BLAS to one thread for the test (threadpoolctl).

    The test machines are shared: with more busy threads than cores, a multi-threaded
    OpenBLAS GEMM of a few hundred rows can be ~40x slower than a single-threaded one.
    Use with ``pytestmark = pytest.mark.usefixtures("single_blas_thread")``.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture
def rel_error():
    """``rel_error(a, b, floor=1e-8)``: max|a - b| relative to the arrays' largest entry."""
    return _rel_error
