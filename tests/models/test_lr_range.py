"""The learning-rate range check: classification rules on synthetic loss curves, and on real data
the good zone holds the learning rates that full searches pick."""
import json
import math

import numpy as np
import pytest

from models import MLP, Trainer, load_dataset, lr_range_check
from models.lr_range import ZONES, classify_learning_rates, default_learning_rates

LRS = [10.0 ** e for e in range(-6, 2)]   # 1e-6 .. 10


def _zones(ends, diverged=None, start=2.3, **kw):
    diverged = diverged or [False] * len(ends)
    return classify_learning_rates(LRS, [start] * len(ends), ends, diverged, **kw)[0]


def test_a_valley_is_too_low_then_good_then_too_high():
    ends = [2.30, 2.28, 2.0, 1.0, 0.3, 0.8, 2.3, math.nan]
    zones = _zones(ends, diverged=[False] * 7 + [True])
    assert zones == ["too low", "too low", "good", "good", "good", "good", "too high", "too high"]


def test_noise_below_the_threshold_stays_too_low_even_if_the_loss_rose():
    zones = _zones([2.31, 2.27, 2.32, 2.29, 1.0, 0.5, math.nan, math.nan], diverged=[False] * 6 + [True] * 2)
    assert zones[:4] == ["too low"] * 4 and zones[4:] == ["good", "good", "too high", "too high"]


def test_a_stall_above_the_best_is_too_high_without_diverging():
    # large steps that bounce: the loss does not fall, but nothing is NaN or above 3x
    zones = _zones([2.3, 2.3, 1.5, 0.4, 2.2, 2.3, 2.5, 2.4])
    assert zones == ["too low", "too low", "good", "good", "too high", "too high", "too high", "too high"]


def test_divergence_is_too_high_wherever_it_is():
    zones = _zones([2.3, math.nan, 1.0, 0.5, 0.4, 0.4, 0.4, 0.4], diverged=[False, True] + [False] * 6)
    assert zones[1] == "too high" and zones[2:] == ["good"] * 6


def test_nothing_learns():
    assert _zones([2.3] * 8) == ["too low"] * 8
    assert _zones([2.3] * 4 + [math.nan] * 4, diverged=[False] * 4 + [True] * 4) == ["too low"] * 4 + ["too high"] * 4


def test_min_drop_sets_what_counts_as_learning():
    ends = [2.3, 2.0, 1.0, 0.5, 0.5, 1.0, 2.0, 2.3]   # drops 0, 0.13, 0.57, 0.78, ...
    assert _zones(ends, min_drop=0.1).count("good") == 6
    assert _zones(ends, min_drop=0.5).count("good") == 4


def test_default_grid_is_four_per_decade_from_1e_7_to_10():
    lrs = default_learning_rates()
    assert len(lrs) == 33 and lrs[0] == pytest.approx(1e-7) and lrs[-1] == pytest.approx(10.0)
    assert np.allclose(np.diff(np.log10(lrs)), 0.25)


@pytest.fixture(scope="module")
def digits_check():
    # the configuration `hpsearch sanity` checks for studies/digits_mlp.toml: the middle of its ranges
    data = load_dataset("digits", seed=0, preprocess="center")
    return lr_range_check(data, hidden_dims=[90], reg=3e-4, dropout=0.25, optimizer="adam", batch_size=64)


def test_digits_with_adam_the_good_zone_holds_the_studys_best_lr(digits_check):
    low, high = digits_check["good"]
    # studies/digits_mlp.toml's best trials use lr ~2e-3 (adam)
    assert low < 2e-3 < high and low < 1e-3 and high > 1e-2
    s_low, s_high = digits_check["suggested"]
    assert low <= s_low < 2e-3 < s_high <= high
    assert digits_check["table"][0]["zone"] == "too low" and digits_check["table"][-1]["zone"] == "too high"
    zones = [row["zone"] for row in digits_check["table"]]
    assert zones == sorted(zones, key=ZONES.index)   # one valley: too low, then good, then too high


