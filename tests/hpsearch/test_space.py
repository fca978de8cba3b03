"""Space: ordered immutable mapping, unit-cube transforms, errors naming the parameter."""
import json
import math

import numpy as np
import pytest
import scipy.stats

from hpsearch.distributions import Choice, Fixed, IntUniform, LogUniform, ScipyDistribution, Uniform
from hpsearch.space import Space


def make_space():
    return Space({
        "lr": LogUniform(1e-6, 1e-1),
        "hidden_dims": Choice([[50], [100], [200]]),
        "epochs": Fixed(5),
        "dropout": Uniform(0.0, 0.7),
        "width": IntUniform(10, 100),
    })


def test_order_dims_and_mapping():
    space = make_space()
    assert space.names == ("lr", "hidden_dims", "epochs", "dropout", "width")
    assert list(space) == list(space.names)
    assert space.dims == ("lr", "hidden_dims", "dropout", "width")
    assert len(space) == 5 and space["lr"] == LogUniform(1e-6, 1e-1)
    with pytest.raises(TypeError):
        space["lr"] = Uniform(0, 1)


def test_from_unit_and_back():
    space = make_space()
    params = space.from_unit([0.6, 0.5, 0.0, 1.0])
    assert params == {"lr": pytest.approx(1e-3), "hidden_dims": [100], "epochs": 5, "dropout": 0.0, "width": 100}
    assert list(params) == list(space.names)
    u = space.to_unit(params)
    assert u.shape == (4,)
    assert space.from_unit(u) == params
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        space.from_unit([0.5, 0.5])
    with pytest.raises(ValueError, match="params are missing 'dropout'"):
        space.to_unit({"lr": 1e-3, "hidden_dims": [50], "width": 10})
    with pytest.raises(ValueError, match=r"hidden_dims: \[75\] is not one of the choices"):
        space.to_unit({**params, "hidden_dims": [75]})


def test_random_points_round_trip():
    space = make_space()
    rng = np.random.default_rng(0)
    for u in rng.random((50, 4)):
        params = space.from_unit(u)
        again = space.from_unit(space.to_unit(params))
        assert again.keys() == params.keys()
        for name, value in params.items():
            if isinstance(value, float):
                assert again[name] == pytest.approx(value)
            else:  # ints, choices (lists included) and fixed values come back exactly
                assert again[name] == value


def test_bad_values_name_the_parameter():
    with pytest.raises(TypeError, match=r"parameter 'lr': expected a distribution .* got 0.001 \(float\); use Fixed\(0.001\)"):
        Space({"lr": 1e-3})
    with pytest.raises(ValueError, match="empty"):
        Space({})
    with pytest.raises(TypeError, match="non-empty strings"):
        Space({1: Fixed(1)})
    with pytest.raises(ValueError, match="lr: LogUniform needs 0 < low < high, got low=0, high=1"):
        Space.from_dict({"lr": {"type": "loguniform", "low": 0, "high": 1}})
    with pytest.raises(ValueError, match="act: unknown distribution type 'categorical'"):
        Space.from_dict({"act": {"type": "categorical", "values": ["a"]}})


def test_scipy_values_are_wrapped():
    space = Space({"x": scipy.stats.uniform(0, 2), "y": Fixed(1)})
    assert isinstance(space["x"], ScipyDistribution)
    assert space.from_unit([0.25]) == {"x": pytest.approx(0.5), "y": 1}


def test_replace_equality_dict_and_repr():
    space = make_space()
    narrowed = space.replace(lr=LogUniform(1e-4, 1e-2))
    assert narrowed.names == space.names and narrowed["lr"] == LogUniform(1e-4, 1e-2)
    assert narrowed != space and space == make_space() and hash(space) == hash(make_space())
    assert space["lr"] == LogUniform(1e-6, 1e-1)  # the original is untouched
    with pytest.raises(ValueError, match="unknown parameter 'lrr'; expected one of lr, hidden_dims"):
        space.replace(lrr=Fixed(1))
    d = space.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert Space.from_dict(d) == space
    assert list(Space.from_dict(d)) == list(space)
    text = repr(space)
    assert text.startswith("Space({'lr': LogUniform(1e-06, 0.1), 'hidden_dims': Choice([[50], [100], [200]])")
    # order matters for equality: the unit cube's axes differ
    assert Space({"a": Uniform(0, 1), "b": Uniform(0, 1)}) != Space({"b": Uniform(0, 1), "a": Uniform(0, 1)})


def test_with_bounds_tightens_hard_limits_only():
    space = Space({"w": IntUniform(10, 100), "d": Uniform(0.0, 0.5), "a": Choice(["x", "y"])})
    bounded = space.with_bounds({"w": (1, None), "d": (0.0, 0.9), "a": (0, 1), "not_here": (0, 1)})
    assert bounded["w"] == IntUniform(10, 100, bounds=(1, math.inf))
    assert bounded["d"] == Uniform(0.0, 0.5, bounds=(0.0, 0.9))
    assert bounded["a"] == space["a"]
    assert Space.from_dict(bounded.to_dict()) == bounded
    with pytest.raises(ValueError, match=r"^d: Uniform\(0.0, 0.5\) reaches outside .* \[0.1, 1\]"):
        space.with_bounds({"d": (0.1, 1.0)})
