"""Coarse-to-fine narrowing: shrink around the optimum, move out past an edge, stay valid."""
import math

import numpy as np
import pytest
import scipy.stats

from hpsearch.distributions import Choice, Fixed, IntLogUniform, IntUniform, LogUniform, ScipyDistribution, Uniform
from hpsearch.strategies.narrowing import narrow_space
from hpsearch.samplers import RandomSampler
from hpsearch.space import Space
from hpsearch.strategies.stage import Stage


def run(space, objective, n=100, seed=0, sampler=None):
    sampler = sampler or RandomSampler()
    n = sampler.start(space, n, seed, "minimize")
    params = sampler.ask(n)
    return params, [objective(p) for p in params]


SPACE = Space({
    "lr": LogUniform(1e-6, 1e-1),
    "dropout": Uniform(0.0, 0.8),
    "width": IntUniform(10, 200),
    "act": Choice(["relu", "tanh", "sigmoid", "elu"]),
    "epochs": Fixed(3),
})


def bowl(p):
    """Optimum inside every range: lr 1e-3, dropout 0.4, width 100, act relu."""
    return ((math.log10(p["lr"]) + 3) ** 2 + ((p["dropout"] - 0.4) / 0.2) ** 2 + ((p["width"] - 100) / 50) ** 2
            + (0 if p["act"] == "relu" else 0.5 if p["act"] == "tanh" else 3))


def test_shrinks_around_a_known_optimum():
    params, values = run(SPACE, bowl, n=200)
    # top 10 of 200: in 4 dimensions the best 20% would span most of every axis
    new = narrow_space(SPACE, params, values, "minimize", top_fraction=0.05)
    assert new.names == SPACE.names
    lr, drop, width = new["lr"], new["dropout"], new["width"]
    assert isinstance(lr, LogUniform) and isinstance(drop, Uniform) and isinstance(width, IntUniform)
    assert 1e-6 <= lr.low < 1e-3 < lr.high <= 1e-1
    assert math.log10(lr.high / lr.low) < 0.8 * 5  # fewer decades than before
    assert 0.0 <= drop.low < 0.4 < drop.high <= 0.8 and drop.high - drop.low < 0.8
    assert 10 <= width.low < 100 < width.high <= 200 and width.high - width.low < 190
    assert new["act"].values == ["relu", "tanh"]  # sigmoid and elu lost; order kept
    assert new["epochs"] == Fixed(3)
    # the best trial is always inside the next range
    best = params[min(range(len(values)), key=values.__getitem__)]
    for name in ("lr", "dropout", "width"):
        assert new[name].low <= best[name] <= new[name].high


def test_default_shrink_in_one_dimension():
    space = Space({"lr": LogUniform(1e-6, 1e-1)})
    params, values = run(space, lambda p: abs(math.log10(p["lr"]) + 3), n=50)
    lr = narrow_space(space, params, values, "minimize")["lr"]
    # top 10 of 50 span about 20% of the 5 decades; with 25% margins about 1.5 decades
    assert lr.low < 1e-3 < lr.high
    assert 0.5 < math.log10(lr.high / lr.low) < 2.5
    # a margin of 0 gives exactly the top trials' span
    top = sorted(zip(values, params), key=lambda vp: vp[0])[:10]
    tight = narrow_space(space, params, values, "minimize", margin=0)["lr"]
    assert tight.low == pytest.approx(min(p["lr"] for _, p in top))
    assert tight.high == pytest.approx(max(p["lr"] for _, p in top))


def test_never_collapses_to_a_point():
    space = Space({"x": Uniform(0, 1), "lr": LogUniform(1e-4, 1e-1)})
    params = [{"x": 0.5, "lr": 1e-2}] * 4
    new = narrow_space(space, params, [0.0] * 4, "minimize")
    assert new["x"].high - new["x"].low == pytest.approx(0.1)   # min_width of the old unit range
    assert math.log10(new["lr"].high / new["lr"].low) == pytest.approx(0.3)


