"""Seeds are pinned: every stream of hpsearch.seeding has fixed values, each (seed, stage, number)
its own seed, and another study seed gives another trials table (issue 18, item 12).

A change of any value here changes every stored study's trials: resuming a study stored before
the change would then mix two searches. Change them only on purpose.
"""
import itertools

import pytest

import hpsearch as hp
from hpsearch import seeding
from hpsearch.objectives import LogBowl
from study_fixtures import BOWL_ACT as BOWL, SPACE_ACT as SPACE



@pytest.mark.parametrize("stream, args, expected", [
    (seeding.trial_seed, (0, 0, 0), 3678467582),
    (seeding.trial_seed, (0, 0, 1), 1745761672),
    (seeding.trial_seed, (0, 1, 0), 1246905493),
    (seeding.trial_seed, (1, 0, 0), 1682583155),
    (seeding.trial_seed, (2 ** 32 - 1, 3, 999), 1235964385),
    (seeding.sampler_seed, (0, 0), 3953331965),
    (seeding.sampler_seed, (0, 1), 3613627650),
    (seeding.sampler_seed, (1, 0), 3290936230),
    (seeding.sampler_seed, (2 ** 32 - 1, 5), 2629766969),
    (seeding.confirm_seed, (0, 0, 0), 2103646603),
    (seeding.confirm_seed, (0, 0, 1), 3629157004),
    (seeding.confirm_seed, (0, 1, 0), 2167735256),
    (seeding.confirm_seed, (1, 0, 0), 172343290),
])
def test_every_seed_stream_has_its_pinned_values(stream, args, expected):
    assert stream(*args) == expected


SEEDS = (0, 1, 2, 12345, 2 ** 32 - 1)


def test_each_seed_stage_and_trial_number_has_its_own_trial_seed():
    keys = list(itertools.product(SEEDS, range(4), range(50)))
    seeds = {seeding.trial_seed(*key) for key in keys}
    assert len(seeds) == len(keys)   # no two (seed, stage, number) share a stream
    assert all(0 <= s < 2 ** 32 for s in seeds)


def test_each_seed_and_stage_has_its_own_sampler_seed_and_each_confirmation_run_its_own_seed():
    keys = list(itertools.product(SEEDS, range(20)))
    assert len({seeding.sampler_seed(*key) for key in keys}) == len(keys)
    keys = list(itertools.product(SEEDS, range(5), range(5)))
    confirm = {seeding.confirm_seed(*key) for key in keys}
    assert len(confirm) == len(keys)
    # a confirmation run never reuses a seed the search handed to a trial
    assert not confirm & {seeding.trial_seed(s, k, n) for s, k, n in itertools.product(SEEDS, range(4), range(50))}


def _trials(seed, sampler="random"):
    res = hp.Study(BOWL, SPACE, metric="score").coarse_to_fine(
        [hp.Stage(12, 1, sampler), hp.Stage(6, 2, sampler)], seed=seed, n_jobs=1,
        follow_up=False)   # the two stages' seeds; the follow-up's have a test of their own
    return res.trials.drop(columns="duration")


@pytest.mark.parametrize("sampler", ["random", "sobol", "tpe"])
def test_another_study_seed_gives_another_trials_table(sampler):
    a, b = _trials(0, sampler), _trials(1, sampler)
    assert a.equals(_trials(0, sampler))          # the same seed: the same table
    for stage in (0, 1):
        sa, sb = a[a["stage"] == stage], b[b["stage"] == stage]
        # every stage's proposals and trial seeds come from the study seed
        assert (sa["param_lr"].to_numpy() != sb["param_lr"].to_numpy()).all(), stage
        assert (sa["param_reg"].to_numpy() != sb["param_reg"].to_numpy()).all(), stage
        assert not set(sa["seed"]) & set(sb["seed"]), stage
    # within a table, every trial of every stage has its own seed
    assert a["seed"].nunique() == len(a) == 18
    assert a["seed"].tolist() == [seeding.trial_seed(0, k, n) for k, n in zip(a["stage"], a["number"])]


PINNED_LR = [0.0009565689243855764, 0.00024401893269039853, 0.007514342636874241]
PINNED_ACT = ["tanh", "tanh", "tanh"]


def test_the_first_random_proposals_are_pinned():
    table = _trials(0)
    assert table["param_lr"].head(3).tolist() == pytest.approx(PINNED_LR, rel=1e-12)
    assert table["param_act"].head(3).tolist() == PINNED_ACT


def test_the_trial_seed_reaches_the_trainer():
    """Same parameters, other trial seeds: other initial weights and batches, other results."""
    from models import MLPObjective

    objective = MLPObjective("digits", hidden_dims=[16], batch_size=128)
    space = {"lr": hp.Fixed(3e-3), "activation": hp.Fixed("relu")}

    def losses(seed):
        res = hp.Study(objective, space, metric="val_acc").optimize(n_trials=3, budget=1, seed=seed, n_jobs=1)
        return res.trials["loss"].tolist()

    zero = losses(0)
    assert len(set(zero)) == 3              # each trial its own seed, so its own run
    assert losses(0) == zero                # reproducible
    assert not set(losses(1)) & set(zero)   # another study seed: other runs


def test_each_stage_draws_from_its_own_stream():
    """On a space no stage narrows (a scipy.stats distribution is never narrowed), the second
    stage does not repeat the first one's draws."""
    import scipy.stats

    space = {"x": scipy.stats.norm(0, 1), "lr": hp.Fixed(1e-3)}
    res = hp.Study(LogBowl({"lr": 1e-3}), space, metric="score").coarse_to_fine(
        [hp.Stage(6, 1), hp.Stage(6, 2)], seed=0, n_jobs=1)
    assert res.stages[1].space == res.stages[0].space
    first, second = (res.trials.loc[res.trials["stage"] == k, "param_x"].tolist() for k in (0, 1))
    assert len(set(first) | set(second)) == 12