def test_the_result_is_plain_data_with_the_documented_keys(digits_check):
    assert set(digits_check) == {"table", "good", "best_lr", "suggested", "iterations", "n_seeds", "seed",
                                 "min_drop", "optimizer", "batch_size"}
    row = digits_check["table"][10]
    assert set(row) == {"lr", "start_loss", "end_loss", "drop", "diverged", "zone"}
    assert type(row["diverged"]) is bool and all(type(row[k]) is float for k in ("lr", "start_loss", "drop"))
    json.loads(json.dumps(digits_check))   # JSON-able (NaN for the diverged rows' end_loss)
    assert digits_check["good"][0] <= digits_check["best_lr"] <= digits_check["good"][1]
    # every run starts from the same weights and the same first batch
    assert len({row["start_loss"] for row in digits_check["table"]}) == 1


def _spiral():
    return load_dataset("spiral", seed=0)


def test_spiral_with_adam_the_good_zone_holds_the_studys_best_lrs():
    check = lr_range_check(_spiral(), hidden_dims=[32], reg=3e-4, optimizer="adam", batch_size=32)
    low, high = check["good"]
    # `hpsearch run studies/spiral.toml`: its two best trials used lr 0.070 and 0.013 (adam)
    assert low < 0.013 < 0.070 < high
    assert check["suggested"][0] <= 0.070 <= check["suggested"][1]


def test_spiral_with_sgd_the_good_zone_holds_the_lr_that_trains_best():
    data = _spiral()
    check = lr_range_check(data, hidden_dims=[32], reg=3e-4, optimizer="sgd", batch_size=32)

    def trained(lr):   # a full training: 60 epochs of SGD
        model = MLP(2, [32], 3, reg=3e-4, seed=0)
        return Trainer(model, data, optimizer="sgd", lr=lr, epochs=60, batch_size=32, seed=0).train()["best_val_acc"]

    candidates = [1e-3, 1e-2, 1e-1, 1.0]
    best = max(candidates, key=trained)
    assert check["good"][0] <= best <= check["good"][1]
    assert check["suggested"][0] <= best <= check["suggested"][1]
    assert check["good"][0] > 1e-3   # SGD needs far larger steps than adam here


def test_deterministic_from_the_seed_and_stable_across_seeds():
    data = _spiral()
    kw = dict(hidden_dims=[32], reg=3e-4, optimizer="adam", batch_size=32, lrs=default_learning_rates(1e-5, 10.0))
    a, b = lr_range_check(data, seed=3, **kw), lr_range_check(data, seed=3, **kw)
    assert json.dumps(a) == json.dumps(b)
    c = lr_range_check(data, seed=4, **kw)
    step = 10 ** 0.25 * 1.0001   # the grid's spacing
    for x, y in zip(a["good"], c["good"]):
        assert x / step <= y <= x * step   # other seeds: the zone moves by a grid step at most


@pytest.mark.parametrize("kwargs,message", [
    (dict(lr=1e-3), r"lr_range_check sweeps lr itself"),
    (dict(momentum=0.9), r"unknown setting 'momentum' for lr_range_check; expected an MLP setting"),
    (dict(optimizer="adamw"), r"unknown optimizer 'adamw'"),
    (dict(iterations=5), r"iterations must be an integer >= 10, got 5"),
    (dict(n_seeds=0), r"n_seeds must be a positive integer"),
    (dict(lrs=[1e-3, -1.0]), r"lrs must be a finite number in \(0.0, inf\)"),
    (dict(lrs=[1e-2, 1e-3]), r"lrs must be strictly increasing"),
    (dict(min_drop=1.0), r"min_drop must be a finite number in \(0.0, 1.0\)"),
    (dict(activation="swish"), r"unknown activation 'swish'"),
])
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        lr_range_check(_spiral(), **{"lrs": [1e-3, 1e-2], "iterations": 10, **kwargs})
