"""The README works as written: its main job reaches what it claims, and every Python block runs.

The main job (`hpsearch run studies/digits_mlp.toml`) runs for real in a scratch folder: the
README promises a best validation accuracy of at least 0.975 in a few seconds on two cores.
Then each ```python block runs as a script in that folder, in README order (later blocks read
what earlier ones and the main job wrote, as a reader following along would).
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def python_blocks():
    text = README.read_text()
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.M | re.S)


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e["MPLBACKEND"] = "Agg"
    return e


@pytest.fixture(scope="module")
def reader_folder(tmp_path_factory):
    """A scratch folder holding the shipped studies, where the README's main job has run."""
    folder = tmp_path_factory.mktemp("reader")
    shutil.copytree(ROOT / "studies", folder / "studies")
    done = subprocess.run([sys.executable, "-m", "hpsearch", "run", "studies/digits_mlp.toml", "--quiet"],
                          cwd=folder, env=env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return folder


def test_the_main_job_reaches_what_the_readme_promises(reader_folder):
    import hpsearch as hp

    result = hp.load_study(reader_folder / "runs" / "digits-mlp" / "study.db", "digits-mlp")
    # All 83 trials of the Hyperband brackets finish (61 configurations, 22 of them continued
    # at a larger budget); the widest learning rates may diverge (2 do here) and more may on
    # other BLAS kernels (OpenBLAS picks AVX2 or AVX-512 code by CPU, and rounding differs),
    # which is an outcome, not a failure. None may fail, and the promised accuracy must be reached.
    assert len(result.trials) == 83
    assert set(result.trials["status"]) <= {"ok", "diverged"}
    assert (result.trials["status"] == "ok").sum() >= 78
    assert result.best_value >= 0.975
    for name in ("trials.csv", "slices.png", "curves.png", "stages.png", "layout.png"):
        assert (reader_folder / "runs" / "digits-mlp" / name).stat().st_size > 0


BLOCKS = python_blocks()


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index, reader_folder):
    script = reader_folder / f"readme_block_{index}.py"
    script.write_text(BLOCKS[index])
    done = subprocess.run([sys.executable, script.name], cwd=reader_folder, env=env(), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, f"README python block {index} failed:\n{BLOCKS[index]}\n{done.stderr[-3000:]}"
