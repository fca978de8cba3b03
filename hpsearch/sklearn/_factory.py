"""``cv_objective``: a :class:`CVObjective` from plain settings, for a study file's ``[trainer]``.

A study file names an estimator by its import path and a bundled scikit-learn dataset::

    [trainer]
    objective = "hpsearch.sklearn:cv_objective"

    [trainer.settings]
    estimator = "sklearn.svm.SVC"
    params = { kernel = "rbf" }    # fixed settings of the estimator
    dataset = "digits"
    cv = 3
    scoring = "accuracy"
"""
import importlib

import numpy as np

from hpsearch.checks import did_you_mean
from hpsearch.sklearn._objective import CVObjective

__all__ = ["cv_objective", "DATASETS"]

#: The datasets scikit-learn ships (no download): name -> loader in ``sklearn.datasets``.
DATASETS = {"digits": "load_digits", "iris": "load_iris", "wine": "load_wine",
            "breast_cancer": "load_breast_cancer", "diabetes": "load_diabetes"}


def _estimator(path, params):
    """An instance of the class at ``path`` (``"sklearn.svm.SVC"`` or ``"sklearn.svm:SVC"``)."""
    if not isinstance(path, str) or not path.replace(":", ".").count("."):
        raise ValueError(f"estimator must be an import path such as 'sklearn.svm.SVC', got {path!r}")
    module_name, _, attr = path.rpartition(":") if ":" in path else path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"estimator {path!r} cannot be imported: {exc}") from None
    try:
        return cls(**dict(params or {}))
    except TypeError as exc:
        raise ValueError(f"estimator {path!r} rejected params {params!r}: {exc}") from None


def cv_objective(estimator, dataset="digits", params=None, cv=5, scoring=None, resource=None,
                 error_score=np.nan, return_train_score=False):
    """A :class:`CVObjective` of the estimator at import path ``estimator`` on a bundled dataset.

    Args:
        estimator: import path of the estimator class (``"sklearn.svm.SVC"``).
        dataset: one of :data:`DATASETS`.
        params: fixed keyword arguments of the estimator.
        cv, scoring, resource, error_score, return_train_score: as :class:`CVObjective`.

    Raises:
        ValueError: an estimator that cannot be imported or built, an unknown dataset.
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; {did_you_mean(dataset, list(DATASETS))}")
    import sklearn.datasets

    X, y = getattr(sklearn.datasets, DATASETS[dataset])(return_X_y=True)
    return CVObjective(_estimator(estimator, params), X, y, cv=cv, scoring=scoring, resource=resource,
                       error_score=error_score, return_train_score=return_train_score)
