"""TOML study files -> a checked, runnable study description.

A study file says what to train (``[trainer]``), what to search (``[space]``)
and how (``[search]``)::

    name = "digits-mlp"
    metric = "val_acc"
    direction = "maximize"
    seed = 0

    [trainer]                  # settings passed to models.MLPObjective
    dataset = "digits"
    optimizer = "adam"

    [space]
    lr = { type = "loguniform", low = 1e-4, high = 1e-1 }

    [search]
    strategy = "coarse-to-fine"
    [[search.stages]]
    n_trials = 30
    budget = 3

:func:`load_study_file` reads and checks everything before anything runs: every
mistake raises :class:`~hpsearch.errors.StudyFileError` with one line naming the
file, the key and the problem (unknown keys get the closest valid one suggested).
Choice values and fixed trainer settings go through ``MLPObjective.validate`` so an
unknown activation or optimizer fails at load time, not in trial 37.
"""
import difflib
import importlib
import math
import os
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from hpsearch.errors import StudyFileError
from hpsearch.samplers import SAMPLERS

__all__ = ["StudyFile", "StagePlan", "load_study_file", "STRATEGIES", "COARSE_TO_FINE"]

COARSE_TO_FINE = "coarse-to-fine"

_TOP_KEYS = ("name", "description", "metric", "direction", "seed", "trainer", "space", "search")
_SEARCH_KEYS = ("strategy", "n_trials", "budget", "stages", "points", "top_fraction", "margin",
                "move_edges", "n_jobs", "backend")
_STAGE_KEYS = ("n_trials", "budget", "sampler")
_DIRECTIONS = ("maximize", "minimize")
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
#: Every valid ``strategy``: a sampler name (one stage) or ``"coarse-to-fine"``.
STRATEGIES = tuple(SAMPLERS) + (COARSE_TO_FINE,)


def _sampler_names():
    return tuple(SAMPLERS)


def strategies():
    """Every valid ``strategy``: the sampler names and ``"coarse-to-fine"``."""
    return STRATEGIES


@dataclass(frozen=True)
class StagePlan:
    """One planned stage: ``n_trials`` trials of ``budget`` epochs drawn by ``sampler`` (a name)."""

    n_trials: int
    budget: int
    sampler: str = "random"

    @property
    def epochs(self):
        return self.n_trials * self.budget


