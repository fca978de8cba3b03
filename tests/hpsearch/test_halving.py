"""Successive halving and Hyperband: the brackets, promotion, continuation from checkpoints,
accounting, determinism for any n_jobs, and resume after SIGKILL."""
import importlib.util
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

import hpsearch as hp
from hpsearch.strategies import Hyperband, SuccessiveHalving, rung_budgets
from study_fixtures import CURVE, subprocess_env

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
_spec = importlib.util.spec_from_file_location("_halving_run", HERE / "_halving_run.py")
halving_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(halving_run)

SPACE = halving_run.SPACE


def _table(res):
    return res.trials.drop(columns="duration")


def _study(objective=CURVE, **kwargs):
    return hp.Study(objective, SPACE, metric="score", **kwargs)


class FromScratch:
    """CURVE without the checkpoint keyword: every promoted trial trains again from epoch 0."""

    def __call__(self, params, budget, seed, report=None):
        out = CURVE(params, budget, seed, report)
        out.pop("checkpoint")
        return out


# ---------------------------------------------------------------------- the plan
def test_hyperband_brackets_follow_li_et_al():
    hb = Hyperband(min_budget=1, max_budget=27, eta=3, lead=False)
    assert [(b.n_configs, b.budgets, b.rung_sizes()) for b in hb.brackets] == [
        (27, (1, 3, 9, 27), [27, 9, 3, 1]), (12, (3, 9, 27), [12, 4, 1]), (6, (9, 27), [6, 2]), (4, (27,), [4])]
    # promoted trials continue, so a rung costs only its budget's increment
    assert [b.epochs() for b in hb.brackets] == [27 + 9 * 2 + 3 * 6 + 18, 36 + 4 * 6 + 18, 54 + 2 * 18, 108]
    assert hb.total_epochs() == sum(b.epochs() for b in hb.brackets)


def test_the_lead_bracket_sends_the_best_two_of_twelve_straight_to_the_full_budget():
    hb = Hyperband(min_budget=1, max_budget=27, eta=3)
    lead = hb.brackets[0]
    assert (lead.n_configs, lead.budgets, lead.rung_sizes()) == (12, (1, 27), [12, 2])
    assert hb.brackets[1:] == [type(b)(b.index + 1, b.n_configs, b.budgets, b.eta)
                               for b in Hyperband(min_budget=1, max_budget=27, eta=3, lead=False).brackets]
    # within a total budget it is paid for by the brackets that no longer fit
    capped = Hyperband(min_budget=1, max_budget=27, eta=3, total_budget=400)
    assert capped.brackets[0] == lead and capped.total_epochs() <= 400


def test_budgets_round_to_rising_integers_ending_at_the_maximum():
    assert rung_budgets(1, 40, 3, 3) == (1, 4, 13, 40)
    assert rung_budgets(2, 10, 2, 3) == (2, 5, 10)  # 1.25 rounds below min_budget: merged
    assert SuccessiveHalving(min_budget=1, max_budget=9, eta=3).brackets[0].rung_sizes() == [9, 3, 1]


def test_a_total_budget_runs_whole_brackets_then_smaller_ones_and_spends_all_of_it():
    one = Hyperband(min_budget=1, max_budget=9, eta=3, lead=False)
    more = Hyperband(min_budget=1, max_budget=9, eta=3, total_budget=int(2.5 * one.total_epochs()), lead=False)
    whole = [b for b in more.brackets if (b.n_configs, b.budgets) in {(w.n_configs, w.budgets) for w in one.brackets}]
    assert len(whole) >= 2 * len(one.brackets)   # two iterations of whole brackets first
    assert more.total_epochs() == int(2.5 * one.total_epochs())
    assert [b.index for b in more.brackets] == list(range(len(more.brackets)))
    sha = SuccessiveHalving(min_budget=1, max_budget=9, eta=3, total_budget=3 * 27)
    assert [b.n_configs for b in sha.brackets] == [9, 9, 9, 8] and sha.total_epochs() == 81
    # what no smaller bracket can take screens more configurations, promotions unchanged
    sha = SuccessiveHalving(min_budget=2, max_budget=18, eta=3, total_budget=99)
    assert [(b.n_configs, b.rung_sizes()) for b in sha.brackets] == [(9, [9, 3, 1]), (16, [16, 3, 1])]
    assert 99 - sha.total_epochs() < 2


@pytest.mark.parametrize("total", list(range(9, 200, 7)))
def test_any_total_budget_is_spent_to_within_one_first_rung(total):
    for cls in (Hyperband, SuccessiveHalving):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            planned = cls(min_budget=1, max_budget=9, eta=3, total_budget=total).total_epochs()
        assert total - 1 < planned <= total


