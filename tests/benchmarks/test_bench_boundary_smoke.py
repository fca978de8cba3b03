"""bench_boundary runs end to end in its --quick configuration and reports every row and goal
(figures meaningless at 5 studies per cell)."""
import json

import numpy as np
import pytest


def test_bench_boundary_quick_reports_rates_and_goals(tmp_path, capsys, bench_script):
    bench = bench_script("bench_boundary")
    out = tmp_path / "boundary.json"
    payload = bench.main(["--quick", "--out", str(out)])
    data = json.loads(out.read_text())
    assert data["benchmark"] == "bench_boundary" and data["quick"] is True
    assert set(payload["goals"]) == set(bench.GOALS) - {"detect_e_100"}   # --quick stops at 40 trials
    for case in bench.INTERIOR:
        for ptype in bench.TYPES:
            for noise in ("clean", "noise"):
                cell = payload["cells"][f"{case}/{ptype}/{noise}/40"]
                assert cell["studies"] == 5 and 0.0 <= cell["rate"] <= 1.0
    assert payload["cells"]["a/int/clean/12"]["studies"] == 5
    assert payload["cells"]["e+fu/float/noise/40"]["extra_trials"] <= 20   # at most 2 edges x 10 trials
    printed = capsys.readouterr().out
    assert "| case" in printed and "| type" in printed and "goal detect_e_follow_up" in printed


@pytest.mark.parametrize("ptype", ["float", "int"])
def test_the_simulated_loss_spreads_each_effect_over_its_range(bench_script, ptype):
    bench = bench_script("bench_boundary")
    space, loss, edge = bench.study_parts("a", 3, np.random.default_rng(0), ptype)
    p = space["p"]
    at = {u: loss({"p": p.from_unit(u), "x1": 0.01, "x2": 0.5}, 1, 0, None)["loss"] for u in (0.0, 1.0)}
    # p's effect across the range (an integer's end cells are read at their centres: within 3%)
    assert abs(at[0.0] - at[1.0]) == pytest.approx(1.0, abs=0.03)
    assert (at[1.0] < at[0.0]) == (edge == "high")


def test_the_lopsided_basin_rises_slower_toward_the_edge(bench_script):
    bench = bench_script("bench_boundary")
    space, loss, edge = bench.study_parts("lop", 2, np.random.default_rng(1))
    toward = 0.95 if edge == "high" else 0.05
    away = 0.55 if edge == "high" else 0.45
    at = {u: loss.term("p", u) for u in (toward, away)}
    assert at[toward] == pytest.approx(at[away] / bench.LOPSIDED * (0.2 / 0.2) ** 2)


@pytest.mark.parametrize("case, ptype", [("a", "float"), ("e", "int"), ("c75", "float")])
def test_the_fast_path_gives_the_flags_of_a_real_study(bench_script, case, ptype):
    import hpsearch as hp

    bench = bench_script("bench_boundary")
    space, loss, _ = bench.study_parts(case, 3, np.random.default_rng(4), ptype)
    real = hp.Study(loss, space, metric="loss", direction="minimize").optimize("random", n_trials=40, seed=11)
    assert bench.search_flags(space, loss, 40, 11) == real.boundary
