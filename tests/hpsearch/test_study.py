"""Study and Stage: validation, reproducibility across n_jobs and backends, samplers,
failures, coarse-to-fine narrowing, boundary flags, callbacks and storage identity."""
import math

import pytest

import hpsearch as hp
from hpsearch import seeding
from hpsearch.errors import StudyInterrupted, StudyMismatchError
from hpsearch.objectives import LogBowl
from hpsearch.storage.storage import Storage
from study_fixtures import BOWL_ACT as BOWL, SPACE_ACT

SPACE = {**SPACE_ACT, "epochs_fixed": hp.Fixed(3)}



def _table(res):
    """The trial table without what depends on the clock."""
    return res.trials.drop(columns="duration")


# ---------------------------------------------------------------------- validation
@pytest.mark.parametrize("kwargs, match", [
    ({"direction": "up"}, "direction must be 'maximize' or 'minimize', got 'up'"),
    ({"metric": ""}, "metric must be a non-empty string"),
    ({"name": " "}, "name must be a non-empty string"),
    ({"storage": 3}, "storage must be None, a file path or a Storage, got 3"),
])
def test_study_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        hp.Study(BOWL, SPACE, **kwargs)


def test_study_rejects_a_non_callable_objective_and_wraps_a_plain_space():
    with pytest.raises(ValueError, match="objective must be callable"):
        hp.Study("train.py", SPACE)
    assert isinstance(hp.Study(BOWL, SPACE).space, hp.Space)


@pytest.mark.parametrize("args, match", [
    ((0, 1), "Stage n_trials must be a positive integer, got 0"),
    ((5, 1.5), "Stage budget must be a positive integer, got 1.5"),
    ((True, 1), "Stage n_trials must be a positive integer, got True"),
    ((5, 1, "annealing"), "unknown sampler 'annealing'; expected one of"),
    ((5, 1, 42), "unknown sampler 42; expected one of"),
])
def test_stage_validates_at_construction(args, match):
    with pytest.raises(ValueError, match=match):
        hp.Stage(*args)


def test_stage_is_frozen():
    stage = hp.Stage(10, 2)
    assert stage.sampler == "random"
    with pytest.raises(AttributeError):
        stage.n_trials = 3


@pytest.mark.parametrize("kwargs, match", [
    ({"n_jobs": 0}, "n_jobs must be a positive integer, got 0"),
    ({"backend": "spark"}, "unknown backend 'spark'; expected one of dask, loky, multiprocessing, threading"),
    ({"scheduler": "tcp://127.0.0.1:1"}, "needs backend='dask'"),
    ({"seed": -1}, r"seed must be an integer in \[0, 2\*\*32\), got -1"),
    ({"batch_size": 0}, "batch_size must be a positive integer"),
    ({"callbacks": [3]}, "callbacks must be callables"),
])
def test_optimize_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        hp.Study(BOWL, SPACE, metric="score").optimize(n_trials=2, **kwargs)


# ---------------------------------------------------------------------- reproducibility
def test_same_seed_same_table_for_any_n_jobs_and_backend():
    study = hp.Study(BOWL, SPACE, metric="score")
    runs = [study.optimize(n_trials=16, budget=2, n_jobs=1, seed=3),
            study.optimize(n_trials=16, budget=2, n_jobs=2, seed=3, backend="loky"),
            study.optimize(n_trials=16, budget=2, n_jobs=2, seed=3, backend="threading")]
    for res in runs[1:]:
        pd_equal = _table(res).equals(_table(runs[0]))
        assert pd_equal
    assert runs[0].curves == runs[1].curves
    other = study.optimize(n_trials=16, budget=2, n_jobs=1, seed=4)
    assert not _table(other).equals(_table(runs[0]))


@pytest.mark.parametrize("sampler", ["random", "grid", "sobol"])
def test_each_sampler_runs_through_the_study(sampler):
    res = hp.Study(BOWL, SPACE, metric="score").optimize(sampler=sampler, n_trials=18, budget=2, seed=1)
    table = res.trials
    # grid: 2 choices, 2 numeric dims -> k = floor((18 / 2) ** (1 / 2)) = 3 -> 18 points
    assert len(table) == 18 and table["number"].tolist() == list(range(18))
    assert table["param_lr"].between(1e-6, 1e-1).all() and table["param_reg"].between(1e-5, 1e1).all()
    assert set(table["param_act"]) <= {"relu", "tanh"} and set(table["param_epochs_fixed"]) == {3}
    assert table["seed"].tolist() == [seeding.trial_seed(1, 0, n) for n in range(18)]
    assert (table["budget"] == 2).all() and (table["status"] == "ok").all()
    assert res.stages[0].n_trials == 18 and res.stages[0].budget == 2 and res.stages[0].space == hp.Space(SPACE)
    assert res.best_value == table["score"].max()
    if sampler == "grid":
        assert table["param_lr"].nunique() == 3


