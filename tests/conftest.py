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
