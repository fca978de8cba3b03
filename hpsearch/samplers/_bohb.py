"""A sampler that models each budget: BOHB's density-ratio model (Falkner et al. 2018).

Multi-fidelity strategies train configurations at several budgets. A one-epoch accuracy and
a forty-epoch accuracy are different functions of the parameters, so one model fit on both
learns neither (Hyperband + a plain TPE can lock onto a region that only looks good after
one epoch). :class:`BOHBSampler` keeps the observations of each budget apart and proposes
from a model of the largest budget that has enough of them; a fixed fraction of its
proposals are drawn at random, so a wrong model is always corrected.

The model, per budget, works in the space's unit cube: the best ``gamma`` of the
observations (at least ``d + 1``, ``d`` the number of dimensions) and the rest each get a
product-kernel density (Gaussian kernels with a normal-reference bandwidth for numeric
dimensions, an Aitchison-Aitken kernel over the values of a Choice); a proposal is the best
of ``n_candidates`` draws from the good density (bandwidths widened by
``bandwidth_factor``) by the ratio good / bad. A budget has a model once it holds
``2 * (d + 1)`` observations. Failed and diverged trials count as the worst of their
budget (a learning rate that diverges marks a region to avoid).

Told results are kept per budget in the order they are told; every proposal draws from the
stage's seeded generator in ask order. So the proposals depend only on the seed and the
sequence of asks and tells: the same for any ``n_jobs`` and backend, and a resumed study,
which replays its tells, proposes the same configurations again.

Why not Optuna's TPE, one study per budget: with 1,000 results of the main job's five
parameters, Optuna's ``study.ask`` took 230-610 ms per proposal against 1.2-3.1 ms for this
model, medians on a loaded machine (``benchmarks/bench_fidelity.py``, ``sampler_overhead``).
"""
import math
import numbers

import numpy as np

from hpsearch.distributions import Choice
from hpsearch.samplers._base import BaseSampler, check_start_args, reject_scipy

__all__ = ["BOHBSampler"]

_TINY = 1e-32   # a density floor, so the ratio stays finite far from every observation