def test_grid_may_run_fewer_trials_than_asked():
    res = hp.Study(BOWL, {"lr": hp.LogUniform(1e-5, 1e-1), "reg": hp.LogUniform(1e-5, 1e1),
                          "act": hp.Fixed("relu")},
                   metric="score").optimize(sampler="grid", n_trials=10, seed=0)
    assert len(res.trials) == 9 and res.stages[0].n_trials == 9  # k = floor(sqrt(10)) = 3
    assert (res.trials["status"] == "ok").all()


def test_sampler_object_passes_through():
    res = hp.Study(BOWL, SPACE, metric="score").optimize(sampler=hp.GridSampler(points={"lr": 2, "reg": 2}),
                                                         n_trials=8, seed=0)
    assert len(res.trials) == 8 and sorted(res.trials["param_lr"].unique()) == [1e-6, 1e-1]


# ---------------------------------------------------------------------- failures
def test_failed_and_diverged_trials_are_recorded_and_never_best():
    bowl = LogBowl({"lr": 1e-3, "reg": 1e-3}, fail_above={"reg": 0.3}, diverge_above={"lr": 1e-2})
    res = hp.Study(bowl, SPACE, metric="score").optimize(n_trials=40, budget=1, n_jobs=2, seed=0)
    table = res.trials
    failed, diverged = table[table.status == "failed"], table[table.status == "diverged"]
    assert len(table) == 40 and len(failed) > 0 and len(diverged) > 0
    assert (failed["param_reg"] > 0.3).all() and failed["error"].str.startswith("ValueError: reg=").all()
    assert (diverged["param_lr"] > 1e-2).all() and diverged["score"].isna().all()
    ok = table[table.status == "ok"]
    assert res.best_value == ok["score"].max() and res.best_trial["status"] == "ok"
    assert res.best_params["lr"] <= 1e-2 and res.best_params["reg"] <= 0.3


def test_a_study_with_only_failures_has_no_best():
    res = hp.Study(LogBowl({"lr": 1e-3}, fail_above={"lr": 0.0}), {"lr": hp.LogUniform(1e-4, 1e-2)},
                   metric="score").optimize(n_trials=4, seed=0)
    assert (res.trials.status == "failed").all() and res.best_value is None and res.boundary == []


# ---------------------------------------------------------------------- coarse-to-fine
def _range(space, name):
    return space[name].low, space[name].high


def test_coarse_to_fine_shrinks_around_the_optimum():
    bowl = LogBowl({"lr": 1e-3, "reg": 1e-3}, width=0.7)
    space = {"lr": hp.LogUniform(1e-7, 1.0), "reg": hp.LogUniform(1e-7, 1.0)}
    res = hp.Study(bowl, space, metric="score").coarse_to_fine(
        [hp.Stage(40, 1), hp.Stage(20, 3, "sobol")], n_jobs=2, seed=0)
    assert [s.index for s in res.stages] == [0, 1] and [s.budget for s in res.stages] == [1, 3]
    assert res.stages[1].sampler.startswith("SobolSampler")
    for name in ("lr", "reg"):
        low, high = _range(res.stages[1].space, name)
        assert 1e-7 < low < 1e-3 < high < 1.0  # narrower, still around the optimum
        assert math.log10(high / low) < 0.7 * 7
    stage1 = res.trials[res.trials.stage == 1]
    assert len(stage1) == 20 and stage1["number"].tolist() == list(range(40, 60))
    assert stage1["param_lr"].between(*_range(res.stages[1].space, "lr")).all()
    assert (stage1["budget"] == 3).all()
    assert stage1["score"].median() > res.trials[res.trials.stage == 0]["score"].median()


