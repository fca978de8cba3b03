"""Optuna's samplers through our Study: they run, reproduce with a seed, learn, map every space."""
import logging
import warnings

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

import hpsearch as hp
from hpsearch.objectives import LogBowl
from hpsearch.samplers import get_sampler
from hpsearch.samplers._optuna import OPTUNA_SAMPLERS, OptunaSampler, make_optuna_sampler
from study_fixtures import SPACE

OPTIMUM = {"lr": 1e-3, "reg": 1e-2}

# Small settings so every sampler leaves its random start-up phase within a few trials.
FAST = {"tpe": {"n_startup_trials": 3}, "gp": {"n_startup_trials": 3}, "cmaes": {"n_startup_trials": 1},
        "qmc": {}, "optuna-random": {}}


def _study(objective=None, space=SPACE, **kwargs):
    return hp.Study(objective or LogBowl(OPTIMUM), space, metric="score", direction="maximize", **kwargs)


def _table(res):
    return res.trials.drop(columns=["duration"])


def _log_distance(trials):
    """Distance of each trial to the optimum in decades (log10 space)."""
    return np.sqrt(sum(np.log10(trials[f"param_{k}"].astype(float) / v) ** 2 for k, v in OPTIMUM.items()))


@pytest.mark.parametrize("name", sorted(OPTUNA_SAMPLERS))
def test_every_named_sampler_runs_a_study(name):
    if name == "gp":
        pytest.importorskip("torch", reason="Optuna's GPSampler needs torch (an optional, heavy dependency)")
    n = 5 if name == "gp" else 8  # GP fits a model per trial: keep it short
    res = _study().optimize(sampler=get_sampler(name, **FAST[name]), n_trials=n, budget=1, seed=0)
    assert len(res.trials) == n and (res.trials["status"] == "ok").all()
    for col, dist in (("param_lr", SPACE["lr"]), ("param_reg", SPACE["reg"])):
        assert res.trials[col].between(dist.low, dist.high).all()
    assert res.stages[0].sampler.startswith(f"OptunaSampler({name!r}")


@pytest.mark.parametrize("name", ["tpe", "cmaes"])
def test_same_seed_same_trials_and_other_seed_other_trials(name):
    runs = [_study().optimize(sampler=name, n_trials=15, budget=1, seed=seed) for seed in (3, 3, 4)]
    a, b, c = (_table(r) for r in runs)
    assert a.equals(b)
    assert not a["param_lr"].equals(c["param_lr"])


def test_same_batch_size_reproduces_batches():
    # Batches of 3 are asked before any is told; the same batch size gives the same trials.
    a, b = (_table(_study().optimize(sampler="tpe", n_trials=12, budget=1, seed=1, batch_size=3)) for _ in range(2))
    assert a.equals(b)


@pytest.mark.parametrize("name", ["tpe", "cmaes"])
def test_later_trials_concentrate_near_the_optimum(name):
    # told after every trial (batch_size=1, sequential Optuna): the model learns fastest
    res = _study().optimize(sampler=name, n_trials=60, budget=1, seed=0, batch_size=1)
    dist = _log_distance(res.trials).to_numpy()
    first, last = dist[:20], dist[-20:]
    assert np.median(last) < 0.5 * np.median(first)
    assert _log_distance(res.trials.iloc[[int(res.trials["score"].idxmax())]]).iloc[0] < 0.3
    # and they beat random search with the same budget and seed
    rnd = _study().optimize(sampler="random", n_trials=60, budget=1, seed=0)
    assert np.median(last) < np.median(_log_distance(rnd.trials).to_numpy())


MIXED = {
    "lr": hp.LogUniform(1e-5, 1e-1),
    "dropout": hp.Uniform(0.0, 0.7),
    "layers": hp.IntUniform(1, 4),
    "width": hp.IntLogUniform(16, 512),
    "hidden": hp.Choice([[50], [100, 100], [200]]),   # lists go to Optuna as indices
    "act": hp.Choice(["relu", "tanh"]),               # plain values go as themselves
    "odd": hp.Choice([1, True, None]),                # 1 == True in Python: indices again
    "epochs_fixed": hp.Fixed([3, 4]),
}


