"""Ask and tell: a loop of the caller's own drives the same strategies and storage as `run`;
the Schedule hands requests out as soon as they are decidable, whatever order results come in."""
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import hpsearch as hp
from hpsearch.strategies import Hyperband
from hpsearch.studyfile.reader import load_study_file
from study_fixtures import subprocess_env

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
_spec = importlib.util.spec_from_file_location("_ask_tell_run", HERE / "_ask_tell_run.py")
ask_tell_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ask_tell_run)

SPACE, CURVE = ask_tell_run.SPACE, ask_tell_run.CURVE
COLUMNS = ["number", "stage", "status", "param_lr", "param_reg", "score", "budget", "trial_epochs", "bracket",
           "rung", "continued_from", "seed"]

STUDY = """\
name = "curve"
metric = "score"
direction = "maximize"
seed = 4

[trainer]
objective = "hpsearch.objectives:LearningCurve"
[trainer.settings]
optimum = { lr = 1e-3, reg = 1e-4 }
noise = 0.01

[space]
lr = { type = "loguniform", low = 1e-5, high = 1e-1 }
reg = { type = "loguniform", low = 1e-6, high = 1e-1 }

[search]
strategy = "hyperband"
min_budget = 1
max_budget = 9
eta = 3
total_budget = 150

[confirm]
top = 2
seeds = 2
"""


def _uninterrupted():
    return hp.Study(CURVE, SPACE, metric="score").run(ask_tell_run.strategy(), seed=0)


def test_an_ask_tell_loop_answering_in_any_order_gives_the_table_of_hpsearch_run(tmp_path, run_cli):
    study_file = tmp_path / "curve.toml"
    study_file.write_text(STUDY)
    code, _, err = run_cli("run", study_file, "--out", tmp_path / "run", "--n-jobs", 2, "--backend", "threading",
                           "--quiet", "--no-plots")
    assert code == 0, err
    by_cli = pd.read_csv(tmp_path / "run" / "trials.csv")
    confirmed_by_cli = pd.read_csv(tmp_path / "run" / "confirmation.csv")
    sf = load_study_file(study_file)
    for order in (1, 2):
        study = sf.make_study(None)
        strategy = sf.build_strategy()
        result, running, rng = None, [], __import__("random").Random(order)
        while result is None:
            while (request := study.ask(strategy, seed=sf.seed)) is not None:
                running.append(request)
            rng.shuffle(running)   # results come back in any order, a few at a time
            answered, running = running[:3], running[3:]
            for request in answered:
                out = sf.objective(request.params, request.budget, request.seed, final=request.final)
                result = study.tell(request, out) or result
        assert study.finished
        table = result.trials
        pd.testing.assert_frame_equal(table[COLUMNS].reset_index(drop=True), by_cli[COLUMNS], check_dtype=False)
        confirmed = result.confirmation_table()
        assert confirmed["mean"].tolist() == pytest.approx(confirmed_by_cli["mean"].tolist())
        assert set(result.test_metrics) == {"test_score"}   # the confirmed winner, tested once


def test_requests_say_what_to_continue_and_tell_fills_continued_from_only_when_it_continued():
    study = hp.Study(CURVE, SPACE, metric="score")
    result, scratch, strategy = None, set(), Hyperband(min_budget=1, max_budget=9, eta=3, lead=False)
    promoted = 0
    while result is None:
        request = study.ask(strategy, seed=0)
        if request.continue_from is not None:
            promoted += 1
            if promoted % 2:
                scratch.add(request.number)   # every other one says it trained from scratch
        out = CURVE(request.params, request.budget, request.seed)
        result = study.tell(request, out, continued=request.number not in scratch)
    rows = result.trials.set_index("number")
    assert scratch and rows.loc[sorted(scratch), "continued_from"].isna().all()
    assert (rows.loc[sorted(scratch), "trial_epochs"] == rows.loc[sorted(scratch), "budget"]).all()
    assert rows["continued_from"].notna().sum() > 0


def test_a_killed_driver_resumes_into_the_uninterrupted_table(tmp_path, stored_count):
    db = tmp_path / "study.db"
    env = subprocess_env()
    proc = subprocess.Popen([sys.executable, str(HERE / "_ask_tell_run.py"), str(db), "kill", "0.02"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while stored_count(db) < 20 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    reference = _uninterrupted()
    assert 20 <= stored_count(db) < len(reference.trials), "kill the driver in the middle of the search"
    resumed = ask_tell_run.drive(hp.Study(CURVE, SPACE, metric="score", storage=db, name="kill"), order_seed=3)
    assert resumed.trials[COLUMNS].equals(reference.trials[COLUMNS])


def test_tell_names_what_is_wrong():
    study = hp.Study(CURVE, SPACE, metric="score")
    with pytest.raises(ValueError, match="tell\\(\\) needs a request from ask\\(\\)"):
        study.tell(None, {})
    with pytest.raises(ValueError, match="the first ask\\(\\) needs the strategy"):
        study.ask()
    request = study.ask(Hyperband(min_budget=1, max_budget=3, eta=3), seed=0)
    with pytest.raises(ValueError, match="metrics must hold the study metric 'score' as a number, got \\['acc'\\]"):
        study.tell(request, {"acc": 0.5})
    study.tell(request, {"score": 0.5})
    with pytest.raises(ValueError, match=f"trial {request.number} is not running"):
        study.tell(request, {"score": 0.5})
    with pytest.raises(ValueError, match="running another strategy"):
        study.ask(Hyperband(min_budget=1, max_budget=3, eta=3), seed=0)


def _schedule(side_by_side):
    """A Hyperband schedule on a bare context (numbers, stages and seeds as the run loop's)."""
    from hpsearch.execution.study_run import RunOptions, StudyRun
    from hpsearch.storage.checkpoints import CheckpointStore
    from hpsearch.storage.storage import Storage

    study = hp.Study(CURVE, SPACE, metric="score")
    storage = Storage(None)
    run = StudyRun(study, Hyperband(min_budget=1, max_budget=9, eta=3), RunOptions(), CheckpointStore(None))
    study_id = storage.open_study("s", {"x": 1})
    run.open(storage, study_id, side_by_side=side_by_side)
    return run


@pytest.mark.parametrize("side_by_side", [True, False])
def test_lanes_side_by_side_are_ready_at_once_and_ask_the_same_trials(side_by_side):
    run = _schedule(side_by_side)
    first = run.pending()
    brackets = {r.labels["bracket"] for r in first}
    # side by side: every bracket's first rung at once; else only the lead bracket's
    assert brackets == ({0, 1, 2, 3} if side_by_side else {0})
    asked, todo = list(first), first
    while todo:
        for request in reversed(todo):   # answered last to first
            run.finish(request, _record(request))
        todo = run.pending()
        asked += todo
    assert run.finished
    reference = _schedule(True)
    assert sorted((r.number, r.seed, r.budget) for r in asked) == sorted(
        (r["number"], r["seed"], r["budget"]) for r in _drain(reference))


def _record(request):
    from hpsearch.execution.study_run import told_record

    return told_record(request, CURVE(request.params, request.budget, request.seed), "score")


def _drain(run):
    todo, done = run.pending(), []
    while todo:
        for request in todo:
            run.finish(request, _record(request))
            done.append(run.records[request.number])
        todo = run.pending()
    return done