def test_coarse_to_fine_moves_outward_when_the_optimum_is_beyond_an_edge():
    bowl = LogBowl({"lr": 0.3, "reg": 1e-3})  # lr's optimum lies above the searched range
    space = {"lr": hp.LogUniform(1e-6, 1e-2), "reg": hp.LogUniform(1e-6, 1.0)}
    # 32 Sobol points put one in every 1/32 of lr's unit range, so the best is in the 5% edge zone
    stages = [hp.Stage(32, 1, "sobol"), hp.Stage(10, 1)]
    res = hp.Study(bowl, space, metric="score").coarse_to_fine(stages, seed=0)
    assert res.stages[1].space["lr"].high > 1e-2  # moved past the high edge
    kept = hp.Study(bowl, space, metric="score").coarse_to_fine(stages, seed=0, move_edges=False)
    assert kept.stages[1].space["lr"].high <= 1e-2


# ---------------------------------------------------------------------- boundary flags
def test_boundary_flags_name_the_edge_and_are_stored(tmp_path):
    bowl = LogBowl({"lr": 0.3, "reg": 1e-3})
    space = {"lr": hp.LogUniform(1e-6, 1e-2), "reg": hp.LogUniform(1e-6, 1.0)}
    res = hp.Study(bowl, space, metric="score", storage=tmp_path / "s.db", name="edge").optimize(
        sampler="sobol", n_trials=32, seed=0)
    flags = {f.param: f for f in res.boundary}
    assert set(flags) == {"lr"}
    assert flags["lr"].edge == "high" and flags["lr"].value == res.best_params["lr"]
    assert "lr" in flags["lr"].suggestion
    assert hp.load_study(tmp_path / "s.db", "edge").boundary == res.boundary


# ---------------------------------------------------------------------- callbacks, progress, storage
def test_callbacks_and_progress_see_every_new_trial_in_the_parent(capsys):
    seen = []
    bowl = LogBowl({"lr": 1e-3, "reg": 1e-3}, fail_above={"reg": 1e-2})
    res = hp.Study(bowl, SPACE, metric="score").optimize(n_trials=6, n_jobs=2, seed=0, callbacks=[seen.append],
                                                         progress=True)
    assert sorted(r["number"] for r in seen) == list(range(6))
    assert all(isinstance(r, dict) and r["status"] in ("ok", "failed") for r in seen)
    assert len(res.trials) == 6
    n_failed = int((res.trials.status == "failed").sum())
    assert n_failed > 0
    bar = capsys.readouterr().err
    assert "6/6" in bar and f"best={res.best_value:.4g}" in bar and f"failed={n_failed}" in bar


def test_load_study_errors_name_the_problem(tmp_path):
    with pytest.raises(hp.HpsearchError, match="does not exist"):
        hp.load_study(tmp_path / "missing.db", "s")
    assert not (tmp_path / "missing.db").exists()
    hp.Study(BOWL, SPACE, metric="score", storage=tmp_path / "s.db", name="first").optimize(n_trials=2)
    with pytest.raises(hp.HpsearchError, match=r"unknown study 'second'.*first"):
        hp.load_study(tmp_path / "s.db", "second")


def test_in_memory_study_starts_fresh_on_every_call():
    study = hp.Study(BOWL, SPACE, metric="score")
    assert len(study.optimize(n_trials=5, seed=0).trials) == 5
    assert len(study.optimize(n_trials=3, seed=1).trials) == 3  # no mismatch, no leftovers


def test_changed_settings_raise_mismatch_until_overwrite(tmp_path):
    path = tmp_path / "s.db"
    hp.Study(BOWL, SPACE, metric="score", storage=path, name="s").optimize(n_trials=4, seed=0)
    narrower = dict(SPACE, lr=hp.LogUniform(1e-5, 1e-1))
    with pytest.raises(StudyMismatchError, match=r"study 's'.*other settings.*space\.lr\.low"):
        hp.Study(BOWL, narrower, metric="score", storage=path, name="s").optimize(n_trials=4, seed=0)
    with pytest.raises(StudyMismatchError, match="seed"):
        hp.Study(BOWL, SPACE, metric="score", storage=path, name="s").optimize(n_trials=4, seed=1)
    with pytest.raises(StudyMismatchError, match="objective"):
        hp.Study(LogBowl({"lr": 1e-2}), SPACE, metric="score", storage=path, name="s").optimize(n_trials=4)
    res = hp.Study(BOWL, narrower, metric="score", storage=path, name="s").optimize(n_trials=4, seed=0,
                                                                                    overwrite=True)
    assert len(res.trials) == 4 and hp.load_study(path, "s").stages[0].space["lr"].low == 1e-5