class BOHBSampler(BaseSampler):
    """Proposals from a density-ratio model of the largest budget with enough observations.

    Use it with ``sha`` / ``hyperband`` (there ``sampler="tpe"`` means this sampler): every
    rung's results are told with their budget. Told without a budget (any other strategy)
    it is a plain TPE-style sampler over one pool.

    Args:
        random_fraction: share of proposals drawn uniformly at random even when a model exists
            (BOHB's default 1/3), in [0, 1].
        gamma: share of a budget's observations that form the "good" density, in (0, 1).
        n_candidates: draws from the good density per proposal; the best ratio wins.
        bandwidth_factor: widening of the good density's bandwidths when drawing candidates
            (>= 1; wider explores more).
        min_bandwidth: the smallest kernel bandwidth (unit-cube units), so a budget whose good
            configurations agree on a value still explores around it.

    Raises:
        ValueError: an option outside its range, naming it and its value.
    """

    is_adaptive = True
    multi_fidelity = True

    def __init__(self, random_fraction=1 / 3, gamma=0.15, n_candidates=64, bandwidth_factor=3.0,
                 min_bandwidth=1e-3):
        self.random_fraction = _fraction(random_fraction, "random_fraction", 0.0, 1.0, closed=True)
        self.gamma = _fraction(gamma, "gamma", 0.0, 1.0, closed=False)
        if isinstance(n_candidates, bool) or not isinstance(n_candidates, numbers.Integral) or n_candidates < 1:
            raise ValueError(f"n_candidates must be a positive integer, got n_candidates={n_candidates!r}")
        self.n_candidates = int(n_candidates)
        self.bandwidth_factor = _positive(bandwidth_factor, "bandwidth_factor", minimum=1.0)
        self.min_bandwidth = _positive(min_bandwidth, "min_bandwidth", minimum=0.0)
        self._space = None

    # -- the protocol ------------------------------------------------------------------
    def start(self, space, n_trials, seed, direction):
        """Begin a stage (see :class:`~hpsearch.samplers.BaseSampler`); forgets earlier stages.

        Raises:
            ValueError: a scipy.stats parameter (the model needs the unit cube).
        """
        space, n_trials, seed = check_start_args(space, n_trials, seed, direction)
        reject_scipy(space, "bohb")
        self._space, self._n_trials, self._next = space, n_trials, 0
        self._sign = -1.0 if direction == "maximize" else 1.0   # sort keys: smaller is better
        self._rng = np.random.default_rng(seed)
        # per dimension: the number of values of a Choice (a categorical axis), 0 for numeric
        self._levels = np.array([len(space[n].values) if isinstance(space[n], Choice) else 0
                                 for n in space.dims], dtype=int)
        self._observed = {}   # budget -> ([unit points], [sort keys]) in the order told
        self._models = {}     # budget -> (observation count it was fit on, model)
        return n_trials

    def ask(self, n):
        """The next ``n`` params dicts (fewer once the stage's ``n_trials`` are used up).

        Raises:
            RuntimeError: ``start`` has not been called.
            ValueError: ``n`` is not a non-negative int.
        """
        if self._space is None:
            raise RuntimeError("BOHBSampler.ask() called before start()")
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"ask needs a non-negative integer n, got n={n!r}")
        n = min(int(n), self._n_trials - self._next)
        out = []
        for _ in range(n):
            out.append(self._space.from_unit(self._propose()))
            self._next += 1
        return out

    def tell(self, index, params, value, budget=None):
        """Add trial ``index``'s result at ``budget`` to that budget's observations.

        A configuration may be told once per budget it was trained at (each rung of a
        bracket); ``value`` None or non-finite (failed, diverged) counts as the budget's worst.
        """
        if self._space is None:
            raise RuntimeError("BOHBSampler.tell() called before start()")
        if value is None or not math.isfinite(value):
            key = math.inf
        else:
            key = self._sign * float(value)
        points, keys = self._observed.setdefault(budget, ([], []))
        points.append(self._cells(self._space.to_unit(params)))
        keys.append(key)

    # -- the model ---------------------------------------------------------------------
    def model_budget(self):
        """The budget the next model-based proposal comes from: the largest with at least
        ``2 * (d + 1)`` observations (None when no budget has enough yet)."""
        need = 2 * (len(self._space.dims) + 1)
        ready = [b for b, (points, _) in self._observed.items() if len(points) >= need]
        return max(ready, key=lambda b: -math.inf if b is None else b) if ready else None

    def _propose(self):
        """The next proposal as a unit-cube point."""
        d = len(self._levels)
        if d == 0:
            return np.empty(0)
        # the random/model choice is drawn first, always, so one stream serves both
        explore = self._rng.random() < self.random_fraction
        budget = self.model_budget()
        if explore or budget is None:
            return self._rng.random(d)
        good, bad = self._model(budget)
        candidates = good.sample(self._rng, self.n_candidates, self.bandwidth_factor)
        floor = math.log(_TINY)
        log_ratio = np.maximum(good.logpdf(candidates), floor) - np.maximum(bad.logpdf(candidates), floor)
        return self._unit(candidates[int(np.argmax(log_ratio))])

    def _model(self, budget):
        points, keys = self._observed[budget]
        cached = self._models.get(budget)
        if cached is not None and cached[0] == len(points):
            return cached[1]
        x, y = np.asarray(points), np.asarray(keys)
        order = np.argsort(y, kind="stable")   # ties: the one told first counts as better
        n, d = x.shape
        n_good = max(d + 1, int(self.gamma * n))
        model = (_KDE(x[order[:n_good]], self._levels, self.min_bandwidth),
                 _KDE(x[order[n_good:]], self._levels, self.min_bandwidth))
        self._models[budget] = (len(points), model)
        return model

    def _cells(self, u):
        """Unit point -> model coordinates: a Choice axis holds its value's index."""
        cat = self._levels > 0
        out = np.array(u, dtype=float)
        out[cat] = np.minimum(np.floor(out[cat] * self._levels[cat]), self._levels[cat] - 1)
        return out

    def _unit(self, x):
        """Model coordinates -> the unit point ``Space.from_unit`` reads (a Choice index ->
        the centre of its cell)."""
        cat = self._levels > 0
        u = np.array(x, dtype=float)
        u[cat] = (u[cat] + 0.5) / self._levels[cat]
        return u

    def __repr__(self):
        return (f"BOHBSampler(random_fraction={self.random_fraction:.4g}, gamma={self.gamma:g}, "
                f"n_candidates={self.n_candidates}, bandwidth_factor={self.bandwidth_factor:g}, "
                f"min_bandwidth={self.min_bandwidth:g})")