def test_moves_outward_at_the_high_edge():
    space = Space({"lr": LogUniform(1e-6, 1e-3), "x": Uniform(-1, 1)})
    params, values = run(space, lambda p: (math.log10(p["lr"]) + 1) ** 2 + p["x"] ** 2, n=100)
    new = narrow_space(space, params, values, "minimize")
    assert new["lr"].high > 1e-3                     # past the old edge
    assert new["lr"].low > 1e-6                      # not just widened: moved
    best_lr = params[values.index(min(values))]["lr"]
    assert new["lr"].low <= best_lr
    assert math.log10(new["lr"].high / 1e-3) >= 0.25 * 3 - 1e-9  # at least edge_step of the old unit range
    kept = narrow_space(space, params, values, "minimize", move_edges=False)
    assert kept["lr"].high <= 1e-3


def test_moves_outward_at_the_low_edge_linear():
    space = Space({"x": Uniform(-1, 1)})
    params, values = run(space, lambda p: (p["x"] + 3) ** 2, n=60)
    new = narrow_space(space, params, values, "minimize")
    assert new["x"].low < -1 and new["x"].high < 1


def test_respects_bounds():
    space = Space({"mom": Uniform(0.5, 0.99, bounds=(0, 1)), "dropout": Uniform(0.0, 0.5),
                   "lr": LogUniform(1e-4, 1e-2, bounds=(1e-6, 2e-2))})
    params, _ = run(space, lambda p: 0.0, n=100)
    new = narrow_space(space, params, [-p["mom"] for p in params], "minimize")
    assert new["mom"].high == 1.0 and new["mom"].low > 0.5      # moved to the hard bound, not past it
    new = narrow_space(space, params, [p["dropout"] for p in params], "minimize")
    assert new["dropout"].low == 0.0 and new["dropout"].high < 0.5  # shrunk onto the hard bound 0
    new = narrow_space(space, params, [-p["lr"] for p in params], "minimize")
    assert new["lr"].high == 2e-2 and new["lr"].low > 1e-4
    for name in space:
        assert new[name].bounds == space[name].bounds


def test_ints_stay_valid_and_collapse_to_fixed_only_when_forced():
    space = Space({"layers": IntUniform(1, 6), "width": IntLogUniform(8, 512), "k": IntUniform(3, 5, bounds=(3, 4 + 1))})
    params = [{"layers": 3, "width": 64, "k": 4}] * 5
    new = narrow_space(space, params, [1.0] * 5, "minimize")
    for name in ("layers", "width"):
        d = new[name]
        assert type(d) is type(space[name]) and isinstance(d.low, int) and d.low < d.high
        assert d.low <= params[0][name] <= d.high
    tight = Space({"k": IntUniform(3, 4, bounds=(3, 4))})
    # both values are used by the top trials, so the range keeps both
    assert narrow_space(tight, [{"k": 3}, {"k": 4}, {"k": 4}], [0.0, 1.0, 2.0], "minimize")["k"] == IntUniform(3, 4, bounds=(3, 4))
    forced = Space({"k": IntUniform(0, 1, bounds=(0, 1))})
    # a range whose min width still holds one integer widens by one inside the bounds
    assert narrow_space(forced, [{"k": 1}] * 3, [0.0] * 3, "minimize", move_edges=False)["k"] == IntUniform(0, 1, bounds=(0, 1))


def test_collapsed_int_range_gains_a_neighbour_inside_the_bounds():
    top_edge = Space({"k": IntUniform(2, 9, bounds=(2, 9))})
    new = narrow_space(top_edge, [{"k": 9}] * 3, [0.0] * 3, "minimize", move_edges=False)
    assert new["k"] == IntUniform(8, 9, bounds=(2, 9))
    free = Space({"k": IntUniform(2, 9)})
    new = narrow_space(free, [{"k": 5}] * 3, [0.0] * 3, "minimize")
    assert new["k"] == IntUniform(5, 6)


