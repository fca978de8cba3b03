"""What the CLI says after the smaller mistakes (issue 18, item 10): a resume command that works
from where the user stands, a comparison folder given to show/plot/export, a study file saved
with a byte-order mark, a direction that contradicts its metric, data too small to train on."""
import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from study_fixtures import BOWL_TOML as BOWL, subprocess_env

ROOT = Path(__file__).resolve().parents[2]

# Stops the study like a Ctrl-C at its 4th trial, once: the objective runs in the study's own
# process (n_jobs 1), where a KeyboardInterrupt is the user's. The marker file lets the resumed
# run (another process) go through.
STOPPER = '''
from pathlib import Path

from hpsearch.objectives import LogBowl

_bowl = LogBowl({"lr": 1e-3, "reg": 1e-4}, metric="score")
_calls = []


def objective(params, budget, seed, report=None):
    _calls.append(seed)
    marker = Path(__file__).with_name("stopped-once")
    if len(_calls) == 4 and not marker.exists():
        marker.write_text("")
        raise KeyboardInterrupt
    return _bowl(params, budget, seed, report)
'''


def env():
    e = subprocess_env()
    # the `hpsearch` script lives beside this interpreter
    e["PATH"] = str(Path(sys.executable).parent) + os.pathsep + e.get("PATH", "")
    return e


def test_show_prints_a_resume_command_that_works_from_the_current_directory(tmp_path, monkeypatch, run_cli):
    project = tmp_path / "my project"   # a space: the command quotes what it must
    (project / "studies").mkdir(parents=True)
    (project / "studies" / "stopper.py").write_text(textwrap.dedent(STOPPER))
    (project / "studies" / "stop.toml").write_text(
        BOWL.replace('objective = "hpsearch.objectives:LogBowl"', 'objective = "stopper:objective"')
        .replace("[trainer.settings]\noptimum = { lr = 1e-3, reg = 1e-4 }\nmetric = \"score\"\nsleep = 0.0\n", ""))
    monkeypatch.delitem(sys.modules, "stopper", raising=False)
    monkeypatch.chdir(project)
    # threads, one job: the objective runs in this process, so its KeyboardInterrupt is a Ctrl-C
    code, _, err = run_cli("run", "studies/stop.toml", "--n-jobs", 1, "--backend", "threading", "--no-plots",
                           "--quiet")
    assert code == 130 and "3 trials saved" in err, err
    started_here = "hpsearch run studies/stop.toml --n-jobs 1 --backend threading --no-plots --quiet"

    code, out, _ = run_cli("show", "runs/bowl")
    assert code == 0 and f"resume with: {started_here}\n" in out   # where it was started: as typed
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli("show", Path("my project") / "runs" / "bowl")
    assert code == 0 and "3 of 16 planned trials done, incomplete" in out
    command = out.split("resume with: ", 1)[1].splitlines()[0]
    assert command == f"cd {shlex.quote(str(project))} && {started_here}"
    # pasted into a shell elsewhere, it resumes the same study
    done = subprocess.run(command, shell=True, cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "resuming study 'bowl'" not in done.stdout   # --quiet
    monkeypatch.delitem(sys.modules, "stopper", raising=False)
    code, out, _ = run_cli("show", project / "runs" / "bowl")
    assert code == 0 and "16 of 16 planned trials done, complete" in out and "resume with" not in out


def test_show_plot_export_on_a_comparison_folder_say_what_works_on_it(tmp_path, monkeypatch, run_cli):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bowl.toml").write_text(BOWL.replace("n_trials = 12", "n_trials = 4"))
    argv = ["compare", "bowl.toml", "--strategies", "random,grid", "--repeats", 1, "--n-jobs", 1, "--quiet"]
    code, _, err = run_cli(*argv)
    assert code == 0, err
    folder = Path("runs") / "bowl-compare"
    for command in (["show", folder], ["plot", folder], ["export", folder, "--optuna", "sqlite:///o.db"]):
        code, _, err = run_cli(*command)
        assert code == 2 and err.count("\n") == 1, err
        assert err.startswith(f"hpsearch: error: {folder} is a comparison folder (compare.db holds 2 runs: "
                              f"bowl-random-0, bowl-grid-0); show, plot and export "
                              f"read one run: add --name RUN (e.g. --name bowl-random-0); its table is "
                              f"{folder / 'comparison.csv'}, and its summary and plots come from running its "
                              f"command again, which trains nothing twice: hpsearch compare bowl.toml "
                              f"--strategies random,grid --repeats 1 --n-jobs 1 --quiet\n"), err
        assert "hpsearch run STUDY.toml" not in err
    code, out, err = run_cli("show", folder, "--name", "bowl-grid-0")
    assert code == 0 and "study 'bowl-grid-0'" in out, err


def test_a_study_file_saved_with_a_byte_order_mark_loads(tmp_path, run_cli):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + BOWL.encode("utf-8"))
    code, out, err = run_cli("run", path, "--dry-run")
    assert code == 0 and err == "" and "total: 16 trials" in out, err


