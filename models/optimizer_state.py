"""An optimizer's per-parameter state, and its binding to a model's flat buffers.

With a :class:`~models.flat_params.FlatParams`, the optimizer keeps one flat state (a
:class:`FlatBinding`) whose buffers the per-parameter states view, so ``optimizer.state[name]``
stays valid and the per-parameter path (``optimizer.step(params, grads)``) can run at any time.
"""
import numpy as np

__all__ = ["ParamState", "FlatBinding"]


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