@dataclass
class StudyFile:
    """A loaded, checked study file.

    Attributes:
        path: the file (as given).
        name: the study name (also the default run folder ``runs/<name>/``).
        metric, direction, seed: what to optimise and the study seed.
        trainer: the ``[trainer]`` settings (without ``objective``).
        objective: the built objective (``models.MLPObjective(**trainer)`` or the imported callable).
        space: the :class:`~hpsearch.space.Space` of ``[space]``.
        strategy: a sampler name or ``"coarse-to-fine"``.
        stages: for coarse-to-fine, the list of :class:`StagePlan`; else None.
        n_trials, budget: for single-stage strategies; else None.
        points: grid points (an int for every numeric parameter or a dict name -> int), or None.
        top_fraction, margin, move_edges: coarse-to-fine narrowing options (None: the library default).
        n_jobs, backend: defaults for running (the CLI's options win).
        description: free text.
    """

    path: Path
    name: str
    metric: str
    direction: str
    seed: int
    trainer: dict
    objective: object
    space: object
    strategy: str
    stages: list = None
    n_trials: int = None
    budget: int = None
    points: object = None
    top_fraction: float = None
    margin: float = None
    move_edges: bool = None
    n_jobs: int = None
    backend: str = None
    description: str = ""
    objective_ref: str = None

    # -- plans ------------------------------------------------------------------------
    def plan(self, strategy=None, n_trials=None):
        """The stages to run, as a list of :class:`StagePlan`.

        With ``strategy`` (another strategy than the file's) or ``n_trials`` (a different
        total trial count) the plan is converted at equal compute: the same total number of
        trials and the same total epochs (rounded). A single-stage strategy gets
        ``n_trials = total trials`` and ``budget = round(total epochs / total trials)``;
        coarse-to-fine keeps the file's stages (scaled to ``n_trials``), or, for a
        single-stage file, splits it into 75% cheap trials at a third of the budget and
        25% trials that take the remaining epochs.

        Raises:
            StudyFileError: an unknown strategy, or a plan that cannot be made.
        """
        strategy = self.strategy if strategy is None else strategy
        if strategy not in strategies():
            raise StudyFileError(_unknown(self.path, "--strategy", "strategy", strategy, strategies()))
        if self.stages is not None:
            total_trials = sum(s.n_trials for s in self.stages)
            total_epochs = sum(s.epochs for s in self.stages)
        else:
            total_trials, total_epochs = self.n_trials, self.n_trials * self.budget
        if n_trials is not None:
            if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
                raise StudyFileError(f"{self.path}: the trial budget must be a positive integer, got {n_trials!r}")
            total_epochs = total_epochs * n_trials / total_trials
            total_trials = n_trials
        if strategy == COARSE_TO_FINE:
            if self.stages is not None:
                counts = _scale_counts([s.n_trials for s in self.stages], total_trials)
                if min(counts) < 1:
                    raise StudyFileError(f"{self.path}: {total_trials} trials are too few for "
                                         f"{len(self.stages)} coarse-to-fine stages")
                return [StagePlan(c, s.budget, s.sampler) for c, s in zip(counts, self.stages)]
            if total_trials < 2:
                raise StudyFileError(f"{self.path}: coarse-to-fine needs at least 2 trials, got {total_trials}")
            budget = total_epochs / total_trials
            n1 = max(1, min(total_trials - 1, round(0.75 * total_trials)))
            b1 = max(1, round(budget / 3))
            n2 = total_trials - n1
            b2 = max(1, round((total_epochs - n1 * b1) / n2))
            return [StagePlan(n1, b1, "random"), StagePlan(n2, b2, "random")]
        return [StagePlan(total_trials, max(1, round(total_epochs / total_trials)), strategy)]

    def sampler(self, name):
        """The sampler object for ``name`` with this file's options (grid ``points``)."""
        from hpsearch.samplers import get_sampler

        if name == "grid" and self.points is not None:
            return get_sampler("grid", points=self.points)
        return get_sampler(name)

    def planned_trials(self, plan):
        """How many trials ``plan`` will run: a grid stage may run fewer than asked (its largest grid).

        Later coarse-to-fine stages search a narrowed space, so their grid sizes are upper bounds.
        """
        counts = []
        for stage in plan:
            if stage.sampler == "grid":
                sampler = self.sampler("grid")
                counts.append(int(sampler.start(self.space, stage.n_trials, self.seed, self.direction)))
            else:
                counts.append(stage.n_trials)
        return counts

    # -- running ----------------------------------------------------------------------
    def make_study(self, storage=None, name=None):
        """A :class:`~hpsearch.study.Study` of this file's objective, space and metric."""
        from hpsearch.study import Study

        return Study(self.objective, self.space, metric=self.metric, direction=self.direction,
                     storage=None if storage is None else str(storage), name=name or self.name)

    def run(self, study, *, strategy=None, n_trials=None, seed=None, n_jobs=None, backend=None,
            scheduler=None, retry_failed=False, overwrite=False, progress=False, callbacks=()):
        """Run this file's search (or its equal-compute conversion, see :meth:`plan`) on ``study``.

        Returns:
            the :class:`~hpsearch.result.SearchResult`.

        Raises:
            StudyInterrupted: on Ctrl-C (finished trials are kept in the storage).
            HpsearchError / ValueError: a storage or settings problem.
        """
        plan = self.plan(strategy, n_trials)
        strategy = self.strategy if strategy is None else strategy
        seed = self.seed if seed is None else seed
        n_jobs = self.n_jobs if n_jobs is None else n_jobs
        n_jobs = (os.cpu_count() or 1) if n_jobs is None else n_jobs
        backend = backend or self.backend or "loky"
        common = dict(n_jobs=n_jobs, seed=seed, backend=backend, scheduler=scheduler,
                      retry_failed=retry_failed, overwrite=overwrite, progress=progress,
                      callbacks=tuple(callbacks))
        if strategy == COARSE_TO_FINE:
            from hpsearch.study import Stage

            stages = [Stage(n_trials=s.n_trials, budget=s.budget, sampler=self.sampler(s.sampler)) for s in plan]
            options = {k: getattr(self, k) for k in ("top_fraction", "margin", "move_edges")
                       if getattr(self, k) is not None}
            return study.coarse_to_fine(stages, **options, **common)
        (stage,) = plan
        return study.optimize(sampler=self.sampler(stage.sampler), n_trials=stage.n_trials,
                              budget=stage.budget, **common)

    def sanity_settings(self):
        """The trainer settings of one representative configuration (for ``hpsearch sanity``).

        Fixed ``[trainer]`` settings, plus the middle of every ``[space]`` range (geometric
        middle for log ranges) and the first value of every choice.
        """
        settings = dict(self.trainer)
        for name, dist in self.space.items():
            if hasattr(dist, "values"):
                settings[name] = dist.values[0]
            elif hasattr(dist, "value") and not dist.ordered:
                settings[name] = dist.value
            else:
                settings[name] = dist.from_unit(0.5)
        return settings