@pytest.mark.parametrize("metric, direction, reads_like", [("val_acc", "minimize", "maximize"),
                                                           ("loss", "maximize", "minimize")])
def test_a_direction_against_its_metric_is_one_warning_line(tmp_path, metric, direction, reads_like, run_cli):
    path = tmp_path / "dir.toml"
    path.write_text(f'metric = "{metric}"\ndirection = "{direction}"\n[trainer]\ndataset = "digits"\n'
                    '[space]\nlr = { type = "loguniform", low = 1e-4, high = 1e-1 }\n'
                    '[search]\nstrategy = "random"\nn_trials = 2\nbudget = 1\n')
    code, _, err = run_cli("run", path, "--dry-run")
    assert code == 0
    assert err == (f"hpsearch: warning: {path}: direction = '{direction}' for metric '{metric}', which reads like "
                   f"a metric to {reads_like}; is that what you mean?\n")
    path.write_text(path.read_text().replace(f'"{direction}"', f'"{reads_like}"'))
    assert run_cli("run", path, "--dry-run")[:3:2] == (0, "")


def test_seeds_are_checked_to_2_32_in_python_as_in_the_cli(tmp_path, run_cli):
    import hpsearch as hp
    from hpsearch import seeding
    from hpsearch.compare import compare_strategies
    from hpsearch.objectives import LogBowl

    study = hp.Study(LogBowl({"lr": 1e-3}), {"lr": hp.LogUniform(1e-5, 1e-1)}, metric="score")
    for call in (lambda: study.optimize(n_trials=2, budget=1, seed=2 ** 32),
                 lambda: study.coarse_to_fine([hp.Stage(2, 1)], seed=2 ** 32),
                 lambda: seeding.trial_seed(2 ** 32, 0, 0), lambda: seeding.sampler_seed(-1, 0)):
        with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*32\), got (4294967296|-1)$"):
            call()
    assert len(study.optimize(n_trials=2, budget=1, seed=2 ** 32 - 1)) == 2
    # compare's repeats use seed + r: a base seed too close to the limit is refused before any run
    parts = {"objective": LogBowl({"lr": 1e-3}), "space": {"lr": hp.LogUniform(1e-5, 1e-1)}, "metric": "score",
             "n_trials": 2, "budget": 1}
    with pytest.raises(ValueError, match=r"seed 4294967295 with 2 repeats would use seeds up to 4294967296"):
        compare_strategies(parts, strategies=["random"], repeats=2, seed=2 ** 32 - 1, out_dir=tmp_path / "c")
    assert not (tmp_path / "c" / "compare.db").exists()
    code, _, err = run_cli("run", tmp_path / "any.toml", "--seed", 2 ** 32)
    assert code == 2 and "--seed: expected an integer in [0, 2**32), got '4294967296'" in err


@pytest.mark.parametrize("rows, said", [
    ("x1,x2,label\n" + "".join(f"{i},{2 * i},0\n" for i in range(30)),
     "needs at least 2 classes, found only label 0 (in all 30 samples)"),
    ("x1,x2,label\n1,2,0\n3,4,1\n",
     "2 samples are too few: the split would train on 1 (validation 1, test 0), fewer than its 2 classes; "
     "use more data (or a smaller val_fraction / test_fraction)"),
])
def test_a_csv_too_small_to_train_on_is_one_line_before_anything_runs(tmp_path, monkeypatch, rows, said, run_cli):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text(rows)
    (tmp_path / "csv.toml").write_text('[trainer]\ndataset = "data.csv"\n'
                                       '[space]\nlr = { type = "loguniform", low = 1e-4, high = 1e-1 }\n'
                                       '[search]\nstrategy = "random"\nn_trials = 2\nbudget = 1\n')
    code, _, err = run_cli("run", "csv.toml", "--dry-run")
    assert code == 2 and err == f"hpsearch: error: csv.toml: [trainer] 'dataset' data.csv: {said}\n"
