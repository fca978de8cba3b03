"""Weight initialisers by name (cs231n lecture 6, "Weight initialization").

Every initialiser has the signature ``init(fan_in, fan_out, rng, dtype) -> W`` and
returns a fresh ``(fan_in, fan_out)`` array of ``dtype`` drawn from the
``numpy.random.Generator`` ``rng``. Draws are made in float64 and then cast, so a
float32 and a float64 model built from the same seed start from the same weights
(up to rounding).

Registry ``INITIALIZERS`` (name -> function):

==================  =====================================  ==========================
name                distribution                           torch.nn.init equivalent
==================  =====================================  ==========================
``small``           0.01 * N(0, 1)  (the lecture's first try)  --
``xavier``          N(0, 2 / (fan_in + fan_out))            xavier_normal_
``xavier_uniform``  U(-b, b), b = sqrt(6 / (fan_in+fan_out)) xavier_uniform_
``he``              N(0, 2 / fan_in)                        kaiming_normal_ (fan_in, relu)
``he_uniform``      U(-b, b), b = sqrt(6 / fan_in)          kaiming_uniform_ (a=0, relu)
``lecun``           N(0, 1 / fan_in)                        (SELU's init)
``lecun_uniform``   U(-b, b), b = sqrt(3 / fan_in)          --
==================  =====================================  ==========================
"""
import math

import numpy as np

__all__ = ["INITIALIZERS", "get_initializer", "init_std", "init_bound"]


def _normal(std, fan_in, fan_out, rng, dtype):
    return (rng.standard_normal((fan_in, fan_out)) * std).astype(dtype, copy=False)


def _uniform(bound, fan_in, fan_out, rng, dtype):
    return rng.uniform(-bound, bound, size=(fan_in, fan_out)).astype(dtype, copy=False)


def small(fan_in, fan_out, rng, dtype=np.float32):
    """0.01 * N(0, 1): fine for shallow nets, activations vanish in deep ones."""
    return _normal(0.01, fan_in, fan_out, rng, dtype)


def xavier(fan_in, fan_out, rng, dtype=np.float32):
    """Glorot normal: std sqrt(2 / (fan_in + fan_out)); suits tanh / sigmoid."""
    return _normal(math.sqrt(2.0 / (fan_in + fan_out)), fan_in, fan_out, rng, dtype)


def xavier_uniform(fan_in, fan_out, rng, dtype=np.float32):
    """Glorot uniform: U(-b, b) with b = sqrt(6 / (fan_in + fan_out))."""
    return _uniform(math.sqrt(6.0 / (fan_in + fan_out)), fan_in, fan_out, rng, dtype)


def he(fan_in, fan_out, rng, dtype=np.float32):
    """He (Kaiming) normal: std sqrt(2 / fan_in); compensates ReLU halving the variance."""
    return _normal(math.sqrt(2.0 / fan_in), fan_in, fan_out, rng, dtype)


def he_uniform(fan_in, fan_out, rng, dtype=np.float32):
    """He uniform (torch's kaiming_uniform_ with a=0): U(-b, b), b = sqrt(6 / fan_in)."""
    return _uniform(math.sqrt(6.0 / fan_in), fan_in, fan_out, rng, dtype)


def lecun(fan_in, fan_out, rng, dtype=np.float32):
    """LeCun normal: std sqrt(1 / fan_in); the init SELU's self-normalisation assumes."""
    return _normal(math.sqrt(1.0 / fan_in), fan_in, fan_out, rng, dtype)


def lecun_uniform(fan_in, fan_out, rng, dtype=np.float32):
    """LeCun uniform: U(-b, b), b = sqrt(3 / fan_in) (variance 1 / fan_in)."""
    return _uniform(math.sqrt(3.0 / fan_in), fan_in, fan_out, rng, dtype)


INITIALIZERS = {
    "small": small,
    "xavier": xavier,
    "xavier_uniform": xavier_uniform,
    "he": he,
    "he_uniform": he_uniform,
    "lecun": lecun,
    "lecun_uniform": lecun_uniform,
}

# The theoretical spread of each initialiser, for documentation and tests:
# ``init_std`` is the standard deviation of a weight, ``init_bound`` the support
# limit of the uniform ones (None for normal ones).
_STD = {
    "small": lambda fi, fo: 0.01,
    "xavier": lambda fi, fo: math.sqrt(2.0 / (fi + fo)),
    "xavier_uniform": lambda fi, fo: math.sqrt(6.0 / (fi + fo)) / math.sqrt(3.0),
    "he": lambda fi, fo: math.sqrt(2.0 / fi),
    "he_uniform": lambda fi, fo: math.sqrt(6.0 / fi) / math.sqrt(3.0),
    "lecun": lambda fi, fo: math.sqrt(1.0 / fi),
    "lecun_uniform": lambda fi, fo: math.sqrt(3.0 / fi) / math.sqrt(3.0),
}
_BOUND = {
    "xavier_uniform": lambda fi, fo: math.sqrt(6.0 / (fi + fo)),
    "he_uniform": lambda fi, fo: math.sqrt(6.0 / fi),
    "lecun_uniform": lambda fi, fo: math.sqrt(3.0 / fi),
}


def get_initializer(name):
    """Return the initialiser function registered as ``name``.

    Raises:
        ValueError: ``unknown init 'foo'; expected one of he, he_uniform, ...``.
    """
    try:
        return INITIALIZERS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown init {name!r}; expected one of {', '.join(sorted(INITIALIZERS))}"
        ) from None


def init_std(name, fan_in, fan_out):
    """The standard deviation of one weight drawn by initialiser ``name``."""
    get_initializer(name)
    return _STD[name](fan_in, fan_out)


def init_bound(name, fan_in, fan_out):
    """The bound b of a uniform initialiser's U(-b, b); None for the normal ones."""
    get_initializer(name)
    bound = _BOUND.get(name)
    return None if bound is None else bound(fan_in, fan_out)
