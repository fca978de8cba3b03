"""CVObjective as an objective of the search protocol, and the shipped study file that names one."""
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import cross_validate
from sklearn.svm import SVC

import hpsearch as hp
from hpsearch.cli import main
from hpsearch.sklearn import CVObjective, cv_objective

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:300], y[:300]


def test_its_scores_are_those_of_cross_validate(data):
    X, y = data
    objective = CVObjective(SVC(), X, y, cv=3, scoring="accuracy")
    metrics = objective({"C": 3.0, "gamma": 1e-3}, 1, 0)
    reference = cross_validate(SVC(C=3.0, gamma=1e-3), X, y, cv=3, scoring="accuracy")
    np.testing.assert_array_equal([metrics[f"split{k}_test_score"] for k in range(3)], reference["test_score"])
    assert metrics["mean_test_score"] == reference["test_score"].mean()
    assert metrics["n_failed_fits"] == 0 and metrics["mean_fit_time"] > 0
    assert objective.metric_names() == ["mean_test_score"] and "gamma" in objective.valid_settings()


def test_a_study_of_it_resumes_and_catches_changed_data(data, tmp_path):
    X, y = data
    space = {"C": hp.LogUniform(1e-1, 1e2), "gamma": hp.LogUniform(1e-5, 1e-2)}
    study = hp.Study(CVObjective(SVC(), X, y, cv=2), space, metric="mean_test_score", storage=tmp_path / "s.db")
    first = study.optimize(n_trials=4, seed=0)
    again = study.optimize(n_trials=4, seed=0)   # all stored: nothing runs again
    assert again.trials["mean_test_score"].tolist() == first.trials["mean_test_score"].tolist()
    changed = hp.Study(CVObjective(SVC(), X[:200], y[:200], cv=2), space, metric="mean_test_score",
                       storage=tmp_path / "s.db")
    with pytest.raises(hp.HpsearchError, match="objective.data"):
        changed.optimize(n_trials=4, seed=0)


def test_the_factory_names_its_mistakes():
    with pytest.raises(ValueError, match="unknown dataset 'digit'; did you mean 'digits'"):
        cv_objective("sklearn.svm.SVC", dataset="digit")
    with pytest.raises(ValueError, match="cannot be imported"):
        cv_objective("sklearn.svm.SVX")
    with pytest.raises(ValueError, match="rejected params"):
        cv_objective("sklearn.svm.SVC", params={"kernal": "rbf"})


def test_the_shipped_svc_study_runs_from_the_command_line(tmp_path, capsys):
    text = (ROOT / "studies" / "sklearn_svc.toml").read_text()
    quick = re.sub(r"n_trials = \d+", "n_trials = 3", text).replace('dataset = "digits"', 'dataset = "iris"')
    study = tmp_path / "sklearn_svc.toml"
    study.write_text(quick)
    assert main(["run", str(study), "--n-jobs", "1", "--no-plots", "--quiet", "--out", str(tmp_path / "run")]) == 0
    result = hp.load_study(tmp_path / "run" / "study.db", "sklearn-svc")
    # two stages of 3, plus the follow-up stage coarse-to-fine runs when an edge is left suspect
    searched = result.trials[~result.trials["stage"].isin([s.index for s in result.stages
                                                            if "follow-up" in str(s.sampler)])]
    assert len(searched) == 6 and result.counts()["ok"] == len(result) and 0 < result.best_value <= 1
    assert "best mean_test_score" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(quick.replace("gamma = {", "gama = {"))
    assert main(["run", str(bad), "--dry-run"]) == 2
    assert "unknown parameter 'gama'; did you mean 'gamma'?" in capsys.readouterr().err
