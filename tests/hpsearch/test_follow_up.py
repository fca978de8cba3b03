"""The follow-up stage: it confirms an edge the search left unproven, clears an interior optimum
near the edge, reports its cost, and its trials are stored, resumable and the same for any n_jobs."""
import math

import numpy as np
import pytest

import hpsearch as hp
from hpsearch.strategies.follow_up import LABEL, FollowUp, probe_params, settle, suspect_edges

SPACE = {"lr": hp.LogUniform(1e-6, 1e-3), "x": hp.Uniform(0.0, 1.0)}


class Noisy:
    """lr's optimum at unit position ``optimum`` (4/3: a decade above the range), plus noise."""

    def __init__(self, optimum, noise):
        self.optimum, self.noise = optimum, noise

    def __call__(self, params, budget, seed, report):
        u = (math.log10(params["lr"]) + 6) / 3
        noise = np.random.default_rng(seed).normal(0, self.noise) if self.noise else 0.0
        return {"loss": (u - self.optimum) ** 2 + 0.1 * (params["x"] - 0.5) ** 2 + noise}


def follow_up_records(result):
    return [r for r in result.records if r.get(LABEL)]


def test_a_noisy_edge_the_test_misses_is_confirmed_by_the_follow_up():
    study = hp.Study(Noisy(4 / 3, 0.3), SPACE, metric="loss", direction="minimize")
    plain = study.optimize("random", 30, seed=0)
    assert [f for f in plain.boundary if f.param == "lr"] == [] and len(plain.records) == 30
    res = study.optimize("random", 30, seed=0, follow_up=True)
    extra = follow_up_records(res)
    assert len(res.records) == 40 and len(extra) == 10 and {r[LABEL] for r in extra} == {"lr:high"}
    # half a decade inside the edge, half outside; x kept at the best search trial's value
    assert sum(r["params"]["lr"] > 1e-3 for r in extra) == 5
    assert all(1e-4 <= r["params"]["lr"] <= 1e-2 for r in extra)
    flags = [f for f in res.boundary if f.param == "lr"]
    assert [(f.edge, f.evidence) for f in flags] == [("high", "follow-up")] and flags[0].pvalue <= 0.025
    assert "10 follow-up trials a decade either side of the high edge of [1e-06, 1e-03] confirm" in flags[0].suggestion
    assert "widen above, e.g. to 1e-02" in flags[0].suggestion
    text = res.summary()
    assert "follow-up (10 extra trials" in text
    assert "lr high edge: confirmed: the metric keeps improving past it (10 follow-up trials" in text


def test_an_interior_optimum_near_the_edge_is_cleared():
    res = hp.Study(Noisy(0.85, 0.05), SPACE, metric="loss", direction="minimize").optimize(
        "random", 30, seed=0, follow_up=True)
    assert len(follow_up_records(res)) == 10
    assert [f for f in res.boundary if f.param == "lr"] == []
    assert "lr high edge: cleared: the metric does not clearly improve past it" in res.summary()


def test_follow_up_is_off_for_optimize_and_on_for_coarse_to_fine():
    study = hp.Study(Noisy(4 / 3, 0.3), SPACE, metric="loss", direction="minimize")
    stages = [hp.Stage(20, 1), hp.Stage(10, 1)]
    assert len(study.optimize("random", 30, seed=0).records) == 30
    res = study.coarse_to_fine(stages, seed=0)
    extra = follow_up_records(res)
    assert extra and len(res.records) == 30 + len(extra) <= 30 + 20
    assert {r["stage"] for r in extra} >= {2} and "follow-up (" in res.summary()
    assert len(study.coarse_to_fine(stages, seed=0, follow_up=False).records) == 30


