"""Boundary flags: right and wrong cases, log-space measurement, hard bounds, suggestion text."""
import math

import numpy as np
import pytest
import scipy.stats

from hpsearch.boundary import BoundaryFlag, find_boundary_flags
from hpsearch.distributions import Choice, Fixed, IntLogUniform, IntUniform, LogUniform, Uniform
from hpsearch.samplers import GridSampler, RandomSampler
from hpsearch.space import Space


def run(space, objective, n=200, seed=0, sampler=None, direction="minimize"):
    sampler = sampler or RandomSampler()
    n = sampler.start(space, n, seed, direction)
    params = sampler.ask(n)
    return params, [objective(p) for p in params]


LR = Space({"lr": LogUniform(1e-6, 1e-3), "act": Choice(["relu", "tanh"])})


@pytest.mark.parametrize("optimum, edge", [(1e-2, "high"), (1e-8, "low")])
def test_optimum_beyond_each_edge_is_flagged(optimum, edge):
    params, values = run(LR, lambda p: (math.log10(p["lr"]) - math.log10(optimum)) ** 2)
    flags = find_boundary_flags(LR, params, values, "minimize")
    assert [(f.param, f.edge) for f in flags] == [("lr", edge)]
    flag = flags[0]
    assert (flag.low, flag.high) == (1e-6, 1e-3)
    # the top 20% (40 trials) fill the 20% of the range next to the edge; a quarter of
    # them lie in its 5% zone (a lone lucky best would give 1/40)
    assert 0.15 < flag.top_share < 0.4
    best = params[int(np.argmin(values))]["lr"]
    assert flag.value == best
    word = "above" if edge == "high" else "below"
    target = "1e-02" if edge == "high" else "1e-07"
    assert f"is at the {edge} edge of [1e-06, 1e-03]; widen {word}, e.g. to {target}" in flag.suggestion
    assert flag.suggestion.startswith("lr: best ")
    assert flag.suggestion.endswith(f"top trials at this edge: {round(flag.top_share * 40)} of 40")  # best 20% of 200


def test_suggestion_text_exactly():
    space = Space({"lr": LogUniform(1e-6, 1e-3)})
    params = [{"lr": 9.3e-4}, {"lr": 1e-5}, {"lr": 3e-6}, {"lr": 5e-5}]
    flags = find_boundary_flags(space, params, [0.9, 0.5, 0.4, 0.3], "maximize")
    assert flags == [BoundaryFlag("lr", "high", 9.3e-4, 1e-6, 1e-3,
                                  "lr: best 9.3e-04 is at the high edge of [1e-06, 1e-03]; widen above, "
                                  "e.g. to 1e-02; top trials at this edge: 1 of 3", 1 / 3)]
    assert str(flags[0]) == flags[0].suggestion
    assert BoundaryFlag(**flags[0].to_dict()) == flags[0]


def test_optimum_inside_is_not_flagged():
    params, values = run(LR, lambda p: (math.log10(p["lr"]) + 4.5) ** 2)
    assert find_boundary_flags(LR, params, values, "minimize") == []


def test_edge_is_measured_in_log_space():
    space = Space({"lr": LogUniform(1e-6, 1e-1)})
    # 10% of the linear span: 1e-2, which is 4/5 of the way up in log space: not an edge
    best = {"lr": 1e-6 + 0.1 * (1e-1 - 1e-6)}
    others = [{"lr": 1e-4}, {"lr": 1e-3}]
    assert find_boundary_flags(space, [best] + others, [0.0, 1.0, 2.0], "minimize") == []
    # 5% of the linear span from the low end is far from the low edge in log space too...
    assert find_boundary_flags(space, [{"lr": 0.05 * 1e-1}], [0.0], "minimize") == []
    # ...while 2e-6 (0.06 of the 5 decades) is not, and 1.5e-6 (0.035) is at the low edge
    assert find_boundary_flags(space, [{"lr": 2e-6}], [0.0], "minimize") == []
    assert [f.edge for f in find_boundary_flags(space, [{"lr": 1.5e-6}], [0.0], "minimize")] == ["low"]
    # a linear range of the same numbers measures linearly
    lin = Space({"lr": Uniform(1e-6, 1e-1)})
    assert [f.edge for f in find_boundary_flags(lin, [{"lr": 0.004}], [0.0], "minimize")] == ["low"]


