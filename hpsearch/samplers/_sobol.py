"""Quasi-random search: scrambled Sobol points mapped through the space's transforms."""

from hpsearch.samplers._base import PlannedSampler, reject_scipy


class SobolSampler(PlannedSampler):
    """Scrambled Sobol low-discrepancy points (``scipy.stats.qmc.Sobol``) on the unit cube,
    mapped through :meth:`Space.from_unit` (so log ranges are covered evenly in log space).

    Points are drawn in a power of two (where Sobol's balance properties hold) and the
    first ``n_trials`` are kept: for a seed, the first ``n`` trials do not change when
    ``n_trials`` grows. In a space with branches, a branch parameter's coordinate picks the
    branch and the other coordinates give the parameters (those of the branches not taken are
    unused), so the branches are balanced as any Choice is.

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
        reject_scipy(space, "sobol", need_ppf=True)  # now, in start, not at the first ask
        return self._points(space, n_trials, rng)

    def _points(self, space, n_trials, rng):
        from scipy.stats import qmc  # scipy.stats is slow to import; only when used

        d = len(space.dims)
        if d == 0:  # every parameter Fixed: nothing to spread
            for _ in range(n_trials):
                yield space.from_unit([])
            return
        engine = qmc.Sobol(d, scramble=self.scramble, rng=rng)
        # In blocks of 1024 points: the sequence runs on from block to block, so the points are
        # those of one draw of 2**ceil(log2(n_trials)) points cut at n_trials.
        for first in range(0, n_trials, _BLOCK):
            for u in _next_points(engine, _BLOCK)[:n_trials - first]:
                yield space.from_unit(u)

    def __repr__(self):
        return f"SobolSampler(scramble={self.scramble!r})"


_BLOCK = 1024


def _next_points(engine, n):
    """The next ``n`` points of a Sobol engine (scipy warns that balance needs a power of two
    drawn at once; the sequence is the same either way)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return engine.random(n)
