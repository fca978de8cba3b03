"""parameter_importance: the parameter that drives the metric gets the largest share."""
import numpy as np
import pandas as pd
import pytest

import hpsearch as hp
from hpsearch.diagnostics.importance import parameter_importance
from hpsearch.objectives import LogBowl
from hpsearch.samplers import get_sampler

SPACE = hp.Space({"lr": hp.LogUniform(1e-5, 1e-1), "reg": hp.LogUniform(1e-6, 1e-1),
                  "act": hp.Choice(["relu", "tanh", "elu"]), "epochs": hp.Fixed(3)})


def trials_of(objective, sampler="random", n=60, seed=0, metric="score", space=SPACE):
    s = get_sampler(sampler)
    params = s.ask(s.start(space, n, seed, "maximize"))
    rows = []
    for p in params:
        rows.append({"status": "ok", **{f"param_{k}": v for k, v in p.items()},
                     metric: objective(p, 1, 0, None)[metric]})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("sampler", ["random", "grid", "sobol"])
def test_the_parameter_that_matters_gets_most_of_the_share(sampler):
    trials = trials_of(LogBowl({"lr": 1e-3}, width=0.7), sampler=sampler, n=64)
    scores = parameter_importance(SPACE, trials, "score", "maximize")
    assert list(scores) == ["lr", "reg", "act"]  # dims, in space order; Fixed left out
    assert all(type(v) is float for v in scores.values())  # plain floats, JSON-able
    assert sum(scores.values()) == pytest.approx(1.0)
    assert scores["lr"] > 0.6 and scores["lr"] == max(scores.values())


def test_a_choice_that_matters():
    def objective(p, budget, seed, report):
        return {"score": {"relu": 0.9, "tanh": 0.5, "elu": 0.2}[p["act"]] + 0.01 * np.log10(p["lr"])}

    scores = parameter_importance(SPACE, trials_of(objective), "score", "maximize")
    assert scores["act"] > 0.6


def test_list_valued_choices_and_ints():
    space = hp.Space({"hidden": hp.Choice([[50], [100, 100]]), "width": hp.IntUniform(1, 4)})
    rows = [{"param_hidden": h, "param_width": w, "val_acc": (0.9 if h == [50] else 0.1) + 0.001 * w}
            for h in ([50], [100, 100]) for w in range(1, 5) for _ in range(3)]
    scores = parameter_importance(space, pd.DataFrame(rows), "val_acc", "maximize")
    assert scores["hidden"] > 0.9


def test_only_ok_trials_count_and_direction_does_not_change_the_scores():
    trials = trials_of(LogBowl({"reg": 1e-3}, width=0.7))
    base = parameter_importance(SPACE, trials, "score", "maximize")
    noisy = trials.copy()
    # diverged trials with extreme values at low lr would make lr look important if they counted
    bad = noisy.head(10).assign(status="diverged", param_lr=1e-5, score=1e6)
    with_bad = parameter_importance(SPACE, pd.concat([noisy, bad], ignore_index=True), "score", "maximize")
    assert with_bad == pytest.approx(base)
    assert parameter_importance(SPACE, trials, "score", "minimize") == pytest.approx(base)
    assert max(base, key=base.get) == "reg"


def test_too_few_or_constant_trials_give_equal_shares():
    trials = trials_of(LogBowl({"lr": 1e-3}), n=2)
    assert parameter_importance(SPACE, trials, "score", "maximize") == pytest.approx(
        {"lr": 1 / 3, "reg": 1 / 3, "act": 1 / 3})
    flat = trials_of(lambda p, b, s, r: {"score": 0.5}, n=30)
    assert parameter_importance(SPACE, flat, "score", "maximize") == pytest.approx(
        {"lr": 1 / 3, "reg": 1 / 3, "act": 1 / 3})


def test_bad_input_names_the_problem():
    trials = trials_of(LogBowl({"lr": 1e-3}), n=5)
    with pytest.raises(ValueError, match="metric 'val_acc' is not a column"):
        parameter_importance(SPACE, trials, "val_acc", "maximize")
    with pytest.raises(ValueError, match="parameter 'reg' has no column 'param_reg'"):
        parameter_importance(SPACE, trials.drop(columns="param_reg"), "score", "maximize")
    with pytest.raises(ValueError, match="direction must be 'maximize' or 'minimize', got 'up'"):
        parameter_importance(SPACE, trials, "score", "up")


def test_one_huge_loss_does_not_decide():
    trials = trials_of(LogBowl({"lr": 1e-3}, width=0.7), metric="loss")
    trials.loc[trials["param_reg"].idxmax(), "loss"] = 1e4  # one awful but finished trial
    scores = parameter_importance(SPACE, trials, "loss", "minimize")
    assert max(scores, key=scores.get) == "lr"


def test_a_branch_parameter_is_scored_over_the_trials_that_have_it():
    import pandas as pd

    from hpsearch import Branch, Choice, Space, Uniform

    space = Space({"optimizer": Branch({"sgd": {}, "momentum": {"mu": Uniform(0.5, 0.99),
                                                                "kind": Choice(["heavy", "nesterov"])}})})
    rng = np.random.default_rng(0)
    n = 60
    opt = ["momentum" if i % 2 else "sgd" for i in range(n)]
    mu = [float(rng.uniform(0.5, 0.99)) if o == "momentum" else None for o in opt]
    kind = [str(rng.choice(["heavy", "nesterov"])) if o == "momentum" else None for o in opt]
    # the optimizer matters, mu and kind do not: their missing values must not form a group that
    # inherits the optimizer's effect
    score = [(0.9 if o == "momentum" else 0.3) + float(rng.normal(0, 0.01)) for o in opt]
    table = pd.DataFrame({"param_optimizer": opt, "param_mu": pd.Series(mu, dtype=object),
                          "param_kind": kind, "score": score, "status": "ok"})
    scores = parameter_importance(space, table, "score")
    assert scores["optimizer"] > 0.9 and scores["mu"] < 0.05 and scores["kind"] < 0.05