# -- loading --------------------------------------------------------------------------------

def load_study_file(path):
    """Read and check a study file; build its objective and space.

    Args:
        path: a ``.toml`` file (str or Path).

    Returns:
        a :class:`StudyFile`.

    Raises:
        StudyFileError: one line naming the file, the key and the problem, for a missing
            file, a TOML syntax error, an unknown key, a wrong type or value, an unknown
            strategy/activation/optimizer/init/dataset, a missing data file, or a
            ``[space]`` parameter the trainer does not accept.
    """
    path = Path(path)
    where = str(path)
    if not path.exists():
        raise StudyFileError(f"{where}: no such study file")
    if path.is_dir():
        raise StudyFileError(f"{where}: is a folder, not a study file")
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise StudyFileError(f"{where}: TOML syntax error: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StudyFileError(f"{where}: cannot read the file: {exc}") from None
    return _Loader(where, path).load(doc)


def _unknown(where, section, what, value, valid):
    close = difflib.get_close_matches(str(value), [str(v) for v in valid], n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(map(str, valid))}"
    section = f"{section} " if section else ""
    return f"{where}: {section}unknown {what} {value!r}; {hint}"


def _scale_counts(counts, total):
    """Integers proportional to ``counts`` summing to ``total`` (largest remainders)."""
    base = sum(counts)
    exact = [c * total / base for c in counts]
    out = [math.floor(x) for x in exact]
    order = sorted(range(len(counts)), key=lambda i: exact[i] - out[i], reverse=True)
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


class _Loader:
    """Checks one parsed document; every error names ``where`` and the key."""

    def __init__(self, where, path):
        self.where = where
        self.path = path

    def fail(self, section, message):
        prefix = f"{self.where}: {section} " if section else f"{self.where}: "
        raise StudyFileError(prefix + message)

    # -- generic checks -------------------------------------------------------------------
    def check_keys(self, section, table, valid, what="key"):
        for key in table:
            if key not in valid:
                raise StudyFileError(_unknown(self.where, section, what, key, valid))

    def get(self, section, table, key, kind, default=None, required=False):
        label = f"{section} {key!r}" if section else f"{key!r}"
        if key not in table:
            if required:
                raise StudyFileError(f"{self.where}: {section + ' ' if section else ''}missing key {key!r}")
            return default
        value = table[key]
        ok = {
            "str": isinstance(value, str),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, (int, float)) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
            "table": isinstance(value, dict),
            "list": isinstance(value, list),
        }[kind]
        if not ok:
            names = {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
                     "table": "a table", "list": "a list"}
            raise StudyFileError(f"{self.where}: {label} must be {names[kind]}, got {value!r} "
                                 f"({type(value).__name__})")
        return value

    def positive_int(self, section, table, key, required=True):
        value = self.get(section, table, key, "int", required=required)
        if value is not None and value < 1:
            label = f"{section} {key!r}" if section else repr(key)
            raise StudyFileError(f"{self.where}: {label} must be a positive integer, got {value}")
        return value

    # -- the document ---------------------------------------------------------------------
    def load(self, doc):
        self.check_keys("", doc, _TOP_KEYS)
        default_name = self.path.stem.replace("_", "-")
        name = self.get("", doc, "name", "str", default=default_name)
        if not name or not set(name) <= _NAME_CHARS or name.startswith("."):
            raise StudyFileError(f"{self.where}: 'name' must be letters, digits, '-', '_' or '.' "
                                 f"(it names the run folder), got {name!r}")
        description = self.get("", doc, "description", "str", default="")
        metric = self.get("", doc, "metric", "str", default=None)
        direction = self.get("", doc, "direction", "str", default=None)
        if metric is None:
            metric, direction = "val_acc", direction or "maximize"
        elif direction is None:
            raise StudyFileError(f"{self.where}: missing key 'direction' for metric {metric!r}; "
                                 f"expected 'maximize' or 'minimize'")
        if direction not in _DIRECTIONS:
            raise StudyFileError(_unknown(self.where, "", "direction", direction, _DIRECTIONS))
        seed = self.get("", doc, "seed", "int", default=0)
        if seed < 0 or seed >= 2 ** 32:
            raise StudyFileError(f"{self.where}: 'seed' must be an integer in [0, 2**32), got {seed}")

        trainer = dict(self.get("", doc, "trainer", "table", default={}))
        space_table = self.get("", doc, "space", "table", required=True)
        search = self.get("", doc, "search", "table", required=True)

        objective, objective_ref = self.objective(trainer)
        space = self.space(space_table, trainer, objective)
        fields = self.search(search, space)
        return StudyFile(path=self.path, name=name, metric=metric, direction=direction, seed=seed,
                         trainer=trainer, objective=objective, space=space, description=description,
                         objective_ref=objective_ref, **fields)

    # -- [trainer] ------------------------------------------------------------------------
    def objective(self, trainer):
        ref = trainer.pop("objective", None)
        if ref is not None:
            return self.imported_objective(ref, trainer), ref
        from models import MLPObjective

        if "dataset" in trainer:
            trainer["dataset"] = self.dataset(trainer["dataset"], trainer)
        try:
            base = MLPObjective(trainer.get("dataset", "digits"))
        except ValueError as exc:
            raise StudyFileError(f"{self.where}: [trainer] 'dataset' {_one_line(exc)}") from None
        valid = list(base.valid_settings())
        for key in trainer:
            if key not in valid and key != "dataset":
                raise StudyFileError(_unknown(self.where, "[trainer]", "key", key, valid + ["dataset", "objective"]))
        try:
            objective = MLPObjective(**trainer)
        except ValueError as exc:
            raise StudyFileError(f"{self.where}: [trainer] {_one_line(exc)}") from None
        return objective, None

    def dataset(self, value, trainer):
        if not isinstance(value, str):
            raise StudyFileError(f"{self.where}: [trainer] 'dataset' must be a string (a dataset name or a "
                                 f"file path), got {value!r}")
        names = _dataset_names()
        if value in names:
            return value
        looks_like_path = os.sep in value or "/" in value or Path(value).suffix.lower() in (".npz", ".csv")
        if not looks_like_path:
            raise StudyFileError(_unknown(self.where, "[trainer]", "dataset", value, names)
                                 + " (or a .npz/.csv file or a CIFAR-10 batches folder)")
        candidates = [Path(value)]
        if not Path(value).is_absolute():
            candidates.append(self.path.parent / value)
        found = next((p for p in candidates if p.exists()), None)
        if found is None:
            raise StudyFileError(f"{self.where}: [trainer] 'dataset' file {value!r} not found "
                                 f"(looked in {os.getcwd()} and {self.path.parent})")
        if found.is_file():
            # Check the data now (cheap for .npz/.csv), not in every trial.
            from models.datasets import load_dataset, source_keywords

            options = {k: trainer[k] for k in source_keywords(str(found)) if k in trainer}
            try:
                load_dataset(str(found), seed=0, **options)
            except (ValueError, OSError) as exc:
                raise StudyFileError(f"{self.where}: [trainer] 'dataset' {_one_line(exc)}") from None
        # Absolute: the path becomes part of the stored settings, which must not depend on
        # the directory the study is run (or resumed) from, and workers may start elsewhere.
        return str(found.resolve())

    def imported_objective(self, ref, settings):
        if not isinstance(ref, str) or ref.count(":") != 1 or not all(ref.split(":")):
            raise StudyFileError(f"{self.where}: [trainer] 'objective' must be \"package.module:function\", "
                                 f"got {ref!r}")
        module_name, attr = ref.split(":")
        # The console script does not put the working directory on sys.path; a user's module
        # next to the study usually lives there (loky workers inherit sys.path).
        cwd = os.getcwd()
        if cwd not in sys.path:
            sys.path.append(cwd)
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise StudyFileError(f"{self.where}: [trainer] 'objective' cannot import {module_name!r}: "
                                 f"{_one_line(exc)}") from None
        target = module
        for part in attr.split("."):
            if not hasattr(target, part):
                raise StudyFileError(f"{self.where}: [trainer] 'objective' {module_name!r} has no "
                                     f"attribute {attr!r}")
            target = getattr(target, part)
        if settings:
            # With settings, the named object is a factory (a class like MLPObjective).
            try:
                target = target(**settings)
            except (TypeError, ValueError) as exc:
                raise StudyFileError(f"{self.where}: [trainer] {ref}(...) rejected the settings: "
                                     f"{_one_line(exc)}") from None
        if not callable(target):
            raise StudyFileError(f"{self.where}: [trainer] 'objective' {ref!r} is not callable")
        return target

    # -- [space] --------------------------------------------------------------------------
    def space(self, table, trainer, objective):
        from hpsearch.distributions import distribution_from_dict
        from hpsearch.space import Space

        if not table:
            raise StudyFileError(f"{self.where}: [space] is empty; add at least one parameter, e.g. "
                                 f"lr = {{ type = \"loguniform\", low = 1e-4, high = 1e-1 }}")
        dists = {}
        for name, spec in table.items():
            if name in trainer:
                raise StudyFileError(f"{self.where}: [space] {name!r} is also set in [trainer]; keep one")
            if not isinstance(spec, dict):
                raise StudyFileError(f"{self.where}: [space] {name!r} must be a table like "
                                     f"{{ type = \"loguniform\", low = 1e-4, high = 1e-1 }}, got {spec!r}")
            try:
                dists[name] = distribution_from_dict(spec)
            except ValueError as exc:
                message = _one_line(exc)
                if str(spec.get("type")) in ("loguniform", "intlog") and "low" in message:
                    low = spec.get("low")
                    if isinstance(low, (int, float)) and low <= 0:
                        message += " (a log range cannot touch 0)"
                raise StudyFileError(f"{self.where}: [space] {name!r}: {message}") from None
        valid_settings = getattr(objective, "valid_settings", None)
        if callable(valid_settings):
            valid = list(valid_settings())
            for name in dists:
                if name not in valid:
                    raise StudyFileError(_unknown(self.where, "[space]", "parameter", name, valid)
                                         + " (the trainer has no such setting)")
        validate = getattr(objective, "validate", None)
        if callable(validate):
            for name, dist in dists.items():
                for value in _probe_values(dist):
                    try:
                        validate({name: value})
                    except ValueError as exc:
                        raise StudyFileError(f"{self.where}: [space] {name!r}: {_one_line(exc)}") from None
        try:
            return Space(dists)
        except ValueError as exc:
            raise StudyFileError(f"{self.where}: [space] {_one_line(exc)}") from None

    # -- [search] -------------------------------------------------------------------------
    def search(self, table, space):
        section = "[search]"
        self.check_keys(section, table, _SEARCH_KEYS)
        valid_strategies = strategies()
        has_stages = "stages" in table
        strategy = self.get(section, table, "strategy", "str",
                            default=COARSE_TO_FINE if has_stages else "random")
        if strategy not in valid_strategies:
            raise StudyFileError(_unknown(self.where, section, "strategy", strategy, valid_strategies))
        out = {"strategy": strategy}
        samplers_used = []
        if strategy == COARSE_TO_FINE:
            for key in ("n_trials", "budget"):
                if key in table:
                    raise StudyFileError(f"{self.where}: {section} {key!r} belongs in each [[search.stages]] "
                                         f"table with strategy 'coarse-to-fine'")
            stages = self.get(section, table, "stages", "list", required=True)
            if not stages:
                raise StudyFileError(f"{self.where}: {section} 'stages' is empty; add [[search.stages]] tables")
            plans = []
            for i, stage in enumerate(stages, 1):
                where = f"[[search.stages]] #{i}"
                if not isinstance(stage, dict):
                    raise StudyFileError(f"{self.where}: {where} must be a table with n_trials and budget, "
                                         f"got {stage!r}")
                self.check_keys(where, stage, _STAGE_KEYS)
                n = self.positive_int(where, stage, "n_trials")
                b = self.positive_int(where, stage, "budget")
                sampler = self.get(where, stage, "sampler", "str", default="random")
                if sampler not in _sampler_names():
                    raise StudyFileError(_unknown(self.where, where, "sampler", sampler, _sampler_names()))
                samplers_used.append(sampler)
                plans.append(StagePlan(n, b, sampler))
            out["stages"] = plans
        else:
            if has_stages:
                raise StudyFileError(f"{self.where}: {section} 'stages' needs strategy = 'coarse-to-fine' "
                                     f"(got {strategy!r}); use n_trials and budget instead")
            out["n_trials"] = self.positive_int(section, table, "n_trials")
            out["budget"] = self.positive_int(section, table, "budget")
            samplers_used.append(strategy)
            for key in ("top_fraction", "margin", "move_edges"):
                if key in table:
                    raise StudyFileError(f"{self.where}: {section} {key!r} only applies to strategy "
                                         f"'coarse-to-fine' (got {strategy!r})")
        out["points"] = self.points(table, space, samplers_used)
        top = self.get(section, table, "top_fraction", "float")
        if top is not None and not 0 < top <= 1:
            raise StudyFileError(f"{self.where}: {section} 'top_fraction' must be in (0, 1], got {top}")
        margin = self.get(section, table, "margin", "float")
        if margin is not None and not (margin >= 0 and math.isfinite(margin)):
            raise StudyFileError(f"{self.where}: {section} 'margin' must be a number >= 0, got {margin}")
        out["top_fraction"] = None if top is None else float(top)
        out["margin"] = None if margin is None else float(margin)
        out["move_edges"] = self.get(section, table, "move_edges", "bool")
        n_jobs = self.get(section, table, "n_jobs", "int")
        if n_jobs is not None and (n_jobs == 0 or n_jobs < -1):
            raise StudyFileError(f"{self.where}: {section} 'n_jobs' must be a positive integer or -1 "
                                 f"(all cores), got {n_jobs}")
        out["n_jobs"] = n_jobs
        backend = self.get(section, table, "backend", "str")
        if backend is not None:
            valid = _backend_names()
            if backend not in valid:
                raise StudyFileError(_unknown(self.where, section, "backend", backend, valid))
        out["backend"] = backend
        return out

    def points(self, table, space, samplers_used):
        section = "[search]"
        if "points" not in table:
            return None
        if "grid" not in samplers_used:
            raise StudyFileError(f"{self.where}: {section} 'points' only applies to the grid sampler, "
                                 f"which this study does not use")
        value = table["points"]
        numeric = [n for n, d in space.items() if getattr(d, "ordered", False)]
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 1:
                raise StudyFileError(f"{self.where}: {section} 'points' must be a positive integer, got {value}")
            return {n: value for n in numeric}
        if isinstance(value, dict):
            for name, k in value.items():
                if name not in numeric:
                    raise StudyFileError(_unknown(self.where, f"{section} 'points':", "parameter", name, numeric)
                                         if name not in space else
                                         f"{self.where}: {section} 'points' {name!r} is not a numeric range")
                if isinstance(k, bool) or not isinstance(k, int) or k < 1:
                    raise StudyFileError(f"{self.where}: {section} 'points' {name!r} must be a positive "
                                         f"integer, got {k!r}")
            return dict(value)
        raise StudyFileError(f"{self.where}: {section} 'points' must be an integer or a table "
                             f"{{ param = k }}, got {value!r}")


def _probe_values(dist):
    """Values of a distribution that the trainer must accept: every choice, both range ends."""
    if hasattr(dist, "values") and not getattr(dist, "ordered", False):
        return dist.values
    if hasattr(dist, "value") and not getattr(dist, "ordered", False):
        return [dist.value]
    if getattr(dist, "ordered", False):
        return [dist.low, dist.high]
    return []


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def _dataset_names():
    from models.datasets import DATASETS

    return tuple(DATASETS)


def _backend_names():
    from hpsearch.backends import BACKENDS

    return tuple(BACKENDS)