def test_a_storage_object_is_used_and_left_open():
    storage = Storage(None)
    study = hp.Study(BOWL, SPACE, metric="score", storage=storage, name="mem")
    first = study.optimize(n_trials=5, seed=0)
    again = study.optimize(n_trials=5, seed=0)  # same study: everything is stored, nothing reruns
    assert _table(again).equals(_table(first))
    assert hp.load_study(storage, "mem").trials.shape == first.trials.shape
    storage.close()


# ---------------------------------------------------------------------- adaptive samplers
class CountingAdaptive(hp.BaseSampler):
    """Proposes lr from the best told value so far; records how it was driven."""

    is_adaptive = True

    def __init__(self):
        self.told, self.asked = [], []

    def __repr__(self):
        return "CountingAdaptive()"

    def start(self, space, n_trials, seed, direction):
        self.space, self.n, self.best, self.next = space, n_trials, None, 0
        return n_trials

    def ask(self, n):
        self.asked.append(n)
        out = []
        for _ in range(n):
            base = 1e-5 if self.best is None else self.best
            out.append({"lr": min(base * 3.0 ** (1 + self.next % 3), 1e-1)})
            self.next += 1
        return out

    def tell(self, index, params, value):
        self.told.append((index, value is None))
        if value is not None and (self.best is None or value > self.best_value):
            self.best, self.best_value = params["lr"], value


def test_adaptive_sampler_is_asked_in_batches_and_told_in_order():
    sampler = CountingAdaptive()
    bowl = LogBowl({"lr": 1e-3}, diverge_above={"lr": 3e-2})
    res = hp.Study(bowl, {"lr": hp.LogUniform(1e-6, 1e-1)}, metric="score").optimize(
        sampler=sampler, n_trials=10, n_jobs=2, backend="threading", batch_size=3, seed=0)
    assert sampler.asked == [3, 3, 3, 1]
    assert [i for i, _ in sampler.told] == list(range(10))
    assert [none for _, none in sampler.told] == (res.trials.status != "ok").tolist()
    assert res.best_params["lr"] > 1e-4  # it climbed from 1e-5 towards the optimum


# ---------------------------------------------------------------------- Ctrl-C in process
def interrupt_after(number):
    """A callback raising KeyboardInterrupt (Ctrl-C reaching this process) once trial ``number`` is stored."""

    def callback(record):
        if record["number"] == number:
            raise KeyboardInterrupt

    return callback


def test_ctrl_c_keeps_finished_trials_and_releases_the_study(tmp_path):
    path = tmp_path / "s.db"
    study = hp.Study(BOWL, SPACE, metric="score", storage=path, name="c")
    with pytest.raises(StudyInterrupted) as info:
        study.optimize(n_trials=10, seed=0, callbacks=[interrupt_after(4)])
    partial = info.value.result
    assert isinstance(info.value, KeyboardInterrupt)
    assert partial.trials["number"].tolist() == [0, 1, 2, 3, 4]
    assert hp.load_study(path, "c").trials["number"].tolist() == [0, 1, 2, 3, 4]
    # the lease was released: the same command resumes at once and finishes
    done = hp.Study(BOWL, SPACE, metric="score", storage=path, name="c").optimize(n_trials=10, seed=0)
    fresh = hp.Study(BOWL, SPACE, metric="score").optimize(n_trials=10, seed=0)
    assert _table(done).equals(_table(fresh))


# ---------------------------------------------------------------------- dead workers
def test_a_trial_that_kills_its_worker_is_failed_and_the_study_goes_on():
    bowl = LogBowl({"lr": 1e-3}, crash_above={"lr": 3e-2})  # os._exit in a worker, like the OOM killer
    space = {"lr": hp.LogUniform(1e-5, 1e-1)}
    res = hp.Study(bowl, space, metric="score").optimize(n_trials=6, n_jobs=2, seed=0)
    crashed = res.trials[res.trials.param_lr > 3e-2]
    assert len(crashed) == 1 and len(res.trials) == 6
    assert crashed.status.tolist() == ["failed"]
    assert crashed.error.str.startswith("WorkerDied: the worker process running this trial died: it exited with "
                                        "code ").all()
    # every other trial ran and matches the one-worker run
    ref = hp.Study(bowl, space, metric="score").optimize(n_trials=6, n_jobs=1, seed=0)
    assert ref.trials.status.tolist() == res.trials.status.tolist()
    assert _table(res).drop(columns="error").equals(_table(ref).drop(columns="error"))