def test_min_budget_is_the_first_rung():
    assert rung_budgets(1, 52, 3, 3) == (1, 6, 17, 52)   # it was 2, 6, 17, 52
    assert Hyperband(min_budget=1, max_budget=52, eta=3, lead=False).brackets[0].budgets[0] == 1
    assert SuccessiveHalving(min_budget=2, max_budget=40, eta=3).brackets[0].budgets == (2, 13, 40)


def test_a_budget_below_one_bracket_runs_a_smaller_one_and_says_so():
    with pytest.warns(UserWarning, match=r"total_budget=15 epochs holds no whole sha bracket \(the cheapest costs "
                                         r"21\): running 1 smaller one\(s\) of 7 configurations in all"):
        sha = SuccessiveHalving(min_budget=1, max_budget=9, eta=3, total_budget=15)
    # 5 configurations fit (13 epochs); the 2 left screen 2 more at the first rung
    assert [(b.n_configs, b.rung_sizes()) for b in sha.brackets] == [(7, [7, 1, 1])] and sha.total_epochs() == 15


def test_a_study_with_a_total_budget_spends_at_least_98_percent_of_it():
    res = _study().run(Hyperband(min_budget=1, max_budget=9, eta=3, total_budget=150), seed=0)
    assert 0.98 * 150 <= res.trials["trial_epochs"].sum() <= 150


@pytest.mark.parametrize("kwargs, message", [
    (dict(eta=1), "eta must be an integer >= 2, got 1"),
    (dict(min_budget=10, max_budget=9), "min_budget must be at most max_budget"),
    (dict(total_budget=5, lead=False), "total_budget=5 epochs cannot train one configuration to max_budget=9; "
                                       "give total_budget >= 9"),
    (dict(max_budget=0), "max_budget must be a positive integer"),
])
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Hyperband(**{"min_budget": 1, "max_budget": 9, **kwargs})


# ---------------------------------------------------------------------- a run
@pytest.fixture(scope="module")
def hyperband_run():
    return _study().run(Hyperband(min_budget=1, max_budget=9, eta=3), seed=0)


def test_promoted_trials_continue_their_configuration(hyperband_run):
    trials = hyperband_run.trials
    by_number = trials.set_index("number")
    continued = trials[trials["continued_from"].notna()]
    assert len(continued) > 0
    for _, row in continued.iterrows():
        parent = by_number.loc[int(row["continued_from"])]
        assert (row["param_lr"], row["param_reg"], row["seed"]) == (parent["param_lr"], parent["param_reg"],
                                                                   parent["seed"])
        assert row["bracket"] == parent["bracket"] and row["rung"] == parent["rung"] + 1
        assert row["budget"] > parent["budget"] and row["trial_epochs"] == row["budget"] - parent["budget"]
    # the promoted are the best of their rung (ties by trial number)
    for (bracket, rung), group in trials.groupby(["bracket", "rung"]):
        promoted = set(continued[(continued["bracket"] == bracket) & (continued["rung"] == rung + 1)]
                       ["continued_from"].astype(int))
        if promoted:
            ranked = group.sort_values(["score", "number"], ascending=[False, True])["number"].tolist()
            assert promoted == set(ranked[:len(promoted)])


def test_accounting_columns_add_up(hyperband_run):
    trials = hyperband_run.trials
    strategy = Hyperband(min_budget=1, max_budget=9, eta=3)
    assert trials["trial_epochs"].sum() == strategy.total_epochs()
    assert trials["study_epochs"].tolist() == trials["trial_epochs"].cumsum().tolist()
    assert len(hyperband_run.stages) == sum(len(b.budgets) for b in strategy.brackets)


def test_the_best_is_chosen_at_the_highest_budget(hyperband_run):
    trials = hyperband_run.trials
    top = trials[trials["budget"] == trials["budget"].max()]
    assert hyperband_run.best_trial["number"] == int(top.loc[top["score"].idxmax(), "number"])
    anywhere = hp.SearchResult(hyperband_run.records, "score", "maximize", "x", select="all")
    assert anywhere.best_value == trials["score"].max()


def test_continuing_gives_what_training_from_scratch_gives(hyperband_run):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scratch = _study(FromScratch()).run(Hyperband(min_budget=1, max_budget=9, eta=3), seed=0)
    said = [str(w.message) for w in caught if "cannot continue trials from checkpoints" in str(w.message)]
    assert len(said) == 1  # said once, not for every promoted trial
    same = ["number", "stage", "status", "param_lr", "param_reg", "score", "loss", "budget", "seed"]
    assert scratch.trials[same].equals(hyperband_run.trials[same])
    assert (scratch.trials["trial_epochs"] == scratch.trials["budget"]).all()
    assert scratch.trials["trial_epochs"].sum() > hyperband_run.trials["trial_epochs"].sum()


