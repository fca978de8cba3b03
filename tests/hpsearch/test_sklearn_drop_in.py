"""RandomizedSearchCV and GridSearchCV: scikit-learn's, one import line away, plus hpsearch's extras.

Real estimators on real data (an SVC on 300 of the 8x8 digits), side by side with scikit-learn's
own classes. scikit-learn's whole test suite for its searches runs in test_sklearn_conformance.py.
"""
import warnings

import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn import model_selection as sk
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.svm import SVC

import hpsearch as hp
from hpsearch.sklearn import BaseSearch, GridSearchCV, RandomizedSearchCV, SearchCV


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:300], y[:300]


def _same_search(ours, theirs):
    assert ours.cv_results_["params"] == theirs.cv_results_["params"]
    assert set(ours.cv_results_) == set(theirs.cv_results_)
    for key, value in theirs.cv_results_.items():
        if key != "params" and not key.endswith("_time"):
            np.testing.assert_array_equal(ours.cv_results_[key], value, err_msg=key)
            assert ours.cv_results_[key].dtype == value.dtype, key
    assert ours.best_params_ == theirs.best_params_ and ours.best_score_ == theirs.best_score_


@pytest.mark.parametrize("space, n_iter", [
    ({"C": loguniform(1e-1, 1e2), "kernel": ["rbf", "linear"]}, 5),
    # all lists: drawn without replacement (6 distinct candidates of the 8)
    ({"C": [0.1, 1.0, 10.0, 100.0], "kernel": ["rbf", "linear"]}, 6),
    # a list of dicts: a space with alternatives, one chosen at random per candidate
    ([{"kernel": ["rbf"], "gamma": loguniform(1e-4, 1e-2)}, {"kernel": ["linear"], "C": range(1, 4)}], 5),
])
def test_randomized_search_runs_the_candidates_of_scikit_learn(data, space, n_iter):
    X, y = data
    theirs = sk.RandomizedSearchCV(SVC(), space, n_iter=n_iter, cv=3, random_state=0).fit(X, y)
    ours = RandomizedSearchCV(SVC(), space, n_iter=n_iter, cv=3, random_state=0).fit(X, y)
    _same_search(ours, theirs)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_n_iter_covering_an_all_list_space_runs_the_grid_once_with_scikit_learns_warning(data):
    X, y = data
    with pytest.warns(UserWarning, match="The total space of parameters 3 is smaller than n_iter=10"):
        search = RandomizedSearchCV(SVC(), {"C": [0.1, 1, 10]}, cv=2, random_state=0).fit(X, y)
    assert search.cv_results_["params"] == [{"C": 0.1}, {"C": 1}, {"C": 10}]


def test_grid_search_takes_alternatives_ranges_and_repeated_values(data):
    X, y = data
    grid = [{"kernel": ["rbf"], "C": range(1, 3), "gamma": np.array([1e-3, 1e-3])}, {"kernel": ["linear"]}, {}]
    theirs = sk.GridSearchCV(SVC(), grid, cv=2).fit(X, y)
    ours = GridSearchCV(SVC(), grid, cv=2).fit(X, y)
    _same_search(ours, theirs)
    assert len(ours.cv_results_["params"]) == 6 and ours.cv_results_["params"][-1] == {}
    assert ours.cv_results_["param_gamma"].mask.tolist() == [False] * 4 + [True] * 2


def test_scikit_learn_idioms_that_used_to_fail(data):
    X, y = data
    search = RandomizedSearchCV(SVC(), {"C": loguniform(1e-1, 1e2)}, n_iter=5, cv=2, verbose=0)
    search.set_params(n_iter=3, random_state=np.random.RandomState(0))
    search.fit(X, y, sample_weight=np.ones(len(y)))
    assert len(search.cv_results_["params"]) == 3
    # a fit parameter that cannot be pickled (nothing is hashed without a storage)
    from sklearn.linear_model import SGDClassifier

    class WithCallback(SGDClassifier):
        def fit(self, X, y, callback=None):
            callback()
            return super().fit(X, y)

    called = []
    RandomizedSearchCV(WithCallback(max_iter=5, tol=None), {"alpha": [1e-4, 1e-3]}, cv=2).fit(
        X, y, callback=lambda: called.append(1))
    assert len(called) == 2 * 2 + 1   # every fold of both candidates, and the refit
    # single-metric scoring refit by its name
    named = GridSearchCV(SVC(), {"C": [1, 10]}, cv=2, scoring="recall_macro", refit="recall_macro").fit(X, y)
    assert named.best_score_ == named.cv_results_["mean_test_score"].max()


