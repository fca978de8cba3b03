"""Boundary flags: the edge test on small hand-made cases, the rule for grids and integers,
hard bounds, the flag's fields and text, bad input."""
import math

import numpy as np
import pytest
import scipy.stats

from hpsearch.diagnostics.boundary import MIN_TEST_TRIALS, BoundaryFlag, edge_of, find_boundary_flags, evidence_by_param
from hpsearch.distributions import Choice, Fixed, IntLogUniform, IntUniform, LogUniform, Uniform
from hpsearch.diagnostics.edge_test import EDGE_LEVEL, edge_evidence
from hpsearch.samplers import GridSampler, RandomSampler
from hpsearch.space import Space


def run(space, objective, n=60, seed=0, sampler=None, direction="minimize"):
    sampler = sampler or RandomSampler()
    n = sampler.start(space, n, seed, direction)
    params = sampler.ask(n)
    return params, [objective(p) for p in params]


LR = Space({"lr": LogUniform(1e-6, 1e-3), "x": Uniform(0.0, 1.0, bounds=(-1, 2)), "act": Choice(["relu", "tanh"])})


def beyond(optimum):
    """lr's optimum at ``optimum`` (outside [1e-6, 1e-3]) plus a smaller interior effect of x."""
    return lambda p: (math.log10(p["lr"]) - math.log10(optimum)) ** 2 + 2 * (p["x"] - 0.5) ** 2


@pytest.mark.parametrize("optimum, edge", [(1e-2, "high"), (1e-7, "low")])
def test_a_clear_edge_is_flagged_with_strong_evidence(optimum, edge):
    params, values = run(LR, beyond(optimum))
    flags = find_boundary_flags(LR, params, values, "minimize")
    assert [(f.param, f.edge) for f in flags] == [("lr", edge)]
    flag = flags[0]
    assert (flag.low, flag.high) == (1e-6, 1e-3)
    assert flag.value == params[int(np.argmin(values))]["lr"]
    assert flag.evidence == "strong" and 0 < flag.pvalue <= EDGE_LEVEL / 10
    assert flag.top_share == 1.0  # all 12 top trials lie in the half next to the edge
    half = "upper" if edge == "high" else "lower"
    target = "1e-02" if edge == "high" else "1e-07"
    assert flag.suggestion.startswith(f"lr: the top trials crowd toward the {edge} edge of [1e-06, 1e-03] and "
                                      f"the metric keeps improving up to it (best ")
    assert flag.suggestion.endswith(f"top trials in the {half} half: 12 of 12); "
                                    f"widen {'above' if edge == 'high' else 'below'}, e.g. to {target}")
    assert str(flag) == f"{flag.suggestion} [evidence: strong, p={flag.pvalue:.1g}]"
    assert BoundaryFlag(**flag.to_dict()) == flag and flag.to_dict()["evidence"] == "strong"


def test_a_steady_trend_is_caught_when_the_best_is_not_in_the_outer_5_percent():
    params, values = run(LR, beyond(1e-2), n=80)
    # drop every trial above 85% of the range: the best now sits near 0.85, which the
    # old rule ("best in the outer 5%") calls fine
    keep = [i for i, p in enumerate(params) if LR["lr"].to_unit(p["lr"]) < 0.85]
    params, values = [params[i] for i in keep], [values[i] for i in keep]
    best = params[int(np.argmin(values))]["lr"]
    assert edge_of(LR["lr"], best) is None and LR["lr"].to_unit(best) > 0.8
    assert [(f.param, f.edge) for f in find_boundary_flags(LR, params, values, "minimize")] == [("lr", "high")]


def test_no_effect_is_not_flagged_and_a_lone_lucky_best_at_the_edge_is_not_enough():
    space = Space({"a": LogUniform(1e-6, 1e-3), "b": Uniform(0.0, 1.0), "c": Uniform(-1.0, 1.0)})
    flags = 0
    for seed in range(40):
        params, _ = run(space, lambda p: 0.0, n=40, seed=seed)
        values = list(np.random.default_rng(seed).normal(size=len(params)))  # pure noise
        flags += len(find_boundary_flags(space, params, values, "minimize"))
    assert flags <= 1  # 40 studies x 3 parameters x 2 edges at 1% each, and both parts must agree
    params, _ = run(space, lambda p: 0.0, n=40, seed=0)
    values = list(np.random.default_rng(1).normal(size=len(params)))
    lucky = max(range(len(params)), key=lambda i: params[i]["b"])
    values[lucky] = min(values) - 1.0  # the best trial sits on b's top edge, by luck
    assert edge_of(space["b"], params[lucky]["b"]) == "high"
    assert [f for f in find_boundary_flags(space, params, values, "minimize") if f.param == "b"] == []


