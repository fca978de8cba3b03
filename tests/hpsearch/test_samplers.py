"""Samplers: the protocol, random/grid/Sobol designs, seeds, equal budgets, the registry."""
import math

import numpy as np
import pytest
import scipy.stats
from scipy.stats import qmc

from hpsearch.distributions import Choice, Fixed, IntLogUniform, IntUniform, LogUniform, Uniform
from hpsearch.samplers import SAMPLERS, BaseSampler, GridSampler, RandomSampler, SobolSampler, get_sampler
from hpsearch.space import Space

PLANNED = ["random", "grid", "sobol"]


def mixed_space():
    return Space({
        "lr": LogUniform(1e-6, 1e-1),
        "reg": LogUniform(1e-5, 1e1),
        "hidden_dims": Choice([[50], [100], [200]]),
        "dropout": Uniform(0.0, 0.7),
        "width": IntLogUniform(8, 512),
        "epochs": Fixed(3),
    })


def in_space(space, params):
    assert list(params) == list(space.names)
    for name, dist in space.items():
        v = params[name]
        if isinstance(dist, Fixed):
            assert v == dist.value
        elif isinstance(dist, Choice):
            assert v in dist.values
        else:
            assert dist.low <= v <= dist.high
            if isinstance(dist, IntUniform):
                assert type(v) is int


@pytest.mark.parametrize("name", PLANNED)
def test_protocol_for_every_builtin_sampler(name):
    space = mixed_space()
    sampler = get_sampler(name)
    assert isinstance(sampler, BaseSampler) and not sampler.is_adaptive
    with pytest.raises(RuntimeError, match="before start"):
        sampler.ask(1)
    n = sampler.start(space, 40, seed=7, direction="maximize")
    assert 1 <= n <= 40
    first = sampler.ask(5)
    rest = sampler.ask(1000)
    assert len(first) == min(5, n) and len(first) + len(rest) == n
    assert sampler.ask(3) == []
    sampler.tell(0, first[0], 0.5)  # accepted and ignored
    for params in first + rest:
        in_space(space, params)
    # same seed -> same trials; the designs are plain data
    again = get_sampler(name)
    again.start(space, 40, seed=7, direction="maximize")
    assert again.ask(n) == first + rest


@pytest.mark.parametrize("name", PLANNED)
def test_start_validates(name):
    sampler = get_sampler(name)
    space = mixed_space()
    with pytest.raises(ValueError, match="n_trials must be a positive integer, got n_trials=0"):
        sampler.start(space, 0, 0, "maximize")
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*32\), got -1"):
        sampler.start(space, 4, -1, "maximize")
    with pytest.raises(ValueError, match="direction must be 'maximize' or 'minimize', got 'max'"):
        sampler.start(space, 4, 0, "max")


@pytest.mark.parametrize("cls", [RandomSampler, SobolSampler])
def test_prefix_stable(cls):
    space = mixed_space()
    small, large = cls(), cls()
    small.start(space, 10, 3, "minimize")
    large.start(space, 100, 3, "minimize")
    assert large.ask(100)[:10] == small.ask(10)
    other = cls()
    other.start(space, 10, 4, "minimize")
    fresh = cls()
    fresh.start(space, 10, 3, "minimize")
    assert other.ask(10) != fresh.ask(10)  # another seed, other trials


def test_random_marginals_log_uniform():
    space = Space({"lr": LogUniform(1e-6, 1e-1), "act": Choice(["a", "b", "c"]), "n": IntUniform(1, 4)})
    sampler = RandomSampler()
    sampler.start(space, 3000, 0, "minimize")
    trials = sampler.ask(3000)
    logs = np.log10([t["lr"] for t in trials])
    assert scipy.stats.kstest(logs, scipy.stats.uniform(-6, 5).cdf).pvalue > 0.01
    # the same test rejects a linear-uniform design of the same range
    lin = RandomSampler()
    lin.start(Space({"lr": Uniform(1e-6, 1e-1)}), 3000, 0, "minimize")
    lin_logs = np.log10([t["lr"] for t in lin.ask(3000)])
    assert scipy.stats.kstest(lin_logs, scipy.stats.uniform(-6, 5).cdf).pvalue < 1e-6
    acts = [t["act"] for t in trials]
    assert min(acts.count(a) for a in "abc") > 900
    assert sorted({t["n"] for t in trials}) == [1, 2, 3, 4]


