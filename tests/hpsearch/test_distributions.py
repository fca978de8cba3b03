"""Distributions: validation messages, unit transforms, grids, sampling, dict form."""
import math
import pickle

import numpy as np
import pytest
import scipy.stats

from hpsearch.distributions import (
    Choice, Fixed, IntLogUniform, IntUniform, LogUniform, ScipyDistribution, Uniform, distribution_from_dict,
)

INF = math.inf


@pytest.mark.parametrize("make, message", [
    (lambda: LogUniform(0, 1), "LogUniform needs 0 < low < high, got low=0, high=1"),
    (lambda: LogUniform(-1e-3, 1), "LogUniform needs 0 < low < high, got low=-0.001, high=1"),
    (lambda: LogUniform(1e-2, 1e-3), "LogUniform needs 0 < low < high, got low=0.01, high=0.001"),
    (lambda: Uniform(1, 1), "Uniform needs low < high, got low=1, high=1"),
    (lambda: Uniform(2, 1), "Uniform needs low < high, got low=2, high=1"),
    (lambda: IntUniform(5, 5), "IntUniform needs low < high, got low=5, high=5"),
    (lambda: IntLogUniform(0, 10), "IntLogUniform needs 1 <= low < high, got low=0, high=10"),
    (lambda: Uniform(0, INF), "Uniform needs a finite high, got high=inf"),
    (lambda: LogUniform(float("nan"), 1), "LogUniform needs a finite low, got low=nan"),
    (lambda: Uniform(-INF, 0), "Uniform needs a finite low, got low=-inf"),
    (lambda: Uniform("0", 1), "Uniform needs a number for low, got low='0'"),
    (lambda: Uniform(True, 2), "Uniform needs a number for low, got low=True"),
    (lambda: IntUniform(1.5, 3), "IntUniform needs an integer low, got low=1.5"),
    (lambda: IntLogUniform(1, 10.5), "IntLogUniform needs an integer high, got high=10.5"),
    (lambda: Choice([]), "Choice needs at least one value, got an empty list"),
    (lambda: Choice(["relu", "tanh", "relu"]), "Choice needs distinct values, got 'relu' twice"),
    (lambda: Choice([[50], [100], [50]]), "Choice needs distinct values, got [50] twice"),
    (lambda: Choice("relu"), "Choice needs a list of values, got 'relu'"),
    (lambda: Choice([{1, 2}]), "Choice values must be plain values or lists of them"),
    (lambda: Uniform(0, 1, bounds=(0.5, 2)), "Uniform needs bounds[0] <= low < high <= bounds[1], got low=0.0, high=1.0, bounds=(0.5, 2)"),
    (lambda: Uniform(0, 1, bounds=(0, 0.5)), "bounds[0] <= low < high <= bounds[1]"),
    (lambda: Uniform(0, 1, bounds=(0,)), "Uniform needs bounds=(lo, hi), got bounds=(0,)"),
    (lambda: Uniform(0, 1, bounds=(float("nan"), 2)), "Uniform needs numeric bounds"),
    (lambda: LogUniform(1e-3, 1, bounds=(-1, 10)), "LogUniform needs bounds[0] >= 0"),
    (lambda: IntLogUniform(2, 10, bounds=(0, 100)), "IntLogUniform needs bounds[0] >= 1"),
])
def test_bad_distribution_message(make, message):
    with pytest.raises(ValueError) as info:
        make()
    assert message in str(info.value)


@pytest.mark.parametrize("d, message", [
    ({"type": "normal", "low": 0, "high": 1},
     "unknown distribution type 'normal'; expected one of choice, fixed, int, intlog, loguniform, uniform"),
    ({"low": 0, "high": 1}, "distribution is missing key 'type'"),
    ({"type": "loguniform", "low": 1e-5}, "distribution type 'loguniform' is missing key 'high'"),
    ({"type": "loguniform", "low": 1e-5, "hgh": 1}, "missing key 'high'"),
    ({"type": "uniform", "low": 0, "high": 1, "log": True},
     "unknown key 'log' for distribution type 'uniform'; expected low, high, bounds"),
    ({"type": "logunifrom", "low": 1e-5, "high": 1},
     "unknown distribution type 'logunifrom' (did you mean 'loguniform'?); expected one of choice, fixed"),
    ({"type": "loguniform", "low": 1e-5, "high": 1, "hihg": 2}, "unknown key 'hihg' for distribution type "
     "'loguniform' (did you mean 'high'?)"),
    ({"type": "choice", "value": [1, 2]}, "distribution type 'choice' is missing key 'values'"),
    ({"type": "fixed", "value": 1, "values": [1]}, "unknown key 'values' for distribution type 'fixed'"),
    ({"type": "loguniform", "low": 0, "high": 1}, "LogUniform needs 0 < low < high, got low=0, high=1"),
    ([1, 2], "a distribution must be a table"),
])
def test_bad_dict_message(d, message):
    with pytest.raises(ValueError) as info:
        distribution_from_dict(d)
    assert message in str(info.value)


