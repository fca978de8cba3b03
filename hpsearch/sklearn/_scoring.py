"""``scoring`` and ``refit`` as scikit-learn's search estimators read them (public sklearn API only)."""
import numbers

__all__ = ["resolve_scoring", "refit_metric", "score_all"]


def resolve_scoring(estimator, scoring):
    """``(scorers, multimetric)``: one scorer (callable) or a dict name -> scorer.

    ``None`` uses the estimator's ``score``; a string names a scorer (``get_scorer``); a
    callable is used as it is (it may return a dict of several scores); a list, tuple or set
    of names, or a dict of names to names or callables, is multi-metric.

    Raises:
        ValueError: an unknown scorer name, or an empty / malformed collection.
        TypeError: ``scoring=None`` for an estimator without ``score``.
    """
    from sklearn.metrics import check_scoring, get_scorer

    if scoring is None or isinstance(scoring, str) or callable(scoring):
        return check_scoring(estimator, scoring=scoring), False
    if isinstance(scoring, (list, tuple, set, frozenset)):
        names = list(scoring)
        if not names or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
            raise ValueError(f"scoring as a list must hold distinct scorer names (strings), got {scoring!r}")
        ordered = sorted(names) if isinstance(scoring, (set, frozenset)) else names
        return {name: get_scorer(name) for name in ordered}, True
    if isinstance(scoring, dict):
        if not scoring or not all(isinstance(k, str) for k in scoring):
            raise ValueError(f"scoring as a dict must map metric names (strings) to scorers, got {scoring!r}")
        return {k: (get_scorer(v) if isinstance(v, str) else _callable(k, v)) for k, v in scoring.items()}, True
    raise ValueError(f"scoring must be None, a scorer name, a callable, a list of names or a dict, "
                     f"got {scoring!r}")


def _callable(name, scorer):
    if not callable(scorer):
        raise ValueError(f"scoring[{name!r}] must be a scorer name or a callable, got {scorer!r}")
    return scorer


def refit_metric(refit, names, multimetric):
    """The metric that ranks candidates and guides the search: ``"score"`` for one metric, the
    ``refit`` name for several (the first name when ``refit`` is False or a callable).

    Raises:
        ValueError: multi-metric scoring with ``refit=True`` or a name that is not a metric
            (scikit-learn's rule: refit must say which metric chooses the best candidate).
    """
    if not multimetric:
        # a callable scorer may return a dict of scores: then a string refit names the metric
        return refit if isinstance(refit, str) else "score"
    if isinstance(refit, str):
        if refit not in names:
            raise ValueError(f"refit={refit!r} is not one of the scoring metrics {sorted(names)}; for "
                             f"multi-metric scoring refit names the metric that chooses the best candidate")
        return refit
    if refit is False or callable(refit):
        return next(iter(names))
    raise ValueError(f"for multi-metric scoring, refit must be a metric name (one of {sorted(names)}), a "
                     f"callable or False, got {refit!r}")


def score_all(scorers, estimator, X, y, score_params):
    """``{metric: float}`` of a fitted ``estimator`` on ``(X, y)`` for every scorer."""
    if isinstance(scorers, dict):
        return {name: _number(name, s(estimator, X, y, **score_params)) for name, s in scorers.items()}
    value = scorers(estimator, X, y, **score_params)
    if isinstance(value, dict):
        return {str(k): _number(k, v) for k, v in value.items()}
    return {"score": _number("score", value)}


def _number(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"scoring {name!r} must return a number, got {value!r} ({type(value).__name__})")
    return float(value)
