"""Random search: every trial drawn independently (Bergstra & Bengio 2012)."""
from hpsearch.samplers._base import PlannedSampler


class RandomSampler(PlannedSampler):
    """Independent draws from each distribution: log-uniform for log ranges, uniform
    over the integers of an int range, each Choice value equally likely; scipy.stats
    distributions through their own ``rvs``.

    Trials are drawn one after another from ``numpy.random.default_rng(seed)``, so the first
    ``n`` trials of a seed do not change when ``n_trials`` grows.
    """

    def _plan(self, space, n_trials, rng):
        for _ in range(n_trials):
            yield {name: dist.sample(rng) for name, dist in space.items()}

    def __repr__(self):
        return "RandomSampler()"
