"""Spaces, objectives and study files the hpsearch tests share: one home instead of a copy per
test module. Importable by name from tests and from the subprocess helpers (``_*_run.py``):
``tests/hpsearch`` is on pytest's ``pythonpath`` (setup.cfg), and a helper run as a script has
its own folder on ``sys.path``."""
from pathlib import Path

import hpsearch as hp
from hpsearch.objectives import LearningCurve, LogBowl

#: lr and reg over wide log ranges; BOWL's optimum (1e-3, 1e-3) sits well inside both.
SPACE = {"lr": hp.LogUniform(1e-6, 1e-1), "reg": hp.LogUniform(1e-5, 1e1)}
#: SPACE plus an activation (BOWL_ACT prefers relu).
SPACE_ACT = {**SPACE, "act": hp.Choice(["relu", "tanh"])}
#: The multi-fidelity studies' space: CURVE's optimum (1e-3, 1e-4) inside both ranges.
CURVE_SPACE = {"lr": hp.LogUniform(1e-5, 1e-1), "reg": hp.LogUniform(1e-6, 1e-1)}

BOWL = LogBowl({"lr": 1e-3, "reg": 1e-3}, noise=0.05)
BOWL_ACT = LogBowl({"lr": 1e-3, "reg": 1e-3}, choices={"act": "relu"}, noise=0.02)
CURVE = LearningCurve({"lr": 1e-3, "reg": 1e-4}, noise=0.01)

#: The text of a small study file over LogBowl (tests/hpsearch/data/bowl.toml).
BOWL_TOML = (Path(__file__).parent / "data" / "bowl.toml").read_text()


def subprocess_env(**extra):
    """The environment of a test's subprocess: this checkout first on PYTHONPATH (the code under
    test, whatever is installed), plots without a display, plus ``extra`` variables."""
    import os

    root = Path(__file__).resolve().parents[2]
    return dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                MPLBACKEND="Agg", **extra)
