"""SearchCV behaves as scikit-learn's search estimators do, plus what hpsearch adds.

Real estimators on real data: an RBF SVC and LogisticRegression on 400 of the 8x8 digits.
"""
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RandomizedSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import hpsearch as hp
from hpsearch.errors import StudyInterrupted
from hpsearch.sklearn import SearchCV
from sklearn_fixtures import InterruptingSVC

SVC_SPACE = {"C": hp.LogUniform(1e-1, 1e2), "gamma": hp.LogUniform(1e-6, 1e-1)}


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:400], y[:400]


def _same_scores(a, b, keys=("mean_test_score", "std_test_score", "rank_test_score", "split0_test_score")):
    for key in keys:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert a["params"] == b["params"]


def test_cv_results_match_randomized_search_on_the_same_candidates(data):
    X, y = data
    space = {"C": [0.1, 1.0, 10.0], "kernel": ["rbf", "linear"]}   # 6 candidates: both searches try all
    ours = SearchCV(SVC(), space, strategy="grid", n_trials=6, cv=3, return_train_score=True).fit(X, y)
    theirs = RandomizedSearchCV(SVC(), space, n_iter=6, cv=3, random_state=0, return_train_score=True).fit(X, y)
    assert set(ours.cv_results_) == set(theirs.cv_results_)
    # the same order too, but for the param_<name> columns (sklearn's depends on how it sampled)
    assert [k for k in ours.cv_results_ if not k.startswith("param_")] == \
        [k for k in theirs.cv_results_ if not k.startswith("param_")]
    for key, value in theirs.cv_results_.items():
        mine = ours.cv_results_[key]
        assert type(mine) is type(value), key
        if isinstance(value, np.ndarray):
            assert mine.dtype == value.dtype and mine.shape == value.shape, key
    # the same candidates in another order: compare candidate by candidate
    order = [theirs.cv_results_["params"].index(p) for p in ours.cv_results_["params"]]
    assert sorted(order) == list(range(6))
    for key in ("split0_test_score", "split2_test_score", "mean_test_score", "std_test_score",
                "rank_test_score", "mean_train_score", "param_C"):
        np.testing.assert_array_equal(np.asarray(ours.cv_results_[key]), np.asarray(theirs.cv_results_[key])[order],
                                      err_msg=key)
    assert ours.best_params_ == theirs.best_params_ and ours.best_score_ == theirs.best_score_
    assert ours.n_splits_ == theirs.n_splits_ == 3
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert ours.score(X, y) == theirs.score(X, y)


def test_a_pipeline_with_nested_names_and_estimator_choices(data):
    X, y = data
    pipe = Pipeline([("scale", StandardScaler()), ("clf", SVC())])
    space = {"scale": [StandardScaler(), "passthrough"], "clf__C": hp.LogUniform(1e-1, 1e2),
             "clf__gamma": hp.LogUniform(1e-4, 1e-1)}
    search = SearchCV(pipe, space, n_trials=6, cv=2, seed=1).fit(X, y)
    chosen = search.cv_results_["param_scale"]
    assert chosen.dtype == object and all(v == "passthrough" or isinstance(v, StandardScaler) for v in chosen)
    assert set(search.best_params_) == {"scale", "clf__C", "clf__gamma"}
    assert search.best_estimator_.named_steps["clf"].C == search.best_params_["clf__C"]
    if isinstance(search.best_params_["scale"], StandardScaler):   # cloned before the refit, as sklearn does
        assert search.best_estimator_.named_steps["scale"] is not search.best_params_["scale"]
    assert not hasattr(search, "predict_proba")   # SVC(probability=False) has none, so neither has the search
    assert hasattr(search, "decision_function")
    assert search.classes_.tolist() == list(range(10))


def test_multimetric_refit_names_the_metric(data):
    X, y = data
    scoring = ["accuracy", "f1_macro"]
    search = SearchCV(SVC(), SVC_SPACE, n_trials=4, cv=2, scoring=scoring, refit="f1_macro").fit(X, y)
    assert search.multimetric_ and set(search.scorer_) == {"accuracy", "f1_macro"}
    for name in scoring:
        assert {f"mean_test_{name}", f"rank_test_{name}", f"split1_test_{name}"} <= set(search.cv_results_)
    assert search.best_index_ == int(np.argmin(search.cv_results_["rank_test_f1_macro"]))
    assert search.best_score_ == search.cv_results_["mean_test_f1_macro"][search.best_index_]
    assert search.score(X, y) == pytest.approx(search.scorer_["f1_macro"](search.best_estimator_, X, y))
    with pytest.raises(ValueError, match="refit"):
        SearchCV(SVC(), SVC_SPACE, n_trials=2, cv=2, scoring=scoring).fit(X, y)
    no_refit = SearchCV(SVC(), SVC_SPACE, n_trials=2, cv=2, scoring=scoring, refit=False).fit(X, y)
    assert not hasattr(no_refit, "best_estimator_") and not hasattr(no_refit, "best_params_")
    with pytest.raises(AttributeError, match="predict"):
        no_refit.predict(X)
    assert not hasattr(no_refit, "predict")


