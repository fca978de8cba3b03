"""SearchCV's ``strategy`` / ``n_trials`` / ``stages`` / ``resource`` as an hpsearch strategy.

The strategy names are hpsearch's own (:data:`hpsearch.strategies.planning.STRATEGIES`): a sampler name
(``"random"``, ``"grid"``, ``"sobol"``, ``"tpe"``, ...) is one stage of ``n_trials`` candidates;
``"coarse-to-fine"`` runs ``stages`` (by default 75% of ``n_trials`` at a third of the resource,
then 25% at the full resource, in the narrowed space); ``"sha"`` and
``"hyperband"`` spend the compute of ``n_trials`` full fits in brackets of successive halving.
The budget is the resource (samples or an estimator parameter); without one it is 1.
``follow_up`` adds the follow-up stage after the last one (:mod:`hpsearch.strategies.follow_up`),
by default as :class:`~hpsearch.study.Study` does: on after coarse-to-fine, off after one stage.
"""
import warnings

import numpy as np

from hpsearch.checks import check_trials, did_you_mean, positive_int
from hpsearch.strategies import DEFAULT_ETA
from hpsearch.strategies.planning import COARSE_TO_FINE, MULTI_FIDELITY, STRATEGIES, SearchPlan
from hpsearch.strategies.stage import Stage

__all__ = ["make_strategy", "is_staged", "check_follow_up"]


def is_staged(strategy, resource):
    """True when the candidates differ in stage or budget (cv_results_ then shows both)."""
    return strategy == COARSE_TO_FINE or strategy in MULTI_FIDELITY or resource is not None


def check_follow_up(follow_up, strategy=None):
    """``follow_up`` as a bool: True/False as given, None the strategy's default (on for
    coarse-to-fine, off for a sampler's one stage, as in :class:`~hpsearch.study.Study`).

    Raises:
        ValueError: not True, False or None; True for sha/hyperband (no stage to follow).
    """
    if follow_up is None:
        return strategy == COARSE_TO_FINE
    if not isinstance(follow_up, (bool, np.bool_)):
        raise ValueError(f"follow_up must be True, False or None (the strategy's default), got {follow_up!r}")
    if follow_up and strategy in MULTI_FIDELITY:
        raise ValueError(f"follow_up=True does not apply to strategy={strategy!r}: the follow-up comes after "
                         f"the last stage of coarse-to-fine or of a sampler ('random', 'sobol', ...)")
    return bool(follow_up)


def _stage(i, stage, resource):
    """``stages[i]`` as a :class:`~hpsearch.strategies.stage.Stage`: a Stage, an int (trials), or a dict of its fields."""
    try:
        if isinstance(stage, Stage):
            pass
        elif isinstance(stage, dict):
            stage = Stage(**{"budget": 1, **stage})
        else:
            stage = Stage(check_trials(stage, f"stages[{i}]"), 1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"stages[{i}] must be a Stage, a number of trials or a dict of Stage fields: {exc}") from None
    if resource is None and stage.budget != 1:
        raise ValueError(f"stages[{i}] has budget {stage.budget} but resource=None, so every candidate fits on "
                         f"whole folds; set resource ('n_samples' or an estimator parameter) or use budget 1")
    return stage


def make_strategy(strategy, n_trials, stages, resource, max_resource, min_resource, one_candidate=False,
                  follow_up=None):
    """The :class:`~hpsearch.strategies.Strategy` to run.

    Args:
        strategy: a name of :data:`~hpsearch.strategies.planning.STRATEGIES`.
        n_trials: candidates (or, for sha/hyperband, full fits worth of compute).
        stages: for ``"coarse-to-fine"``: a list of stages (see :func:`_stage`), or None.
        resource: None, ``"n_samples"`` or an estimator parameter.
        max_resource: the largest budget (a positive int; 1 without a resource).
        min_resource: the smallest budget of sha/hyperband (None: ``max_resource // 9``).
        one_candidate: the space is empty: one trial (the estimator as given, at ``max_resource``),
            with scikit-learn's warning when ``n_trials`` asked for more (but for ``"grid"``, as
            ``GridSearchCV`` gives none).
        follow_up: True, False or None (see :func:`check_follow_up`).

    Raises:
        ValueError: an unknown strategy, stages without coarse-to-fine, a multi-fidelity
            strategy without a resource, a bad ``follow_up`` or bad counts (named in the message).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; {did_you_mean(strategy, STRATEGIES)}")
    narrowing = {"follow_up": check_follow_up(follow_up, strategy)}
    n_trials = check_trials(n_trials)
    if stages is not None and strategy != COARSE_TO_FINE:
        raise ValueError(f"stages are the plan of strategy='coarse-to-fine', got strategy={strategy!r}")
    if strategy in MULTI_FIDELITY:
        if resource is None:
            raise ValueError(f"strategy={strategy!r} needs a resource to grow ('n_samples', or an estimator "
                             f"parameter such as 'max_iter' or 'n_estimators')")
        low = max(1, max_resource // DEFAULT_ETA ** 2) if min_resource is None else \
            positive_int(min_resource, "min_resource")
        fidelity = {"min_budget": min(low, max_resource), "max_budget": max_resource, "eta": DEFAULT_ETA,
                    "total_budget": n_trials * max_resource}
        if not one_candidate:
            return SearchPlan(strategy, (), fidelity=fidelity).make_strategy()
    if one_candidate:
        if n_trials > 1 and strategy != "grid":
            # RandomizedSearchCV's warning for a space smaller than n_iter, in SearchCV's words
            warnings.warn(f"The total space of parameters 1 is smaller than n_trials={n_trials}. Running 1 trial: "
                          f"an empty space has one candidate, the estimator as given.", UserWarning, stacklevel=5)
        return SearchPlan("grid", (Stage(1, max_resource, "grid"),), narrowing=narrowing).make_strategy()
    if strategy == COARSE_TO_FINE:
        if stages is not None:
            stages = [_stage(i, s, resource) for i, s in enumerate(stages)]
            if not stages:
                raise ValueError("stages must hold at least one stage, got an empty list")
            return SearchPlan(COARSE_TO_FINE, tuple(stages), narrowing=narrowing).make_strategy()
        if n_trials < 2:
            raise ValueError(f"coarse-to-fine needs at least 2 trials, got n_trials={n_trials}")
        # a wide stage of cheap fits, then the narrowed space at the full resource (never more)
        n1 = max(1, min(n_trials - 1, round(0.75 * n_trials)))
        stages = (Stage(n1, max(1, max_resource // 3), "random"), Stage(n_trials - n1, max_resource, "random"))
        return SearchPlan(COARSE_TO_FINE, stages, narrowing=narrowing).make_strategy()
    return SearchPlan(strategy, (Stage(n_trials, max_resource, strategy),), narrowing=narrowing).make_strategy()
