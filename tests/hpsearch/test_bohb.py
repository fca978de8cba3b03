"""BOHBSampler: a model per budget, from the largest budget with enough observations, a fixed
share of random proposals; what sha / hyperband tell it; determinism and refusals."""
import math

import numpy as np
import pytest

import hpsearch as hp
from hpsearch.objectives import LearningCurve
from hpsearch.samplers import BOHBSampler, for_budgets, get_sampler
from hpsearch.strategies import Hyperband, SuccessiveHalving

SPACE = hp.Space({"x": hp.Uniform(0.0, 1.0), "y": hp.Uniform(0.0, 1.0)})
MIXED = hp.Space({"lr": hp.LogUniform(1e-5, 1e-1), "width": hp.IntLogUniform(16, 512),
                  "act": hp.Choice(["relu", "tanh", "elu"]), "drop": hp.Uniform(0.0, 0.5)})


def _tell_bowl(sampler, centre, budget, n, start=0):
    """Tell ``n`` uniform points scored by the distance to ``centre`` (nearer is better)."""
    rng = np.random.default_rng(budget)
    for i in range(n):
        params = {"x": float(rng.random()), "y": float(rng.random())}
        sampler.tell(start + i, params, -math.dist((params["x"], params["y"]), centre), budget=budget)


def _mean_distance(proposals, centre):
    return float(np.mean([math.dist((p["x"], p["y"]), centre) for p in proposals]))


def test_proposals_come_from_the_largest_budget_with_enough_observations():
    low_best, high_best = (0.15, 0.15), (0.85, 0.85)
    sampler = BOHBSampler(random_fraction=0.0)
    sampler.start(SPACE, 500, seed=0, direction="maximize")
    _tell_bowl(sampler, low_best, budget=1, n=60)
    _tell_bowl(sampler, high_best, budget=9, n=5, start=60)   # 5 < 2 * (d + 1): no model yet
    assert sampler.model_budget() == 1
    before = sampler.ask(40)
    assert _mean_distance(before, low_best) < 0.25 < _mean_distance(before, high_best)
    _tell_bowl(sampler, high_best, budget=9, n=10, start=65)  # now 15 at budget 9: its model wins
    assert sampler.model_budget() == 9
    after = sampler.ask(40)
    assert _mean_distance(after, high_best) < 0.25 < _mean_distance(after, low_best)


def test_a_model_proposes_better_than_chance_on_mixed_parameter_types():
    def score(p):   # best at lr 1e-3, tanh, no dropout
        return -abs(math.log10(p["lr"]) + 3) - (p["act"] != "tanh") - 2 * p["drop"]

    def run(random_fraction):
        sampler = BOHBSampler(random_fraction=random_fraction)
        sampler.start(MIXED, 120, seed=1, direction="maximize")
        values = []
        for i in range(120):
            params = sampler.ask(1)[0]
            assert MIXED.to_unit(params).shape == (4,)   # a valid point of the space
            values.append(score(params))
            sampler.tell(i, params, values[-1], budget=3)
        return np.mean(values[60:])

    assert run(random_fraction=1 / 3) > run(random_fraction=1.0) + 0.5


def test_random_fraction_one_never_uses_the_model_and_a_seed_repeats_its_proposals():
    def proposals(tell):
        sampler = BOHBSampler(random_fraction=1.0)
        sampler.start(SPACE, 100, seed=4, direction="minimize")
        if tell:
            _tell_bowl(sampler, (0.5, 0.5), budget=1, n=30)
        return sampler.ask(10)

    assert proposals(tell=False) == proposals(tell=True)
    again = BOHBSampler()
    again.start(SPACE, 100, seed=4, direction="minimize")
    assert again.ask(10) == proposals(tell=False)   # before any model: the same random stream


def test_failed_trials_count_as_the_worst_of_their_budget():
    sampler = BOHBSampler(random_fraction=0.0)
    sampler.start(SPACE, 200, seed=0, direction="maximize")
    rng = np.random.default_rng(0)
    for i in range(60):
        params = {"x": float(rng.random()), "y": float(rng.random())}
        # the right half fails (diverges); the left half scores the same everywhere
        sampler.tell(i, params, None if params["x"] > 0.5 else 1.0, budget=1)
    assert np.mean([p["x"] < 0.5 for p in sampler.ask(40)]) >= 0.9


class Recording(BOHBSampler):
    """BOHBSampler that records what the strategy tells it and when its model was used."""

    def start(self, *args, **kwargs):
        self.told, self.model_used = [], []
        return super().start(*args, **kwargs)

    def tell(self, index, params, value, budget=None):
        self.told.append((index, budget))
        super().tell(index, params, value, budget=budget)

    def ask(self, n):
        self.model_used.append(self.model_budget())
        return super().ask(n)


