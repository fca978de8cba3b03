"""Quasi-random search: scrambled Sobol points mapped through the space's transforms."""
import math

from hpsearch.samplers._base import PlannedSampler, reject_scipy


class SobolSampler(PlannedSampler):
    """Scrambled Sobol low-discrepancy points (``scipy.stats.qmc.Sobol``) on the unit cube,
    mapped through :meth:`Space.from_unit` (so log ranges are covered evenly in log space).

    Points are drawn in a power of two (where Sobol's balance properties hold) and the
    first ``n_trials`` are kept: for a seed, the first ``n`` trials do not change when
    ``n_trials`` grows.

    Args:
        scramble: Owen scrambling plus a digital shift (True, the default, seeded), or the
            plain sequence (False: the first point is the cube's corner, ``low`` everywhere).
    """

    def __init__(self, scramble=True):
        super().__init__()
        if not isinstance(scramble, bool):
            raise ValueError(f"scramble must be True or False, got scramble={scramble!r}")
        self.scramble = scramble

    def _plan(self, space, n_trials, rng):
        from scipy.stats import qmc  # scipy.stats is slow to import; only when used

        reject_scipy(space, "sobol", need_ppf=True)
        d = len(space.dims)
        if d == 0:  # every parameter Fixed: nothing to spread
            return [space.from_unit([]) for _ in range(n_trials)]
        engine = qmc.Sobol(d, scramble=self.scramble, rng=rng)
        points = engine.random_base2(max(0, math.ceil(math.log2(n_trials))))[:n_trials]
        return [space.from_unit(u) for u in points]

    def __repr__(self):
        return f"SobolSampler(scramble={self.scramble!r})"
