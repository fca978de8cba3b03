"""A scikit-learn list of dicts is an hp.Space with alternatives, in SearchCV and in the drop-ins.

Real estimators on real data: SVC and LogisticRegression on 300 of the 8x8 digits.
"""
import warnings

import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn import model_selection as sk
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import hpsearch as hp
from hpsearch.sklearn import RandomizedSearchCV, SearchCV, SklearnSpace
from hpsearch.sklearn._candidates import Alternatives

#: two kernels, each with parameters of its own; C is shared (one parameter, active in both)
KERNELS = [{"kernel": ["rbf"], "C": hp.LogUniform(1e-1, 1e2), "gamma": hp.LogUniform(1e-4, 1e-2)},
           {"kernel": ["poly"], "C": hp.LogUniform(1e-1, 1e2), "degree": [2, 3]}]
ACTIVE = {"rbf": {"kernel", "C", "gamma"}, "poly": {"kernel", "C", "degree"}}


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:300], y[:300]


class _RecordingSVC(SVC):
    """An SVC that records what ``set_params`` receives (the fits run in this process with n_jobs=1)."""

    calls = []

    def set_params(self, **params):
        self.calls.append(dict(params))
        return super().set_params(**params)


def test_the_list_is_hp_space_with_alternatives():
    space = SklearnSpace(KERNELS).space
    assert space == hp.Space([{"kernel": hp.Fixed("rbf"), "C": hp.LogUniform(1e-1, 1e2),
                               "gamma": hp.LogUniform(1e-4, 1e-2)},
                              {"kernel": hp.Fixed("poly"), "C": hp.LogUniform(1e-1, 1e2),
                               "degree": hp.Choice([2, 3])}])
    assert space.branches == {"kernel": ("rbf", "poly")}
    assert space.conditions["gamma"] == ("kernel", ("rbf",))
    assert space.conditions["C"] == ("kernel", ("rbf", "poly"))
    # a list of one dict is that dict, as the stored studies of one dict know it
    assert SklearnSpace([KERNELS[0]]).space == SklearnSpace(KERNELS[0]).space


@pytest.mark.parametrize("strategy", ["random", "sobol", "coarse-to-fine"])
def test_searchcv_takes_a_list_of_dicts_and_sets_only_the_active_params(data, strategy):
    X, y = data
    _RecordingSVC.calls.clear()
    search = SearchCV(_RecordingSVC(), KERNELS, strategy=strategy, n_trials=12, cv=2, seed=0).fit(X, y)
    records = search.result_.records
    # coarse-to-fine's follow-up (on by default) probes one suspect edge here: 10 more candidates
    follow_up = [r for r in records if r.get("follow_up")]
    assert len(follow_up) == (10 if strategy == "coarse-to-fine" else 0)
    assert len(records) == 12 + len(follow_up) and {r["params"]["kernel"] for r in records} == {"rbf", "poly"}
    for record in records:
        assert set(record["params"]) == ACTIVE[record["params"]["kernel"]]
    # every candidate's fit (cross-validation, then the refit) got its own branch's parameters only
    assert len(_RecordingSVC.calls) == len(records) + 1
    for call in _RecordingSVC.calls:
        assert set(call) == ACTIVE[call["kernel"]], call
    for params in search.cv_results_["params"]:
        assert set(params) == ACTIVE[params["kernel"]]
    poly = np.array([p["kernel"] == "poly" for p in search.cv_results_["params"]])
    assert search.cv_results_["param_degree"].mask.tolist() == (~poly).tolist()
    assert search.best_estimator_.kernel == search.best_params_["kernel"]
    if strategy == "coarse-to-fine":
        assert search.cv_results_["stage"].tolist()[:12] == [0] * 9 + [1] * 3