def test_an_interior_off_centre_optimum_is_not_flagged():
    # optimum at 75% of lr's range: the top trials ARE shifted toward the high edge, but in
    # the upper half the metric gets no better toward the edge, so the trend part says no
    optimum = 10 ** (-6 + 0.75 * 3)
    params, values = run(LR, beyond(optimum), n=100)
    evidence = evidence_by_param(LR, params, values, "minimize")["lr"]["high"]
    assert evidence.shift < EDGE_LEVEL and evidence.trend > 0.5
    assert find_boundary_flags(LR, params, values, "minimize") == []


def test_ties_in_the_metric_and_in_positions():
    params, values = run(LR, beyond(1e-2))
    space = Space({"lr": LR["lr"]})
    # a coarse metric (many ties, also at the top-trial threshold) still shows the edge
    rounded = [round(v) for v in values]
    assert [f.edge for f in find_boundary_flags(LR, params, rounded, "minimize")] == ["high"]
    # all metrics tied: nothing points anywhere
    assert find_boundary_flags(LR, params, [1.0] * len(params), "minimize") == []
    # every trial at the same inner value: no evidence, no crash
    same = [{"lr": 1e-4} for _ in range(30)]
    assert find_boundary_flags(space, same, list(range(30)), "minimize") == []
    ev = edge_evidence(np.full(30, 0.5), np.arange(30.0))
    assert ev["low"].pvalue == ev["high"].pvalue == 1.0


def test_a_small_study_says_it_is_too_small_and_falls_back_to_the_heuristic():
    flags = find_boundary_flags(LR, [{"lr": 9.9e-4, "x": 0.5, "act": "relu"}], [0.0], "minimize")
    assert [(f.param, f.edge, f.evidence, f.pvalue) for f in flags] == [("lr", "high", "heuristic", None)]
    assert flags[0].suggestion == ("lr: 1 trial: too few to test edges; the best lr sits in the top 5% of its "
                                   "range (a heuristic, not a test): best 9.9e-04 is at the high edge of "
                                   "[1e-06, 1e-03]; widen above, e.g. to 1e-02")
    assert str(flags[0]).endswith("[evidence: heuristic]")
    # 12 trials, the best inside the range: no word about lr (x, linear in [0, 1], is bounded there)
    params, values = run(LR, lambda p: (math.log10(p["lr"]) + 4.5) ** 2, n=12)
    assert [f for f in find_boundary_flags(LR, params, values, "minimize") if f.param == "lr"] == []
    # from MIN_TEST_TRIALS on, only the test speaks: a best at the edge by luck is not enough
    params, _ = run(LR, lambda p: 0.0, n=MIN_TEST_TRIALS)
    values = list(np.random.default_rng(3).normal(size=len(params)))
    values[max(range(len(params)), key=lambda i: params[i]["lr"])] = -10.0
    assert find_boundary_flags(LR, params, values, "minimize") == []
    assert len(find_boundary_flags(LR, params[1:], values[1:], "minimize")) <= 1


def test_all_failed_and_nan_metrics():
    params, values = run(LR, beyond(1e-2))
    assert find_boundary_flags(LR, [], [], "minimize") == []
    assert find_boundary_flags(LR, params, [None] * len(params), "minimize") == []
    assert find_boundary_flags(LR, params, [math.nan] * len(params), "minimize") == []
    # NaN and None entries are left out, never taken as best: the same flag as without them
    holes = [math.nan if i % 5 == 0 else None if i % 7 == 0 else v for i, v in enumerate(values)]
    kept = [(p, v) for p, v in zip(params, holes) if v is not None and not math.isnan(v)]
    expected = find_boundary_flags(LR, [p for p, _ in kept], [v for _, v in kept], "minimize")
    assert find_boundary_flags(LR, params, holes, "minimize") == expected
    assert [f.edge for f in expected] == ["high"]


