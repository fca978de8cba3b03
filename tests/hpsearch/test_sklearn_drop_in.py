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
from sklearn.model_selection import cross_val_score
from sklearn.svm import SVC

import hpsearch as hp
from hpsearch.errors import StudyInterrupted
from hpsearch.sklearn import BaseSearch, GridSearchCV, RandomizedSearchCV, SearchCV
from sklearn_fixtures import InterruptingSVC


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


# ---------------------------------------------------------------- small studies and the follow-up (issue 26)
#: The issue's example: a scikit-learn user tunes an SVC on digits with gamma in [1e-6, 1e-4]
#: (the good gammas lie above 1e-3, so accuracy climbs to the top edge).
SVC_EXAMPLE = {"gamma": hp.LogUniform(1e-6, 1e-4), "C": hp.LogUniform(0.1, 100)}


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)


def _fit_edge_warnings(search, X, y):
    """Fit ``search``; the messages of the EdgeWarnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(X, y)
    return [str(w.message) for w in caught if w.category is hp.EdgeWarning]


@pytest.mark.parametrize("space", [SVC_EXAMPLE, {"gamma": loguniform(1e-6, 1e-4), "C": loguniform(0.1, 100)}],
                         ids=["hpsearch", "scipy"])
def test_the_svc_example_with_12_candidates_tells_the_user_about_gamma(digits, space):
    """Twelve candidates are too few for the edge test: one EdgeWarning says so in the summary's
    words, with where the best gamma sits, and edge_report_ holds the same line."""
    X, y = digits[0][:600], digits[1][:600]
    search = RandomizedSearchCV(SVC(), space, n_iter=12, cv=3, random_state=0)
    said = _fit_edge_warnings(search, X, y)
    at = hp.LogUniform(1e-6, 1e-4).to_unit(search.best_params_["gamma"])
    line = ("12 trials: too few to test edges (the edge test needs about 20); no best value sits in the outer 5% of "
            f"its range; the best trial has gamma at {at:.0%} and C at 78% of their ranges (log scale for log ranges)")
    assert f"{at:.0%}" == "87%"
    assert said == [f"RandomizedSearchCV: {line}"]
    assert search.boundary_ == [] and search.edge_report_ == line
    assert line in search.result_.summary().splitlines()


def test_a_no_effect_parameter_at_12_candidates_is_not_described_as_an_edge(digits):
    """cache_size (megabytes of the kernel cache) changes no score. Searched beside gamma and C, its
    best value sits high in its range (87%): the words give that position and nothing more, while
    gamma, whose best sits in the top 5%, gets the heuristic's edge words, marked as a heuristic."""
    X, y = digits[0][:600], digits[1][:600]
    search = RandomizedSearchCV(SVC(), {**SVC_EXAMPLE, "cache_size": hp.LogUniform(50, 500)}, n_iter=12, cv=3,
                                random_state=0)
    said = _fit_edge_warnings(search, X, y)
    assert [(f.param, f.edge, f.evidence) for f in search.boundary_] == [("gamma", "high", "heuristic")]
    assert len(said) == 1 and said[0].startswith("RandomizedSearchCV: 12 trials: too few to test edges")
    assert said[0].count("cache_size") == 1 and "gamma at 98%, C at 78% and cache_size at 87% of their ranges" in said[0]
    assert "\n  gamma: 12 trials: too few to test edges; the best gamma sits in the top 5% of its range (a heuristic, " \
           "not a test)" in said[0] and said[0].endswith("[evidence: heuristic]")


def test_40_candidates_get_the_edge_test_and_no_small_study_words(digits):
    X, y = digits[0][:600], digits[1][:600]
    search = RandomizedSearchCV(SVC(), SVC_EXAMPLE, n_iter=40, cv=3, random_state=0)
    said = _fit_edge_warnings(search, X, y)
    assert [(f.param, f.edge, f.evidence) for f in search.boundary_] == [("gamma", "high", "moderate"),
                                                                          ("C", "high", "strong")]
    assert said == [f"RandomizedSearchCV: {f}" for f in search.boundary_]   # with its evidence
    assert "too few" not in search.edge_report_ and "gamma: the top trials crowd toward the high edge" in said[0]