def test_random_accepts_scipy_distributions():
    space = Space({"alpha": scipy.stats.loguniform(1e-4, 1e-1), "x": Uniform(0, 1)})
    sampler = RandomSampler()
    sampler.start(space, 200, 0, "minimize")
    alphas = [t["alpha"] for t in sampler.ask(200)]
    assert all(isinstance(a, float) and 1e-4 <= a <= 1e-1 for a in alphas)


def test_grid_equal_budget():
    space = Space({"lr": LogUniform(1e-6, 1e-1), "reg": LogUniform(1e-5, 1e1)})
    for budget in (16, 24, 25, 64, 100):
        sampler = GridSampler()
        n = sampler.start(space, budget, 0, "minimize")
        k = math.isqrt(budget)
        assert n == k * k <= budget
        trials = sampler.ask(n)
        assert len({t["lr"] for t in trials}) == k  # a grid tries sqrt(B) values of each parameter
        assert min(t["lr"] for t in trials) == 1e-6 and max(t["lr"] for t in trials) == 1e-1
    # k**d must not suffer from float roots: 64 ** (1/3) == 3.9999999999999996
    three = Space({"a": Uniform(0, 1), "b": Uniform(0, 1), "c": Uniform(0, 1)})
    assert GridSampler().start(three, 64, 0, "minimize") == 64
    assert GridSampler().start(three, 63, 0, "minimize") == 27


def test_grid_values_order_and_choices():
    space = Space({"lr": LogUniform(1e-4, 1e-2), "act": Choice(["relu", "tanh"]), "e": Fixed(2)})
    sampler = GridSampler()
    assert sampler.start(space, 7, 0, "minimize") == 6  # 2 choices x floor(7 / 2) = 3 learning rates
    trials = sampler.ask(6)
    assert trials == [
        {"lr": 1e-4, "act": "relu", "e": 2}, {"lr": 1e-4, "act": "tanh", "e": 2},
        {"lr": 1e-3, "act": "relu", "e": 2}, {"lr": 1e-3, "act": "tanh", "e": 2},
        {"lr": 1e-2, "act": "relu", "e": 2}, {"lr": 1e-2, "act": "tanh", "e": 2},
    ]
    other_seed = GridSampler()
    other_seed.start(space, 7, 99, "maximize")
    assert other_seed.ask(6) == trials
    with pytest.raises(ValueError, match="choices and given points alone make 2 trials, more than n_trials=1"):
        GridSampler().start(space, 1, 0, "minimize")


