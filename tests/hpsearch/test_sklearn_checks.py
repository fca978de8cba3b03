"""hpsearch's search estimators pass scikit-learn's own estimator checks, with no expected failure:
SearchCV on the base estimators scikit-learn tests its searches with (Ridge, LogisticRegression, a
Pipeline), and RandomizedSearchCV, GridSearchCV and SearchCV with every setting at its default."""
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

import hpsearch as hp
from hpsearch.sklearn import GridSearchCV, RandomizedSearchCV, SearchCV

# cv=2, two candidates and error_score="raise": the settings scikit-learn checks RandomizedSearchCV with
_SETTINGS = dict(cv=2, n_trials=2, error_score="raise", seed=0)
ESTIMATORS = [
    SearchCV(Ridge(), {"alpha": [0.1, 1.0]}, **_SETTINGS),
    SearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, **_SETTINGS),
    SearchCV(Pipeline([("pca", PCA()), ("ridge", Ridge())]), {"ridge__alpha": [0.1, 1.0]}, **_SETTINGS),
    # the defaults: 5 folds, 10 candidates (RandomizedSearchCV: the 2-value list once, with
    # scikit-learn's warning), error_score=nan
    RandomizedSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}),
    RandomizedSearchCV(Ridge(), {"alpha": hp.LogUniform(1e-2, 1e2)}),
    GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}),
    SearchCV(LogisticRegression(), {"C": hp.LogUniform(1e-2, 1e2)}),
]

# scikit-learn lists two expected failures for RandomizedSearchCV (sklearn/utils/_test_common/
# instance_generator.py): check_supervised_y_2d ("DataConversionWarning not caught") and
# check_requires_y_none ("Doesn't fail gracefully"). SearchCV passes both: it copies the base
# estimator's target tags (so a multi-output Ridge is not expected to warn about a 2-d y) and refuses
# y=None for an estimator whose tags require y, with scikit-learn's own message. Nothing is expected
# to fail; a check that starts failing is a regression, not an accepted difference.
EXPECTED_FAILED = {}


def _expected_failed(estimator):
    return EXPECTED_FAILED


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_checks_sklearn_expects_to_fail_for_its_own_searches_pass():
    from sklearn.utils.estimator_checks import check_requires_y_none, check_supervised_y_2d

    for estimator in ESTIMATORS[:2]:
        check_supervised_y_2d(type(estimator).__name__, estimator)
        check_requires_y_none(type(estimator).__name__, estimator)
