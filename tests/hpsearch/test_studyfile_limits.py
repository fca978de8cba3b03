"""Study files that would give silent wrong answers or crash later are refused at load (issue 29, item 5).

Every case is one line naming the file and the key, exit status 2, and ``--dry-run`` finds it too:
a range of infinite width, a budget no SQLite INTEGER holds, ``[confirm] test = true`` with an
objective that cannot evaluate a test set, an objective naming a class, and a "study file" that
is no regular file (a link to /dev/zero, a FIFO) or is huge, refused before it is read.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hpsearch.checks import MAX_BUDGET
from hpsearch.studyfile.reader import MAX_STUDY_FILE_BYTES, load_study_file
from study_fixtures import subprocess_env

ROOT = Path(__file__).resolve().parents[2]

STUDY = """\
name = "limits"
metric = "score"
direction = "maximize"

[trainer]
objective = "hpsearch.objectives:LogBowl"
[trainer.settings]
optimum = { x = 0.5 }

[space]
x = { type = "uniform", low = 0.0, high = 1.0 }

[search]
strategy = "random"
n_trials = 3
budget = 2
"""


@pytest.mark.parametrize("edit, message", [
    (("low = 0.0, high = 1.0", "low = -1e308, high = 1e308"),
     "[space] 'x': Uniform needs a range of finite width (high - low overflows a float), got low=-1e+308"),
    (("budget = 2", "budget = 9999999999999999999"),
     f"[search] 'budget' must be at most {MAX_BUDGET:,} (a trial's epochs; budgets are stored as 64-bit "
     f"integers), got 9999999999999999999"),
    (("budget = 2", f"budget = {MAX_BUDGET + 1}"), f"[search] 'budget' must be at most {MAX_BUDGET:,}"),
    (("budget = 2\n", "budget = 2\n[confirm]\ntest = true\n"),
     "[confirm] test = true, but the objective 'hpsearch.objectives:LogBowl' cannot evaluate a test set"),
    (("[trainer.settings]\noptimum = { x = 0.5 }\n", ""),
     "[trainer] 'objective' 'hpsearch.objectives:LogBowl' names a class, not an objective: pass its arguments "
     "in a [trainer.settings] table (which makes the instance), or name a module-level instance or function"),
])
def test_a_study_file_that_would_mislead_is_refused_at_load_and_in_dry_run(tmp_path, run_cli, edit, message):
    path = tmp_path / "limits.toml"
    assert edit[0] in STUDY
    path.write_text(STUDY.replace(*edit))
    code, out, err = run_cli("run", path, "--dry-run")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert f"{path}: {message}" in err, err


def test_confirm_tests_by_default_only_when_the_objective_can(tmp_path):
    path = tmp_path / "limits.toml"
    path.write_text(STUDY + "[confirm]\ntop = 2\n")
    assert load_study_file(path).confirm.test is False      # LogBowl has no 'final': no test is planned
    path.write_text(STUDY.replace("LogBowl", "LearningCurve") + "[confirm]\ntop = 2\n")
    assert load_study_file(path).confirm.test is True


def test_a_huge_study_file_is_refused_without_reading_it_all(tmp_path, run_cli):
    path = tmp_path / "huge.toml"
    path.write_text(STUDY + "#" * MAX_STUDY_FILE_BYTES)
    code, _, err = run_cli("run", path, "--dry-run")
    assert code == 2 and f"{path}: larger than 1024 KB" in err, err


@pytest.mark.parametrize("kind", ["dev-zero", "fifo"])
def test_a_study_file_that_is_no_regular_file_is_refused_at_once(tmp_path, kind):
    path = tmp_path / "study.toml"
    if kind == "fifo":
        os.mkfifo(path)            # reading it would wait for a writer for ever
    else:
        path.symlink_to("/dev/zero")   # reading it would eat memory without end
    env = subprocess_env()
    proc = subprocess.run([sys.executable, "-m", "hpsearch", "run", str(path), "--dry-run"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    what = "a FIFO" if kind == "fifo" else "a device"
    # the path is printed relative to the working folder (tmp_path here)
    assert proc.returncode == 2 and proc.stderr == f"hpsearch: error: study.toml: is {what}, not a regular file; " \
                                                   f"a study file is a TOML text file\n", proc.stderr