def test_hyperband_tells_every_rung_result_with_its_budget():
    sampler = Recording()
    res = hp.Study(LearningCurve({"lr": 1e-3, "reg": 1e-4}, noise=0.01),
                   {"lr": hp.LogUniform(1e-5, 1e-1), "reg": hp.LogUniform(1e-6, 1e-1)}, metric="score").run(
        Hyperband(min_budget=1, max_budget=9, eta=3, sampler=sampler), seed=0)
    search = res.trials
    # one tell per trial (every rung of every configuration), each with the budget it trained at
    assert len(sampler.told) == len(search)
    assert sorted(b for _, b in sampler.told) == sorted(search["budget"].tolist())
    assert {b for _, b in sampler.told} == {1, 3, 9}
    # the lead bracket's first rung (12 one-epoch results) gives a model for every later bracket
    assert sampler.model_used[0] is None and all(b is not None for b in sampler.model_used[1:])


def test_tpe_means_the_per_budget_model_in_sha_and_hyperband():
    assert isinstance(Hyperband(max_budget=9, sampler="tpe").sampler, BOHBSampler)
    assert isinstance(SuccessiveHalving(max_budget=9, sampler="tpe").sampler, BOHBSampler)
    assert isinstance(SuccessiveHalving(max_budget=9, sampler="bohb").sampler, BOHBSampler)
    assert type(for_budgets("random", "sha")).__name__ == "RandomSampler"


@pytest.mark.parametrize("sampler", ["cmaes", "gp"])
def test_samplers_that_would_mix_budgets_are_refused(sampler):
    with pytest.raises(ValueError, match=rf"^sampler '{sampler}' would model results of different budgets as one "
                                         rf"in hyperband; use 'bohb' \(or 'tpe'.*\), 'random' or 'sobol'$"):
        Hyperband(max_budget=9, sampler=sampler)


def test_optuna_tpe_options_and_instances_are_refused_in_multi_fidelity():
    optuna = pytest.importorskip("optuna")
    with pytest.raises(ValueError, match=r"^sampler options \['n_startup_trials'\] are Optuna TPE's; in sha "
                                         r"'tpe' is the per-budget BOHBSampler \(options: random_fraction"):
        for_budgets(get_sampler("tpe", n_startup_trials=3), "sha")
    with pytest.raises(ValueError, match=r"^sampler 'TPESampler' would model results of different budgets"):
        SuccessiveHalving(max_budget=9, sampler=optuna.samplers.TPESampler(seed=0))


def test_a_study_file_naming_tpe_runs_the_per_budget_model(tmp_path):
    from hpsearch.studyfile.reader import load_study_file

    path = tmp_path / "s.toml"
    path.write_text('metric = "val_acc"\ndirection = "maximize"\n[trainer]\ndataset = "digits"\n'
                    '[space]\nlr = { type = "loguniform", low = 1e-4, high = 1e-1 }\n'
                    '[search]\nstrategy = "hyperband"\nmax_budget = 9\nsampler = "tpe"\n')
    strategy = load_study_file(path).search.make_strategy()
    assert isinstance(strategy.sampler, BOHBSampler)
    path.write_text(path.read_text().replace('sampler = "tpe"', 'sampler = "bohb"\n[search.sampler_options]\n'
                                                                 'random_fraction = 0.5'))
    assert load_study_file(path).search.make_strategy().sampler.random_fraction == 0.5


@pytest.mark.parametrize("kwargs, message", [
    ({"random_fraction": 1.5}, r"^random_fraction must be a number in \[0, 1\], got random_fraction=1.5$"),
    ({"gamma": 0}, r"^gamma must be a number in \(0, 1\), got gamma=0$"),
    ({"n_candidates": 0}, r"^n_candidates must be a positive integer, got n_candidates=0$"),
    ({"bandwidth_factor": 0.5}, r"^bandwidth_factor must be a finite number >= 1, got bandwidth_factor=0.5$"),
    ({"min_bandwidth": 0}, r"^min_bandwidth must be a finite number > 0, got min_bandwidth=0$"),
])
def test_bad_options_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BOHBSampler(**kwargs)
    with pytest.raises(ValueError, match=message):
        get_sampler("bohb", **kwargs)


def test_scipy_parameters_are_refused():
    from scipy import stats

    with pytest.raises(ValueError, match=r"parameter 'lr' is a scipy.stats distribution; .*the bohb sampler cannot"):
        BOHBSampler().start({"lr": stats.loguniform(1e-4, 1e-1)}, 10, 0, "maximize")


def test_the_cli_refuses_a_budget_mixing_sampler_in_one_line(tmp_path, run_cli):
    path = tmp_path / "s.toml"
    path.write_text('metric = "val_acc"\ndirection = "maximize"\n[trainer]\ndataset = "digits"\n'
                    '[space]\nlr = { type = "loguniform", low = 1e-4, high = 1e-1 }\n'
                    '[search]\nstrategy = "hyperband"\nmax_budget = 9\nsampler = "cmaes"\n')
    code, out, err = run_cli("run", path, "--dry-run")
    assert code == 2 and "Traceback" not in err
    assert err.strip() == (f"hpsearch: error: {path}: [search] sampler 'cmaes' would model results of different "
                           f"budgets as one in hyperband; use 'bohb' (or 'tpe', the same there: a model per budget), "
                           f"'random' or 'sobol'")
