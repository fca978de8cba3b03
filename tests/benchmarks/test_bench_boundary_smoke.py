"""bench_boundary runs end to end in its --quick configuration and reports every case and goal
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
    assert set(payload["goals"]) == {"detect_a_e_from_40", "detect_f_from_40", "false_c_d_every_size"}
    for case in bench.CASES:
        for sampler in bench.SAMPLERS:
            cell = payload["cells"][f"{case}/{sampler}/40"]
            assert cell["studies"] == 5 and 0.0 <= cell["new"] <= 1.0 and 0.0 <= cell["old"] <= 1.0
            assert sum(v["studies"] for v in cell["by_dim"].values()) == 5
    printed = capsys.readouterr().out
    assert "| case | rate" in printed and "goal false_c_d_every_size" in printed


def test_the_simulated_loss_spreads_each_effect_over_its_range(bench_script):
    bench = bench_script("bench_boundary")
    space, loss, edge = bench.study_parts("a", 3, np.random.default_rng(0))
    lr = space["lr"]
    at = {u: loss({"lr": lr.from_unit(u), "x1": 0.01, "x2": 0.5}, 1, 0, None)["loss"] for u in (0.0, 1.0)}
    assert abs(at[0.0] - at[1.0]) == pytest.approx(1.0)  # lr's effect across the range
    assert (at[1.0] < at[0.0]) == (edge == "high")