def test_follow_up_candidates_are_real_fits_in_cv_results_and_the_report_says_what_they_found(digits):
    X, y = digits[0][:1000], digits[1][:1000]
    plain = RandomizedSearchCV(SVC(), SVC_EXAMPLE, n_iter=12, cv=3, random_state=0).fit(X, y)
    search = RandomizedSearchCV(SVC(), SVC_EXAMPLE, n_iter=12, cv=3, random_state=0, follow_up=True)
    said = _fit_edge_warnings(search, X, y)
    results = search.cv_results_
    assert "follow_up" not in plain.cv_results_
    # the 12 candidates as without the follow-up, then 10 per suspect edge, in the order it probed them
    assert results["follow_up"].tolist() == [""] * 12 + ["C:high"] * 10 + ["gamma:high"] * 10
    assert results["params"][:12] == plain.cv_results_["params"]
    np.testing.assert_array_equal(results["mean_test_score"][:12], plain.cv_results_["mean_test_score"])
    best = plain.best_params_   # every probe is the best candidate with one range moved
    probes = results["params"][22:]
    assert all(p["C"] == best["C"] for p in probes) and sum(p["gamma"] > 1e-4 for p in probes) == 5
    # real cross-validation fits, ranked with the others: a probe past gamma's edge wins
    i = search.best_index_
    assert results["follow_up"][i] == "gamma:high" and search.best_params_["gamma"] > 1e-4
    assert results["mean_test_score"][i] == cross_val_score(SVC(**results["params"][i]), X, y, cv=3).mean()
    assert results["rank_test_score"][i] == 1 and search.best_score_ > plain.best_score_
    report = search.edge_report_.splitlines()
    # C's best sits in its top 5%, whose heuristic flag the follow-up replaced: the line does not deny it
    assert report[0] == ("12 trials: too few to test edges (the edge test needs about 20); the best trial has gamma "
                         "at 80% and C at 98% of their ranges (log scale for log ranges)")
    assert "follow-up (20 extra trials = 60 fits, one decade or one range-width either side of each suspect edge):" \
        in report
    assert [line.split(" (")[0] for line in report if " edge: " in line] == [
        "  C high edge: confirmed: the metric keeps improving past it",
        "  gamma high edge: confirmed: the metric keeps improving past it"]
    assert [(f.param, f.evidence) for f in search.boundary_] == [("gamma", "follow-up"), ("C", "follow-up")]
    assert said[1:] == [f"RandomizedSearchCV: {f}" for f in search.boundary_]


def test_follow_up_is_stored_resumed_and_the_same_for_any_n_jobs(digits, tmp_path):
    X, y = digits[0][:600], digits[1][:600]
    settings = dict(n_iter=12, cv=3, random_state=0, follow_up=True)
    straight = RandomizedSearchCV(SVC(), SVC_EXAMPLE, **settings).fit(X, y)
    assert straight.cv_results_["follow_up"].tolist() == [""] * 12 + ["C:high"] * 10
    assert "follow-up (10 extra trials = 30 fits" in straight.edge_report_
    assert "  C high edge: cleared: the metric does not clearly improve past it" in straight.edge_report_
    _same_search(RandomizedSearchCV(SVC(), SVC_EXAMPLE, n_jobs=2, **settings).fit(X, y), straight)
    # Ctrl-C in the follow-up's second candidate (the 40th fit); the same fit again resumes it
    search = RandomizedSearchCV(InterruptingSVC(), SVC_EXAMPLE, storage=tmp_path / "s.db", name="svc",
                                backend="threading", **settings)
    InterruptingSVC.countdown[0] = 12 * 3 + 4
    with pytest.raises(StudyInterrupted):
        search.fit(X, y)
    assert len(hp.load_study(tmp_path / "s.db", "svc")) == 13
    search.fit(X, y)
    _same_search(search, straight)
    assert search.edge_report_ == straight.edge_report_


def test_follow_up_goes_through_get_params_and_clone_and_is_checked_at_fit(digits):
    X, y = digits[0][:300], digits[1][:300]
    search = RandomizedSearchCV(SVC(), SVC_EXAMPLE, n_iter=2, cv=2, follow_up="yes")   # stored as given
    assert search.get_params()["follow_up"] == "yes" and clone(search).follow_up == "yes"
    assert RandomizedSearchCV(SVC(), SVC_EXAMPLE).follow_up is False and GridSearchCV(SVC(), {}).follow_up is False
    with pytest.raises(ValueError, match=r"^follow_up must be True, False or None \(the strategy's default\), "
                                         r"got 'yes'$"):
        search.fit(X, y)
    assert clone(search).set_params(follow_up=True).follow_up is True
    with pytest.raises(ValueError, match=r"^follow_up=True needs a continuous range .* GridSearchCV's param_grid "
                                         r"holds lists"):
        GridSearchCV(SVC(), {"C": [1, 10]}, cv=2, follow_up=True).fit(X, y)


def test_follow_up_in_a_list_of_dicts_moves_only_the_best_candidates_own_parameters(data):
    """The best candidate is a poly one: its C's edge is probed; gamma, an rbf parameter whose edge
    the rbf candidates lean toward, is not set on it (poly would read it as its coefficient)."""
    kernels = [{"kernel": ["rbf"], "C": hp.LogUniform(1e-1, 1e2), "gamma": hp.LogUniform(1e-4, 1e-2)},
               {"kernel": ["poly"], "C": hp.LogUniform(1e-1, 1e2), "degree": [2, 3]}]
    X, y = data
    search = RandomizedSearchCV(SVC(), kernels, n_iter=12, cv=2, random_state=3, follow_up=True).fit(X, y)
    results = search.cv_results_
    assert search.best_params_["kernel"] == "poly" and results["follow_up"].tolist() == [""] * 12 + ["C:high"] * 10
    assert all(set(p) == {"kernel", "C", "degree"} for p in results["params"][12:])
    assert "  C high edge: cleared: the metric does not clearly improve past it" in search.edge_report_
