"""A fast, pure-NumPy multilayer perceptron: the reference workload of hpsearch.

Built from cs231n lecture 6 ("Training Neural Networks"): activations, weight
initialisation, preprocessing, batch normalisation, dropout, the SGD family of
optimizers and the checks that babysit a training run. Never imports hpsearch.

Public names are imported lazily (PEP 562) so that worker processes and the
CLI pay only for what they use.
"""
from importlib import import_module

_EXPORTS = {
    "MLP": "models.mlp",
    "Trainer": "models.trainer",
    "make_optimizer": "models.optimizers",
    "OPTIMIZERS": "models.optimizers",
    "ACTIVATIONS": "models.activations",
    "INITIALIZERS": "models.initializers",
    "load_dataset": "models.datasets",
    "Dataset": "models.datasets",
    "DATASETS": "models.datasets",
    "PREPROCESSORS": "models.preprocess",
    "MLPObjective": "models.objective",
    "sanity_report": "models.babysit",
    "lr_range_check": "models.lr_range",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