ALL = [
    LogUniform(1e-6, 1e-1),
    Uniform(-1.0, 0.5),
    Uniform(0.0, 0.7, bounds=(0, 1)),
    IntUniform(10, 100),
    IntLogUniform(8, 512),
    LogUniform(1e-3, 1.0, bounds=(1e-6, None)),
    Choice(["relu", "tanh", "elu"]),
    Choice([[50], [100, 100], [200]]),
    Fixed(5),
    Fixed([1, 2]),
]


@pytest.mark.parametrize("dist", ALL, ids=repr)
def test_dict_round_trip_equality_hash_and_pickle(dist):
    d = dist.to_dict()
    assert distribution_from_dict(d) == dist
    assert hash(distribution_from_dict(d)) == hash(dist)
    assert pickle.loads(pickle.dumps(dist)) == dist
    import json
    assert json.loads(json.dumps(d, allow_nan=False)) == d  # strict JSON, no Infinity


def test_bounds_default_and_infinite_written_as_none():
    assert LogUniform(1e-3, 1).bounds == (0.0, INF)
    assert Uniform(0, 1).bounds == Uniform(0.5, 0.99).bounds == (0.0, 1.0)  # a probability or fraction
    assert Uniform(0, 2).bounds == Uniform(0.5, 1.5).bounds == (0.0, INF)
    assert Uniform(-1, 1).bounds == (-INF, INF)
    assert Uniform(0.2, 0.6, bounds=(0, None)).to_dict()["bounds"] == [0.0, None]  # may grow above 1
    assert IntLogUniform(2, 9).bounds == (1.0, INF)
    assert "bounds" not in Uniform(0, 1).to_dict()
    assert LogUniform(1e-3, 1, bounds=(1e-6, INF)).to_dict()["bounds"] == [1e-6, None]
    assert distribution_from_dict({"type": "uniform", "low": 0, "high": 1, "bounds": [0, 1]}).bounds == (0.0, 1.0)


def test_frozen_and_choice_values_are_copies():
    d = LogUniform(1e-3, 1)
    with pytest.raises(AttributeError):
        d.low = 1e-4
    c = Choice([[50], [100]])
    values = c.values
    values[0].append(7)
    assert c.values == [[50], [100]]
    assert c.from_unit(0.0) == [50] and c.from_unit(0.0) is not c.from_unit(0.0)
    assert {Choice([[1], [2]]), Choice([[1], [2]])} == {Choice([[1], [2]])}
    assert Choice([0, False]).values == [0, False]  # 0 == False in Python, but they are distinct choices
    # a tuple choice read back from JSON storage is a list: still the same choice
    t = Choice([(50,), (100, 100)])
    assert t.index([100, 100]) == 1 and t.values == [(50,), (100, 100)]


@pytest.mark.parametrize("dist", [d for d in ALL if d.ordered], ids=repr)
def test_unit_round_trip_on_ranges(dist):
    for u in np.linspace(0, 1, 11):
        x = dist.from_unit(u)
        assert dist.low <= x <= dist.high
        assert dist.from_unit(dist.to_unit(x)) == pytest.approx(x, rel=1e-9)
    assert dist.from_unit(0.0) == dist.low and dist.from_unit(1.0) == dist.high
    assert dist.to_unit(dist.low) == pytest.approx(0.0, abs=0.1)
    assert dist.to_unit(dist.high) == pytest.approx(1.0, abs=0.1)


def test_log_transform_is_in_log_space():
    d = LogUniform(1e-6, 1e-1)
    assert d.from_unit(0.2) == pytest.approx(1e-5)
    assert d.to_unit(1e-3) == pytest.approx(0.6)
    assert isinstance(d.from_unit(0.3), float)