def test_direction_flips_the_edge():
    params, values = run(LR, beyond(1e-2))
    assert [f.edge for f in find_boundary_flags(LR, params, [-v for v in values], "maximize")] == ["high"]
    assert [f.edge for f in find_boundary_flags(LR, params, values, "maximize")] == ["low"]


def test_a_trend_into_a_hard_bound_is_not_flagged():
    space = Space({"dropout": Uniform(0.0, 0.5), "mom": Uniform(0.5, 0.99, bounds=(0, 1))})
    params, values = run(space, lambda p: p["dropout"] + (p["mom"] - 1.5) ** 2, n=80)
    flags = find_boundary_flags(space, params, values, "minimize")
    # dropout's 0 is its hard bound: an answer, not a search problem; mom can still grow to 1
    assert [(f.param, f.edge) for f in flags] == [("mom", "high")]
    assert flags[0].suggestion.endswith("widen above, e.g. to 1 (its hard bound)")


# ---------------------------------------------------------------------- the rule: grids, integers
def test_rule_flag_text_exactly():
    space = Space({"lr": LogUniform(1e-6, 1e-3)})
    params = [{"lr": 1e-3}, {"lr": 1e-5}, {"lr": 1e-6}, {"lr": 5e-5}]  # endpoints: a grid
    flags = find_boundary_flags(space, params, [0.9, 0.5, 0.4, 0.3], "maximize")
    assert flags == [BoundaryFlag("lr", "high", 1e-3, 1e-6, 1e-3,
                                  "lr: best 1e-03 is at the high edge of [1e-06, 1e-03]; widen above, "
                                  "e.g. to 1e-02; top trials at this edge: 1 of 3", 1 / 3, None, "rule")]
    assert str(flags[0]) == flags[0].suggestion + " [evidence: rule]"
    assert BoundaryFlag(**flags[0].to_dict()) == flags[0]
    # a flag stored before the test existed (no pvalue/evidence) rebuilds as a rule flag
    old = {k: v for k, v in flags[0].to_dict().items() if k not in ("pvalue", "evidence")}
    assert BoundaryFlag(**old) == flags[0]


def test_grid_endpoints_are_flagged_by_the_rule():
    space = Space({"lr": LogUniform(1e-5, 1e-1), "reg": LogUniform(1e-5, 1e1)})
    params, values = run(space, lambda p: -math.log10(p["lr"]) + (math.log10(p["reg"]) + 2) ** 2,
                         n=25, sampler=GridSampler())
    flags = find_boundary_flags(space, params, values, "minimize")
    assert [(f.param, f.edge, f.value, f.evidence, f.pvalue) for f in flags] == [("lr", "high", 1e-1, "rule", None)]


def test_edge_zone_is_measured_in_log_space():
    lr = LogUniform(1e-6, 1e-1)
    assert edge_of(lr, 1e-6 + 0.1 * (1e-1 - 1e-6)) is None  # 10% of the linear span is 4/5 up in log space
    assert edge_of(lr, 2e-6) is None and edge_of(lr, 1.5e-6) == "low"  # 0.06 and 0.035 of 5 decades
    assert edge_of(Uniform(1e-6, 1e-1), 0.004) == "low"


def test_integer_ranges_in_a_small_study_get_the_heuristic_at_an_endpoint():
    space = Space({"layers": IntUniform(1, 4), "width": IntLogUniform(8, 512)})
    flags = find_boundary_flags(space, [{"layers": 4, "width": 64}, {"layers": 2, "width": 100}],
                                [0.1, 0.5], "minimize")
    assert [(f.param, f.edge, f.value, f.evidence) for f in flags] == [("layers", "high", 4, "heuristic")]
    assert "best 4 is at the high edge of [1, 4]; widen above, e.g. to 6" in flags[0].suggestion
    flags = find_boundary_flags(space, [{"layers": 2, "width": 8}], [0.1], "minimize")
    assert [(f.param, f.edge) for f in flags] == [("width", "low")]
    assert "best 8 is at the low edge of [8, 512]; widen below, e.g. to 1 (its hard bound)" in flags[0].suggestion
    assert find_boundary_flags(space, [{"layers": 3, "width": 40}], [0.1], "minimize") == []