def test_alternatives_told_apart_by_no_string_are_decoded_per_alternative(data):
    X, y = data
    pipe = Pipeline([("scale", StandardScaler()), ("clf", SVC())])
    space = [{"clf": [SVC()], "clf__C": hp.LogUniform(1e-1, 1e1)},
             {"clf": [LogisticRegression(max_iter=300)], "clf__C": hp.LogUniform(1e-1, 1e1)}]
    # the Pipeline refuses any parameter it does not have: "alternative" reaching set_params would fail every fit
    search = SearchCV(pipe, space, n_trials=8, cv=2, seed=1, error_score="raise").fit(X, y)
    stored = [r["params"] for r in search.result_.records]
    assert all(set(p) == {"alternative", "clf__C"} for p in stored)
    assert {p["alternative"] for p in stored} == {"0", "1"}
    for params, kept in zip(search.cv_results_["params"], stored):
        assert set(params) == {"clf", "clf__C"} and params["clf__C"] == kept["clf__C"]
        assert type(params["clf"]) is (SVC if kept["alternative"] == "0" else LogisticRegression)
    assert type(search.best_estimator_.named_steps["clf"]) is type(search.best_params_["clf"])


def test_a_value_each_alternative_fixes_is_set_with_its_branch(data):
    X, y = data
    space = [{"solver": ["liblinear"], "l1_ratio": [1.0], "C": hp.LogUniform(1e-2, 1e1)},
             {"solver": ["lbfgs"], "l1_ratio": [0.0], "C": hp.LogUniform(1e-2, 1e1)}]
    # odd digits against even ones (liblinear is binary); lbfgs with l1_ratio=1 would raise
    search = SearchCV(LogisticRegression(max_iter=1000), space, n_trials=6, cv=2, seed=2,
                      error_score="raise").fit(X, y % 2)
    assert all(set(r["params"]) == {"solver", "C"} for r in search.result_.records)   # searched: C
    for params in search.cv_results_["params"]:
        assert params["l1_ratio"] == {"liblinear": 1.0, "lbfgs": 0.0}[params["solver"]]
    assert {p["solver"] for p in search.cv_results_["params"]} == {"liblinear", "lbfgs"}


def test_same_seed_same_cv_results_for_any_n_jobs(data):
    X, y = data
    one = SearchCV(SVC(), KERNELS, n_trials=8, cv=2, seed=5, n_jobs=1).fit(X, y)
    two = SearchCV(SVC(), KERNELS, n_trials=8, cv=2, seed=5, n_jobs=2).fit(X, y)
    assert one.cv_results_["params"] == two.cv_results_["params"]
    for key in ("mean_test_score", "split0_test_score", "rank_test_score", "param_gamma", "param_degree"):
        np.testing.assert_array_equal(one.cv_results_[key], two.cv_results_[key], err_msg=key)
    drop_in = [RandomizedSearchCV(SVC(), KERNELS, n_iter=8, cv=2, random_state=5, n_jobs=n).fit(X, y)
               for n in (1, 2)]
    assert drop_in[0].cv_results_["params"] == drop_in[1].cv_results_["params"]
    np.testing.assert_array_equal(drop_in[0].cv_results_["mean_test_score"], drop_in[1].cv_results_["mean_test_score"])


def test_a_range_of_one_alternative_is_edge_tested_over_its_candidates(data):
    X, y = data
    # the best gammas of digits are near 1e-3: this range is far too low; tol hardly matters
    narrow = [{"kernel": ["rbf"], "gamma": hp.LogUniform(1e-7, 1e-5)},
              {"kernel": ["poly"], "degree": [2, 3], "tol": hp.LogUniform(1e-4, 1e-2)}]
    with pytest.warns(UserWarning, match="SearchCV: gamma: the top trials crowd toward the high edge"):
        search = SearchCV(SVC(C=10.0), narrow, n_trials=40, cv=2, seed=0).fit(X, y)
    assert [(f.param, f.edge) for f in search.boundary_] == [("gamma", "high")]
    # the drop-in: the same list, drawn by scikit-learn; gamma is tested over the rbf candidates only
    scipy_narrow = [{"kernel": ["rbf"], "gamma": loguniform(1e-7, 1e-5)},
                    {"kernel": ["poly"], "degree": [2, 3], "tol": loguniform(1e-4, 1e-2)}]
    with pytest.warns(UserWarning, match="RandomizedSearchCV: gamma: the top trials crowd toward the high edge"):
        drop_in = RandomizedSearchCV(SVC(C=10.0), scipy_narrow, n_iter=40, cv=2, random_state=0).fit(X, y)
    assert [(f.param, f.edge) for f in drop_in.boundary_] == [("gamma", "high")]
    theirs = sk.RandomizedSearchCV(SVC(C=10.0), scipy_narrow, n_iter=40, cv=2, random_state=0).fit(X, y)
    assert drop_in.cv_results_["params"] == theirs.cv_results_["params"]