@pytest.mark.parametrize("n_jobs, backend", [(2, "loky"), (2, "threading")])
def test_the_same_trials_for_any_number_of_workers(hyperband_run, n_jobs, backend):
    other = _study().run(Hyperband(min_budget=1, max_budget=9, eta=3), seed=0, n_jobs=n_jobs, backend=backend)
    assert _table(other).equals(_table(hyperband_run))


def test_another_seed_gives_other_trials(hyperband_run):
    other = _study().run(Hyperband(min_budget=1, max_budget=9, eta=3), seed=1)
    assert not other.trials["param_lr"].equals(hyperband_run.trials["param_lr"])


@pytest.mark.parametrize("sampler", ["tpe", "bohb"])   # tpe is the per-budget model here too
def test_model_driven_hyperband_is_reproducible_for_any_n_jobs(sampler):
    runs = [_table(_study().run(Hyperband(min_budget=1, max_budget=9, eta=3, sampler=sampler), seed=3, n_jobs=n))
            for n in (1, 2)]
    assert runs[0].equals(runs[1])
    assert not runs[0]["param_lr"].equals(_table(_study().run(Hyperband(min_budget=1, max_budget=9, eta=3),
                                                               seed=3))["param_lr"])


# ---------------------------------------------------------------------- checkpoints on disk
def test_checkpoints_live_beside_the_storage_and_go_when_no_rung_needs_them(tmp_path):
    db = tmp_path / "run" / "study.db"
    sizes = []
    _study(storage=db, name="hb").run(Hyperband(min_budget=1, max_budget=9, eta=3), seed=0,
                                      callbacks=[lambda r: sizes.append(_count(tmp_path))])
    folder = tmp_path / "run" / "checkpoints" / "hb"
    assert max(sizes) > 0 and not folder.exists()
    assert not folder.parent.exists()  # no empty checkpoints/ left in the run folder
    kept = _study(storage=db, name="kept").run(Hyperband(min_budget=1, max_budget=9, eta=3), seed=0,
                                               keep_checkpoints=True)
    files = sorted((tmp_path / "run" / "checkpoints" / "kept").glob("*.ckpt"))
    assert len(files) == len(kept.trials)
    _study(storage=db, name="again").run(Hyperband(min_budget=1, max_budget=9, eta=3), seed=0)
    assert files[0].exists()  # clearing one study's checkpoints leaves another's


def _count(tmp_path):
    return len(list(tmp_path.glob("run/checkpoints/*/*.ckpt")))


def _start(db, name, n_jobs, sleep, sampler="random"):
    env = subprocess_env()
    return subprocess.Popen([sys.executable, str(HERE / "_halving_run.py"), str(db), name, str(n_jobs), str(sleep),
                             sampler],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)



# bohb: killed after its model (fit on the lead bracket's 12 one-epoch results) proposed a bracket
@pytest.mark.parametrize("sampler, at", [("random", 12), ("bohb", 18)])
def test_sigkill_mid_rung_then_resume_gives_the_uninterrupted_table(tmp_path, hyperband_run, stored_count,
                                                                   sampler, at):
    uninterrupted = hyperband_run if sampler == "random" else _study().run(
        Hyperband(**halving_run.STRATEGY, sampler=sampler), seed=0)
    db = tmp_path / "study.db"
    proc = _start(db, "kill", 2, 0.02, sampler)
    deadline = time.monotonic() + 60
    while stored_count(db) < at and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the study and its workers, as a crash would
    proc.wait(timeout=30)
    stored = stored_count(db)
    assert at <= stored < len(uninterrupted.trials), "kill the study in the middle of its rungs"
    calls = []
    res = halving_run.make_study(db, "kill").run(Hyperband(**halving_run.STRATEGY, sampler=sampler), seed=0,
                                                 callbacks=[calls.append])
    assert len(calls) == len(uninterrupted.trials) - stored
    assert _table(res).equals(_table(uninterrupted))
    assert not (tmp_path / "checkpoints" / "kill").exists()


# ---------------------------------------------------------------------- coarse-to-fine with promotion
def _promoting(objective=CURVE, n_jobs=1):
    stages = [hp.Stage(12, 1), hp.Stage(6, 4, promote=3), hp.Stage(2, 9, promote=2)]
    return _study(objective).coarse_to_fine(stages, seed=0, n_jobs=n_jobs)


