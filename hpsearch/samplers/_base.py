"""The sampler protocol: samplers propose parameter dicts; they never run the objective.

A study drives a sampler stage by stage:

1. ``n = sampler.start(space, n_trials, seed, direction)`` begins a stage and returns how
   many trials the sampler will propose (a grid may propose fewer than ``n_trials``).
2. ``sampler.ask(k)`` returns the next ``k`` parameter dicts, in trial order (index 0, 1, ...
   within the stage). Non-adaptive samplers (``is_adaptive = False``) are asked for
   everything at once; adaptive ones are asked in batches.
3. ``sampler.tell(index, params, value)`` reports a finished trial (``value`` is None when the
   trial was not "ok"). The study tells in index order after each batch, so a seed
   reproduces the trials for a given batch size. Non-adaptive samplers ignore it.

Parameter dicts hold plain Python values for every name of the space, Fixed ones included.
"""
from abc import ABC, abstractmethod
import itertools
import numbers

import numpy as np

from hpsearch.checks import check_direction, check_seed
from hpsearch.distributions import ScipyDistribution
from hpsearch.space import Space


def check_start_args(space, n_trials, seed, direction, allow_none_trials=False):
    """Validate the arguments of :meth:`BaseSampler.start`; returns ``(space, n_trials, seed)``.

    ``space`` may be a dict (it is turned into a :class:`Space`).
    """
    if not isinstance(space, Space):
        space = Space(space)
    if n_trials is None and allow_none_trials:
        pass
    elif isinstance(n_trials, bool) or not isinstance(n_trials, numbers.Integral) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer, got n_trials={n_trials!r}")
    else:
        n_trials = int(n_trials)
    check_direction(direction)
    return space, n_trials, check_seed(seed)


def reject_scipy(space, sampler_name, need_ppf=False):
    """ValueError for a scipy.stats dimension this sampler cannot sample.

    With ``need_ppf`` only distributions without a ``ppf`` are rejected (Sobol can map
    its points through ``ppf``); otherwise every scipy distribution is (grids).
    """
    for name, dist in space.items():
        if isinstance(dist, ScipyDistribution) and (not need_ppf or not dist.has_ppf):
            why = " without a ppf" if need_ppf else ""
            raise ValueError(f"parameter {name!r} is a scipy.stats distribution{why}; only the random "
                             f"sampler can sample it (the {sampler_name} sampler cannot)")


class BaseSampler(ABC):
    """Interface of every sampler (see the module docstring for the protocol).

    Attributes:
        is_adaptive: True if the sampler wants ``tell`` before proposing more trials.
    """

    is_adaptive = False

    @abstractmethod
    def start(self, space, n_trials, seed, direction):
        """Begin a stage over ``space`` with a budget of ``n_trials`` trials.

        Args:
            space: a :class:`~hpsearch.space.Space`.
            n_trials: the trial budget of the stage (positive int).
            seed: non-negative int; the sampler's only source of randomness for the stage.
            direction: "minimize" or "maximize".

        Returns:
            int: how many trials the sampler will propose (``<= n_trials``).
        """

    @abstractmethod
    def ask(self, n):
        """The next ``n`` parameter dicts, in trial order (a list of dicts)."""

    def tell(self, index, params, value):
        """Report trial ``index`` (0-based in the stage) with its ``value`` (None if not "ok").

        Non-adaptive samplers have decided everything in ``start``, so they ignore it.
        """


class PlannedSampler(BaseSampler):
    """A non-adaptive sampler: decides the whole stage in ``start``, hands it out in order.

    The proposals are generated lazily as they are asked for, so memory does not grow with
    ``n_trials``. Subclasses implement ``_plan(space, n_trials, rng)``, an iterable of the
    stage's params dicts in trial order, and may override ``_size(space, n_trials)`` (how many
    it proposes; default ``n_trials``).
    """

    def __init__(self):
        self._planned = None
        self._left = 0

    def start(self, space, n_trials, seed, direction):
        space, n_trials, seed = check_start_args(space, n_trials, seed, direction)
        return self._begin(space, n_trials, np.random.default_rng(seed))

    def _begin(self, space, n_trials, rng):
        size = self._size(space, n_trials)
        self._planned = iter(self._plan(space, n_trials, rng))
        self._left = size
        return size

    def _size(self, space, n_trials):
        return n_trials

    @abstractmethod
    def _plan(self, space, n_trials, rng):
        """The stage's params dicts, in trial order (an iterable; a generator keeps memory flat)."""

    def ask(self, n):
        """The next ``n`` proposals; fewer (possibly none) once the stage's plan is used up.

        Raises:
            RuntimeError: ``start`` has not been called.
            ValueError: ``n`` is not a non-negative int.
        """
        if self._planned is None:
            raise RuntimeError(f"{type(self).__name__}.ask() called before start()")
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"ask needs a non-negative integer n, got n={n!r}")
        out = list(itertools.islice(self._planned, min(int(n), self._left)))
        self._left -= len(out)
        return out