def test_the_drop_ins_study_states_the_branches_of_the_list():
    alternatives = Alternatives([{"kernel": ["rbf"], "gamma": loguniform(1e-4, 1e-2), "C": [1, 10]},
                                 {"kernel": ["poly"], "degree": [2, 3]}])
    candidates = alternatives.candidates(alternatives.sample(6, 0))
    space = candidates.space()
    assert space.branches == {"kernel": ("rbf", "poly")} and space.conditions == {"gamma": ("kernel", ("rbf",))}
    # no parameter tells the alternatives apart: hp.Space's "alternative", stored with each candidate
    alternatives = Alternatives([{"C": loguniform(1e-1, 1e1), "gamma": loguniform(1e-4, 1e-2)},
                                 {"C": loguniform(1e-1, 1e1)}])
    candidates = alternatives.candidates(alternatives.sample(8, 0))
    space = candidates.space()
    assert space.conditions == {"C": ("alternative", ("0", "1")), "gamma": ("alternative", ("0",))}
    for i, params in enumerate(candidates.ask(8)):
        assert ("gamma" in params) == (params["alternative"] == "0")
        assert candidates.decode(params) == candidates.params[i] and "alternative" not in candidates.params[i]
    # one dict: the space a stored study of one dict was created with (its position, and the ranges)
    alternatives = Alternatives({"C": loguniform(1e-1, 1e2), "kernel": ["rbf", "linear"], "gamma": [1e-3]})
    candidates = alternatives.candidates(alternatives.sample(3, 0))
    assert candidates.space() == hp.Space({"#candidate": hp.Choice([0, 1, 2]), "C": hp.LogUniform(1e-1, 1e2)})
    assert all(set(p) == {"#candidate", "C", "kernel", "gamma"} for p in candidates.ask(3))


@pytest.mark.parametrize("space", [{}, [{}]])
def test_an_empty_space_runs_the_estimator_as_given_once_as_scikit_learn_does(data, space):
    X, y = data
    theirs = sk.GridSearchCV(SVC(), space, cv=2).fit(X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = SearchCV(SVC(), space, cv=2).fit(X, y)
    messages = [w for w in caught if "total space of parameters" in str(w.message)]
    assert [str(w.message) for w in messages] == ["The total space of parameters 1 is smaller than n_trials=10. "
                                                  "Running 1 trial: an empty space has one candidate, the estimator "
                                                  "as given."]
    assert messages[0].filename == __file__
    assert ours.cv_results_["params"] == theirs.cv_results_["params"] == [{}]
    np.testing.assert_array_equal(ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"])
    assert ours.best_params_ == {} and ours.best_estimator_.get_params() == SVC().get_params()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)   # a grid of one point, as GridSearchCV: no warning
        grid = SearchCV(SVC(), space, strategy="grid", cv=2).fit(X, y)
    assert grid.cv_results_["params"] == [{}]


def test_an_hp_space_of_alternatives_is_taken_as_it_is(data):
    X, y = data
    space = hp.Space([{"C": hp.LogUniform(1e-1, 1e1), "gamma": hp.LogUniform(1e-4, 1e-2)},
                      {"C": hp.LogUniform(1e-1, 1e1), "kernel": hp.Fixed("linear")}])
    assert space.branches == {"alternative": ("0", "1")}
    _RecordingSVC.calls.clear()
    search = SearchCV(_RecordingSVC(), space, n_trials=6, cv=2, seed=3).fit(X, y)
    assert {r["params"]["alternative"] for r in search.result_.records} == {"0", "1"}
    assert _RecordingSVC.calls and all("alternative" not in call for call in _RecordingSVC.calls)
    assert all(set(p) in ({"C", "gamma"}, {"C", "kernel"}) for p in search.cv_results_["params"])
