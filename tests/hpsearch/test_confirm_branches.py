"""Confirmation per branch and the report of a space with branches: which branch won, by how much."""
from pathlib import Path

import pytest

import hpsearch as hp
from hpsearch.errors import StudyFileError
from hpsearch.objectives import LogBowl
from hpsearch.records import branch_bests
from hpsearch.strategies.confirmed import Confirmation
from hpsearch.studyfile.reader import load_study_file

ROOT = Path(__file__).resolve().parents[2]
SPACE = {"lr": hp.LogUniform(1e-4, 1), "optimizer": hp.Branch({"a": {"x": hp.LogUniform(1e-3, 1)}, "b": {}, "c": {}})}
# a is best, b second, c last; the noise makes the search's best partly luck
BOWL = LogBowl({"lr": 1e-2, "x": 0.03}, choices={"optimizer": "a"}, choice_penalty=0.9, noise=0.02)


def test_per_branch_confirms_the_best_configuration_of_each_top_branch_and_says_who_won():
    res = hp.Study(BOWL, SPACE, metric="score").optimize(n_trials=30, budget=1, seed=0,
                                                         confirm={"top": 2, "seeds": 3, "per_branch": "optimizer"})
    bests = branch_bests(res.records, "score", "maximize", "optimizer")
    assert len(bests) == 3
    candidates = res.confirmation.candidates
    assert [c["confirms"] for c in candidates] == [r["number"] for r in bests[:2]]   # one per branch
    assert len({c["params"]["optimizer"] for c in candidates}) == 2
    text = res.summary()
    assert "best score per optimizer (each at the highest budget it reached):" in text
    winner, other = sorted(candidates, key=lambda c: -c["mean"])
    lead = winner["mean"] - other["mean"]
    assert (f"optimizer: {winner['params']['optimizer']} won, by {lead:.4f} score over "
            f"{other['params']['optimizer']} (means over fresh seeds)") in text
    assert "its lead over the runner-up is" in text


def test_per_branch_must_name_a_branch_parameter():
    with pytest.raises(ValueError, match=r"confirm per_branch='opt' is not a branch parameter of the space; "
                                         r"expected one of optimizer"):
        hp.Study(BOWL, SPACE, metric="score").optimize(n_trials=4, budget=1, seed=0,
                                                       confirm=Confirmation(top=2, seeds=2, per_branch="opt"))
    assert "per_branch" not in Confirmation().to_dict()   # stored specs without it stay equal


def test_the_shipped_optimizers_study_loads_with_every_optimizer_and_its_own_hyperparameters():
    sf = load_study_file(ROOT / "studies" / "optimizers.toml")
    assert sf.space.branches["optimizer"] == ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta",
                                              "adam", "radam")
    assert sf.space.conditions == {"momentum": ("optimizer", ("momentum", "nesterov")),
                                   "rho": ("optimizer", ("rmsprop", "adadelta")),
                                   "beta1": ("optimizer", ("adam", "radam")), "beta2": ("optimizer", ("adam", "radam"))}
    assert sf.space["lr"].log and sf.confirm.per_branch == "optimizer"


def test_a_study_file_per_branch_without_branches_is_a_one_line_error(tmp_path):
    text = (ROOT / "tests" / "hpsearch" / "data" / "bowl.toml").read_text() + '\n[confirm]\nper_branch = "act"\n'
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(StudyFileError, match=r"\[confirm\] 'per_branch' 'act' needs a \[space\] with branches"):
        load_study_file(path)
