"""Shared fixtures for the whole suite (tests mirror hpsearch/ and models/)."""
import os

import matplotlib
import pytest

matplotlib.use("Agg")  # tests never open a window
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def digits():
    """The real 8x8 digits set, split and standardised once per test session."""
    from models import load_dataset

    return load_dataset("digits", seed=0, preprocess="standardize")


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(12345)


@pytest.fixture
def stored_count():
    """``count(db)``: how many trials a study database holds right now, read without locking it
    (0 while the file does not exist yet): for tests that kill a study mid-run."""
    import sqlite3

    def count(db):
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
                return conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
        except sqlite3.Error:
            return 0

    return count


@pytest.fixture
def run_cli(capsys):
    """``run_cli(*args)``: the ``hpsearch`` command run in this process -> ``(exit code, stdout, stderr)``."""
    from hpsearch.cli import main

    def run(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run