def test_follow_up_trials_are_stored_resumed_and_the_same_for_any_n_jobs(tmp_path):
    path = tmp_path / "study.db"
    study = hp.Study(Noisy(4 / 3, 0.3), SPACE, metric="loss", direction="minimize", storage=path, name="fu")
    first = study.optimize("random", 30, seed=0, follow_up=True)
    again = study.optimize("random", 30, seed=0, follow_up=True)   # resumes: nothing left to run
    assert again.records == first.records and again.boundary == first.boundary
    loaded = hp.load_study(path, "fu")
    assert loaded.boundary == first.boundary and "lr high edge: confirmed" in loaded.summary()
    parallel = hp.Study(Noisy(4 / 3, 0.3), SPACE, metric="loss", direction="minimize").optimize(
        "random", 30, seed=0, follow_up=True, n_jobs=2)
    key = lambda r: (r["number"], r["stage"], r.get(LABEL), r["params"], r["seed"])  # noqa: E731
    assert [key(r) for r in parallel.records] == [key(r) for r in first.records]
    assert parallel.boundary == first.boundary


def test_suspects_settle_and_placement_directly():
    space = hp.Space(SPACE)
    rng = np.random.default_rng(0)
    params = [{"lr": 10 ** rng.uniform(-6, -3), "x": rng.uniform()} for _ in range(30)]
    values = [(math.log10(p["lr"]) + 6) / 3 for p in params]            # the loss rises with lr
    assert suspect_edges(space, params, values, "minimize", FollowUp()) == []   # proven by the test
    assert suspect_edges(space, params, values, "maximize", FollowUp()) == []
    assert suspect_edges(space, params, [0.0] * 30, "minimize", FollowUp()) == []  # nothing leans anywhere
    probes = probe_params(space, {"lr": 1e-4, "x": 0.3}, "lr", "low", 4, seed=1)
    assert [p["x"] for p in probes] == [0.3] * 4
    # inside: the outer quarter of the decade above 1e-6; outside: of the decade below it
    assert all(10 ** -5.26 <= p["lr"] <= 10 ** -4.99 for p in probes[:2])
    assert all(10 ** -7.01 <= p["lr"] <= 10 ** -6.74 for p in probes[2:])
    records = [{"number": i, "status": "ok", "params": p, "metrics": {"loss": math.log10(p["lr"])}, LABEL: "lr:low"}
               for i, p in enumerate(probe_params(space, {"lr": 1e-4, "x": 0.3}, "lr", "low", 10, seed=2))]
    [outcome] = settle(space, records, "loss", "minimize")
    assert (outcome.param, outcome.edge, outcome.trials, outcome.confirmed) == ("lr", "low", 10, True)
    [outcome] = settle(space, records, "loss", "maximize")
    assert not outcome.confirmed and outcome.pvalue > 0.5


def test_in_a_space_with_branches_only_the_best_trials_own_parameters_are_probed():
    # branch b's top trials lean toward z's high edge (suspect: shift p <= 0.2, unproven); the probes
    # move the best trial's params, so z is probed when one of b's trials is the best, not when a's is
    space = hp.Space([{"arm": hp.Fixed("a"), "lr": hp.LogUniform(1e-6, 1e-3)},
                      {"arm": hp.Fixed("b"), "z": hp.Uniform(0.0, 1.0, bounds=(-1, 2))}])
    params = [{"arm": "a", "lr": lr} for lr in (2e-6, 1e-5, 3e-5, 1e-4, 3e-4, 6e-4)] + \
        [{"arm": "b", "z": z} for z in (0.1, 0.3, 0.5, 0.6, 0.8, 0.9, 0.2, 0.4, 0.7, 0.85)]
    b = [0.3, 0.5, 0.2, 0.4, 0.9, 0.8, 0.1, 0.6, 0.35, 1.0]
    assert suspect_edges(space, params, [0.0] * 6 + b, "maximize", FollowUp())[0] == ("z", "high")
    a = [0.2, 0.4, 0.3, 0.1, 0.6, 2.0]   # now a's trial at lr 6e-4 is the best
    assert suspect_edges(space, params, a + b, "maximize", FollowUp()) == [("lr", "high")]


def test_bad_settings():
    with pytest.raises(ValueError, match="follow_up trials_per_edge must be a positive integer"):
        FollowUp(trials_per_edge=0)
    with pytest.raises(ValueError, match=r"follow_up suspect_level must be a number in \(0.025, 1\), got 2"):
        FollowUp(suspect_level=2)