def test_choice_survivors_scipy_and_fixed_unchanged():
    space = Space({"act": Choice(["a", "b", "c"]), "s": scipy.stats.norm(0, 1), "f": Fixed("x")})
    params = [{"act": "c", "s": 0.1, "f": "x"}, {"act": "c", "s": 0.2, "f": "x"}, {"act": "c", "s": 0.3, "f": "x"},
              {"act": "a", "s": 0.1, "f": "x"}]
    new = narrow_space(space, params, [0.0, 0.1, 0.2, 9.0], "minimize")
    assert new["act"] == Choice(["c"])  # one survivor stays a Choice: the space keeps its shape
    assert isinstance(new["s"], ScipyDistribution) and new["f"] == Fixed("x")
    assert new.dims == space.dims


def test_no_finite_values_returns_the_same_space_and_bad_options():
    assert narrow_space(SPACE, [], [], "minimize") is SPACE
    with pytest.raises(ValueError, match="margin must be a number in"):
        narrow_space(SPACE, [], [], "minimize", margin=-1)
    with pytest.raises(ValueError, match="top_fraction must be a number in"):
        narrow_space(SPACE, [], [], "minimize", top_fraction=0)


def test_repeated_stages_converge_on_an_optimum_outside_the_first_range():
    space = Space({"lr": LogUniform(1e-6, 1e-3)})
    objective = lambda p: (math.log10(p["lr"]) + 1.5) ** 2  # noqa: E731  optimum 10**-1.5, outside
    for stage in range(6):
        params, values = run(space, objective, n=30, seed=stage)
        space = narrow_space(space, params, values, "minimize")
    assert space["lr"].low < 10 ** -1.5 < space["lr"].high
    assert math.log10(space["lr"].high / space["lr"].low) < 3


def test_objective_bounds_keep_a_moved_range_valid():
    """A best width at the low edge moves the range down, but never below 1 unit."""
    from hpsearch.study import Study
    from models import MLPObjective

    study = Study(MLPObjective("spiral"), {"width": IntUniform(10, 100), "dropout": Uniform(0.0, 0.5)})
    assert study.space["width"].bounds == (1.0, math.inf)
    # the metric falls steadily with width: a trend the test sees, even after Holm's adjustment
    params = [{"width": 10 + 2 * i, "dropout": 0.1 + 0.03 * (i % 10)} for i in range(40)]
    values = [1.0 - i / 40 for i in range(40)]
    moved = narrow_space(study.space, params, values, "maximize")
    assert moved["width"].low == 1 and moved["width"].high < 100


def test_a_range_outside_what_the_objective_accepts_is_named():
    from hpsearch.study import Study
    from models import MLPObjective

    with pytest.raises(ValueError, match=r"width: IntUniform\(0, 10\) reaches outside the values the objective accepts \[1, inf\]"):
        Study(MLPObjective("spiral"), {"width": IntUniform(0, 10)})


def test_never_cuts_inward_at_a_crowded_edge():
    """The issue's case: lr's optimum one decade above the range, the metric rising toward the
    top edge, but no trial in the outer 5%: the range moves out instead of shrinking inward."""
    space = Space({"lr": LogUniform(1e-6, 1e-3), "reg": LogUniform(1e-6, 1e-1), "x": Uniform(0, 1)})
    objective = lambda p: (math.log10(p["lr"]) + 2) ** 2 + 0.05 * (math.log10(p["reg"]) + 3.5) ** 2 \
        + (p["x"] - 0.5) ** 2  # noqa: E731
    params, values = run(space, objective, n=50)
    keep = [i for i, p in enumerate(params) if space["lr"].to_unit(p["lr"]) < 0.9]
    params, values = [params[i] for i in keep], [values[i] for i in keep]
    best = params[values.index(min(values))]["lr"]
    assert 0.8 < space["lr"].to_unit(best) < 0.9
    rule_only = narrow_space(space, params, values, "minimize", edge_level=0)["lr"]
    assert rule_only.high < 1e-3  # the best-in-the-outer-5% rule alone cuts inward below the crowd
    moved = narrow_space(space, params, values, "minimize")["lr"]
    assert moved.high >= 1e-2 and moved.low <= best  # one decade out, as the flag suggests
    assert narrow_space(space, params, values, "minimize", move_edges=False)["lr"].high <= 1e-3
    with pytest.raises(ValueError, match="edge_level must be a number in"):
        narrow_space(space, params, values, "minimize", edge_level=2)


