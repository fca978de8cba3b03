"""Samplers propose parameters; the study runs them. Registry by name.

Built in: ``random`` (:class:`RandomSampler`), ``grid`` (:class:`GridSampler`), ``sobol``
(:class:`SobolSampler`), ``bohb`` (:class:`BOHBSampler`, a model per budget for ``sha`` /
``hyperband``; there ``tpe`` names it too, see :func:`for_budgets`). Optuna's samplers (``tpe``, ``cmaes``, ``qmc``, ``gp``,
``optuna-random``) load lazily from :mod:`hpsearch.samplers._optuna` the first time
they are named, so optuna is imported only when it is used.
"""
from hpsearch.samplers._base import BaseSampler
from hpsearch.samplers._bohb import BOHBSampler
from hpsearch.samplers._grid import GridSampler
from hpsearch.samplers._random import RandomSampler
from hpsearch.samplers._sobol import SobolSampler

__all__ = ["BaseSampler", "RandomSampler", "GridSampler", "SobolSampler", "BOHBSampler", "OptunaSampler",
           "get_sampler", "check_sampler", "is_adaptive", "is_multi_fidelity", "for_budgets", "SAMPLERS"]

_BUILTIN = {"random": RandomSampler, "grid": GridSampler, "sobol": SobolSampler, "bohb": BOHBSampler}
# Optuna samplers whose model would be fit on results of mixed budgets in sha / hyperband
_MIXING = {"cmaes": "CmaEsSampler", "gp": "GPSampler", "tpe": "TPESampler"}
_OPTUNA = ("tpe", "cmaes", "qmc", "gp", "optuna-random")
SAMPLERS = tuple(sorted((*_BUILTIN, *_OPTUNA)))


def _is_optuna_sampler(obj):
    # Detected without importing optuna (slow): an optuna.samplers.BaseSampler instance
    # lives in an optuna module and has sample_relative.
    return type(obj).__module__.split(".")[0] == "optuna" and hasattr(obj, "sample_relative")


def _has_interface(obj):
    return all(callable(getattr(obj, m, None)) for m in ("start", "ask", "tell"))


def get_sampler(name_or_sampler, **options):
    """A sampler from a registry name or a sampler object.

    Args:
        name_or_sampler: one of :data:`SAMPLERS` (``"random"``, ``"grid"``, ``"sobol"``, ``"tpe"``,
            ``"cmaes"``, ``"qmc"``, ``"gp"``, ``"optuna-random"``); an object with ``start``/``ask``/
            ``tell`` (returned as is); or an ``optuna.samplers.BaseSampler`` instance (wrapped in
            :class:`OptunaSampler`).
        **options: keyword arguments of the sampler's constructor, e.g.
            ``get_sampler("grid", points={"lr": 5})``.

    Raises:
        ValueError: an unknown name, an unknown option, or options given with an object.
    """
    if isinstance(name_or_sampler, str):
        name = name_or_sampler
        if name in _BUILTIN:
            cls = _BUILTIN[name]
            try:
                return cls(**options)
            except TypeError:
                raise ValueError(_bad_options(name, cls, options)) from None
        if name in _OPTUNA:
            from hpsearch.samplers._optuna import make_optuna_sampler

            return make_optuna_sampler(name, **options)
        raise ValueError(f"unknown sampler {name!r}; expected one of {', '.join(SAMPLERS)}, or a sampler object")
    if isinstance(name_or_sampler, type):
        raise ValueError(f"sampler {name_or_sampler.__name__} is a class; pass an instance, e.g. "
                         f"{name_or_sampler.__name__}()")
    if _is_optuna_sampler(name_or_sampler):
        from hpsearch.samplers._optuna import OptunaSampler

        return OptunaSampler(name_or_sampler, **options)
    if _has_interface(name_or_sampler):
        if options:
            raise ValueError(f"sampler options {sorted(options)} only apply to sampler names, not to "
                             f"the object {name_or_sampler!r}")
        return name_or_sampler
    raise ValueError(f"unknown sampler {name_or_sampler!r}; expected one of {', '.join(SAMPLERS)}, "
                     f"or a sampler object")


def check_sampler(name_or_sampler):
    """Raise ValueError unless :func:`get_sampler` would accept ``name_or_sampler``.

    Cheap: a name is looked up in the registry without building (or importing) its sampler.
    """
    if isinstance(name_or_sampler, str):
        if name_or_sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {name_or_sampler!r}; expected one of {', '.join(SAMPLERS)}, "
                             f"or a sampler object")
        return
    get_sampler(name_or_sampler)


def is_adaptive(sampler):
    """True for a sampler that wants ``tell`` before proposing more (asked in batches)."""
    return bool(getattr(sampler, "is_adaptive", False))


def is_multi_fidelity(sampler):
    """True for a sampler that takes each result with its budget: ``tell(..., budget=b)`` once
    per budget a configuration was trained at (:class:`BOHBSampler`)."""
    return bool(getattr(sampler, "multi_fidelity", False))


def for_budgets(name_or_sampler, strategy):
    """The sampler a multi-fidelity strategy (``sha``, ``hyperband``) uses for ``name_or_sampler``.

    A model told one-epoch and full-budget results in one pool learns neither, so there
    ``"tpe"`` is :class:`BOHBSampler` (a TPE-style model per budget), and CMA-ES and GP,
    which cannot keep budgets apart, are refused. Everything else is :func:`get_sampler`'s.

    Raises:
        ValueError: ``"cmaes"``/``"gp"`` (by name or as an Optuna instance, or an
            ``OptunaSampler`` of them) or an Optuna TPE instance, naming the samplers that work;
            Optuna TPE options given with ``"tpe"``.
    """
    if isinstance(name_or_sampler, str) and name_or_sampler == "tpe":
        return BOHBSampler()
    sampler = get_sampler(name_or_sampler)
    if is_multi_fidelity(sampler):
        return sampler
    if getattr(sampler, "name", None) == "tpe" and getattr(sampler, "instance", None) is None:
        # "tpe" named in a study file arrives built by name, with the file's sampler_options
        if sampler.options:
            raise ValueError(f"sampler options {sorted(sampler.options)} are Optuna TPE's; in {strategy} "
                             f"'tpe' is the per-budget BOHBSampler (options: random_fraction, gamma, "
                             f"n_candidates, bandwidth_factor, min_bandwidth)")
        return BOHBSampler()
    shown = name_or_sampler if isinstance(name_or_sampler, str) else (
        getattr(sampler, "name", None) or type(getattr(sampler, "instance", None) or sampler).__name__)
    if shown in _MIXING or shown in _MIXING.values():
        raise ValueError(f"sampler {shown!r} would model results of different budgets as one in {strategy}; "
                         f"use 'bohb' (or 'tpe', the same there: a model per budget), 'random' or 'sobol'")
    return sampler


def _bad_options(name, cls, options):
    import inspect

    valid = [p for p in inspect.signature(cls).parameters if p != "self"]
    bad = sorted(set(options) - set(valid))
    shown = ", ".join(valid) if valid else "none"
    what = f"option {bad[0]!r}" if bad else f"options {options!r}"
    return f"unknown {what} for sampler {name!r}; expected {shown}"


def __getattr__(name):
    # OptunaSampler imports optuna; load it only when someone asks for it.
    if name == "OptunaSampler":
        from hpsearch.samplers._optuna import OptunaSampler

        globals()["OptunaSampler"] = OptunaSampler
        return OptunaSampler
    raise AttributeError(f"module 'hpsearch.samplers' has no attribute {name!r}")