class _KDE:
    """A product-kernel density over model coordinates (BOHB's, after statsmodels'
    ``KDEMultivariate`` with the normal-reference bandwidth).

    Args:
        x: ndarray (n, d), the observations; a categorical axis holds value indices.
        levels: ndarray (d,) of ints, the number of values of each categorical axis, 0 for numeric.
        min_bandwidth: the floor of every bandwidth.
    """

    def __init__(self, x, levels, min_bandwidth):
        self.x, self.levels = x, levels
        self.cat = levels > 0
        n = len(x)
        std = x.std(axis=0, ddof=1) if n > 1 else np.zeros(x.shape[1])
        bw = np.maximum(1.06 * std * n ** -0.2, min_bandwidth)
        # Aitchison-Aitken: keep the value with 1 - bw; past (k-1)/k it would prefer the others
        k = np.maximum(levels, 2)
        bw[self.cat] = np.minimum(bw[self.cat], (k[self.cat] - 1) / k[self.cat])
        self.bw = bw

    def logpdf(self, c):
        """Log density at the points ``c`` (ndarray (m, d)) -> ndarray (m,)."""
        num, cat = ~self.cat, self.cat
        # numeric kernels: the squared scaled distances as one matrix product, (m, n)
        cs, xs = c[:, num] / self.bw[num], self.x[:, num] / self.bw[num]
        log_k = -0.5 * np.maximum((cs * cs).sum(1)[:, None] + (xs * xs).sum(1)[None, :] - 2.0 * cs @ xs.T, 0.0)
        log_k -= np.log(math.sqrt(2 * math.pi) * self.bw[num]).sum()
        if np.any(cat):
            lam, k = self.bw[cat], self.levels[cat]
            same, other = np.log1p(-lam), np.log(lam / (k - 1))
            log_k += other.sum()
            for j, (cj, xj) in enumerate(zip(c[:, cat].T, self.x[:, cat].T)):
                log_k += (cj[:, None] == xj[None, :]) * (same[j] - other[j])
        top = log_k.max(axis=1)
        return top + np.log(np.exp(log_k - top[:, None]).sum(axis=1)) - math.log(len(self.x))

    def sample(self, rng, m, widen):
        """``m`` draws (ndarray (m, d)): each from the kernel of a random observation, numeric
        bandwidths times ``widen`` and the normal truncated to [0, 1] (BOHB's sampling)."""
        from scipy.special import ndtr, ndtri

        n, d = self.x.shape
        centre = self.x[rng.integers(0, n, size=m)]
        u, flip, other = rng.random((m, d)), rng.random((m, d)), rng.random((m, d))
        out = centre.copy()
        num = ~self.cat
        if np.any(num):
            mu, bw = centre[:, num], self.bw[num] * widen
            lo, hi = ndtr(-mu / bw), ndtr((1 - mu) / bw)
            out[:, num] = np.clip(mu + bw * ndtri(lo + u[:, num] * (hi - lo)), 0.0, 1.0)
        if np.any(self.cat):
            k = self.levels[self.cat]
            redraw = flip[:, self.cat] < self.bw[self.cat]
            out[:, self.cat] = np.where(redraw, np.minimum(np.floor(other[:, self.cat] * k), k - 1),
                                        centre[:, self.cat])
        return out


def _fraction(value, name, low, high, closed):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    inside = ok and ((low <= value <= high) if closed else (low < value < high))
    if not inside:
        bounds = f"[{low:g}, {high:g}]" if closed else f"({low:g}, {high:g})"
        raise ValueError(f"{name} must be a number in {bounds}, got {name}={value!r}")
    return float(value)


def _positive(value, name, minimum):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < minimum or (minimum == 0.0 and value <= 0):
        what = f">= {minimum:g}" if minimum > 0 else "> 0"
        raise ValueError(f"{name} must be a finite number {what}, got {name}={value!r}")
    return float(value)
