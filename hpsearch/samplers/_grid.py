"""Grid search: the Cartesian product of a few values per parameter.

With a budget of B trials, d numeric parameters and choices of sizes c_1, c_2, ..., each
numeric parameter gets k = floor((B / prod c_j) ** (1 / d)) values, so a grid and a random
search of the same budget cost the same, and the grid tries only k distinct values of
each parameter where random search tries B (the lecture's picture).
"""
import copy
import itertools
import math
import numbers

from hpsearch.distributions import Choice, Fixed, IntUniform
from hpsearch.samplers._base import PlannedSampler, check_start_args, reject_scipy


def _int_root(budget, d):
    """The largest integer k >= 1 with k ** d <= budget (exact, no float-root round-off)."""
    k = max(1, int(budget ** (1.0 / d)))
    while (k + 1) ** d <= budget * (1 + 1e-12):
        k += 1
    while k > 1 and k ** d > budget * (1 + 1e-12):
        k -= 1
    return k


class GridSampler(PlannedSampler):
    """Every combination of a few values per parameter, in a fixed order.

    Numeric ranges get ``dist.grid(k)`` (geometric spacing on log ranges, both endpoints
    included, unique integers); every value of a Choice; a Fixed value once. The order is
    that of ``itertools.product`` over the parameters in space order (the last varies
    fastest), the same for every seed.

    Args:
        points: optional ``{name: k}`` numbers of values for some numeric parameters; the
            others share what is left of the budget.

    ``start(space, n_trials, ...)`` returns the grid's size (``<= n_trials``); ``n_trials`` may
    be None when ``points`` covers every numeric parameter (the whole grid is run).

    Raises (in ``start``):
        ValueError: a scipy.stats distribution in the space; ``points`` naming an unknown or
            non-numeric parameter; a grid that cannot fit in ``n_trials``.
    """

    def __init__(self, points=None):
        super().__init__()
        points = dict(points or {})
        for name, k in points.items():
            if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
                raise ValueError(f"GridSampler points for {name!r} must be a positive integer, got {k!r}")
        self.points = {name: int(k) for name, k in points.items()}

    def start(self, space, n_trials, seed, direction):
        space, n_trials, seed = check_start_args(space, n_trials, seed, direction, allow_none_trials=True)
        return self._begin(space, n_trials, None)  # seed-independent by design

    def _size(self, space, n_trials):
        if space.is_conditional:
            return sum(size for _, size in self.branch_shares(space, n_trials))
        return math.prod(len(values) for values in self.axes(space, n_trials).values())

    def branch_shares(self, space, n_trials):
        """How a space with branches splits the grid: ``[(choice, size)]``, one per combination of
        branches (``choice`` as in :meth:`Space.alternatives`), each grid planned on an equal
        share ``floor(n_trials / m)`` of the budget; ``[({}, size)]`` without branches.

        Raises:
            ValueError: fewer trials than combinations of branches, or as :meth:`axes`.
        """
        return [(choice, math.prod(len(v) for v in axes.values()))
                for choice, axes in self._branch_axes(space, n_trials)]

    def _branch_axes(self, space, n_trials):
        if not space.is_conditional:
            return [({}, self.axes(space, n_trials))]
        self._check_points(space)
        alternatives = space.alternatives()
        share = None if n_trials is None else n_trials // len(alternatives)
        if share == 0:
            shown = "; ".join(", ".join(f"{k}={v}" for k, v in choice.items()) for choice, _ in alternatives)
            raise ValueError(f"n_trials={n_trials} is fewer than the grid's {len(alternatives)} combinations of "
                             f"branches ({shown}); give at least {len(alternatives)}")
        out = []
        for choice, sub in alternatives:
            part = GridSampler({name: k for name, k in self.points.items() if name in sub})
            try:
                out.append((choice, part.axes(sub, share)))
            except ValueError as exc:
                where = ", ".join(f"{k}={v!r}" for k, v in choice.items())
                raise ValueError(f"branch {where} (a share of {share} trials): {exc}") from None
        return out

    @staticmethod
    def _point(names_values):
        # Copy list values so that trials never share one mutable object.
        return {name: copy.deepcopy(v) if isinstance(v, (list, dict)) else v for name, v in names_values}

    def _plan(self, space, n_trials, rng):
        return (self._point(nv) for _, axes in self._branch_axes(space, n_trials) for nv in
                itertools.product(*([(name, v) for v in values] for name, values in axes.items())))

    def axes(self, space, n_trials):
        """The values tried for each parameter: ``{name: list}`` in space order (of a space
        without branches; see :meth:`branch_shares` for one with).

        Args:
            space: a :class:`~hpsearch.space.Space`.
            n_trials: the trial budget B (or None when ``points`` covers every numeric parameter).
        """
        reject_scipy(space, "grid")
        self._check_points(space)
        fixed_size = 1
        counts = {}
        for name, dist in space.items():
            if isinstance(dist, Choice):
                fixed_size *= len(dist)
            elif name in self.points:
                counts[name] = len(dist.grid(self.points[name]))
                fixed_size *= counts[name]
        free = [name for name, dist in space.items() if dist.ordered and name not in self.points]
        if free and n_trials is None:
            raise ValueError(f"GridSampler needs n_trials, or points for every numeric parameter "
                             f"(missing: {', '.join(free)})")
        if n_trials is not None and fixed_size > n_trials:
            raise ValueError(f"the grid's choices and given points alone make {fixed_size} trials, more than "
                             f"n_trials={n_trials}; raise n_trials or give fewer points")
        budget = None if n_trials is None else n_trials / fixed_size
        # Integer ranges with fewer values than k take all of them and leave the
        # rest of the budget to the other parameters.
        while free:
            k = _int_root(budget, len(free))
            small = [name for name in free if isinstance(space[name], IntUniform)
                     and space[name].n_values() <= k]
            if not small:
                for name in free:
                    counts[name] = len(space[name].grid(k))
                break
            for name in small:
                counts[name] = space[name].n_values()
                budget /= counts[name]
                free.remove(name)
        axes = {}
        for name, dist in space.items():
            if isinstance(dist, Fixed):
                axes[name] = [dist.value]
            elif isinstance(dist, Choice):
                axes[name] = dist.values
            elif name in self.points:
                axes[name] = dist.grid(self.points[name])
            else:
                axes[name] = dist.grid(counts[name])
        return axes

    def _check_points(self, space):
        for name in self.points:
            if name not in space:
                raise ValueError(f"GridSampler points name unknown parameter {name!r}; expected one of "
                                 f"{', '.join(space)}")
            if not space[name].ordered:
                raise ValueError(f"GridSampler points give {name!r} a number of values, but it is a "
                                 f"{type(space[name]).__name__}: only numeric ranges take one")

    def __repr__(self):
        return f"GridSampler(points={self.points!r})" if self.points else "GridSampler()"

