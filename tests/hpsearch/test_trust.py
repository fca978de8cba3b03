"""A run folder is data (issue 18, item 13): nothing hpsearch reads from one can run code.

Run folders are shared between colleagues and hold training checkpoints. A crafted pickle planted
in one (an .npz checkpoint with an object array, a bare pickle as a checkpoint, as run.json or
as study.db), whose unpickling would create a marker file, is refused by resume, show and export
with a clear error, and the marker never appears.
"""
import io
import pickle
import sys
import textwrap

import numpy as np


# The real MLP on digits under a multi-fidelity strategy, which pauses trials in checkpoints;
# the study stops like a Ctrl-C at the first promoted trial, once, so paused trials' checkpoints
# stay in the run folder (the objective runs in the study's own process: n_jobs 1).
STOPPER = '''
from pathlib import Path

from models import MLPObjective

_mlp = MLPObjective("digits", hidden_dims=[16], batch_size=128)
_calls = []


def objective(params, budget, seed, report=None, checkpoint=None):
    _calls.append(seed)
    marker = Path(__file__).with_name("stopped-once")
    if len(_calls) == 10 and not marker.exists():
        marker.write_text("")
        raise KeyboardInterrupt
    return _mlp(params, budget, seed, report, checkpoint=checkpoint)
'''

STUDY = """\
name = "sha"
metric = "val_acc"
direction = "maximize"

[trainer]
objective = "trust_stopper:objective"

[space]
lr = { type = "loguniform", low = 1e-3, high = 1e-2 }

[search]
strategy = "sha"
min_budget = 1
max_budget = 9
eta = 3
"""


class Planted:
    """Unpickling it creates ``path``: the proof that a pickle was loaded."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _stopped_study(tmp_path, monkeypatch, run_cli):
    (tmp_path / "trust_stopper.py").write_text(textwrap.dedent(STOPPER))
    (tmp_path / "sha.toml").write_text(STUDY)
    monkeypatch.delitem(sys.modules, "trust_stopper", raising=False)
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli("run", "sha.toml", "--n-jobs", 1, "--backend", "threading", "--no-plots", "--quiet")
    assert code == 130 and "9 trials saved" in err, err
    checkpoints = sorted((tmp_path / "runs" / "sha" / "checkpoints" / "sha").glob("*.ckpt"))
    assert len(checkpoints) == 3   # the paused trials that the next rung continues
    return tmp_path / "runs" / "sha", checkpoints


def test_planted_pickles_in_a_run_folder_are_refused_and_never_run(tmp_path, monkeypatch, run_cli):
    folder, checkpoints = _stopped_study(tmp_path, monkeypatch, run_cli)
    marker = tmp_path / "PLANTED-PICKLE-RAN"
    archive = io.BytesIO()
    np.savez(archive, meta=np.array([Planted(marker)], dtype=object))   # an .npz holding an object array
    checkpoints[0].write_bytes(archive.getvalue())
    checkpoints[1].write_bytes(archive.getvalue())
    checkpoints[2].write_bytes(pickle.dumps(Planted(marker)))           # a bare pickle
    (folder / "run.json").write_bytes(pickle.dumps(Planted(marker)))
    pickle.loads(pickle.dumps(Planted(tmp_path / "payload-works")))     # the payload is live
    assert (tmp_path / "payload-works").exists()

    code, out, err = run_cli("show", folder)
    assert code == 0 and "study 'sha': 9 trials" in out, err
    code, out, err = run_cli("export", folder, "--optuna", f"sqlite:///{tmp_path / 'optuna.db'}")
    assert code == 0, err
    # resume: each trial that would continue from a planted checkpoint fails, saying why and where
    code, out, err = run_cli("run", "sha.toml", "--n-jobs", 1, "--no-plots", "--quiet")
    assert code == 0, err
    import hpsearch as hp

    trials = hp.load_study(folder / "study.db", "sha").trials
    continued = trials[trials["continued_from"].notna()]
    assert len(continued) == 3 and (continued["status"] == "failed").all()
    assert continued["error"].str.contains(  # the run folder is made absolute before the first trial
        "CheckpointError: checkpoint is damaged or not a checkpoint: reading it would need unpickling, which "
        f"could run code and is never done (continuing a paused trial from its checkpoint in "
        f"{tmp_path / 'runs' / 'sha' / 'checkpoints' / 'sha'})", regex=False).all()
    assert "3 x CheckpointError: checkpoint is damaged or not a checkpoint: reading it would need unpickling" in out
    assert not marker.exists()


def test_a_pickle_in_place_of_the_study_database_is_refused(tmp_path, monkeypatch, run_cli):
    marker = tmp_path / "PLANTED-PICKLE-RAN"
    folder = tmp_path / "runs" / "sha"
    folder.mkdir(parents=True)
    (folder / "study.db").write_bytes(pickle.dumps(Planted(marker)))
    (tmp_path / "sha.toml").write_text(STUDY.replace("trust_stopper:objective", "hpsearch.objectives:LearningCurve")
                                       + '[trainer.settings]\noptimum = { lr = 3e-3 }\n')
    monkeypatch.chdir(tmp_path)
    for argv in (["show", folder], ["export", folder, "--optuna", f"sqlite:///{tmp_path / 'optuna.db'}"],
                 ["run", "sha.toml", "--n-jobs", 1, "--no-plots", "--quiet"]):
        code, _, err = run_cli(*argv)
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
        assert "study.db" in err and "not an hpsearch database" in err, err
    assert not marker.exists()