def test_integer_at_an_endpoint_is_flagged_inside_is_not():
    space = Space({"layers": IntUniform(1, 4), "width": IntLogUniform(8, 512)})
    flags = find_boundary_flags(space, [{"layers": 4, "width": 64}, {"layers": 2, "width": 100}],
                                [0.1, 0.5], "minimize")
    assert [(f.param, f.edge, f.value) for f in flags] == [("layers", "high", 4)]
    assert "layers: best 4 is at the high edge of [1, 4]; widen above, e.g. to 6" in flags[0].suggestion
    flags = find_boundary_flags(space, [{"layers": 2, "width": 8}], [0.1], "minimize")
    assert [(f.param, f.edge) for f in flags] == [("width", "low")]
    assert "width: best 8 is at the low edge of [8, 512]; widen below, e.g. to 1 (its hard bound)" in flags[0].suggestion
    assert find_boundary_flags(space, [{"layers": 3, "width": 40}], [0.1], "minimize") == []


def test_grid_endpoints_are_flagged():
    space = Space({"lr": LogUniform(1e-5, 1e-1), "reg": LogUniform(1e-5, 1e1)})
    params, values = run(space, lambda p: -math.log10(p["lr"]) + (math.log10(p["reg"]) + 2) ** 2,
                         n=25, sampler=GridSampler())
    flags = find_boundary_flags(space, params, values, "minimize")
    assert [(f.param, f.edge, f.value) for f in flags] == [("lr", "high", 1e-1)]


def test_choice_fixed_and_scipy_never_flagged():
    space = Space({"act": Choice([1, 2, 3]), "f": Fixed(0.5), "s": scipy.stats.uniform(0, 1)})
    params = [{"act": 3, "f": 0.5, "s": 0.999}, {"act": 1, "f": 0.5, "s": 0.5}]
    assert find_boundary_flags(space, params, [0.0, 1.0], "minimize") == []


def test_hard_bound_edge_not_flagged_but_other_edges_are():
    space = Space({"dropout": Uniform(0.0, 0.5), "mom": Uniform(0.5, 0.99, bounds=(0, 1)), "x": Uniform(0.1, 0.5)})
    flags = find_boundary_flags(space, [{"dropout": 0.0, "mom": 0.985, "x": 0.11}], [0.0], "minimize")
    # dropout's 0 is its hard bound: an answer, not a search problem
    assert [f.param for f in flags] == ["mom", "x"]
    assert flags[0].suggestion == "mom: best 0.985 is at the high edge of [0.5, 0.99]; widen above, e.g. to 1 (its hard bound)"
    assert flags[1].suggestion == "x: best 0.11 is at the low edge of [0.1, 0.5]; widen below, e.g. to 0 (its hard bound)"
    high = find_boundary_flags(space, [{"dropout": 0.49, "mom": 0.7, "x": 0.3}], [0.0], "minimize")
    assert [(f.param, f.edge) for f in high] == [("dropout", "high")]
    assert "widen above, e.g. to 0.75" in high[0].suggestion


def test_direction_and_empty_input():
    space = Space({"x": Uniform(0, 1, bounds=(-5, 5))})
    params = [{"x": 0.01}, {"x": 0.5}, {"x": 0.99}]
    assert [f.edge for f in find_boundary_flags(space, params, [1.0, 2.0, 3.0], "minimize")] == ["low"]
    assert [f.edge for f in find_boundary_flags(space, params, [1.0, 2.0, 3.0], "maximize")] == ["high"]
    assert find_boundary_flags(space, [], [], "minimize") == []
    assert find_boundary_flags(space, params, [None, float("nan"), None], "minimize") == []
    # NaN values are ignored, not taken as best
    assert [f.edge for f in find_boundary_flags(space, params, [float("nan"), 2.0, 1.0], "minimize")] == ["high"]
    with pytest.raises(ValueError, match="unknown direction 'up'"):
        find_boundary_flags(space, params, [1, 2, 3], "up")
    with pytest.raises(ValueError, match="3 params dicts but 2 values"):
        find_boundary_flags(space, params, [1, 2], "minimize")
