"""A study file's ``[trainer]`` table -> the objective it names, checked.

Two forms:

- settings of the built-in trainer, ``models.MLPObjective`` (``dataset``, ``optimizer``,
  ``hidden_dims``, ...): every key is checked against the trainer's settings and values;
- ``objective = "package.module:function"``: that callable is the objective. With a
  ``[trainer.settings]`` table it is a factory (a class such as ``MLPObjective``, or a
  function returning an objective) called with those keyword arguments.

A study file runs the code it names, as a Makefile does: run only study files you trust.
The module is imported with the study file's folder and the working directory on the
import path.
"""
import importlib
import os
import sys
from pathlib import Path

from hpsearch.checks import one_line
from hpsearch.errors import StudyFileError

__all__ = ["build_objective", "OBJECTIVE_KEYS"]

#: Keys a [trainer] table with ``objective = "..."`` may hold.
OBJECTIVE_KEYS = ("objective", "settings")


def build_objective(where, study_path, trainer):
    """``(objective, ref)`` for a ``[trainer]`` table (``ref`` is None for the built-in trainer).

    ``trainer`` is updated in place: a data file's path becomes absolute.

    Raises:
        StudyFileError: one line naming ``where`` (the file) and the key.
    """
    if "objective" in trainer:
        return _imported(where, study_path, trainer), trainer["objective"]
    return _mlp(where, study_path, trainer), None


def _unknown(where, section, what, value, valid, extra=""):
    from hpsearch.checks import did_you_mean

    return f"{where}: {section} unknown {what} {value!r}; {did_you_mean(value, valid)}{extra}"


# -- the built-in trainer -------------------------------------------------------------------

def _mlp(where, study_path, trainer):
    from models import MLPObjective

    if "settings" in trainer:
        raise StudyFileError(f"{where}: [trainer] 'settings' goes with objective = \"module:factory\"; the "
                             f"built-in trainer takes its settings directly in [trainer]")
    if "dataset" in trainer:
        trainer["dataset"] = _dataset(where, study_path, trainer["dataset"], trainer)
    try:
        base = MLPObjective(trainer.get("dataset", "digits"))
    except ValueError as exc:
        raise StudyFileError(f"{where}: [trainer] 'dataset' {one_line(exc)}") from None
    valid = list(base.valid_settings())
    for key in trainer:
        if key not in valid and key != "dataset":
            raise StudyFileError(_unknown(where, "[trainer]", "key", key, valid + ["dataset", "objective"]))
    try:
        return MLPObjective(**trainer)
    except ValueError as exc:
        raise StudyFileError(f"{where}: [trainer] {one_line(exc)}") from None


def _dataset(where, study_path, value, trainer):
    from models.datasets import DATASETS

    if not isinstance(value, str):
        raise StudyFileError(f"{where}: [trainer] 'dataset' must be a string (a dataset name or a "
                             f"file path), got {value!r}")
    if value in DATASETS:
        return value
    looks_like_path = os.sep in value or "/" in value or Path(value).suffix.lower() in (".npz", ".csv")
    if not looks_like_path:
        raise StudyFileError(_unknown(where, "[trainer]", "dataset", value, tuple(DATASETS),
                                      " (or a .npz/.csv file or a CIFAR-10 batches folder)"))
    candidates = [Path(value)]
    if not Path(value).is_absolute():
        candidates.append(study_path.parent / value)
    found = next((p for p in candidates if p.exists()), None)
    if found is None:
        raise StudyFileError(f"{where}: [trainer] 'dataset' file {value!r} not found "
                             f"(looked in {os.getcwd()} and {study_path.parent})")
    if found.is_file():
        # Check the data now (cheap for .npz/.csv), not in every trial.
        from models.datasets import load_dataset, source_keywords

        options = {k: trainer[k] for k in source_keywords(str(found)) if k in trainer}
        try:
            load_dataset(str(found), seed=0, **options)
        except (ValueError, OSError) as exc:
            raise StudyFileError(f"{where}: [trainer] 'dataset' {one_line(exc)}") from None
    # Absolute: the path becomes part of the stored settings, which must not depend on
    # the directory the study is run (or resumed) from, and workers may start elsewhere.
    return str(found.resolve())


# -- objective = "module:function" ------------------------------------------------------------

def _imported(where, study_path, trainer):
    ref = trainer["objective"]
    if not isinstance(ref, str) or ref.count(":") != 1 or not all(ref.split(":")):
        raise StudyFileError(f"{where}: [trainer] 'objective' must be \"package.module:function\", got {ref!r}")
    for key in trainer:
        if key not in OBJECTIVE_KEYS:
            raise StudyFileError(
                f"{where}: [trainer] key {key!r} next to objective = {ref!r}: keyword arguments of a factory "
                f"go in a [trainer.settings] table; without one, {ref} itself is the objective")
    settings = trainer.get("settings")
    if settings is not None and not isinstance(settings, dict):
        raise StudyFileError(f"{where}: [trainer] 'settings' must be a table of keyword arguments, got {settings!r}")
    target = _import(where, study_path, ref)
    if settings is None and isinstance(target, type):
        raise StudyFileError(f"{where}: [trainer] 'objective' {ref!r} names a class, not an objective: pass its "
                             f"arguments in a [trainer.settings] table (which makes the instance), or name a "
                             f"module-level instance or function")
    if settings is not None:
        try:
            target = target(**settings)
        except (TypeError, ValueError) as exc:
            raise StudyFileError(f"{where}: [trainer.settings] {ref}(...) rejected the settings: "
                                 f"{one_line(exc)}") from None
    if not callable(target):
        raise StudyFileError(f"{where}: [trainer] 'objective' {ref!r} is not callable")
    return target


def _import(where, study_path, ref):
    module_name, attr = ref.split(":")
    # A user's module usually lives next to the study file, or in the working directory
    # (the console script does not put it on sys.path). Process workers inherit sys.path.
    for folder in (str(study_path.parent.resolve()), os.getcwd()):
        if folder not in sys.path:
            sys.path.append(folder)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise StudyFileError(f"{where}: [trainer] 'objective' cannot import {module_name!r}: "
                             f"{one_line(exc)} (looked on the import path, in {study_path.parent} "
                             f"and in {os.getcwd()})") from None
    target = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise StudyFileError(f"{where}: [trainer] 'objective' {module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    return target