def test_grid_points_small_ints_and_errors():
    space = Space({"lr": LogUniform(1e-6, 1e-1), "reg": LogUniform(1e-5, 1e1), "layers": IntUniform(1, 2)})
    sampler = GridSampler(points={"lr": 6})
    n = sampler.start(space, 60, 0, "minimize")
    axes = sampler.axes(space, 60)
    assert axes["lr"] == [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
    assert axes["layers"] == [1, 2]          # both ints; the rest of the budget goes to reg
    assert len(axes["reg"]) == 5 and n == 60
    assert repr(sampler) == "GridSampler(points={'lr': 6})"
    with pytest.raises(ValueError, match="unknown parameter 'lrr'"):
        GridSampler(points={"lrr": 3}).start(space, 10, 0, "minimize")
    with pytest.raises(ValueError, match="positive integer, got 0"):
        GridSampler(points={"lr": 0})
    with pytest.raises(ValueError, match="'act' a number of values, but it is a Choice"):
        GridSampler(points={"act": 2}).start(Space({"act": Choice(["a", "b"])}), 10, 0, "minimize")
    full = GridSampler(points={"lr": 3, "reg": 2, "layers": 2})
    assert full.start(space, None, 0, "minimize") == 12
    with pytest.raises(ValueError, match=r"needs n_trials, or points for every numeric parameter \(missing: reg"):
        GridSampler(points={"lr": 3}).start(space, None, 0, "minimize")


@pytest.mark.parametrize("name", ["grid", "sobol"])
def test_scipy_distribution_rejected_where_unsupported(name):
    class NoPpf:
        def rvs(self, size=None, random_state=None):
            return random_state.random(size)

    space = Space({"x": NoPpf() if name == "sobol" else scipy.stats.norm(0, 1)})
    with pytest.raises(ValueError, match="parameter 'x' is a scipy.stats distribution.*only the random sampler can sample it"):
        get_sampler(name).start(space, 8, 0, "minimize")


def test_sobol_points_mapped_from_scipy():
    space = Space({"lr": LogUniform(1e-6, 1e-1), "drop": Uniform(0, 0.5), "f": Fixed(1)})
    sampler = SobolSampler()
    sampler.start(space, 16, 123, "minimize")
    trials = sampler.ask(16)
    expected = qmc.Sobol(2, scramble=True, rng=np.random.default_rng(123)).random_base2(4)
    for t, u in zip(trials, expected):
        assert t["lr"] == pytest.approx(10 ** (-6 + 5 * u[0]))
        assert t["drop"] == pytest.approx(0.5 * u[1])
        assert t["f"] == 1
    plain = SobolSampler(scramble=False)
    plain.start(space, 4, 0, "minimize")
    assert plain.ask(1)[0] == {"lr": 1e-6, "drop": 0.0, "f": 1}
    assert repr(plain) == "SobolSampler(scramble=False)"


def test_sobol_lower_discrepancy_than_random():
    space = Space({"a": Uniform(0, 1), "b": Uniform(0, 1), "c": Uniform(0, 1)})
    results = {}
    for cls in (SobolSampler, RandomSampler):
        disc = []
        for seed in range(5):
            sampler = cls()
            sampler.start(space, 64, seed, "minimize")
            points = np.array([[t["a"], t["b"], t["c"]] for t in sampler.ask(64)])
            disc.append(qmc.discrepancy(points))
        results[cls.__name__] = np.median(disc)
    assert results["SobolSampler"] < 0.5 * results["RandomSampler"]


def test_registry():
    assert SAMPLERS == ("bohb", "cmaes", "gp", "grid", "optuna-random", "qmc", "random", "sobol", "tpe")
    assert isinstance(get_sampler("random"), RandomSampler)
    assert get_sampler("grid", points={"lr": 3}).points == {"lr": 3}
    assert get_sampler("sobol", scramble=False).scramble is False
    mine = RandomSampler()
    assert get_sampler(mine) is mine
    with pytest.raises(ValueError) as info:
        get_sampler("foo")
    assert str(info.value) == ("unknown sampler 'foo'; expected one of bohb, cmaes, gp, grid, optuna-random, qmc, "
                               "random, sobol, tpe, or a sampler object")
    with pytest.raises(ValueError, match="unknown sampler 42"):
        get_sampler(42)
    with pytest.raises(ValueError, match="unknown option 'scrambled' for sampler 'sobol'; expected scramble"):
        get_sampler("sobol", scrambled=True)
    with pytest.raises(ValueError, match="is a class; pass an instance"):
        get_sampler(RandomSampler)
    with pytest.raises(ValueError, match="only apply to sampler names"):
        get_sampler(mine, points={})


@pytest.mark.parametrize("name", PLANNED)
def test_all_fixed_space(name):
    space = Space({"a": Fixed(1), "b": Fixed("x")})
    sampler = get_sampler(name)
    n = sampler.start(space, 3, 0, "minimize")
    assert n == (1 if name == "grid" else 3)
    assert sampler.ask(n)[0] == {"a": 1, "b": "x"}


@pytest.mark.parametrize("name", SAMPLERS)
def test_every_registered_name_gives_a_sampler(name):
    import importlib.util

    if name == "gp" and importlib.util.find_spec("torch") is None:
        # Optuna's GPSampler needs torch, an optional heavy dependency: say how to get it, at once
        from hpsearch.errors import HpsearchError

        with pytest.raises(HpsearchError, match=r"sampler 'gp' needs the torch package: pip install torch"):
            get_sampler(name)
        return
    sampler = get_sampler(name)
    assert all(callable(getattr(sampler, m)) for m in ("start", "ask", "tell"))
    assert isinstance(sampler.is_adaptive, bool)
    assert repr(sampler)


def test_optuna_instances_are_wrapped_lazily():
    import optuna

    from hpsearch.samplers import OptunaSampler

    wrapped = get_sampler(optuna.samplers.RandomSampler(seed=0))
    assert isinstance(wrapped, OptunaSampler)
