"""hpsearch: hyperparameter search the way cs231n teaches it.

Log-scaled spaces, random / grid / Sobol / coarse-to-fine / successive-halving / Hyperband
search, warnings when the best values crowd an edge of their range, confirmation of the
winner with fresh seeds, parallel and resumable studies.

The public names below are imported lazily (PEP 562) so that ``import hpsearch``
and the ``hpsearch`` command start fast: pandas, matplotlib, joblib and optuna
load only when the part that needs them is used.
"""
from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    # search space
    "LogUniform": "hpsearch.distributions",
    "Uniform": "hpsearch.distributions",
    "IntUniform": "hpsearch.distributions",
    "IntLogUniform": "hpsearch.distributions",
    "Choice": "hpsearch.distributions",
    "Fixed": "hpsearch.distributions",
    "Space": "hpsearch.space",
    "Branch": "hpsearch.space",
    # samplers
    "BaseSampler": "hpsearch.samplers",
    "RandomSampler": "hpsearch.samplers",
    "GridSampler": "hpsearch.samplers",
    "SobolSampler": "hpsearch.samplers",
    "BOHBSampler": "hpsearch.samplers",
    "OptunaSampler": "hpsearch.samplers",
    "get_sampler": "hpsearch.samplers",
    # running and results
    "Study": "hpsearch.study",
    "Stage": "hpsearch.strategies.stage",
    "load_study": "hpsearch.study",
    "SearchResult": "hpsearch.results.search_result",
    "Confirmation": "hpsearch.strategies.confirmed",
    "CoarseToFine": "hpsearch.strategies",
    "SuccessiveHalving": "hpsearch.strategies",
    "Hyperband": "hpsearch.strategies",
    "StageRecord": "hpsearch.results.search_result",
    "continuable": "hpsearch.objectives",
    "BoundaryFlag": "hpsearch.diagnostics.boundary",
    "find_boundary_flags": "hpsearch.diagnostics.boundary",
    # errors
    "HpsearchError": "hpsearch.errors",
    "StudyFileError": "hpsearch.errors",
    "StudyMismatchError": "hpsearch.errors",
    "StudyLockedError": "hpsearch.errors",
    "StudyMetricError": "hpsearch.errors",
    "StudyFailedError": "hpsearch.errors",
    "StorageError": "hpsearch.errors",
    "UnsafePathError": "hpsearch.errors",
    "StudyInterrupted": "hpsearch.errors",
    "EdgeWarning": "hpsearch.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hpsearch' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # cache: later look-ups skip __getattr__
    return value


def __dir__():
    return __all__