def test_coarse_to_fine_continues_the_best_of_the_previous_stage():
    res = _promoting()
    trials = res.trials
    assert [len(trials[trials["stage"] == k]) for k in range(3)] == [12, 3 + 6, 2 + 2]
    assert [s.n_trials for s in res.stages] == [12, 9, 4]
    by_number = trials.set_index("number")
    for k, promote in ((1, 3), (2, 2)):
        rows = trials[(trials["stage"] == k) & trials["continued_from"].notna()]
        previous = trials[trials["stage"] == k - 1].sort_values(["score", "number"], ascending=[False, True])
        assert sorted(rows["continued_from"].astype(int)) == sorted(previous["number"].head(promote))
        parents = by_number.loc[rows["continued_from"].astype(int)]
        assert (rows["param_lr"].to_numpy() == parents["param_lr"].to_numpy()).all()
        assert (rows["trial_epochs"].to_numpy() == rows["budget"].to_numpy() - parents["budget"].to_numpy()).all()
    fresh = trials[trials["continued_from"].isna()]
    assert (fresh["trial_epochs"] == fresh["budget"]).all()


def test_promoting_coarse_to_fine_is_reproducible_and_equals_training_from_scratch():
    res = _promoting()
    assert _table(_promoting(n_jobs=2)).equals(_table(res))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scratch = _promoting(FromScratch())
    same = ["number", "stage", "param_lr", "param_reg", "score", "budget", "seed"]
    assert scratch.trials[same].equals(res.trials[same])


def test_a_stage_cannot_promote_without_a_shorter_stage_before_it():
    with pytest.raises(ValueError, match="stages\\[0\\] cannot promote"):
        _study().coarse_to_fine([hp.Stage(4, 1, promote=2)])
    with pytest.raises(ValueError, match="its budget must exceed 3, got 3"):
        _study().coarse_to_fine([hp.Stage(4, 3), hp.Stage(4, 3, promote=2)])
    with pytest.raises(ValueError, match="promote must be a non-negative integer"):
        hp.Stage(4, 3, promote=-1)


class Overfits:
    """CURVE, worse the longer it trains: the best score of all sits at a low budget."""

    def __call__(self, params, budget, seed, report=None):
        out = CURVE(params, 1, seed)
        return {"score": out["score"] - 0.05 * budget}


def test_load_study_selects_the_best_at_the_highest_budget_unless_told(tmp_path):
    db = tmp_path / "study.db"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Overfits cannot continue trials: said once, not tested here
        _study(Overfits(), storage=db, name="hb").run(Hyperband(min_budget=1, max_budget=9, eta=3), seed=0)
    stored = hp.load_study(db, "hb")
    trials = stored.trials
    at_top = trials[trials["budget"] == 9]
    assert stored.best_trial["budget"] == 9 and stored.best_value == at_top["score"].max()
    anywhere = hp.load_study(db, "hb", select="all")
    assert anywhere.best_value == trials["score"].max() > stored.best_value
    assert anywhere.best_trial["budget"] < 9
    with pytest.raises(ValueError, match="select must be one of highest-budget, all, got 'best'"):
        hp.load_study(db, "hb", select="best")


def test_show_counts_the_planned_rungs_of_a_stopped_hyperband_run(tmp_path, capsys):
    from hpsearch.cli import main

    strategy = Hyperband(min_budget=1, max_budget=9, eta=3)
    planned = sum(sum(b.rung_sizes()) for b in strategy.brackets)

    seen = []

    def stop_after_ten(record):   # the tenth trial to finish (brackets side by side: not number 9)
        seen.append(record)
        if len(seen) == 10:
            raise KeyboardInterrupt

    study = _study(storage=tmp_path / "study.db", name="hb")
    with pytest.raises(hp.StudyInterrupted):
        study.run(strategy, seed=0, callbacks=[stop_after_ten])
    capsys.readouterr()
    assert main(["show", str(tmp_path)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert f"study 'hb', 10 of {planned} planned trials done, incomplete" in first
    study.run(strategy, seed=0)
    assert main(["show", str(tmp_path)]) == 0
    assert f"{planned} of {planned} planned trials done, complete" in capsys.readouterr().out


def test_summary_counts_only_ok_trials_as_reaching_the_full_budget(hyperband_run):
    records = [dict(r) for r in hyperband_run.records]
    at_top = [r for r in records if r["budget"] == 9]
    at_top[0]["status"], at_top[0]["error"] = "failed", "RuntimeError: out of memory"
    text = hp.SearchResult(records, "score", "maximize", "x").summary()
    assert f"; {len(at_top) - 1} reached the full budget 9" in text
