"""Branches downstream: the edge test and narrowing per parameter over the trials that have it,
and coarse-to-fine dropping a clearly worse branch."""
import warnings

import pytest

import hpsearch as hp
from hpsearch.objectives import LogBowl
from hpsearch.space import Space
from hpsearch.strategies import CoarseToFine
from hpsearch.strategies.branch_narrowing import clearly_worse_branches

# branch a's x is searched below its optimum (0.03 > 1e-2); branch b's y around its optimum
SPACE = {"lr": hp.LogUniform(1e-4, 1),
         "optimizer": hp.Branch({"a": {"x": hp.LogUniform(1e-3, 1e-2)}, "b": {"y": hp.LogUniform(1e-4, 1)}})}
BOWL = LogBowl({"lr": 1e-2, "x": 0.03, "y": 1e-2}, noise=0.02)


def test_a_branch_whose_range_is_too_narrow_is_flagged_and_widened_the_other_left_alone():
    res = hp.Study(BOWL, SPACE, metric="score").optimize("random", n_trials=120, budget=1, seed=1)
    assert [(f.param, f.edge) for f in res.boundary] == [("x", "high")]
    assert "widen above, e.g. to 1e-01" in res.boundary[0].suggestion

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither branch is clearly worse: nothing dropped
        res = hp.Study(BOWL, SPACE, metric="score").run(CoarseToFine([hp.Stage(80, 1), hp.Stage(30, 1)]), seed=0)
    before, after = res.stages[0].space, res.stages[1].space
    assert after.branches == {"optimizer": ("a", "b")}
    assert after["x"].low == before["x"].low and after["x"].high >= 0.1         # moved out past its high edge
    assert before["y"].low < after["y"].low < 1e-2 < after["y"].high < before["y"].high   # shrunk around 1e-2
    assert before["lr"].low < after["lr"].low and after["lr"].high < before["lr"].high


def test_an_inactive_parameter_never_reaches_the_edge_test_or_narrowing(monkeypatch):
    import hpsearch.diagnostics.boundary as boundary
    import hpsearch.strategies.branch_narrowing as branch_narrowing

    calls = []

    def spy(real):
        def call(space, params, values, direction, **options):
            calls.append((real.__name__, space, list(params)))
            return real(space, params, values, direction, **options)
        return call

    monkeypatch.setattr(boundary, "find_boundary_flags", spy(boundary.find_boundary_flags))
    monkeypatch.setattr(branch_narrowing, "narrow_space", spy(branch_narrowing.narrow_space))
    hp.Study(BOWL, SPACE, metric="score").run(CoarseToFine([hp.Stage(40, 1), hp.Stage(20, 1)]), seed=0)
    assert {name for name, _, _ in calls} == {"find_boundary_flags", "narrow_space"}
    for _, space, params in calls:
        assert params and all(set(p) == set(space) for p in params)    # every trial has every parameter
    tested = [set(space) for name, space, _ in calls if name == "find_boundary_flags"]
    assert {"lr", "optimizer", "x"} in tested and {"lr", "optimizer", "y"} in tested


def test_a_clearly_worse_branch_is_dropped_with_its_parameters_and_said():
    space = {"lr": hp.LogUniform(1e-4, 1),
             "optimizer": hp.Branch({"a": {}, "b": {"z": hp.Uniform(0, 1)}})}
    bowl = LogBowl({"lr": 1e-2}, choices={"optimizer": "a"}, choice_penalty=0.3, noise=0.02)
    with pytest.warns(UserWarning, match=r"stage 1 drops optimizer='b' \(p=.*\): none of stage 0's top trials"):
        res = hp.Study(bowl, space, metric="score").run(CoarseToFine([hp.Stage(30, 1), hp.Stage(10, 1)]), seed=0)
    after = res.stages[1].space
    assert after.branches == {"optimizer": ("a",)} and "z" not in after
    assert set(res.trials.loc[res.trials["stage"] == 1, "param_optimizer"]) == {"a"}


def test_a_branch_with_a_top_trial_or_too_few_trials_is_kept():
    space = Space({"optimizer": hp.Branch({"a": {}, "b": {}, "c": {}})})
    params = [{"optimizer": b} for b in "aaaaabbbbbc"]
    values = [0.9, 0.8, 0.85, 0.88, 0.86, 0.1, 0.2, 0.15, 0.12, 0.95, 0.5]
    # b holds the best trial, c has one trial: only clear evidence drops a branch
    assert clearly_worse_branches(space, "optimizer", params, values, "maximize") == []
    values[9] = 0.11
    worse = clearly_worse_branches(space, "optimizer", params, values, "maximize")
    assert [b for b, _ in worse] == ["b"] and worse[0][1] <= 0.01