@pytest.mark.parametrize("name", ["tpe", "cmaes", "qmc"])
def test_mixed_space_gives_valid_plain_params(name):
    objective = LogBowl({"lr": 1e-3}, choices={"hidden": [100, 100], "act": "tanh"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = _study(objective, MIXED).optimize(sampler=get_sampler(name, **FAST[name]), n_trials=20,
                                                budget=1, seed=0)
    said = [str(w.message) for w in caught if "draws Choice parameters" in str(w.message)]
    # CMA-ES and QMC model numbers only: they say once that choices are drawn at random
    assert said == ([f"the {name} sampler draws Choice parameters hidden, act, odd at random, independently "
                     f"of its model"] if name in ("cmaes", "qmc") else [])
    t = res.trials
    assert (t["status"] == "ok").all()
    assert t["param_lr"].between(1e-5, 1e-1).all() and t["param_dropout"].between(0.0, 0.7).all()
    assert all(type(v) is int and 1 <= v <= 4 for v in t["param_layers"])
    assert all(type(v) is int and 16 <= v <= 512 for v in t["param_width"])
    assert all(v in ([50], [100, 100], [200]) and isinstance(v, list) for v in t["param_hidden"])
    assert set(t["param_act"]) <= {"relu", "tanh"}
    odd = [v for v in t["param_odd"]]
    assert all(v is None or (v == 1 and type(v) in (int, bool)) for v in odd)
    assert all(v == [3, 4] for v in t["param_epochs_fixed"])
    # every choice index maps back to its own value (both 1 and True come out, typed)
    assert {repr(v) for v in odd} <= {"1", "True", "None"}


def test_tpe_learns_the_best_choice():
    objective = LogBowl({"lr": 1e-3}, choices={"hidden": [100, 100]}, choice_penalty=0.3)
    res = _study(objective, {"lr": SPACE["lr"], "hidden": MIXED["hidden"]}).optimize(
        sampler="tpe", n_trials=40, budget=1, seed=0)
    assert res.best_params["hidden"] == [100, 100]
    late = [v == [100, 100] for v in res.trials["param_hidden"].iloc[-15:]]
    early = [v == [100, 100] for v in res.trials["param_hidden"].iloc[:15]]
    assert sum(late) > sum(early)


def test_an_optuna_sampler_instance_is_used_as_given():
    instance = optuna.samplers.TPESampler(n_startup_trials=4, seed=7)
    sampler = get_sampler(instance)
    assert isinstance(sampler, OptunaSampler) and sampler.instance is instance
    assert repr(sampler) == "OptunaSampler(TPESampler(n_startup_trials=4))"
    res = _study().optimize(sampler=instance, n_trials=10, budget=1, seed=0)
    assert len(res.trials) == 10
    # its own seed governs: a fresh instance with the same seed gives the same trials
    again = _study().optimize(sampler=optuna.samplers.TPESampler(n_startup_trials=4, seed=7), n_trials=10,
                              budget=1, seed=123)
    assert res.trials["param_lr"].equals(again.trials["param_lr"])
    with pytest.raises(ValueError, match="only apply to sampler names"):
        get_sampler(instance, n_startup_trials=3)


def test_bad_names_and_options_are_clear_errors():
    with pytest.raises(ValueError, match=r"unknown option 'n_startup' for sampler 'tpe'; expected one of .*n_startup_trials"):
        get_sampler("tpe", n_startup=3)
    with pytest.raises(ValueError, match=r"unknown sampler 'tree'; expected one of tpe, cmaes"):
        make_optuna_sampler("tree")
    with pytest.raises(ValueError, match="takes its seed from the study"):
        get_sampler("cmaes", seed=1)
    with pytest.raises(ValueError, match=r"sampler 'qmc' rejects options qmc_type='foo': .*halton"):
        get_sampler("qmc", qmc_type="foo")
    with pytest.raises(ValueError, match="needs a name"):
        OptunaSampler(42)


def test_a_missing_sampler_package_is_named_with_the_pip_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "cmaes" else real(name, *a))
    with pytest.raises(hp.HpsearchError, match=r"^sampler 'cmaes' needs the cmaes package: pip install cmaes$"):
        get_sampler("cmaes")


def test_options_reach_the_optuna_sampler():
    sampler = get_sampler("tpe", n_startup_trials=2, multivariate=True)
    assert repr(sampler) == "OptunaSampler('tpe', n_startup_trials=2, multivariate=True)"
    sampler.start(hp.Space(SPACE), 4, 0, "maximize")
    inner = sampler.optuna_study.sampler
    assert isinstance(inner, optuna.samplers.TPESampler) and inner._n_startup_trials == 2


def test_scipy_distribution_is_refused_with_its_name():
    from scipy import stats

    with pytest.raises(ValueError, match="parameter 'x' is a scipy.stats distribution.*tpe"):
        get_sampler("tpe").start(hp.Space({"x": stats.uniform(0, 1)}), 5, 0, "minimize")


def test_failed_and_diverged_trials_are_told_as_fail():
    objective = LogBowl({"lr": 1e-3}, fail_above={"lr": 3e-2}, diverge_above={"reg": 1.0})
    sampler = get_sampler("tpe", n_startup_trials=3)
    res = _study(objective).optimize(sampler=sampler, n_trials=12, budget=1, seed=0)
    states = [t.state for t in sampler.optuna_study.trials]
    bad = (res.trials["status"] != "ok").to_numpy()
    assert bad.any() and not bad.all()
    assert [s == TrialState.FAIL for s in states] == list(bad)
    values = [t.value for t in sampler.optuna_study.trials if t.state == TrialState.COMPLETE]
    assert values == pytest.approx(list(res.trials.loc[~bad, "score"]))


def test_tell_rejects_unknown_and_repeated_indices():
    sampler = get_sampler("tpe")
    sampler.start(hp.Space(SPACE), 5, 0, "minimize")
    params = sampler.ask(2)
    assert len(params) == 2 and len(sampler.ask(10)) == 3  # never more than the stage's n_trials
    sampler.tell(0, params[0], 0.5)
    with pytest.raises(ValueError, match="already told"):
        sampler.tell(0, params[0], 0.5)
    with pytest.raises(ValueError, match="was not asked"):
        sampler.tell(7, params[0], 0.5)
    with pytest.raises(RuntimeError, match="before start"):
        get_sampler("tpe").ask(1)


def test_coarse_to_fine_with_optuna_stages():
    stages = [hp.Stage(n_trials=12, budget=1, sampler="tpe"), hp.Stage(n_trials=8, budget=2, sampler="cmaes")]
    res = _study().coarse_to_fine(stages, seed=0, follow_up=False)   # the two stages alone
    assert list(res.trials.groupby("stage").size()) == [12, 8]
    second = res.stages[1].space
    assert second["lr"].high - second["lr"].low < SPACE["lr"].high - SPACE["lr"].low
    t1 = res.trials[res.trials["stage"] == 1]
    assert t1["param_lr"].between(second["lr"].low, second["lr"].high).all()
    assert res.stages[1].sampler == "OptunaSampler('cmaes')"


def test_resume_replays_the_adaptive_proposals(tmp_path):
    path = tmp_path / "s.db"
    first = _study(storage=path, name="tpe").optimize(sampler="tpe", n_trials=6, budget=1, seed=2)
    ran = []
    full = _study(storage=path, name="tpe").optimize(sampler="tpe", n_trials=6, budget=1, seed=2,
                                                     callbacks=[ran.append])
    assert ran == []  # nothing ran again: the replayed proposals matched the stored trials
    assert _table(full).equals(_table(first))


def test_optuna_logging_is_quiet_and_restored(capsys):
    optuna.logging.set_verbosity(logging.INFO)
    try:
        _study().optimize(sampler="tpe", n_trials=3, budget=1, seed=0)
        assert optuna.logging.get_verbosity() == logging.INFO
    finally:
        optuna.logging.set_verbosity(logging.WARNING)
    err = capsys.readouterr().err
    assert "A new study created" not in err and "Trial 0 finished" not in err
