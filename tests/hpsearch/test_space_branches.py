"""Spaces with branches (hp.Branch, a list of alternative spaces): shape, validation, round trip."""

import numpy as np
import pytest

import hpsearch as hp
from hpsearch.space import ALTERNATIVE, Branch, Space


def optimizer_space():
    return Space({
        "lr": hp.LogUniform(1e-4, 1e-1),
        "optimizer": Branch({
            "sgd": {},
            "momentum": {"mu": hp.Uniform(0.5, 0.99)},
            "nesterov": {"mu": hp.Uniform(0.5, 0.99)},
            "adam": {"beta1": hp.Uniform(0.8, 0.99), "beta2": hp.LogUniform(0.9, 0.9999)},
        }),
        "reg": hp.LogUniform(1e-6, 1e-2),
    })


def test_a_branch_is_a_choice_and_its_parameters_exist_only_in_its_branches():
    space = optimizer_space()
    assert space.names == ("lr", "optimizer", "mu", "beta1", "beta2", "reg")
    assert space["optimizer"] == hp.Choice(["sgd", "momentum", "nesterov", "adam"])
    assert space.branches == {"optimizer": ("sgd", "momentum", "nesterov", "adam")}
    assert space.conditions == {"mu": ("optimizer", ("momentum", "nesterov")),
                                "beta1": ("optimizer", ("adam",)), "beta2": ("optimizer", ("adam",))}
    # the optimizer coordinate picks the branch; the other branches' coordinates are unused
    u = [0.5, 0.1, 0.5, 0.5, 0.5, 0.5]
    assert space.from_unit(u) == {"lr": pytest.approx(10 ** -2.5), "optimizer": "sgd", "reg": pytest.approx(1e-4)}
    adam = space.from_unit([0.5, 0.9, 0.5, 0.5, 0.5, 0.5])
    assert list(adam) == ["lr", "optimizer", "beta1", "beta2", "reg"]
    unit = space.to_unit({"lr": 1e-3, "optimizer": "sgd", "reg": 1e-4})
    assert np.isnan(unit[2:5]).all() and not np.isnan(unit[[0, 1, 5]]).any()
    assert space.active({"lr": 1e-3, "optimizer": "sgd", "mu": 0.9, "reg": 1e-4}) == \
        {"lr": 1e-3, "optimizer": "sgd", "reg": 1e-4}


def test_round_trip_through_to_dict_and_json():
    import json

    space = optimizer_space()
    d = json.loads(json.dumps(space.to_dict()))
    assert d["optimizer"]["type"] == "branch"
    assert d["optimizer"]["branches"]["sgd"] == {}
    assert Space.from_dict(d) == space
    assert Space(space.nested()) == space
    assert Space.from_dict(d) != Space({**optimizer_space().nested(), "optimizer": Branch({"sgd": {}})})
    assert "Branch({'sgd': {}, 'momentum'" in repr(space)


def test_nested_branches_and_contexts():
    space = Space({"lr": hp.LogUniform(1e-4, 1e-1),
                   "depth": Branch({"1": {}, "2": {"width2": hp.IntLogUniform(8, 64),
                                                   "act2": Branch({"relu": {}, "leaky": {"slope": hp.Uniform(0.01, 0.3)}})}})})
    assert space.is_active("slope", {"depth": "2", "act2": "leaky"})
    assert not space.is_active("slope", {"depth": "1", "act2": "leaky"})
    assert len(space.alternatives()) == 3
    contexts = dict(space.contexts())
    assert set(contexts) == {("lr", "depth"), ("width2", "act2"), ("slope",)}
    assert contexts[("slope",)].names == ("lr", "depth", "width2", "act2", "slope")
    assert not contexts[("slope",)].is_conditional
    assert Space.from_dict(space.to_dict()) == space


def test_replace_drops_a_branch_with_its_parameters():
    space = optimizer_space().replace(optimizer=hp.Choice(["sgd", "momentum"]))
    assert space.names == ("lr", "optimizer", "mu", "reg")
    assert space.conditions == {"mu": ("optimizer", ("momentum",))}
    with pytest.raises(ValueError, match="branch parameter 'optimizer' can only keep some of its branches"):
        optimizer_space().replace(optimizer=hp.Choice(["sgd", "rmsprop"]))


def test_a_list_of_alternatives_branches_on_the_parameter_each_fixes():
    space = Space([{"kernel": hp.Fixed("linear"), "C": hp.LogUniform(1e-2, 1e2)},
                   {"kernel": hp.Choice(["rbf"]), "C": hp.LogUniform(1e-2, 1e2), "gamma": hp.LogUniform(1e-4, 1)}])
    assert space.branches == {"kernel": ("linear", "rbf")}
    assert space.conditions == {"C": ("kernel", ("linear", "rbf")), "gamma": ("kernel", ("rbf",))}
    plain = Space([{"C": hp.LogUniform(1e-2, 1e2)}, {"C": hp.LogUniform(1e-2, 1e2), "gamma": hp.LogUniform(1e-4, 1)}])
    assert plain.branches == {ALTERNATIVE: ("0", "1")}


@pytest.mark.parametrize("make, message", [
    (lambda: Space({"optimizer": Branch({})}), "optimizer: Branch needs at least one branch"),
    (lambda: Space({"optimizer": Branch({1: {}})}), "optimizer: branch names must be non-empty strings, got 1"),
    (lambda: Space({"optimizer": Branch({"sgd": {"mu": hp.Uniform(0, 1)}, "adam": {"mu": hp.Uniform(0, 2)}})}),
     r"parameter 'mu' is defined in branch optimizer='sgd' as Uniform\(0.0, 1.0\) and in branch optimizer='adam'"),
    (lambda: Space({"mu": hp.Uniform(0, 1), "optimizer": Branch({"sgd": {"mu": hp.Uniform(0, 1)}})}),
     "parameter 'mu' is defined both outside the branches and in branch optimizer='sgd'"),
    (lambda: Space({"optimizer": Branch({"adam": {"beta1": 0.9}})}),
     "parameter 'beta1' in branch optimizer='adam': expected a distribution"),
    (lambda: Space([]), "Space needs at least one alternative, got an empty list"),
    (lambda: Space.from_dict({"optimizer": {"adam": {"beta1": {"type": "uniform", "low": 1, "high": 0}}}}),
     "beta1 in branch optimizer='adam': Uniform needs low < high"),
])
def test_bad_branches_are_one_line_errors_naming_parameter_and_branch(make, message):
    with pytest.raises((ValueError, TypeError), match=message) as info:
        make()
    assert "\n" not in str(info.value)
