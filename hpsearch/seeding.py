"""Every random number in a study flows from the study seed through here.

Seeds are derived with ``numpy.random.SeedSequence`` keyed by what they are for,
so a trial's seed depends only on (study seed, stage, trial number): the same
seed gives the same trials for any ``n_jobs``, backend or resume point.
"""
import numpy as np

from hpsearch.checks import check_seed

__all__ = ["trial_seed", "sampler_seed", "confirm_seed"]

# The first spawn-key element separates the streams so they never collide.
_TRIAL_STREAM = 0
_SAMPLER_STREAM = 1
_CONFIRM_STREAM = 2


def trial_seed(seed, stage, number):
    """The seed handed to the objective for trial ``number`` of ``stage``.

    Returns a non-negative int below 2**32 (fits numpy, torch and the stdlib).
    """
    seq = np.random.SeedSequence(check_seed(seed), spawn_key=(_TRIAL_STREAM, int(stage), int(number)))
    return int(seq.generate_state(1, dtype=np.uint32)[0])


def sampler_seed(seed, stage):
    """The seed a sampler receives for ``stage`` (its own stream, apart from trials)."""
    seq = np.random.SeedSequence(check_seed(seed), spawn_key=(_SAMPLER_STREAM, int(stage)))
    return int(seq.generate_state(1, dtype=np.uint32)[0])


def confirm_seed(seed, candidate, repeat):
    """The fresh seed of confirmation run ``repeat`` of the ``candidate``-th best configuration
    (its own stream: never a seed the search used)."""
    seq = np.random.SeedSequence(check_seed(seed), spawn_key=(_CONFIRM_STREAM, int(candidate), int(repeat)))
    return int(seq.generate_state(1, dtype=np.uint32)[0])