def test_error_score_a_number_warns_and_scores_the_failed_fits(data):
    X, y = data
    space = {"C": [1.0], "penalty": ["l2", "bad-penalty"]}
    with pytest.warns(FitFailedWarning, match="fits failed out of a total of"):
        search = SearchCV(LogisticRegression(max_iter=300), space, strategy="grid", n_trials=2, cv=2,
                          error_score=-1.0).fit(X, y)
    bad = [i for i, p in enumerate(search.cv_results_["params"]) if p["penalty"] == "bad-penalty"]
    assert search.cv_results_["mean_test_score"][bad[0]] == -1.0
    assert search.best_params_["penalty"] == "l2"
    with pytest.raises(ValueError, match="All the 2 fits failed"):
        SearchCV(LogisticRegression(), {"penalty": ["bad-penalty"]}, n_trials=1, cv=2).fit(X, y)


def test_error_score_raise_raises_the_estimators_own_error(data):
    X, y = data
    search = SearchCV(LogisticRegression(), {"penalty": ["bad-penalty"]}, n_trials=1, cv=2, error_score="raise")
    with pytest.raises(ValueError, match="penalty"):
        search.fit(X, y)


def test_resume_after_an_interruption_gives_the_uninterrupted_results(data, tmp_path):
    X, y = data
    settings = dict(n_trials=6, cv=2, seed=3)
    straight = SearchCV(SVC(), SVC_SPACE, **settings).fit(X, y)
    # backend="threading", one job: the fits run in this process, where the countdown is
    search = SearchCV(InterruptingSVC(), SVC_SPACE, storage=tmp_path / "search.db", name="svc", backend="threading",
                      **settings)
    InterruptingSVC.countdown[0] = 7   # the 4th candidate's second fold
    with pytest.raises(StudyInterrupted):
        search.fit(X, y)
    assert len(hp.load_study(tmp_path / "search.db", "svc")) == 3
    search.fit(X, y)
    _same_scores(search.cv_results_, straight.cv_results_)
    assert [r["number"] for r in search.result_.records] == list(range(6))


def test_same_seed_same_results_for_any_n_jobs(data):
    X, y = data
    one = SearchCV(SVC(), SVC_SPACE, n_trials=6, cv=2, seed=5, n_jobs=1).fit(X, y)
    two = SearchCV(SVC(), SVC_SPACE, n_trials=6, cv=2, seed=5, n_jobs=2).fit(X, y)
    _same_scores(one.cv_results_, two.cv_results_)
    other = SearchCV(SVC(), SVC_SPACE, n_trials=6, cv=2, seed=6).fit(X, y)
    assert other.cv_results_["params"] != one.cv_results_["params"]


def test_a_too_narrow_range_warns_with_the_parameter_and_a_wider_range(data):
    X, y = data
    narrow = {"gamma": hp.LogUniform(1e-7, 1e-5)}   # the best gammas of digits are near 1e-3
    with pytest.warns(UserWarning, match=r"gamma: best 1e-05 is at the high edge of \[1e-07, 1e-05\]; widen above, "
                                         r"e.g. to 1e-04"):
        search = SearchCV(SVC(C=10.0), narrow, strategy="grid", n_trials=5, cv=2).fit(X, y)
    assert [(f.param, f.edge) for f in search.boundary_] == [("gamma", "high")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wide = SearchCV(SVC(C=10.0), {"gamma": hp.LogUniform(1e-6, 1e-1)}, n_trials=8, cv=2).fit(X, y)
    assert wide.boundary_ == []
    # no flag; 8 trials are too few to test, which one EdgeWarning says, and where the best gamma sits
    said = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(said) == 1 and caught[0].category is hp.EdgeWarning
    assert said[0].startswith("SearchCV: 8 trials: too few to test edges") and said[0].endswith(
        f"the best trial has gamma at {hp.LogUniform(1e-6, 1e-1).to_unit(wide.best_params_['gamma']):.0%} of its "
        f"range (log scale for log ranges)")


def test_clone_get_params_round_trip_and_no_work_in_init(data):
    X, y = data
    search = SearchCV(SVC(), SVC_SPACE, strategy="nonsense", n_trials=-3, cv=2)   # validated in fit, not here
    params = search.get_params()
    assert params["strategy"] == "nonsense" and params["estimator__C"] == 1.0 and params["follow_up"] is None
    copy = clone(search)
    assert copy.get_params(deep=False).keys() == params.keys() - {k for k in params if "__" in k}
    copy.set_params(strategy="sobol", n_trials=4, estimator__kernel="rbf", follow_up=False)
    assert copy.get_params()["strategy"] == "sobol" and search.strategy == "nonsense"
    assert clone(copy).follow_up is False and search.follow_up is None
    with pytest.raises(ValueError, match="unknown strategy 'nonsense'"):
        search.fit(X, y)
    fitted = copy.fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict(X[:20]), fitted.predict(X[:20]))
    assert not hasattr(clone(fitted), "cv_results_")