@pytest.mark.parametrize("dist", [IntLogUniform(8, 1024), IntUniform(1, 200), IntUniform(1, 5)])
def test_integer_ranges_get_the_statistical_test(dist):
    space = Space({"w": dist, "x": LogUniform(1e-3, 1.0)})
    # no effect: a best on an endpoint (which random integers hit often) is not a flag
    flagged = 0
    for seed in range(30):
        params, _ = run(space, lambda p: 0.0, n=40, seed=seed)
        values = [(math.log10(p["x"]) + 1.5) ** 2 + 0.3 * r
                  for p, r in zip(params, np.random.default_rng(seed).normal(size=len(params)))]
        flagged += any(f.param == "w" for f in find_boundary_flags(space, params, values, "minimize"))
    assert flagged <= 1
    # a metric that keeps improving up to the high edge: flagged by the test, with a p-value
    params, _ = run(space, lambda p: 0.0, n=60)
    values = [-dist.to_unit(p["w"]) + 0.2 * (math.log10(p["x"]) + 1.5) ** 2 for p in params]
    flags = [f for f in find_boundary_flags(space, params, values, "minimize") if f.param == "w"]
    assert [(f.edge, f.evidence) for f in flags] == [("high", "strong")] and flags[0].pvalue < EDGE_LEVEL / 10


def test_choice_fixed_and_scipy_never_flagged():
    space = Space({"act": Choice([1, 2, 3]), "f": Fixed(0.5), "s": scipy.stats.uniform(0, 1)})
    params = [{"act": 3, "f": 0.5, "s": 0.999}, {"act": 1, "f": 0.5, "s": 0.5}]
    assert find_boundary_flags(space, params, [0.0, 1.0], "minimize") == []


def test_hard_bound_edge_not_flagged_by_the_rule_either():
    space = Space({"dropout": Uniform(0.0, 0.5), "x": Uniform(0.1, 0.5)})
    flags = find_boundary_flags(space, [{"dropout": 0.0, "x": 0.1}, {"dropout": 0.5, "x": 0.5}], [0.0, 1.0],
                                "minimize")
    assert [f.param for f in flags] == ["x"]
    assert flags[0].suggestion.startswith("x: best 0.1 is at the low edge of [0.1, 0.5]; widen below, e.g. to 0 "
                                          "(its hard bound)")


def test_bad_input():
    with pytest.raises(ValueError, match="direction must be 'maximize' or 'minimize', got 'up'"):
        find_boundary_flags(LR, [{"lr": 1e-4}], [1.0], "up")
    with pytest.raises(ValueError, match="3 params dicts but 2 values"):
        find_boundary_flags(LR, [{"lr": 1e-4}] * 3, [1, 2], "minimize")
    with pytest.raises(ValueError, match="1-d arrays of one length"):
        edge_evidence([0.1, 0.2], [1.0])


def test_the_svc_example_tells_a_12_candidate_search_about_gamma():
    """Issue 26: SVC on digits, 12 candidates, gamma in [1e-6, 1e-4] (the good values lie above
    1e-3). Twelve trials are too few for the test; SearchCV says so in one warning, the summary's
    line with the heuristic's flag below it."""
    import warnings

    from sklearn.datasets import load_digits
    from sklearn.svm import SVC

    import hpsearch as hp
    from hpsearch.sklearn import SearchCV

    X, y = load_digits(return_X_y=True)
    space = {"C": hp.LogUniform(0.1, 100), "gamma": hp.LogUniform(1e-6, 1e-4)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search = SearchCV(SVC(), space, n_trials=12, cv=3, seed=2).fit(X, y)
    said = [str(w.message) for w in caught if str(w.message).startswith("SearchCV: ")]
    line = ("12 trials: too few to test edges (the edge test needs about 20); the heuristic flags below only say "
            "where the best value sits; the best trial has C at 47% and gamma at 96% of their ranges (log scale for "
            "log ranges)")
    flag = ("gamma: 12 trials: too few to test edges; the best gamma sits in the top 5% of its range (a heuristic, "
            "not a test): best 8.5e-05 is at the high edge of [1e-06, 1e-04]; widen above, e.g. to 1e-03; top "
            "trials at this edge: 1 of 3")
    assert said == [f"SearchCV: {line}\n  {flag} [evidence: heuristic]"]
    assert [(f.param, f.edge, f.evidence) for f in search.boundary_] == [("gamma", "high", "heuristic")]
    assert search.result_.summary().splitlines().count(line) == 1
    assert search.edge_report_.splitlines()[0] == line and f"  {flag} [evidence: heuristic]" in search.edge_report_
