"""``scoring`` and ``refit`` as scikit-learn's search estimators read them.

Scorers come from scikit-learn's own ``check_scoring`` (a name, a callable, ``None`` for the
estimator's ``score``, or several: a list/tuple/set of names or a dict, which it turns into
one multi-metric scorer returning a dict), so every scoring rule and error message is
scikit-learn's. A scorer is called as scikit-learn calls it: ``scorer(est, X, **params)`` when
``y`` is None, else ``scorer(est, X, y, **params)``.
"""
import numbers
import warnings

__all__ = ["Scoring", "MULTIMETRIC_REFIT", "check_refit_for_multimetric", "score_fold"]

#: The start of scikit-learn's message for a multi-metric ``refit`` that names no metric.
MULTIMETRIC_REFIT = "For multi-metric scoring, the parameter refit must be set to a scorer key"


def check_refit_for_multimetric(refit, names):
    """ValueError (scikit-learn's text) unless ``refit`` is False, a callable or one of ``names``."""
    if refit is not False and not (isinstance(refit, str) and refit in names) and not callable(refit):
        raise ValueError(f"{MULTIMETRIC_REFIT} or a callable to refit an estimator with the best parameter setting "
                         f"on the whole data and make the best_* attributes available for that metric. If this is "
                         f"not needed, refit should be set to False explicitly. {refit!r} was passed.")


class Scoring:
    """The scorer(s) of a search: what ``BaseSearchCV._get_scorers`` decides.

    Args:
        estimator: the estimator to score.
        scoring: None, a scorer name, a callable, or a list/tuple/set/dict of several.
        refit: the search's ``refit``: with several scorers it must name one (or be a callable
            or False).
        error_score: the search's ``error_score`` (``"raise"`` makes a failing scorer raise).

    Attributes:
        scoring: the ``scoring`` given.
        scorer: one callable (a multi-metric one returns a dict of scores).
        scorers: what ``scorer_`` holds: the callable, or name -> scorer for several.
        names: the metric names when known before scoring (several scorers), else None.
        refit_metric: the metric that ranks candidates: ``"score"``, or ``refit`` for several.

    Raises:
        ValueError: an unknown scorer name, a malformed collection, or a ``refit`` that names
            no metric of several (scikit-learn's messages).
        TypeError: ``scoring=None`` for an estimator without ``score``.
    """

    def __init__(self, estimator, scoring, refit=True, error_score="raise"):
        from sklearn.metrics import check_scoring, get_scorer

        self.scoring = scoring
        self.refit_metric = "score"
        self.names = None
        if callable(scoring):
            self.scorer = self.scorers = scoring
        elif scoring is None or isinstance(scoring, str):
            self.scorer = self.scorers = check_scoring(estimator, scoring)
        else:
            # scikit-learn validates the collection and builds its multi-metric scorer
            self.scorer = check_scoring(estimator, scoring, raise_exc=(error_score == "raise"))
            items = scoring.items() if isinstance(scoring, dict) else ((name, name) for name in scoring)
            self.scorers = {name: get_scorer(s) if isinstance(s, str) else s for name, s in items}
            self.names = list(self.scorers)
            check_refit_for_multimetric(refit, self.names)
            self.refit_metric = refit

    def accepts_sample_weight(self, owner):
        """Whether the scorer takes ``sample_weight``; warns (scikit-learn's text) for each that does not."""
        if isinstance(self.scorers, dict):
            accept = False
            for name, scorer in self.scorers.items():
                ok = _accepts_sample_weight(scorer)
                accept = accept or ok
                if not ok:
                    warnings.warn(f"The scoring {name}={scorer} does not support sample_weight, which may lead to "
                                  f"statistically incorrect results when fitting {owner} with sample_weight. ",
                                  UserWarning, stacklevel=4)
            return accept
        accept = _accepts_sample_weight(self.scorer)
        if not accept:
            warnings.warn(f"The scoring {self.scorer} does not support sample_weight, which may lead to "
                          f"statistically incorrect results when fitting {owner} with sample_weight. ",
                          UserWarning, stacklevel=4)
        return accept


def _accepts_sample_weight(scorer):
    import inspect

    method = getattr(scorer, "_accept_sample_weight", None)  # scikit-learn's scorers say it themselves
    if callable(method):
        return bool(method())
    try:
        return "sample_weight" in inspect.signature(scorer).parameters
    except (TypeError, ValueError):
        return False


def score_fold(scorer, estimator, X, y, score_params, error_score):
    """``{metric: float}`` of a fitted ``estimator`` on ``(X, y)``: ``{"score": v}`` for one metric.

    A scorer that raises scores ``error_score`` with a warning (or raises, with ``"raise"``).

    Raises:
        ValueError: a scorer returning something other than a number (or a dict of numbers).
    """
    try:
        value = scorer(estimator, X, **score_params) if y is None else scorer(estimator, X, y, **score_params)
    except Exception as exc:
        if error_score == "raise":
            raise
        import traceback

        warnings.warn(f"Scoring failed. The score on this train-test partition for these parameters will be set "
                      f"to {error_score}. Details: \n{traceback.format_exc()}", UserWarning, stacklevel=2)
        del exc
        return {"score": float(error_score)}
    if isinstance(value, dict):
        return {str(k): _number(k, v, scorer, error_score) for k, v in value.items()}
    return {"score": _number("score", value, scorer, error_score)}


def _number(name, value, scorer, error_score):
    if isinstance(value, str) and error_score != "raise":
        # scikit-learn's multi-metric scorer returns a failing scorer's traceback as its value
        warnings.warn(f"Scoring failed. The score on this train-test partition for these parameters will be set "
                      f"to {error_score}. Details: \n{value}", UserWarning, stacklevel=3)
        return float(error_score)
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        raise ValueError(f"scoring must return a number, got {value!r} ({type(value)}) instead. "
                         f"(scorer={name})")
    return float(value)