def test_from_unit_extrapolates_and_clips_to_bounds():
    d = LogUniform(1e-4, 1e-2)
    assert d.from_unit(1.5) == pytest.approx(1e-1)   # one decade past the high edge
    assert d.from_unit(-0.5) == pytest.approx(1e-5)
    capped = LogUniform(1e-4, 1e-2, bounds=(0, 5e-2))
    assert capped.from_unit(1.5) == 5e-2
    lin = Uniform(0.1, 0.5)
    assert lin.from_unit(-1.0) == 0.0  # default bound 0 for ranges with low >= 0
    assert Uniform(-1, 1).from_unit(2.0) == pytest.approx(3.0)
    assert IntUniform(1, 10).from_unit(-0.5) == 0
    assert IntUniform(1, 10).from_unit(1.5) == 16  # floor(1 + 1.5 * 10)


def test_int_cells_are_uniform_and_centred():
    d = IntUniform(1, 4)
    assert [d.to_unit(v) for v in (1, 2, 3, 4)] == [0.125, 0.375, 0.625, 0.875]
    assert [d.from_unit(u) for u in (0.0, 0.24, 0.26, 0.99, 1.0)] == [1, 1, 2, 4, 4]
    assert all(type(d.from_unit(u)) is int for u in (0, 0.5, 1))
    il = IntLogUniform(1, 1000)
    for v in (1, 2, 3, 10, 999, 1000):
        assert il.from_unit(il.to_unit(v)) == v


def test_choice_cells():
    c = Choice(["a", "b", "c", "d"])
    assert [c.from_unit(u) for u in (0.0, 0.3, 0.5, 0.99, 1.0)] == ["a", "b", "c", "d", "d"]
    assert c.to_unit("c") == 0.625
    with pytest.raises(ValueError, match="'e' is not one of the choices"):
        c.to_unit("e")


def test_log_grid_geometric_with_endpoints():
    grid = LogUniform(1e-6, 1e-1).grid(6)
    assert len(grid) == 6
    assert grid[0] == 1e-6 and grid[-1] == 1e-1
    ratios = np.diff(np.log10(grid))
    assert np.allclose(ratios, 1.0)
    assert grid == [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
    assert Uniform(0, 1).grid(5) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert LogUniform(1e-4, 1e-2).grid(1) == [pytest.approx(1e-3)]


def test_int_grids_unique_with_endpoints():
    g = IntUniform(0, 10).grid(4)
    assert g == [0, 3, 7, 10]
    assert IntUniform(1, 3).grid(10) == [1, 2, 3]
    lg = IntLogUniform(1, 1000).grid(4)
    assert lg == [1, 10, 100, 1000]
    g = IntLogUniform(1, 20).grid(12)
    assert len(set(g)) == len(g) and g[0] == 1 and g[-1] == 20 and g == sorted(g)
    assert Choice([1, 2, 3]).grid(2) == [1, 2, 3]
    assert Fixed("x").grid(5) == ["x"]
    with pytest.raises(ValueError, match="positive integer number of points, got k=0"):
        Uniform(0, 1).grid(0)


def test_log_samples_pass_ks_test_in_log_space_and_linear_ones_fail():
    rng = np.random.default_rng(0)
    samples = LogUniform(1e-6, 1e-1).sample(rng, 2000)
    assert all(1e-6 <= x <= 1e-1 for x in samples)
    logs = np.log10(samples)
    assert scipy.stats.kstest(logs, scipy.stats.uniform(-6, 5).cdf).pvalue > 0.01
    linear = Uniform(1e-6, 1e-1).sample(np.random.default_rng(0), 2000)
    assert scipy.stats.kstest(np.log10(linear), scipy.stats.uniform(-6, 5).cdf).pvalue < 1e-6


def test_int_samples_cover_every_value_evenly():
    rng = np.random.default_rng(1)
    draws = IntUniform(1, 4).sample(rng, 4000)
    counts = np.bincount(draws)[1:]
    assert len(counts) == 4 and counts.min() > 900
    log_draws = np.array(IntLogUniform(1, 1000).sample(rng, 4000))
    assert np.median(log_draws) < 60  # log-uniform: median near sqrt(1000), not 500


def test_scipy_distribution():
    frozen = scipy.stats.norm(1.0, 0.1)
    d = ScipyDistribution(frozen)
    assert d == ScipyDistribution(scipy.stats.norm(1.0, 0.1)) and not d.ordered
    x = d.sample(np.random.default_rng(0))
    assert isinstance(x, float)
    assert d.sample(np.random.default_rng(0)) == x
    assert d.from_unit(0.5) == pytest.approx(1.0)
    assert distribution_from_dict(d.to_dict()) == d
    with pytest.raises(ValueError, match="needs an object with an rvs method"):
        ScipyDistribution(3)
    ints = ScipyDistribution(scipy.stats.randint(0, 5)).sample(np.random.default_rng(0), 4)
    assert all(type(v) is int for v in ints)
