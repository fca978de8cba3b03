"""Study files: what loads, what each mistake says, and the equal-compute plans."""
import textwrap
from pathlib import Path

import pytest

from hpsearch.errors import StudyFileError
from hpsearch.strategies.stage import Stage
from hpsearch.studyfile.reader import COARSE_TO_FINE, load_study_file
from study_fixtures import BOWL_TOML as BOWL

ROOT = Path(__file__).resolve().parents[2]


# The same with the MLP trainer (loading only; nothing is trained here).
MLP = """\
name = "mlp"
metric = "val_acc"
direction = "maximize"

[trainer]
dataset = "digits"
optimizer = "adam"
hidden_dims = [32]

[space]
lr = { type = "loguniform", low = 1e-4, high = 1e-1 }
activation = { type = "choice", values = ["relu", "tanh"] }

[search]
strategy = "random"
n_trials = 4
budget = 1
"""


def write(tmp_path, text, name="study.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_loads_a_coarse_to_fine_study(tmp_path):
    sf = load_study_file(write(tmp_path, BOWL))
    assert (sf.name, sf.metric, sf.direction, sf.seed) == ("bowl", "score", "maximize", 3)
    assert sf.strategy == COARSE_TO_FINE
    assert sf.stages == [Stage(12, 1, "random"), Stage(4, 4, "random")]
    assert list(sf.space) == ["lr", "reg", "act"]
    assert sf.space["lr"].log and sf.space["lr"].low == 1e-5
    assert sf.space["act"].values == ["relu", "tanh"]
    # the imported class was built with the [trainer] settings
    assert type(sf.objective).__name__ == "LogBowl" and sf.objective.optimum == {"lr": 1e-3, "reg": 1e-4}


def test_defaults_name_from_file_and_val_acc(tmp_path):
    text = BOWL.replace('name = "bowl"\nmetric = "score"\ndirection = "maximize"\n', "")
    sf = load_study_file(write(tmp_path, text, "my_study.toml"))
    assert (sf.name, sf.metric, sf.direction, sf.seed) == ("my-study", "val_acc", "maximize", 3)


def test_equal_compute_plans(tmp_path):
    sf = load_study_file(write(tmp_path, BOWL))
    # 16 trials, 12*1 + 4*4 = 28 epochs -> single-stage: 16 trials x round(28/16) = 2 epochs
    assert sf.plan("random") == [Stage(16, 2, "random")]
    assert sf.plan("grid") == [Stage(16, 2, "grid")]
    assert sf.plan() == sf.stages
    # a different trial budget scales the stages and keeps the epochs per trial
    assert sf.plan(COARSE_TO_FINE, n_trials=8) == [Stage(6, 1, "random"), Stage(2, 4, "random")]
    assert sf.plan("sobol", n_trials=8) == [Stage(8, 2, "sobol")]


def test_single_stage_file_splits_into_coarse_and_fine_at_equal_compute(tmp_path):
    text = BOWL.split("[search]")[0] + '[search]\nstrategy = "random"\nn_trials = 20\nbudget = 6\n'
    sf = load_study_file(write(tmp_path, text))
    plan = sf.plan(COARSE_TO_FINE)
    assert [s.n_trials for s in plan] == [15, 5]
    assert sum(s.n_trials for s in plan) == 20
    assert plan[0].budget < plan[1].budget
    assert abs(sum(s.epochs for s in plan) - 120) <= len(plan)  # the same compute, up to rounding


def test_grid_points_and_planned_trials(tmp_path):
    text = BOWL.split("[search]")[0] + '[search]\nstrategy = "grid"\nn_trials = 20\nbudget = 1\npoints = 3\n'
    sf = load_study_file(write(tmp_path, text))
    assert sf.search.points == {"lr": 3, "reg": 3}
    # 3 x 3 x 2 choices = 18 <= 20
    assert [s.n_trials for s in sf.planned_stages()] == [18]


def test_run_on_a_study_in_memory(tmp_path):
    sf = load_study_file(write(tmp_path, BOWL))
    result = sf.run(sf.make_study(None), n_jobs=1, backend="threading")
    assert len(result.trials) == 16
    assert list(result.trials["stage"].unique()) == [0, 1]
    assert result.best_value > 0.5


# -- every mistake: one line naming the file and the key ------------------------------------

HYPERBAND = BOWL.split("[search]")[0] + '[search]\nstrategy = "hyperband"\nmax_budget = 9\n'

BAD = {
    "syntax": (BOWL.replace("seed = 3", "seed = = 3"), ["TOML syntax error", "line 4"]),
    "unknown-trainer-key": (MLP.replace('optimizer = "adam"', 'optimizer = "adam"\nbatch_sise = 64'),
                            ["[trainer] unknown key 'batch_sise'", "did you mean 'batch_size'"]),
    "unknown-top-key": (BOWL.replace("seed = 3", "sed = 3"), ["unknown key 'sed'", "did you mean 'seed'"]),
    "unknown-search-key": (BOWL.replace('strategy = "coarse-to-fine"', 'strategy = "coarse-to-fine"\nn_trial = 3'),
                           ["[search]", "'n_trial'", "did you mean 'n_trials'"]),
    "unknown-stage-key": (BOWL.replace("budget = 4", "budgte = 4"), ["[[search.stages]] #2", "'budgte'",
                                                                     "did you mean 'budget'"]),
    "wrong-type": (BOWL.replace("n_trials = 12", 'n_trials = "12"'), ["'n_trials' must be an integer"]),
    "wrong-type-seed": (BOWL.replace("seed = 3", "seed = 1.5"), ["'seed' must be an integer"]),
    "low-above-high": (BOWL.replace("low = 1e-5, high = 1e-1", "low = 1e-1, high = 1e-5"),
                       ["[space] 'lr'", "low < high"]),
    "log-touching-zero": (BOWL.replace("low = 1e-6", "low = 0.0"), ["[space] 'reg'", "cannot touch 0"]),
    "empty-choice": (BOWL.replace('["relu", "tanh"]', "[]"), ["[space] 'act'", "at least one value"]),
    "unknown-dist-type": (BOWL.replace('type = "loguniform", low = 1e-5', 'type = "logunif", low = 1e-5'),
                          ["[space] 'lr'", "unknown distribution type 'logunif'"]),
    "space-not-a-table": (BOWL.replace('act = { type = "choice", values = ["relu", "tanh"] }', "act = 3"),
                          ["[space] 'act' must be a table"]),
    "unknown-strategy": (BOWL.replace('strategy = "coarse-to-fine"', 'strategy = "coarse-to-fin"'),
                         ["unknown strategy 'coarse-to-fin'", "did you mean 'coarse-to-fine'"]),
    "unknown-stage-sampler": (BOWL.replace("budget = 4", 'budget = 4\nsampler = "sobel"'),
                              ["[[search.stages]] #2", "unknown sampler 'sobel'", "did you mean 'sobol'"]),
    "zero-trials": (BOWL.replace("n_trials = 12", "n_trials = 0"), ["'n_trials' must be a positive integer"]),
    "negative-budget": (BOWL.replace("budget = 4", "budget = -4"), ["'budget' must be a positive integer"]),
    "no-stages": (BOWL.split("[[search.stages]]")[0], ["[search] missing key 'stages'"]),
    "stages-with-random": (BOWL.replace('strategy = "coarse-to-fine"', 'strategy = "random"'),
                           ["'stages' needs strategy = 'coarse-to-fine'"]),
    "bad-direction": (BOWL.replace('direction = "maximize"', 'direction = "max"'), ["unknown direction 'max'"]),
    "missing-direction": (BOWL.replace('direction = "maximize"\n', ""), ["missing key 'direction'"]),
    "missing-space": (BOWL.replace("[space]", "[spaces]"), ["unknown key 'spaces'", "did you mean 'space'"]),
    "bad-top-fraction": (BOWL.replace('strategy = "coarse-to-fine"', 'strategy = "coarse-to-fine"\ntop_fraction = 2.0'),
                         ["'top_fraction' must be in (0, 1]"]),
    "bad-objective-ref": (BOWL.replace('"hpsearch.objectives:LogBowl"', '"hpsearch.objectives.LogBowl"'),
                          ["[trainer] 'objective' must be"]),
    "objective-not-importable": (BOWL.replace('"hpsearch.objectives:LogBowl"', '"nosuchpkg.mod:f"'),
                                 ["cannot import 'nosuchpkg.mod'"]),
    "bad-backend": (BOWL.replace('strategy = "coarse-to-fine"', 'strategy = "coarse-to-fine"\nbackend = "lokky"'),
                    ["unknown backend 'lokky'", "did you mean 'loky'"]),
    "points-without-grid": (BOWL.replace('strategy = "coarse-to-fine"', 'strategy = "coarse-to-fine"\npoints = 3'),
                            ["'points' only applies to the grid sampler"]),
    "bad-name": (BOWL.replace('name = "bowl"', 'name = "my study/1"'), ["'name' must be"]),
    # the MLP trainer: settings and choice values are checked through MLPObjective.validate
    "unknown-activation": (MLP.replace('["relu", "tanh"]', '["relu", "tanhh"]'), ["[space] 'activation'", "tanhh"]),
    "unknown-optimizer": (MLP.replace('optimizer = "adam"', 'optimizer = "adamm"'), ["[trainer]", "adamm"]),
    "unknown-init": (MLP.replace('optimizer = "adam"', 'optimizer = "adam"\ninit = "kaiming"'),
                     ["[trainer]", "kaiming"]),
    "unknown-dataset": (MLP.replace('dataset = "digits"', 'dataset = "digitz"'),
                        ["[trainer] unknown dataset 'digitz'", "did you mean 'digits'"]),
    "missing-data-file": (MLP.replace('dataset = "digits"', 'dataset = "data/missing.npz"'),
                          ["[trainer] 'dataset'", "missing.npz", "not found"]),
    "unaccepted-space-param": (MLP.replace("[space]", '[space]\nmomentun = { type = "uniform", low = 0.5, high = 0.9 }'),
                               ["[space] unknown parameter 'momentun'", "did you mean 'momentum'"]),
    "hb-eta": (HYPERBAND + "eta = 1\n", ["[search] 'eta' must be an integer >= 2"]),
    "hb-min-above-max": (HYPERBAND + "min_budget = 10\n", ["min_budget must be at most max_budget"]),
    "hb-tiny-total": (HYPERBAND + "total_budget = 3\n", ["total_budget=3 epochs cannot train one configuration to max_budget"]),
    "hb-n-trials": (HYPERBAND + "n_trials = 10\n", ["'n_trials' does not apply to strategy 'hyperband'"]),
    "hb-no-max": (HYPERBAND.replace("max_budget = 9\n", ""), ["[search] missing key 'max_budget'"]),
    "hb-sampler": (HYPERBAND + 'sampler = "tpee"\n', ["unknown sampler 'tpee'", "did you mean 'tpe'"]),
    "eta-with-random": (BOWL.split("[search]")[0] + '[search]\nstrategy = "random"\nn_trials = 4\nbudget = 1\n'
                        'eta = 3\n', ["'eta' only applies to strategies sha and hyperband"]),
    "promote-first": (BOWL.replace("n_trials = 12", "n_trials = 12\npromote = 2"),
                      ["[[search.stages]] #1", "'promote'", "the first stage has none"]),
    "promote-same-budget": (BOWL.replace("budget = 4", "budget = 1\npromote = 2"),
                            ["[[search.stages]] #2", "'budget' must exceed its 1"]),
    "top-level-objective": ('objective = "m:f"\n' + BOWL, ["unknown key 'objective'; it belongs in [trainer]"]),
    "factory-without-settings": (BOWL.replace("[trainer.settings]\n", ""),
                                 ["[trainer] key 'optimum' next to objective", "[trainer.settings]"]),
    "space-and-trainer": (MLP.replace("[space]", '[space]\noptimizer = { type = "choice", values = ["sgd"] }'),
                          ["[space] 'optimizer' is also set in [trainer]"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_every_mistake_names_file_and_key(tmp_path, case):
    text, expected = BAD[case]
    path = write(tmp_path, text, "bad.toml")
    with pytest.raises(StudyFileError) as info:
        load_study_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message
    for part in expected:
        assert part in message, (part, message)


def test_missing_and_folder_study_files(tmp_path):
    with pytest.raises(StudyFileError, match="no such study file"):
        load_study_file(tmp_path / "nope.toml")
    with pytest.raises(StudyFileError, match="is a folder"):
        load_study_file(tmp_path)


def test_bad_data_file_is_reported_at_load_time(tmp_path):
    (tmp_path / "bad.csv").write_text("1,2,x\n3,4,1\n")
    text = MLP.replace('dataset = "digits"', 'dataset = "bad.csv"')
    with pytest.raises(StudyFileError, match=r"\[trainer\] 'dataset'"):
        load_study_file(write(tmp_path, text))


def test_a_data_file_path_is_stored_absolute_whatever_the_working_directory(tmp_path, monkeypatch):
    """A relative path (to the working directory or to the study file) resolves to one absolute
    path, so resuming the study from another directory finds the same settings."""
    import numpy as np

    rng = np.random.default_rng(0)
    data_dir = tmp_path / "project" / "data"
    data_dir.mkdir(parents=True)
    np.savez(data_dir / "points.npz", X=rng.standard_normal((60, 4)), y=np.arange(60) % 3)
    study = write(tmp_path / "project", MLP.replace('dataset = "digits"', 'dataset = "data/points.npz"'))
    seen = set()
    for cwd in (tmp_path / "project", data_dir, tmp_path):   # next to it, below it, above it
        monkeypatch.chdir(cwd)
        seen.add(load_study_file(study.relative_to(tmp_path) if cwd == tmp_path else study).trainer["dataset"])
    assert seen == {str((data_dir / "points.npz").resolve())}


def test_a_hyperband_study_plans_its_brackets_and_converts_at_equal_compute(tmp_path):
    sf = load_study_file(write(tmp_path, HYPERBAND + "total_budget = 200\nsampler = \"sobol\"\n"))
    assert sf.strategy == "hyperband" and sf.search.fidelity["sampler"] == "sobol"
    strategy = sf.search.make_strategy()
    assert strategy.total_epochs() <= 200 and repr(strategy.sampler).startswith("SobolSampler")
    epochs = sf.search.total_epochs
    (random,) = sf.plan("random")
    assert abs(random.epochs - epochs) <= random.n_trials  # the same compute, up to rounding
    # and the other way: coarse-to-fine's epochs become hyperband's total budget
    bowl = load_study_file(write(tmp_path, BOWL, "bowl.toml"))
    converted = bowl.search.convert("hyperband")
    assert converted.fidelity["total_budget"] == bowl.search.total_epochs == 28
    assert converted.fidelity["max_budget"] == 4 and converted.total_epochs <= 28


@pytest.mark.parametrize("path", sorted((ROOT / "studies").glob("*.toml")), ids=lambda p: p.name)
def test_shipped_studies_load(path):
    sf = load_study_file(path)
    assert sf.name and sf.space
    plan = sf.plan()
    assert plan and all(s.n_trials >= 1 and s.budget >= 1 for s in plan)


def test_a_huge_trial_count_is_refused_with_the_epochs_it_would_plan(tmp_path):
    text = BOWL.split("[search]")[0] + '[search]\nstrategy = "random"\nn_trials = 1000000000000\nbudget = 3\n'
    with pytest.raises(StudyFileError, match=r"\[search\] 'n_trials'=1000000000000 is more than the 1,000,000 "
                                             r"trials a stage can hold \(it would plan 3e\+12 epochs\)"):
        load_study_file(write(tmp_path, text))


def test_proposals_are_made_lazily_so_memory_does_not_grow_with_n_trials():
    import tracemalloc

    import hpsearch as hp

    space = hp.Space({"lr": hp.LogUniform(1e-5, 1e-1), "reg": hp.LogUniform(1e-6, 1e-1)})
    def peak(name, n_trials):
        sampler = hp.get_sampler(name)
        tracemalloc.start()
        assert sampler.start(space, n_trials, 0, "maximize") == n_trials and len(sampler.ask(3)) == 3
        used = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return used

    for name in ("random", "sobol", "grid"):
        peak(name, 100)  # warm: imports and scipy's tables
        # a list of a million dicts would take hundreds of MB
        assert peak(name, 1_000_000) - peak(name, 100) < 2_000_000, name


def test_follow_up_is_on_after_coarse_to_fine_opt_in_for_one_stage_and_checked(tmp_path):
    c2f = load_study_file(write(tmp_path, BOWL))
    assert c2f.search.make_strategy().narrowing.follow_up is True
    off = load_study_file(write(tmp_path, BOWL.replace('strategy = "coarse-to-fine"',
                                                      'strategy = "coarse-to-fine"\nfollow_up = false')))
    assert off.search.make_strategy().narrowing.follow_up is False
    single = load_study_file(write(tmp_path, MLP))
    assert single.search.make_strategy().narrowing.follow_up is False
    opted = load_study_file(write(tmp_path, MLP.replace("budget = 1\n", "budget = 1\nfollow_up = true\n")))
    assert opted.search.make_strategy().narrowing.follow_up is True
    with pytest.raises(StudyFileError, match="follow_up"):
        load_study_file(write(tmp_path, MLP.replace("budget = 1\n", 'budget = 1\nfollow_up = "yes"\n')))
