"""A fresh worker process stays light: ``import models`` and a whole digits trial import none of
scikit-learn, scipy, pandas, matplotlib, optuna or numba (each costs a new process up to seconds
before its first trial)."""
import json
import os
import subprocess
import sys

HEAVY = ("sklearn", "scipy", "pandas", "matplotlib", "optuna", "numba", "torch")

_SCRIPT = """
import json, sys
import models
after_import = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
from models import MLPObjective
out = MLPObjective("digits", preprocess="center", batch_size=64, depth=1)(
    {"lr": 2e-3, "reg": 1e-4, "width": 64, "dropout": 0.1}, 2, 0)
after_trial = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
print(json.dumps({"import": after_import, "trial": after_trial, "status": out["status"],
                  "val_acc": out["val_acc"], "checkpoint": len(out["checkpoint"])}))
"""


def test_import_models_and_a_digits_trial_import_no_heavy_package():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"}
    proc = subprocess.run([sys.executable, "-c", f"HEAVY = {HEAVY!r}" + _SCRIPT], capture_output=True,
                          text=True, check=True, timeout=120, env=env)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["import"] == [] and result["trial"] == []
    assert result["status"] == "ok" and result["val_acc"] > 0.8 and result["checkpoint"] > 0
