"""FlatParams: a model's parameters and gradients in one flat buffer each.

Every update rule is elementwise, with the same hyperparameters for every parameter, so one
update of a flat array that holds all the parameters equals the updates of each one, with one
run of ufunc calls instead of one run per parameter (on small networks that overhead is most of
a step). A model that keeps its parameters so owns a :class:`FlatParams` and hands it over
explicitly: ``optimizer.step_flat(model.flat)`` (``Trainer`` does this for ``models.MLP``). It
changes no bit of the results, only how many passes a step makes.
"""
import numpy as np

__all__ = ["FlatParams", "FLOAT_DTYPES"]

#: The dtypes flat buffers (and the fused kernels) take.
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


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
        if len(dtypes) != 1 or dtypes.pop() not in FLOAT_DTYPES:
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
