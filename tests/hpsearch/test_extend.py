"""Studies that grow: more trials or more stages run only the new work; another study is refused."""
import pytest

import hpsearch as hp
from hpsearch.errors import StudyMismatchError
from hpsearch.objectives import LearningCurve
from hpsearch.strategies import Hyperband
from study_fixtures import BOWL, SPACE


def _table(res):
    return res.trials.drop(columns="duration")


def _study(path, objective=BOWL):
    return hp.Study(objective, SPACE, metric="score", storage=path, name="s")


@pytest.mark.parametrize("sampler", ["random", "sobol", "tpe"])
def test_more_trials_run_only_the_new_ones(tmp_path, sampler):
    db = tmp_path / "s.db"
    first = _study(db).optimize(sampler, n_trials=12, seed=0)
    assert first.extended is None
    calls = []
    grown = _study(db).optimize(sampler, n_trials=20, seed=0, callbacks=[calls.append])
    assert len(calls) == 8 and grown.extended == ["stages.0.n_trials: 12 -> 20"]
    assert _table(grown).head(12).equals(_table(first))
    assert _table(grown).equals(_table(hp.Study(BOWL, SPACE, metric="score").optimize(sampler, n_trials=20, seed=0)))
    assert len(hp.load_study(db, "s").trials) == 20


def test_appended_stages_run_after_the_stored_ones(tmp_path):
    db = tmp_path / "s.db"
    # a follow-up stage after the last stage would hold the trial numbers the appended stage needs
    _study(db).coarse_to_fine([hp.Stage(12, 1)], seed=0, follow_up=False)
    calls = []
    grown = _study(db).coarse_to_fine([hp.Stage(12, 1), hp.Stage(6, 3)], seed=0, callbacks=[calls.append],
                                      follow_up=False)
    assert len(calls) == 6 and grown.extended == ["stages.1.n_trials: (absent) -> 6", "stages.1.budget: (absent) -> 3",
                                                   "stages.1.sampler: (absent) -> 'RandomSampler()'"]
    fresh = hp.Study(BOWL, SPACE, metric="score").coarse_to_fine([hp.Stage(12, 1), hp.Stage(6, 3)], seed=0,
                                                                 follow_up=False)
    assert _table(grown).equals(_table(fresh))


def test_a_larger_total_budget_adds_brackets(tmp_path):
    db = tmp_path / "s.db"
    curve = LearningCurve({"lr": 1e-3, "reg": 1e-3}, noise=0.01)
    # 97 epochs are one whole iteration (lead bracket included): 200 keeps it and adds brackets
    small = _study(db, curve).run(Hyperband(max_budget=9, total_budget=97), seed=0)
    large = _study(db, curve).run(Hyperband(max_budget=9, total_budget=200), seed=0)
    assert large.extended == ["total_budget: 97 -> 200"] and len(large.trials) > len(small.trials)
    fresh = hp.Study(curve, SPACE, metric="score").run(Hyperband(max_budget=9, total_budget=200), seed=0)
    assert _table(large).equals(_table(fresh))


def test_a_larger_total_budget_cannot_regrow_brackets_sized_to_fit_the_smaller_one(tmp_path):
    db = tmp_path / "s.db"
    curve = LearningCurve({"lr": 1e-3, "reg": 1e-3}, noise=0.01)
    small = _study(db, curve).run(Hyperband(max_budget=9, total_budget=80), seed=0)  # its tail is partial
    with pytest.raises(StudyMismatchError, match="stage 2 now searches"):
        _study(db, curve).run(Hyperband(max_budget=9, total_budget=200), seed=0)
    assert _table(_study(db, curve).run(Hyperband(max_budget=9, total_budget=80), seed=0)).equals(_table(small))


@pytest.mark.parametrize("first, second", [
    (dict(sampler="grid", n_trials=9), dict(sampler="grid", n_trials=16)),   # a grid's values would change
    (dict(n_trials=12), dict(n_trials=8)),                                    # fewer is another study
    (dict(n_trials=12, budget=1), dict(n_trials=20, budget=2)),               # so is another budget
])
def test_what_is_not_growth_is_refused_and_keeps_the_stored_study(tmp_path, first, second):
    db = tmp_path / "s.db"
    stored = _study(db).optimize(seed=0, **first)
    with pytest.raises(StudyMismatchError, match="created with other settings"):
        _study(db).optimize(seed=0, **second)
    assert _table(_study(db).optimize(seed=0, **first)).equals(_table(stored))


def test_growing_an_earlier_stage_is_refused(tmp_path):
    db = tmp_path / "s.db"
    _study(db).coarse_to_fine([hp.Stage(12, 1), hp.Stage(4, 3)], seed=0)
    with pytest.raises(StudyMismatchError, match="stages.0.n_trials: 12 -> 16"):
        _study(db).coarse_to_fine([hp.Stage(16, 1), hp.Stage(4, 3)], seed=0)


def test_an_adaptive_study_resumes_with_any_n_jobs(tmp_path):
    """The batch size no longer follows n_jobs, so a TPE study moves between machines."""
    db = tmp_path / "s.db"
    first = _study(db).optimize("tpe", n_trials=10, seed=0, n_jobs=1)
    again = _study(db).optimize("tpe", n_trials=10, seed=0, n_jobs=2)
    assert _table(again).equals(_table(first))