def test_a_second_fit_is_a_fresh_search(data):
    X, y = data
    search = SearchCV(SVC(), SVC_SPACE, n_trials=4, cv=2)
    first = search.fit(X, y).cv_results_
    second = search.fit(X[:200], y[:200]).cv_results_
    assert len(second["params"]) == 4 and second["params"] == first["params"]   # same seed, same candidates
    assert not np.array_equal(second["mean_test_score"], first["mean_test_score"])   # scored on the new data


def test_coarse_to_fine_over_samples_and_halving_over_an_estimator_parameter(data):
    X, y = data
    staged = SearchCV(SVC(), SVC_SPACE, strategy="coarse-to-fine", n_trials=8, cv=2, resource="n_samples").fit(X, y)
    results = staged.cv_results_
    assert results["stage"].tolist() == [0] * 6 + [1] * 2
    # coarse-to-fine's follow-up is on by default (its column is there); 2 last-stage trials leave no edge suspect
    assert results["follow_up"].tolist() == [""] * 8
    assert results["n_resources"].tolist() == [66] * 6 + [200] * 2   # a third of a 200-row fold, then all of it
    assert results["n_resources"][staged.best_index_] == 200
    halving = SearchCV(LogisticRegression(), {"C": hp.LogUniform(1e-3, 1e1)}, strategy="sha", n_trials=3, cv=2,
                       resource="max_iter", max_resource=27, min_resource=3).fit(X, y)
    budgets = halving.cv_results_["n_resources"]
    assert sorted(set(budgets.tolist())) == [3, 9, 27] and halving.best_params_["max_iter"] == 27
    assert halving.cv_results_["param_max_iter"].tolist() == budgets.tolist()


@pytest.mark.parametrize("kwargs, match", [
    (dict(space=[{"C": [1.0]}, {"tol": []}]), r"space\[1\]\['tol'\] is an empty list"),
    (dict(space=[{"C": [1.0]}, 3]), r"space\[1\] must be a dict"),
    (dict(space=[{"C": hp.LogUniform(1, 10)}, {"C": hp.LogUniform(1, 100)}]),
     r"space\[1\]\['C'\] is LogUniform\(1.0, 100.0\) but space\[0\]\['C'\] is LogUniform\(1.0, 10.0\)"),
    (dict(space=[]), "space is an empty list"),
    (dict(space={"C": []}), r"space\['C'\] is an empty list"),
    (dict(space={"C": 3.0}), r"space\['C'\] must be a list"),
    (dict(strategy="sha"), "needs a resource"),
    (dict(resource="max_iterations"), "did you mean 'max_iter'"),
    (dict(scoring="acuracy"), "acuracy"),
    (dict(error_score="ignore"), "error_score must be the string 'raise' or a numeric value"),
    (dict(stages=[4, 2]), "stages are the plan of strategy='coarse-to-fine'"),
    (dict(follow_up="yes"), r"^follow_up must be True, False or None \(the strategy's default\), got 'yes'$"),
    (dict(strategy="sha", resource="max_iter", max_resource=9, follow_up=True),
     r"^follow_up=True does not apply to strategy='sha'"),
])
def test_bad_settings_are_one_clear_error(data, kwargs, match):
    X, y = data
    settings = {"estimator": LogisticRegression(), "space": {"C": [1.0]}, "n_trials": 2, "cv": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        SearchCV(**settings).fit(X, y)


def test_follow_up_settles_a_suspect_edge_with_real_fits_reported_in_fits(data):
    """Opted in after one random stage: 12 candidates leave gamma's high edge suspect (C's the test
    flags itself); 10 more (5 a decade inside it, 5 a decade past it) confirm it, as rows of
    cv_results_ and in edge_report_."""
    X, y = data
    space = {"gamma": hp.LogUniform(1e-6, 1e-4), "C": hp.LogUniform(0.1, 100)}
    plain = SearchCV(SVC(), space, n_trials=12, cv=3, seed=5).fit(X, y)
    assert "follow_up" not in plain.cv_results_ and len(plain.cv_results_["params"]) == 12   # off by default
    search = SearchCV(SVC(), space, n_trials=12, cv=3, seed=5, follow_up=True).fit(X, y)
    results = search.cv_results_
    assert results["follow_up"].tolist() == [""] * 12 + ["gamma:high"] * 10
    assert results["params"][:12] == plain.cv_results_["params"]
    assert sum(p["gamma"] > 1e-4 for p in results["params"][12:]) == 5
    assert "follow-up (10 extra trials = 30 fits, one decade or one range-width either side of each suspect " \
           "edge):" in search.edge_report_.splitlines()
    assert "  gamma high edge: confirmed: the metric keeps improving past it" in search.edge_report_
    assert [(f.param, f.evidence) for f in search.boundary_] == [("gamma", "follow-up"), ("C", "moderate")]
