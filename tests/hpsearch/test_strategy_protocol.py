"""The Strategy protocol: explicit methods with defaults on the base class; one strategy per run."""
from pathlib import Path

import hpsearch as hp
from hpsearch.objectives import LogBowl
from hpsearch.strategies import CoarseToFine, Hyperband, Narrowing, PlanDescription, Strategy
from hpsearch.strategies.confirmed import Confirmation, Confirmed
from hpsearch.strategies.planning import SearchPlan

SPACE = {"lr": hp.LogUniform(1e-4, 1e-1), "reg": hp.LogUniform(1e-6, 1e-2)}
BOWL = (Path(__file__).parent / "data" / "bowl.toml").read_text()


class TwoTrials(Strategy):
    """The least a strategy writes: spec, rounds, planned_stages."""

    name = "two"

    def spec(self):
        return {"strategy": "two"}

    def planned_stages(self, space, seed, direction):
        return [hp.Stage(2, 1, "random", index=0, space=space)]

    def rounds(self, ctx):
        ctx.begin_stage(hp.Stage(2, 1, "fixed", index=0, space=ctx.space))
        yield [ctx.request(0, {"lr": lr, "reg": 1e-4}, 1) for lr in (1e-3, 1e-2)]


def test_a_strategy_that_writes_only_the_abstract_methods_runs_and_describes_itself():
    strategy = TwoTrials()
    planned = strategy.planned(None, 0, "maximize")
    assert strategy.planned_epochs(planned) == 2 and strategy.planned_extra_trials() == 0
    assert strategy.narrowing_options() is None
    assert strategy.describe(planned) == PlanDescription(("  stage 0: 2 trials x 1 epochs, random",),
                                                         "2 trials, 2 epochs")
    result = hp.Study(LogBowl({"lr": 1e-3, "reg": 1e-4}), SPACE, metric="score").run(
        strategy, progress=True, confirm={"top": 1, "seeds": 2, "test": False})
    assert len(result.records) == 2 and len(result.confirmation_table()) == 1  # one candidate, two seeds


def test_confirmed_answers_for_its_search_and_forwards_nothing_else():
    search = Hyperband(min_budget=1, max_budget=9, eta=3)
    confirmed = Confirmed(search, Confirmation(top=2, seeds=3, test=True))
    planned = confirmed.planned(None, 0, "maximize")
    assert planned == search.planned_stages(None, 0, "maximize")
    assert confirmed.planned_epochs(planned) == search.total_epochs()
    assert confirmed.planned_extra_trials() == 7 and confirmed.planned_extra_epochs(planned) == 7 * 9
    described = confirmed.describe(planned)
    assert described.steps == search.describe(planned).steps
    assert described.after == ("then confirm: the top 2 trained again with 3 fresh seeds at budget 9 (54 epochs); "
                               "then the winner is evaluated on the test set once",)
    assert not hasattr(confirmed, "brackets") and not hasattr(confirmed, "eta")  # no __getattr__ forwarding
    narrowing = Narrowing(top_fraction=0.5)
    c2f = Confirmed(CoarseToFine([hp.Stage(4, 1)], narrowing), Confirmation())
    assert c2f.narrowing_options() is narrowing


def test_the_run_path_asks_no_strategy_what_it_has():
    root = Path(hp.__file__).parent
    for path in [root / "execution" / "study_run.py", root / "cli" / "run.py", *(root / "strategies").glob("*.py")]:
        text = path.read_text()
        for needle in ("hasattr(strategy", "hasattr(self.strategy", "getattr(self.strategy", "__getattr__",
                       "isinstance(runner", "isinstance(strategy"):
            assert needle not in text, f"{path.name}: {needle}"


def test_a_multi_fidelity_plan_counts_its_rungs_without_building_a_strategy(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a strategy was built")

    monkeypatch.setattr(SearchPlan, "make_strategy", refuse)
    plan = SearchPlan("hyperband", (), fidelity={"max_budget": 9})
    assert plan.total_trials == sum(b.n_configs for b in Hyperband(max_budget=9).brackets)
    assert [s.n_trials for s in plan.stages] == [s.n_trials for s in Hyperband(max_budget=9).planned_stages(
        None, 0, "maximize")]


def test_hpsearch_run_builds_its_strategy_once(tmp_path, monkeypatch, run_cli):
    built = []
    original = SearchPlan.make_strategy

    def counting(self, *args, **kwargs):
        built.append(self.strategy)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SearchPlan, "make_strategy", counting)
    study = tmp_path / "bowl.toml"
    study.write_text(BOWL)
    code, _, err = run_cli("run", study, "--out", tmp_path / "run", "--n-jobs", 1, "--backend", "threading",
                           "--no-plots")
    assert code == 0, err
    assert built == ["coarse-to-fine"]
