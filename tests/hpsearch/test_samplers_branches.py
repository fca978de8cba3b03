"""Every sampler on a space with branches: only active parameters, the grid's union, seeds."""
import pytest

import hpsearch as hp
from hpsearch.objectives import LogBowl
from hpsearch.samplers import GridSampler, get_sampler
from hpsearch.space import Branch, Space

SAMPLER_NAMES = ["random", "grid", "sobol", "tpe", "cmaes", "gp"]


def branch_space():
    return Space({
        "lr": hp.LogUniform(1e-4, 1e-1),
        "optimizer": Branch({"sgd": {}, "momentum": {"mu": hp.Uniform(0.5, 0.99)},
                             "adam": {"beta1": hp.Uniform(0.8, 0.99), "beta2": hp.LogUniform(0.9, 0.9999)}}),
    })


EXPECTED_KEYS = {"sgd": {"lr", "optimizer"}, "momentum": {"lr", "optimizer", "mu"},
                 "adam": {"lr", "optimizer", "beta1", "beta2"}}


def bowl():
    return LogBowl({"lr": 1e-2, "mu": 0.9, "beta2": 0.999}, choices={"optimizer": "adam"}, noise=0.05)


@pytest.mark.parametrize("name", SAMPLER_NAMES)
def test_every_sampler_proposes_only_the_active_parameters(name):
    sampler = get_sampler(name)
    if name == "cmaes":  # CMA-ES models only what every trial has, and says so
        with pytest.warns(UserWarning, match="Choice parameters optimizer and the branches' parameters mu, beta1, "
                                             "beta2 at random"):
            n = sampler.start(branch_space(), 24, seed=3, direction="maximize")
    else:
        n = sampler.start(branch_space(), 24, seed=3, direction="maximize")
    proposals = []
    for first in range(0, n, 4):
        batch = sampler.ask(4)
        for i, params in enumerate(batch):
            sampler.tell(first + i, params, bowl().score(params))
        proposals.extend(batch)
    assert {p["optimizer"] for p in proposals} == {"sgd", "momentum", "adam"}
    for p in proposals:
        assert set(p) == EXPECTED_KEYS[p["optimizer"]]
        assert list(p) == [k for k in branch_space() if k in p]  # space order


def test_grid_is_the_union_of_equal_shares_per_branch():
    sampler = GridSampler()
    n = sampler.start(branch_space(), 30, seed=0, direction="maximize")
    # 10 trials per branch: sgd 10 lr values; momentum 3 x 3; adam 2 x 2 x 2
    assert sampler.branch_shares(branch_space(), 30) == [({"optimizer": "sgd"}, 10), ({"optimizer": "momentum"}, 9),
                                                         ({"optimizer": "adam"}, 8)]
    grid = sampler.ask(n)
    assert n == 27 and len(grid) == 27
    assert [p["optimizer"] for p in grid] == ["sgd"] * 10 + ["momentum"] * 9 + ["adam"] * 8
    assert sorted({p["mu"] for p in grid if "mu" in p}) == [0.5, 0.745, 0.99]
    with pytest.raises(ValueError, match="n_trials=2 is fewer than the grid's 3 combinations of branches"):
        GridSampler().start(branch_space(), 2, seed=0, direction="maximize")
    with pytest.raises(ValueError, match="branch optimizer='adam'"):
        GridSampler(points={"beta1": 5}).start(branch_space(), 12, seed=0, direction="maximize")


@pytest.mark.parametrize("name", ["random", "sobol", "tpe"])
def test_same_seed_same_proposals_other_seed_others(name):
    def draw(seed):
        sampler = get_sampler(name)
        sampler.start(branch_space(), 12, seed=seed, direction="maximize")
        out = []
        for first in range(0, 12, 4):
            batch = sampler.ask(4)
            for i, params in enumerate(batch):
                sampler.tell(first + i, params, bowl().score(params))
            out.extend(batch)
        return out

    assert draw(1) == draw(1)
    assert draw(1) != draw(2)


@pytest.mark.parametrize("sampler", ["random", "sobol", "tpe"])
def test_same_seed_same_trials_table_for_n_jobs_1_and_2(sampler):
    def table(n_jobs):
        study = hp.Study(bowl(), branch_space(), metric="score", direction="maximize")
        res = study.optimize(sampler, n_trials=12, budget=2, seed=0, n_jobs=n_jobs)
        return res.trials.drop(columns=["duration"])

    one = table(1)
    assert one.equals(table(2))
    # inactive parameters are missing in the table, never a made-up value
    sgd = one[one["param_optimizer"] == "sgd"]
    assert len(sgd) and sgd[["param_mu", "param_beta1", "param_beta2"]].isna().all().all()
    adam = one[one["param_optimizer"] == "adam"]
    assert adam[["param_beta1", "param_beta2"]].notna().all().all() and adam["param_mu"].isna().all()


def test_an_inactive_parameter_never_reaches_the_objective():
    seen = []

    def objective(params, budget, seed, report=None):
        seen.append(dict(params))
        return {"score": bowl().score(params)}

    hp.Study(objective, branch_space(), metric="score").optimize("random", n_trials=20, budget=1, seed=0)
    assert len(seen) == 20
    for p in seen:
        assert set(p) == EXPECTED_KEYS[p["optimizer"]]


def test_a_stored_study_with_branches_extends_and_reads_back_with_the_same_columns(tmp_path):
    db = tmp_path / "study.db"

    def run(n):
        study = hp.Study(bowl(), branch_space(), metric="score", storage=db, name="b")
        return study.optimize("sobol", n_trials=n, budget=1, seed=0)

    first = run(6).trials.drop(columns=["duration"])
    more = run(10)
    assert more.extended and more.trials.drop(columns=["duration"]).head(6).equals(first)
    stored = hp.SearchResult.from_storage(db, "b")
    assert list(stored.trials.columns) == list(more.trials.columns)
    assert stored.param_names == ["lr", "optimizer", "mu", "beta1", "beta2"]


def test_hyperband_with_branches_gives_the_same_table_for_n_jobs_1_and_2():
    from hpsearch.objectives import LearningCurve
    from hpsearch.strategies import Hyperband

    def table(n_jobs):
        study = hp.Study(LearningCurve({"lr": 1e-2, "mu": 0.9, "beta2": 0.999}, noise=0.01), branch_space(),
                         metric="score")
        return study.run(Hyperband(min_budget=1, max_budget=9, eta=3), seed=0, n_jobs=n_jobs).trials.drop(
            columns=["duration"])

    one = table(1)
    assert one.equals(table(2))
    continued = one[one["continued_from"].notna()]
    assert len(continued) and set(one["param_optimizer"]) == {"sgd", "momentum", "adam"}
