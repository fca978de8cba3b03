"""Random search: every trial drawn independently (Bergstra & Bengio 2012)."""
from hpsearch.samplers._base import PlannedSampler


class RandomSampler(PlannedSampler):
    """Independent draws from each distribution: log-uniform for log ranges, uniform
    over the integers of an int range, each Choice value equally likely; scipy.stats
    distributions through their own ``rvs``.

    Trials are drawn one after another from ``numpy.random.default_rng(seed)``, so the first
    ``n`` trials of a seed do not change when ``n_trials`` grows. In a space with branches each
    branch is equally likely and a trial holds only its branch's parameters.
    """

    def _plan(self, space, n_trials, rng):
        for _ in range(n_trials):
            # every parameter is drawn, then the branches not taken are dropped: each trial uses
            # the same draws from the stream whichever branch it takes
            yield space.active({name: dist.sample(rng) for name, dist in space.items()})

    def __repr__(self):
        return "RandomSampler()"
