"""Declared continuation: an objective says it can continue from a checkpoint; wrappers keep it,
and ``continued_from`` is filled only for trials that really continued."""
import functools
import warnings

import pytest

import hpsearch as hp
from hpsearch.execution.worker import protocol_keywords
from hpsearch.objectives import LearningCurve, declares
from hpsearch.strategies import Hyperband

SPACE = {"lr": hp.LogUniform(1e-5, 1e-1), "reg": hp.LogUniform(1e-6, 1e-1)}
CURVE = LearningCurve({"lr": 1e-3, "reg": 1e-4}, noise=0.01)


@hp.continuable
def curve(params, budget, seed, report=None, checkpoint=None):
    return CURVE(params, budget, seed, report, checkpoint=checkpoint)


def logged(objective):
    """A ``*args, **kwargs`` wrapper as users write them (a timer, a logger, a retry)."""
    @functools.wraps(objective)
    def wrapper(*args, **kwargs):
        return objective(*args, **kwargs)
    return wrapper


def with_budget_scale(params, budget, seed, report=None, checkpoint=None, scale=1):
    return curve(params, budget * scale, seed, report, checkpoint=checkpoint)


with_budget_scale.supports_checkpoint = True


def unmarked(*args, **kwargs):
    """A wrapper that declares nothing (and has no ``checkpoint`` in its signature)."""
    out = CURVE(*args, **kwargs)
    out.pop("checkpoint")
    return out


def _run(objective, **kwargs):
    return hp.Study(objective, SPACE, metric="score").run(Hyperband(min_budget=1, max_budget=9, eta=3), seed=0,
                                                          **kwargs)


@pytest.fixture(scope="module")
def reference():
    return _run(CURVE).trials


@pytest.mark.parametrize("objective", [logged(curve), functools.partial(with_budget_scale, scale=1),
                                       logged(functools.partial(with_budget_scale, scale=1))],
                         ids=["wraps", "partial", "wraps-partial"])
def test_wrapped_objectives_that_declare_continuation_continue(objective, reference):
    assert "checkpoint" in protocol_keywords(objective)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "trained from scratch" warning
        trials = _run(objective).trials
    columns = ["number", "param_lr", "score", "budget", "trial_epochs", "continued_from"]
    assert trials[columns].equals(reference[columns])
    assert trials["continued_from"].notna().any()


def test_an_objective_that_cannot_continue_leaves_continued_from_empty(reference):
    with pytest.warns(UserWarning, match="does not declare supports_checkpoint"):
        trials = _run(unmarked).trials
    assert "continued_from" not in trials.columns  # no row continued, so no row names a parent
    assert (trials["trial_epochs"] == trials["budget"]).all()
    assert trials["score"].equals(reference["score"])


def test_a_declaration_wins_over_the_signature():
    def refuses(params, budget, seed, report=None, checkpoint=None, final=False):
        return {}

    refuses.supports_checkpoint = False
    assert protocol_keywords(refuses) == frozenset({"final"})   # final: still read from the signature
    assert declares(refuses, "checkpoint") is False and declares(refuses, "final") is None
    with pytest.raises(ValueError, match="unknown protocol keyword 'chekpoint'; expected one of checkpoint, final"):
        declares(refuses, "chekpoint")


def test_the_mlp_objective_declares_both_keywords():
    from models import MLPObjective

    assert declares(MLPObjective, "checkpoint") is True and declares(MLPObjective, "final") is True
    assert protocol_keywords(logged(MLPObjective(hidden_dims=[8]))) == frozenset({"checkpoint", "final"})


def test_continuable_refuses_what_cannot_carry_the_mark():
    with pytest.raises(ValueError, match="continuable needs a callable objective, got 3"):
        hp.continuable(3)
    with pytest.raises(ValueError, match="cannot mark <built-in function len> as continuable"):
        hp.continuable(len)
