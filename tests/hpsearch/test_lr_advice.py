"""The learning-rate range check read against a study, and `hpsearch sanity` showing it."""
import math
from pathlib import Path

import pytest

import hpsearch as hp
from hpsearch.cli import main
from hpsearch.studyfile.lr_advice import lr_advice, study_file_line

ROOT = Path(__file__).resolve().parents[2]


def check(zones, lrs=None):
    lrs = lrs or [10.0 ** (k / 2 - 6) for k in range(len(zones))]   # 1e-6, 3e-6, 1e-5, ...
    table = [{"lr": lr, "start_loss": 2.3, "end_loss": math.nan if z == "too high" else 1.0,
              "drop": math.nan if z == "too high" else 0.5, "diverged": z == "too high", "zone": z}
             for lr, z in zip(lrs, zones)]
    good = [lr for lr, z in zip(lrs, zones) if z == "good"]
    return {"table": table, "good": [good[0], good[-1]] if good else None, "best_lr": good[len(good) // 2] if good else None,
            "suggested": [good[0], good[-1]] if good else None, "iterations": 100}


ZONES = ["too low"] * 4 + ["good"] * 5 + ["too high"] * 5   # good from 1e-4 to 1e-2


def test_the_line_to_search_is_a_study_file_line():
    assert study_file_line(3.2e-4, 2.9e-2) == 'lr = { type = "loguniform", low = 0.0003, high = 0.03 }'
    assert lr_advice(check(ZONES))["line"] == 'lr = { type = "loguniform", low = 0.0001, high = 0.01 }'


def test_a_range_covering_the_good_zone_gets_no_warning():
    advice = lr_advice(check(ZONES), hp.LogUniform(3e-5, 3e-2))
    assert advice["coverage"] == 1.0 and advice["warnings"] == [] and advice["ok"]


def test_a_range_that_misses_most_of_the_good_zone_is_warned_about():
    advice = lr_advice(check(ZONES), hp.LogUniform(1e-7, 2e-4))
    assert advice["coverage"] == pytest.approx(math.log10(2) / 2)
    assert "covers 15% of the good zone [1e-04, 1e-02]; search lr = " in advice["warnings"][0]


def test_a_range_deep_in_the_divergent_zone_is_warned_about():
    advice = lr_advice(check(ZONES), hp.LogUniform(1e-4, 10.0))
    assert any("decades into the rates that diverge (from 3e-02)" in w for w in advice["warnings"])
    assert not lr_advice(check(ZONES), hp.LogUniform(1e-4, 5e-2))["warnings"]  # a quarter decade in is fine


def test_no_learning_rate_that_learns_says_so():
    advice = lr_advice(check(["too low"] * 6 + ["too high"] * 4), hp.LogUniform(1e-4, 1e-1))
    assert not advice["ok"] and advice["line"] is None and "no learning rate made the loss go down" in advice["warnings"][0]


@pytest.mark.parametrize("study, sets, best_lr, exit_code", [
    ("digits_mlp.toml", [], 6.96e-3, 0),          # the main job's best trial
    ("spiral.toml", [], 1.3e-2, 0),               # one of the spiral study's best trials
    # plain SGD at the range's middle (lr 0.01) cannot overfit 20 points in 200 epochs: a FAIL, exit 1
    ("spiral.toml", ["--set", "optimizer=sgd"], None, 1),
])
def test_sanity_prints_the_range_and_its_good_zone_holds_the_studies_best_rates(tmp_path, capsys, study, sets,
                                                                                 best_lr, exit_code):
    code = main(["sanity", str(ROOT / "studies" / study), "--out", str(tmp_path), *sets])
    out = capsys.readouterr().out
    assert code == exit_code, out
    assert ("[FAIL] overfit 20 training samples" in out) == (exit_code == 1)
    assert "learning-rate range check: 100 iterations" in out and "search (study-file line): lr = {" in out
    assert (tmp_path / "lr_range.png").stat().st_size > 0
    low, high = (float(x) for x in out.split("good zone [")[1].split("]")[0].split(", "))
    if best_lr is not None:
        assert low <= best_lr <= high
    else:
        assert low >= 1e-3  # plain SGD needs larger rates than Adam
