"""Study files with branches: [space.optimizer.adam] sub-tables, their errors, the CLI's exit 2."""
import textwrap

import pytest

from hpsearch.errors import StudyFileError
from hpsearch.space import Branch
from hpsearch.studyfile.reader import load_study_file

OPTIMIZERS = """\
name = "opt"
metric = "val_acc"
direction = "maximize"

[trainer]
dataset = "digits"
hidden_dims = [16]

[space]
lr = { type = "loguniform", low = 1e-4, high = 1e-1 }

[space.optimizer.sgd]            # no hyperparameters of its own

[space.optimizer.momentum]
momentum = { type = "uniform", low = 0.5, high = 0.99 }

[space.optimizer.rmsprop]
rho = { type = "uniform", low = 0.9, high = 0.999 }

[space.optimizer.adam]
beta1 = { type = "uniform", low = 0.8, high = 0.95 }
beta2 = { type = "loguniform", low = 0.99, high = 0.9999 }

[search]
strategy = "random"
n_trials = 6
budget = 1
"""


def write(tmp_path, text):
    path = tmp_path / "study.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_sub_tables_per_branch_load_as_a_branch(tmp_path):
    sf = load_study_file(write(tmp_path, OPTIMIZERS))
    assert sf.space.branches == {"optimizer": ("sgd", "momentum", "rmsprop", "adam")}
    nested = sf.space.nested()
    assert isinstance(nested["optimizer"], Branch) and nested["optimizer"].branches["sgd"] == {}
    assert sf.space.conditions["rho"] == ("optimizer", ("rmsprop",))
    settings = sf.sanity_settings()   # one representative trial: the first branch, nothing else
    assert settings["optimizer"] == "sgd" and not {"momentum", "rho", "beta1", "beta2"} & set(settings)


BAD = {
    "different-distributions": (
        OPTIMIZERS.replace("[space.optimizer.adam]", "[space.optimizer.nesterov]\n"
                           'momentum = { type = "uniform", low = 0.8, high = 0.99 }\n\n[space.optimizer.adam]'),
        ["[space.optimizer]", "parameter 'momentum' is defined in branch optimizer='momentum'", "optimizer='nesterov'"]),
    "empty-branch-list": (OPTIMIZERS.split("[space.optimizer.sgd]")[0] + 'optimizer = { type = "branch", branches = {} }\n'
                          + "[search]\nstrategy = \"random\"\nn_trials = 6\nbudget = 1\n",
                          ["[space.optimizer]", "optimizer: a branch needs at least one branch"]),
    "branch-not-a-table": (OPTIMIZERS.replace('[space.optimizer.sgd]            # no hyperparameters of its own',
                                              '[space.optimizer]\nsgd = 1'),
                           ["[space.optimizer] optimizer: branch 'sgd' must be a table of parameters (empty for none)"]),
    "bad-range-in-branch": (OPTIMIZERS.replace("low = 0.8, high = 0.95", "low = 0.95, high = 0.8"),
                            ["[space.optimizer]", "beta1 in branch optimizer='adam': Uniform needs low < high"]),
    "wrong-optimizer-keyword": (OPTIMIZERS.replace("[space.optimizer.sgd]            # no hyperparameters of its own",
                                                   '[space.optimizer.sgd]\nbeta1 = { type = "uniform", low = 0.8, high = 0.9 }'),
                                ["[space.optimizer]", "parameter 'beta1' is defined in branch optimizer='sgd'"]),
    "keyword-of-another-optimizer": (OPTIMIZERS.replace("[space.optimizer.sgd]            # no hyperparameters of its own",
                                                        '[space.optimizer.sgd]\nrho = { type = "uniform", low = 0.9, high = 0.95 }'),
                                     ["parameter 'rho' is defined in branch optimizer='sgd' as Uniform(0.9, 0.95)"]),
    "unknown-parameter-in-branch": (OPTIMIZERS.replace("rho = {", "beta0 = { type = \"uniform\", low = 0.1, high = 0.2 }\nrhox = {"),
                               ["[space] unknown parameter 'beta0'"]),
    "in-trainer-too": (OPTIMIZERS.replace("hidden_dims = [16]", "hidden_dims = [16]\nmomentum = 0.9"),
                       ["[space.optimizer.momentum] 'momentum' is also set in [trainer]"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_branches_name_file_parameter_and_branch(tmp_path, case):
    text, expected = BAD[case]
    path = write(tmp_path, text)
    with pytest.raises(StudyFileError) as info:
        load_study_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    for part in expected:
        assert part in message, (part, message)


def test_a_parameter_in_a_branch_whose_optimizer_does_not_take_it(tmp_path):
    path = write(tmp_path, OPTIMIZERS.replace(
        "[space.optimizer.sgd]            # no hyperparameters of its own",
        '[space.optimizer.adagrad]\nalpha = { type = "uniform", low = 0.8, high = 0.9 }'))
    with pytest.raises(StudyFileError, match=r"\[space\] 'alpha' in branch optimizer='adagrad': alpha=0.8 does not "
                                             r"belong to optimizer 'adagrad'"):
        load_study_file(path)


def test_the_cli_exits_2_with_one_line(tmp_path, run_cli):
    path = write(tmp_path, BAD["different-distributions"][0])
    code, out, err = run_cli("run", path, "--no-plots", "--quiet")
    assert code == 2
    assert err.startswith("hpsearch: error: ") and err.count("\n") == 1
    assert "parameter 'momentum' is defined in branch optimizer='momentum'" in err


GRID = """\
name = "g"
metric = "score"
direction = "maximize"
[trainer]
objective = "hpsearch.objectives:LogBowl"
[trainer.settings]
optimum = { lr = 1e-3 }
[space]
lr = { type = "loguniform", low = 1e-5, high = 1e-1 }
[space.optimizer.sgd]
[space.optimizer.momentum]
mu = { type = "uniform", low = 0.5, high = 0.99 }
[search]
strategy = "grid"
n_trials = 20
budget = 1
"""


def test_dry_run_states_each_branch_share_of_a_grid(tmp_path, run_cli):
    code, out, _ = run_cli("run", write(tmp_path, GRID), "--dry-run")
    assert code == 0
    assert "space: lr=LogUniform(1e-05, 0.1), optimizer=Branch({'sgd': {}, 'momentum': {'mu': Uniform(0.5, 0.99)}})" in out
    assert "stage 0: 19 trials (its largest grid; 20 asked)" in out
    assert "grid per branch (an equal share each): optimizer=sgd: 10, optimizer=momentum: 9" in out