def test_the_extras_log_ranges_any_n_jobs_resume_and_edge_warnings(data, tmp_path):
    X, y = data
    space = {"C": hp.LogUniform(1e-1, 1e2), "gamma": hp.LogUniform(1e-5, 1e-2)}
    one = RandomizedSearchCV(SVC(), space, n_iter=6, cv=2, random_state=3).fit(X, y)
    two = RandomizedSearchCV(SVC(), space, n_iter=6, cv=2, random_state=3, n_jobs=2).fit(X, y)
    _same_search(two, one)
    assert all(1e-1 <= p["C"] <= 1e2 for p in one.cv_results_["params"])
    stored = RandomizedSearchCV(SVC(), space, n_iter=6, cv=2, random_state=3, storage=tmp_path / "s.db", name="svc")
    first = stored.fit(X, y).cv_results_
    again = clone(stored).fit(X, y).cv_results_   # the stored study is reloaded, nothing is fitted again
    np.testing.assert_array_equal(again["mean_fit_time"], first["mean_fit_time"])
    assert len(hp.load_study(tmp_path / "s.db", "svc")) == 6
    with pytest.warns(UserWarning, match="gamma: the top trials crowd toward the high edge of"):
        narrow = RandomizedSearchCV(SVC(C=10.0), {"gamma": hp.LogUniform(1e-7, 1e-5)}, n_iter=12, cv=2,
                                    random_state=0).fit(X, y)
    assert [(f.param, f.edge) for f in narrow.boundary_] == [("gamma", "high")]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)   # lists are never flagged
        GridSearchCV(SVC(), {"C": [0.1, 1.0]}, cv=2).fit(X, y)


def test_one_engine_for_the_three_search_estimators():
    assert all(issubclass(cls, BaseSearch) for cls in (RandomizedSearchCV, GridSearchCV, SearchCV))
    assert "fit" not in vars(RandomizedSearchCV) and "fit" not in vars(GridSearchCV) and "fit" not in vars(SearchCV)


def test_scipy_log_ranges_are_edge_tested_too(data):
    X, y = data
    with pytest.warns(UserWarning, match="gamma: the top trials crowd toward the high edge of"):
        search = RandomizedSearchCV(SVC(C=10.0), {"gamma": loguniform(1e-7, 1e-5)}, n_iter=12, cv=2,
                                    random_state=0).fit(X, y)
    assert [(f.param, f.edge) for f in search.boundary_] == [("gamma", "high")]


class _Tasks:
    """A scikit-learn callback that records the names of the fit tasks it is told about."""

    def __init__(self):
        self.begun = []

    def setup(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context, *, X=None, y=None, metadata=None, fitted_estimator=None):
        self.begun.append(context.task_name)

    def on_fit_task_end(self, estimator, context, *, X=None, y=None, metadata=None, fitted_estimator=None):
        pass

    def teardown(self, estimator, context):
        pass


def test_callbacks_hear_every_fold_of_the_drop_ins_and_the_search_and_refit_of_searchcv(data):
    X, y = data
    tasks = _Tasks()
    GridSearchCV(SVC(), {"C": [1, 10]}, cv=2).set_callbacks(tasks).fit(X, y)
    assert sorted(tasks.begun) == sorted(["fit", "search", "refit-with-best-params"]
                                         + ["candidate-split-evaluation"] * 4)
    tasks = _Tasks()
    SearchCV(SVC(), {"C": hp.LogUniform(1, 10)}, n_trials=2, cv=2).set_callbacks(tasks).fit(X, y)
    assert sorted(tasks.begun) == ["fit", "refit-with-best-params", "search"]
