"""export_run: a run written into an Optuna storage opens with optuna.load_study, faithfully."""
import json
import math
import subprocess
import sys

import optuna
import pytest
from optuna.trial import TrialState

import hpsearch as hp
from hpsearch.errors import HpsearchError
from hpsearch.integration.optuna_export import export_run
from hpsearch.objectives import LogBowl

SPACE = {
    "lr": hp.LogUniform(1e-6, 1e-1),
    "reg": hp.LogUniform(1e-5, 1e1),
    "layers": hp.IntUniform(1, 4),
    "hidden": hp.Choice([[50], [100, 100]]),
    "act": hp.Choice(["relu", "tanh"]),
    "epochs_fixed": hp.Fixed(3),
}
# lr above 1e-2 raises (failed), reg above 1 returns NaN (diverged): both show up in 12 random trials
OBJECTIVE = LogBowl({"lr": 1e-3, "reg": 1e-2}, noise=0.05, fail_above={"lr": 1e-2}, diverge_above={"reg": 1.0})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A two-stage run in a folder like `hpsearch run` writes: (folder, result)."""
    folder = tmp_path_factory.mktemp("run")
    study = hp.Study(OBJECTIVE, SPACE, metric="score", direction="maximize", storage=folder / "study.db",
                     name="demo")
    result = study.coarse_to_fine([hp.Stage(n_trials=12, budget=2, sampler="random"),
                                   hp.Stage(n_trials=5, budget=3, sampler="tpe")], seed=0)
    return folder, result


def _load(url, name):
    return optuna.load_study(study_name=name, storage=url)


def test_export_opens_with_optuna_load_study(run, tmp_path):
    folder, result = run
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    name = export_run(folder, url)
    assert name == "demo"
    study = _load(url, name)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert study.metric_names == ["score"] and study.user_attrs["hpsearch_study"] == "demo"
    trials = sorted(study.trials, key=lambda t: t.user_attrs["number"])
    records = result.records
    assert len(trials) == len(records) == 17
    statuses = {r["status"] for r in records}
    assert statuses == {"ok", "failed", "diverged"}, "the run must exercise every state"
    for trial, record in zip(trials, records):
        assert trial.user_attrs["number"] == record["number"]
        assert trial.user_attrs["stage"] == record["stage"]
        assert trial.user_attrs["budget"] == record["budget"]
        assert trial.user_attrs["seed"] == record["seed"]
        assert trial.user_attrs["status"] == record["status"]
        if record["status"] == "ok":
            assert trial.state == TrialState.COMPLETE
            assert trial.value == record["metrics"]["score"]
            assert trial.user_attrs["loss"] == pytest.approx(record["metrics"]["loss"])
            # the learning curve as intermediate values
            assert trial.intermediate_values == {p["epoch"]: p["score"] for p in record["curve"]}
        else:
            assert trial.state == TrialState.FAIL and trial.value is None
        if record["status"] == "failed":
            assert trial.user_attrs["error"].startswith("ValueError: lr=")
        params = record["params"]
        assert trial.params["lr"] == params["lr"] and trial.params["layers"] == params["layers"]
        assert trial.params["act"] == params["act"] and trial.params["epochs_fixed"] == 3
        # list-valued choices are stored as their JSON text, consistently
        assert trial.params["hidden"] == json.dumps(params["hidden"])
        assert json.loads(trial.params["hidden"]) == params["hidden"]
        assert trial.datetime_start.timestamp() == pytest.approx(record["start"], abs=1e-3)


def test_export_shares_one_distribution_per_parameter_across_stages(run, tmp_path):
    folder, result = run
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = _load(url, export_run(folder / "study.db", url, name="demo", optuna_name="again"))
    first = study.trials[0].distributions
    assert all(t.distributions == first for t in study.trials)
    assert first["lr"].log and (first["lr"].low, first["lr"].high) == (1e-6, 1e-1)
    assert first["hidden"].choices == ("[50]", "[100, 100]")
    assert result.stages[1].space["lr"] != SPACE["lr"]  # stage 1 was narrowed, yet fits inside
    # Optuna's importance and contour plots work on the parameters every trial shares this way
    from optuna.search_space import intersection_search_space

    assert set(intersection_search_space(study.get_trials(deepcopy=False))) == set(SPACE)
    best = max((t for t in study.trials if t.state == TrialState.COMPLETE), key=lambda t: t.value)
    assert study.best_trial.number == best.number and study.best_value == result.best_value


def test_existing_optuna_name_is_a_clear_error(run, tmp_path):
    folder, _ = run
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    export_run(folder, url)
    with pytest.raises(HpsearchError, match=r"an Optuna study named 'demo' already exists in sqlite:///.*; "
                                             r"choose another name with optuna_name=\.\.\. \(CLI: --optuna-name"):
        export_run(folder, url)
    assert export_run(folder, url, optuna_name="demo-2") == "demo-2"
    assert len(_load(url, "demo-2").trials) == 17


def test_interrupted_run_exports_what_finished(tmp_path):
    db = tmp_path / "partial.db"
    study = hp.Study(OBJECTIVE, SPACE, metric="score", direction="maximize", storage=db, name="partial")
    seen = []

    def stop_after_five(record):
        seen.append(record["number"])
        if len(seen) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        study.optimize(n_trials=12, budget=1, seed=0, callbacks=[stop_after_five])
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    trials = _load(url, export_run(db, url)).trials
    assert sorted(t.user_attrs["number"] for t in trials) == sorted(seen)


def test_several_studies_need_a_name(tmp_path):
    db = tmp_path / "two.db"
    for name in ("a", "b"):
        hp.Study(OBJECTIVE, {"lr": SPACE["lr"]}, metric="score", storage=db, name=name).optimize(n_trials=2)
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    with pytest.raises(HpsearchError, match=r"holds several studies \(a, b\); choose one with --name \(Python: name=...\)"):
        export_run(db, url)
    assert export_run(db, url, name="b") == "b"
    with pytest.raises(HpsearchError, match="no study named 'c'; studies present: a, b"):
        export_run(db, url, name="c")


def test_missing_run_and_bad_url(tmp_path, run):
    with pytest.raises(HpsearchError, match="no such run folder or storage file"):
        export_run(tmp_path / "nowhere", "sqlite:///x.db")
    with pytest.raises(HpsearchError, match="not a run folder"):
        export_run(tmp_path, "sqlite:///x.db")
    folder, _ = run
    with pytest.raises(HpsearchError, match=r"cannot open Optuna storage 'optuna.db': .*sqlite:///optuna.db"):
        export_run(folder, "optuna.db")


def test_scipy_parameter_exports_over_the_values_seen(tmp_path):
    from scipy import stats

    db = tmp_path / "scipy.db"
    space = {"lr": stats.loguniform(1e-5, 1e-1), "act": hp.Choice([1, True])}  # 1 == True: JSON text
    hp.Study(LogBowl({"lr": 1e-3}), space, metric="score", storage=db, name="s").optimize(n_trials=6, seed=0)
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = _load(url, export_run(db, url))
    lrs = [t.params["lr"] for t in study.trials]
    dist = study.trials[0].distributions["lr"]
    assert (dist.low, dist.high) == (min(lrs), max(lrs)) and len(study.trials) == 6
    assert {t.params["act"] for t in study.trials} <= {"1", "true"}
    assert all(math.isfinite(t.value) for t in study.trials)


def test_a_hyperband_run_becomes_one_optuna_trial_per_configuration(tmp_path):
    from hpsearch.objectives import LearningCurve
    from hpsearch.strategies import Hyperband

    db = tmp_path / "hb" / "study.db"
    res = hp.Study(LearningCurve({"lr": 1e-3}), {"lr": hp.LogUniform(1e-5, 1e-1)}, metric="score", storage=db,
                   name="hb").run(Hyperband(min_budget=1, max_budget=9, eta=3), seed=0)
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    trials = _load(url, export_run(db, url)).trials
    configurations = int(res.trials["continued_from"].isna().sum())
    assert len(trials) == configurations
    states = {t.state.name for t in trials}
    assert states == {"COMPLETE", "PRUNED"}
    for t in trials:
        assert sorted(t.intermediate_values) == list(range(1, t.user_attrs["budget"] + 1))  # every rung's epochs
        assert (t.state.name == "COMPLETE") == (t.user_attrs["budget"] == 9)
    best = max((t for t in trials if t.state.name == "COMPLETE"), key=lambda t: t.value)
    assert best.value == res.best_value


def _hyperband_db(tmp_path):
    from hpsearch.objectives import LearningCurve
    from hpsearch.strategies import Hyperband

    db = tmp_path / "hb" / "study.db"
    res = hp.Study(LearningCurve({"lr": 1e-3}), {"lr": hp.LogUniform(1e-5, 1e-1)}, metric="score", storage=db,
                   name="hb").run(Hyperband(min_budget=1, max_budget=9, eta=3), seed=0)
    return db, res


def test_pruned_configurations_keep_their_last_value_for_the_plots(tmp_path):
    db, res = _hyperband_db(tmp_path)
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = _load(url, export_run(db, url))
    by_number = {r["number"]: r for r in res.records}
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert len(pruned) > len(study.trials) / 2
    for trial in pruned:
        # as Optuna's own pruned trials do: optuna-dashboard's history, slice and rank plots draw them
        assert trial.values == [by_number[trial.user_attrs["number"]]["metrics"]["score"]]


def test_batched_writes_equal_optunas_own_add_trials(run, tmp_path):
    from hpsearch.integration.study_view import StudyView
    from hpsearch.storage.storage import Storage

    folder, _ = run
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    ours = _load(url, export_run(folder, url, batch_size=4)).trials
    with Storage(folder / "study.db", readonly=True) as storage:
        view = StudyView(storage, "demo")
        view.refresh()
    reference = optuna.create_study(storage=url, study_name="reference", direction="maximize")
    reference.add_trials(view.trials)
    theirs = reference.trials
    assert len(ours) == len(theirs) == 17
    for a, b in zip(ours, theirs):
        assert (a.number, a.state, a.values, a.params, a.distributions, a.user_attrs, a.intermediate_values,
                a.datetime_start, a.datetime_complete) == \
               (b.number, b.state, b.values, b.params, b.distributions, b.user_attrs, b.intermediate_values,
                b.datetime_start, b.datetime_complete)


def test_an_interrupted_export_leaves_no_study_and_can_be_run_again(run, tmp_path, monkeypatch):
    from hpsearch.integration import optuna_export

    folder, _ = run
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    write = optuna_export._write_batches

    def interrupted(storage, study_id, trials, batch_size, bar):
        write(storage, study_id, trials[:batch_size], batch_size, bar)   # one batch is in, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(optuna_export, "_write_batches", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export_run(folder, url, batch_size=5)
    assert optuna.get_all_study_names(url) == []
    monkeypatch.setattr(optuna_export, "_write_batches", write)
    assert len(_load(url, export_run(folder, url, batch_size=5)).trials) == 17


def test_a_dead_exports_temporary_study_is_cleaned_and_never_looks_complete(run, tmp_path):
    import socket

    folder, _ = run
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leftover = f"demo (exporting, pid {dead.stdout.strip()} on {socket.gethostname()})"
    optuna.create_study(storage=url, study_name=leftover)   # what a SIGKILLed export leaves
    export_run(folder, url)
    assert optuna.get_all_study_names(url) == ["demo"]


def test_the_cli_export_shows_progress(run, tmp_path, run_cli):
    folder, _ = run
    code, out, err = run_cli("export", folder, "--optuna", f"sqlite:///{tmp_path / 'cli.db'}", "--curves", "none")
    assert code == 0, err
    assert "export demo:" in err and "/17 [" in err   # the tqdm bar on stderr, cleared when done
    study = _load(f"sqlite:///{tmp_path / 'cli.db'}", "demo")
    assert all(t.intermediate_values == {} for t in study.trials)


def test_a_space_with_branches_exports_each_trial_with_its_own_parameters(tmp_path):
    db = tmp_path / "branches.db"
    space = {"lr": hp.LogUniform(1e-5, 1e-1),
             "optimizer": hp.Branch({"sgd": {}, "adam": {"beta2": hp.LogUniform(0.9, 0.9999)}})}
    hp.Study(LogBowl({"lr": 1e-3}), space, metric="score", storage=db, name="b").optimize(n_trials=8, seed=0)
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = _load(url, export_run(db, url))
    by_branch = {t.params["optimizer"]: t for t in study.trials}
    assert set(by_branch) == {"sgd", "adam"}
    assert set(by_branch["sgd"].params) == {"lr", "optimizer"}
    assert set(by_branch["adam"].params) == {"lr", "optimizer", "beta2"}
    dist = by_branch["adam"].distributions["beta2"]
    assert (dist.low, dist.high, dist.log) == (0.9, 0.9999, True)   # the searched range, not the values seen
    assert by_branch["sgd"].distributions["optimizer"].choices == ("sgd", "adam")