@pytest.mark.parametrize("sampler", ["random", "sobol"])
def test_coarse_to_fine_ends_with_an_optimum_beyond_the_first_range_found_or_flagged(sampler):
    from hpsearch.objectives import LogBowl
    from hpsearch.study import Study

    space = {"lr": LogUniform(1e-6, 1e-3), "reg": LogUniform(1e-6, 1e-1), "dropout": Uniform(0.0, 0.5)}
    bowl = LogBowl({"lr": 1e-2, "reg": 1e-4}, width=1.5)  # dropout does nothing
    for seed in range(8):
        res = Study(bowl, space, metric="score").coarse_to_fine([Stage(40, 1, sampler), Stage(20, 1, sampler)],
                                                                seed=seed)
        flagged = [(f.param, f.edge) for f in res.boundary]
        assert res.best_params["lr"] > 1e-3 or ("lr", "high") in flagged, (seed, res.stages[1].space["lr"])
        assert ("dropout", "low") not in flagged and ("reg", "low") not in flagged


def test_many_no_effect_parameters_never_move_their_ranges():
    """Issue 29: 43 no-effect parameters. Per-edge evidence at 5% would move about two ranges by
    chance; Holm's adjustment over every tested edge keeps the whole space still."""
    names = [f"p{j}" for j in range(43)]
    wide = Space({n: LogUniform(1e-3, 1.0) for n in names})     # could move (no hard bound near)
    unit = Space({n: Uniform(0.0, 1.0) for n in names})         # a probability: bounded to [0, 1]
    for seed in range(3):
        for space in (wide, unit):
            params, _ = run(space, lambda p: 0.0, n=60, seed=seed)
            values = list(np.random.default_rng(seed).normal(size=len(params)))
            moved = narrow_space(space, params, values, "minimize")
            beyond = [n for n in names if moved[n].low < space[n].low or moved[n].high > space[n].high]
            assert beyond == []
    assert all(moved[n].low >= 0.0 and moved[n].high <= 1.0 for n in names)


def test_a_momentum_is_never_suggested_or_moved_past_1():
    from hpsearch.diagnostics.boundary import find_boundary_flags
    from hpsearch.samplers import GridSampler

    space = Space({"momentum": Uniform(0.5, 0.99), "lr": LogUniform(1e-4, 1e-1)})
    objective = lambda p: (p["momentum"] - 1.2) ** 2 + (math.log10(p["lr"]) + 2.5) ** 2  # noqa: E731
    params, values = run(space, objective, n=25, sampler=GridSampler())
    flags = find_boundary_flags(space, params, values, "minimize")
    assert [(f.param, f.edge) for f in flags] == [("momentum", "high")]
    assert "widen above, e.g. to 1 (its hard bound)" in flags[0].suggestion   # not 1.48
    assert narrow_space(space, params, values, "minimize")["momentum"].high <= 1.0


def test_a_log_range_with_evidence_still_widens_in_a_wide_space():
    """Holm costs a real trend little: lr's edge still moves out among 9 no-effect parameters."""
    dists = {"lr": LogUniform(1e-6, 1e-3)}
    dists.update({f"p{j}": LogUniform(1e-3, 1.0) for j in range(9)})
    space = Space(dists)
    params, _ = run(space, lambda p: 0.0, n=60)
    values = [(math.log10(p["lr"]) + 2) ** 2 for p in params]
    moved = narrow_space(space, params, values, "minimize")
    assert moved["lr"].high >= 1e-2
    assert all(moved[f"p{j}"].high <= 1.0 and moved[f"p{j}"].low >= 1e-3 for j in range(9))
