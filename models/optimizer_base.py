"""The base of every optimizer: the step loops, the per-parameter state and its save / restore.

An optimizer (``models.optimizers``) validates its hyperparameters in its constructor and
implements one update rule, ``_update(param, grad, state)``; this base class does the rest:

- ``step(params, grads)`` updates each array of a dict in place, creating a parameter's
  ``ParamState`` (buffers and scratch arrays in its dtype) on its first step;
- ``step_flat(flat)`` runs the same update once over a model's flat buffers
  (``models.flat_params.FlatParams``), and a rule's fused numba kernel when it has one;
- ``state_dict()`` / ``load_state_dict(state)`` (torch's names) save and restore the state as
  plain data (the lr, each parameter's step count and buffers), so a checkpointed run
  continues bit-identically.
"""
import inspect

import numpy as np

from models._checks import is_int, real
from models.optimizer_state import FlatBinding, ParamState

__all__ = ["Optimizer"]


class Optimizer:
    """Base class: validates ``lr``, keeps state by parameter name, loops over parameters.

    Subclasses name their state buffers (``_buffer_names()``), say how many scratch arrays an
    update needs (``_n_scratch``) and implement ``_update(param, grad, state)``; a rule with a
    fused kernel sets ``_fused_step`` to its ``models.fused`` dispatcher.
    """

    _n_scratch = 1
    _buffer_fill = 0.0
    _fused_step = None

    def __init__(self, lr):
        self.lr = real("lr", lr, 0.0, low_open=True)
        self.state = {}
        self._loaded = {}      # name -> state loaded by load_state_dict, applied on the next step
        self._binding = None   # FlatBinding of the FlatParams last given to step_flat

    def _hyperparameters(self):
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._hyperparameters().items())
        return f"{type(self).__name__}({args})"

    def _buffer_names(self):
        """The names of the state buffers every parameter gets (torch's state keys)."""
        return ()

    # ------------------------------------------------------------------ stepping
    def step(self, params, grads):
        """Update every array of ``params`` in place from ``grads``.

        Args:
            params: dict name -> float ndarray (updated in place).
            grads: dict with (at least) the keys of ``params``, arrays of the same shapes.

        Raises:
            KeyError: a parameter has no gradient.
            ValueError: a gradient's shape differs from its parameter's, or a loaded state
                does not fit the parameter.
        """
        self._binding = None  # per-parameter steps: the flat state is rebuilt when next needed
        state = self.state
        for name, param in params.items():
            grad = grads.get(name)
            if grad is None:
                raise KeyError(f"no gradient for parameter {name!r}; grads has {sorted(grads)}")
            st = state.get(name)
            if st is None:
                if grad.shape != param.shape:
                    raise ValueError(f"gradient of {name!r} has shape {grad.shape}, parameter has {param.shape}")
                st = state[name] = self._new_state(name, param)
            st.step += 1
            self._apply(param, grad, st)

    def step_flat(self, flat):
        """``step(flat.params, flat.grads)`` through the flat arrays of ``flat`` (a
        ``models.flat_params.FlatParams``): the same parameters, one pass instead of one per array."""
        binding = self._binding
        if binding is None or binding.flat is not flat:
            for name, param in flat.params.items():
                if name not in self.state and name in self._loaded:
                    self.state[name] = self._new_state(name, param)
            binding = FlatBinding.bind(flat, self.state, self._new_state)
            if binding is None:  # parameters at different steps: update them one by one
                self.step(flat.params, flat.grads)
                return
            self._binding = binding
        binding.advance()
        self._apply(flat.param, flat.grad, binding.state)

    def _apply(self, param, grad, st):
        fused = self._fused_step
        if fused is None or not fused(self, param, grad, st):
            self._update(param, grad, st)

    def _update(self, param, grad, st):  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ state
    def _new_state(self, name, param):
        """A fresh state for ``param``, filled from the loaded state of ``name`` if there is one."""
        st = ParamState(param, self._buffer_names(), self._n_scratch, self._buffer_fill)
        entry = self._loaded.pop(name, None) if name is not None else None
        if entry is not None:
            for key, buf in st.buffers.items():
                saved = entry[key]
                if saved.shape != param.shape or saved.dtype != param.dtype:
                    raise ValueError(f"loaded optimizer state {name!r}: {key} is {saved.dtype} {saved.shape}, "
                                     f"the parameter {param.dtype} {param.shape}")
                buf[...] = saved
            st.step = entry["step"]
        return st

    def state_dict(self):
        """The state as plain data (copies): ``{"lr": float, "state": {name: {"step": int,
        buffer name: ndarray, ...}}}`` with torch's buffer names (exp_avg, momentum_buffer, ...)."""
        state = {name: {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in entry.items()}
                 for name, entry in self._loaded.items()}
        for name, st in self.state.items():
            state[name] = {"step": st.step, **{k: b.copy() for k, b in st.buffers.items()}}
        return {"lr": self.lr, "state": state}

    def load_state_dict(self, state):
        """Restore a ``state_dict()`` of an optimizer of the same kind and hyperparameters.

        The lr is set at once; each parameter's step count and buffers (copied) are applied on
        its next step, which continues exactly where the saved optimizer stopped.

        Raises:
            ValueError: not such a state (wrong keys, buffers this optimizer does not keep, a
                negative step, non-float or mismatched arrays), naming the problem.
        """
        if not isinstance(state, dict) or set(state) != {"lr", "state"} or not isinstance(state["state"], dict):
            raise ValueError(f"optimizer state must be a dict with keys 'lr' and 'state' (a dict), got "
                             f"{sorted(state) if isinstance(state, dict) else type(state).__name__}")
        lr = real("optimizer state lr", state["lr"], 0.0, low_open=True)
        expected = sorted(self._buffer_names())
        loaded = {}
        for name, entry in state["state"].items():
            if not isinstance(name, str) or not isinstance(entry, dict):
                raise ValueError(f"optimizer state: entry {name!r} must map a parameter name to a dict")
            step = entry.get("step")
            if not is_int(step) or step < 0:
                raise ValueError(f"optimizer state {name!r}: step must be an integer >= 0, got {step!r}")
            buffers = {k: v for k, v in entry.items() if k != "step"}
            if sorted(buffers) != expected:
                raise ValueError(f"optimizer state {name!r} has buffers {sorted(buffers)}; "
                                 f"{type(self).__name__} keeps {expected}")
            arrays = list(buffers.values())
            if any(not isinstance(a, np.ndarray) or a.dtype.kind != "f" for a in arrays) \
                    or len({(a.shape, a.dtype) for a in arrays}) > 1:
                raise ValueError(f"optimizer state {name!r}: buffers must be float arrays of one shape and dtype")
            loaded[name] = {"step": int(step), **{k: np.array(v, copy=True) for k, v in buffers.items()}}
        self.lr, self.state, self._loaded, self._binding = lr, {}, loaded, None
