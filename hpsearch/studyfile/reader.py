"""TOML study files -> a checked, runnable study definition.

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
Choice values and fixed trainer settings go through the objective's ``validate`` so an
unknown activation or optimizer fails at load time, not in trial 37.
"""
import os
import stat
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path

from hpsearch.checks import check_budget, check_name, check_seed, did_you_mean, one_line
from hpsearch.studyfile.definition import StudyDefinition
from hpsearch.distributions import Choice, Fixed
from hpsearch.errors import StudyFileError
from hpsearch.strategies.planning import COARSE_TO_FINE, STRATEGIES

__all__ = ["StudyFile", "load_study_file", "STRATEGIES", "COARSE_TO_FINE", "MAX_STUDY_FILE_BYTES"]

#: The largest study file read: a study file is a few dozen lines.
MAX_STUDY_FILE_BYTES = 1 << 20

_TOP_KEYS = ("name", "description", "metric", "direction", "seed", "trainer", "space", "search", "confirm")
_BOM = b"\xef\xbb\xbf"


def strategies():
    """Every valid ``strategy``: the sampler names and ``"coarse-to-fine"``."""
    return STRATEGIES


@dataclass
class StudyFile(StudyDefinition):
    """A loaded, checked study file: a :class:`~hpsearch.studyfile.definition.StudyDefinition` read from ``path``.

    Attributes (besides the definition's):
        path: the file (as given).
        trainer: the ``[trainer]`` table (a data file's path made absolute).
        objective_ref: ``"module:function"`` when the file names its own objective, else None.
        description: free text.
    """

    path: Path = None
    trainer: dict = None
    objective_ref: str = None
    description: str = ""

    def plan(self, strategy=None, n_trials=None):
        """The stages to run, possibly converted at equal compute; errors name the file."""
        try:
            return super().plan(strategy, n_trials)
        except ValueError as exc:
            raise StudyFileError(f"{self.path}: {one_line(exc)}") from None

    def build_strategy(self, strategy=None, n_trials=None):
        """As :meth:`StudyDefinition.build_strategy`; errors name the file."""
        try:
            return super().build_strategy(strategy, n_trials)
        except ValueError as exc:
            raise StudyFileError(f"{self.path}: {one_line(exc)}") from None

    def planned_stages(self, strategy=None, n_trials=None):
        """As :meth:`StudyDefinition.planned_stages`; errors name the file."""
        try:
            return super().planned_stages(strategy, n_trials)
        except ValueError as exc:
            raise StudyFileError(f"{self.path}: {one_line(exc)}") from None

    def sanity_settings(self):
        """The trainer settings of one representative configuration (for ``hpsearch sanity``).

        Fixed ``[trainer]`` settings, plus the middle of every ``[space]`` range (geometric
        middle for log ranges) and the first value of every choice (and of every branch, with
        that branch's parameters only).
        """
        middle = {}
        for name, dist in self.space.items():
            if isinstance(dist, Choice):
                middle[name] = dist.values[0]
            elif isinstance(dist, Fixed):
                middle[name] = dist.value
            else:
                middle[name] = dist.from_unit(0.5)
        return {**self.trainer, **self.space.active(middle)}  # the first branch's parameters only


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
    if not path.exists():
        raise StudyFileError(f"{path}: no such study file")
    if path.is_dir():
        raise StudyFileError(f"{path}: is a folder, not a study file")
    try:
        raw = _read_study_file(path)
        # editors on Windows may start a UTF-8 file with a byte-order mark; TOML has none
        doc = tomllib.loads(raw.removeprefix(_BOM).decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise StudyFileError(f"{path}: TOML syntax error: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StudyFileError(f"{path}: cannot read the file: {one_line(exc)}") from None
    return _load(Reader(str(path)), path, doc)


def _read_study_file(path):
    """The bytes of the study file ``path``: a regular file of at most MAX_STUDY_FILE_BYTES.

    Opened without blocking and checked before reading, so a FIFO, a device (a link to
    /dev/zero) or a huge file is refused at once instead of hanging or filling the memory.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) \
                else "a socket" if stat.S_ISSOCK(mode) else "not a file"
            raise StudyFileError(f"{path}: is {kind}, not a regular file; a study file is a TOML text file")
        raw = fh.read(MAX_STUDY_FILE_BYTES + 1)
    if len(raw) > MAX_STUDY_FILE_BYTES:
        raise StudyFileError(f"{path}: larger than {MAX_STUDY_FILE_BYTES // 1024} KB; a study file is a short "
                             f"TOML text file (a data set goes in its own file, named by [trainer] dataset)")
    return raw


class Reader:
    """Typed access to a parsed study file; every error names the file and the key."""

    _KINDS = {"str": (str, "a string"), "int": (int, "an integer"), "float": ((int, float), "a number"),
              "bool": (bool, "true or false"), "table": (dict, "a table"), "list": (list, "a list")}

    def __init__(self, where):
        self.where = where

    def error(self, section, message):
        """A StudyFileError ``"<file>: <section> <message>"``."""
        return StudyFileError(f"{self.where}: {section + ' ' if section else ''}{message}")

    def unknown(self, section, what, value, valid, extra=""):
        return self.error(section, f"unknown {what} {value!r}; {did_you_mean(value, valid)}{extra}")

    def check_keys(self, section, table, valid, hints=None):
        """Every key of ``table`` is in ``valid`` (``hints``: key -> where it belongs instead)."""
        for key in table:
            if key not in valid:
                if hints and key in hints:
                    raise self.error(section, f"unknown key {key!r}; {hints[key]}")
                raise self.unknown(section, "key", key, valid)

    def get(self, section, table, key, kind, default=None, required=False):
        """``table[key]`` checked to be of ``kind`` (str, int, float, bool, table, list)."""
        if key not in table:
            if required:
                raise self.error(section, f"missing key {key!r}")
            return default
        value = table[key]
        types, name = self._KINDS[kind]
        if isinstance(value, bool) and kind != "bool" or not isinstance(value, types):
            raise self.error(section, f"{key!r} must be {name}, got {value!r} ({type(value).__name__})")
        return value

    def positive_int(self, section, table, key, required=True):
        value = self.get(section, table, key, "int", required=required)
        if value is not None and value < 1:
            raise self.error(section, f"{key!r} must be a positive integer, got {value}")
        return value

    def budget(self, section, table, key, required=True):
        """A positive int at most :data:`~hpsearch.checks.MAX_BUDGET` (a trial's budget)."""
        value = self.positive_int(section, table, key, required=required)
        if value is not None:
            try:
                check_budget(value, repr(key))
            except ValueError as exc:
                raise self.error(section, one_line(exc)) from None
        return value


def _load(reader, path, doc):
    reader.check_keys("", doc, _TOP_KEYS, hints={
        "objective": 'it belongs in [trainer]: objective = "package.module:function"'})
    name = reader.get("", doc, "name", "str", default=path.stem.replace("_", "-"))
    try:
        check_name(name, "'name'")
    except ValueError as exc:
        raise reader.error("", one_line(exc)) from None
    metric, direction = _objective_direction(reader, doc)
    seed = reader.get("", doc, "seed", "int", default=0)
    try:
        check_seed(seed, "'seed'")
    except ValueError as exc:
        raise reader.error("", one_line(exc)) from None
    trainer = dict(reader.get("", doc, "trainer", "table", default={}))
    space_table = reader.get("", doc, "space", "table", required=True)
    search_table = reader.get("", doc, "search", "table", required=True)

    from hpsearch.studyfile.search_section import read_search
    from hpsearch.studyfile.trainer_section import build_objective

    objective, ref = build_objective(reader.where, path, trainer)
    _check_metric(reader, metric, objective)
    space = _space(reader, space_table, trainer, objective)
    search, n_jobs, backend, trial_timeout = read_search(reader, search_table, space)
    confirm = _confirm(reader, reader.get("", doc, "confirm", "table", default=None), objective, ref, space)
    return StudyFile(path=path, name=name, metric=metric, direction=direction, seed=seed, trainer=trainer,
                     objective=objective, space=space, search=search, n_jobs=n_jobs, backend=backend, confirm=confirm,
                     trial_timeout=trial_timeout,
                     objective_ref=ref, description=reader.get("", doc, "description", "str", default=""))


def _confirm(reader, table, objective, ref, space):
    """The ``[confirm]`` table (``top``, ``seeds``, ``test``, ``per_branch``, ``rungs``) as a Confirmation, or None.

    ``test`` defaults to whether the objective can evaluate a test set (its signature takes
    ``final``); ``test = true`` with an objective that cannot is refused, never silently skipped.
    ``per_branch`` must name a branch parameter of the space.
    """
    if table is None:
        return None
    from hpsearch.execution.worker import protocol_keywords
    from hpsearch.strategies.confirmed import Confirmation

    section = "[confirm]"
    reader.check_keys(section, table, ("top", "seeds", "test", "per_branch", "rungs"))
    top = reader.positive_int(section, table, "top", required=False)
    seeds = reader.positive_int(section, table, "seeds", required=False)
    can_test = "final" in protocol_keywords(objective)
    test = reader.get(section, table, "test", "bool", default=can_test)
    if test and not can_test:
        raise reader.error(section, f"test = true, but the objective {ref or type(objective).__name__!r} cannot "
                                    f"evaluate a test set (its signature has no 'final' parameter, through which "
                                    f"hpsearch asks for test metrics); set test = false or add final=False to it")
    per_branch = reader.get(section, table, "per_branch", "str", default=None)
    if per_branch is not None and not space.branches:
        raise reader.error(section, f"'per_branch' {per_branch!r} needs a [space] with branches, e.g. "
                                    f"[space.{per_branch}.adam] sub-tables")
    if per_branch is not None and per_branch not in space.branches:
        raise reader.unknown(section, "per_branch", per_branch, list(space.branches), " (not a branch parameter)")
    defaults = Confirmation()
    rungs = reader.positive_int(section, table, "rungs", required=False)
    return Confirmation(top=top or defaults.top, seeds=seeds or defaults.seeds, test=test, per_branch=per_branch,
                        rungs=rungs or defaults.rungs)


def _objective_direction(reader, doc):
    metric = reader.get("", doc, "metric", "str", default=None)
    direction = reader.get("", doc, "direction", "str", default=None)
    if metric is None:
        metric, direction = "val_acc", direction or "maximize"
    elif direction is None:
        raise reader.error("", f"missing key 'direction' for metric {metric!r}; expected 'maximize' or 'minimize'")
    if direction not in ("maximize", "minimize"):
        raise reader.unknown("", "direction", direction, ("maximize", "minimize"))
    word = metric.lower()
    looks_like = "maximize" if "acc" in word or "score" in word else \
        "minimize" if "loss" in word or "error" in word else None
    if looks_like is not None and looks_like != direction:
        warnings.warn(f"{reader.where}: direction = {direction!r} for metric {metric!r}, which reads like a "
                      f"metric to {looks_like}; is that what you mean?", UserWarning, stacklevel=3)
    return metric, direction


def _check_metric(reader, metric, objective):
    """The study metric is one the objective returns (when it says which), and not a test metric."""
    if metric.startswith("test_"):
        raise reader.error("", f"'metric' {metric!r} is measured on the test set, which a search must never see; "
                               f"search on a validation metric (the test set is for the chosen model, once)")
    metric_names = getattr(objective, "metric_names", None)
    if callable(metric_names):
        names = list(metric_names())
        if metric not in names:
            raise reader.error("", f"'metric' {metric!r} is not a metric the trainer returns ({', '.join(names)}); "
                                   f"{did_you_mean(metric, names)}")


def _space(reader, table, trainer, objective):
    from hpsearch.distributions import distribution_from_dict
    from hpsearch.space import Space, is_branch_table

    section = "[space]"
    if not table:
        raise reader.error(section, 'is empty; add at least one parameter, e.g. '
                                    'lr = { type = "loguniform", low = 1e-4, high = 1e-1 }')
    dists = {}
    for name, spec in table.items():
        if name in trainer:
            raise reader.error(section, f"{name!r} is also set in [trainer]; keep one")
        if is_branch_table(spec):
            # [space.optimizer.adam] sub-tables: one per branch, holding that branch's parameters
            try:
                dists[name] = Space.from_dict({name: spec}).nested()[name]
            except (ValueError, TypeError) as exc:
                raise reader.error(f"[space.{name}]", one_line(exc)) from None
            continue
        if not isinstance(spec, dict):
            raise reader.error(section, f'{name!r} must be a table like {{ type = "loguniform", low = 1e-4, '
                                        f'high = 1e-1 }}, got {spec!r}')
        try:
            dists[name] = distribution_from_dict(spec)
        except ValueError as exc:
            message = one_line(exc)
            low = spec.get("low")
            if str(spec.get("type")) in ("loguniform", "intlog") and isinstance(low, (int, float)) and low <= 0:
                message += " (a log range cannot touch 0)"
            raise reader.error(section, f"{name!r}: {message}") from None
    try:
        space = Space(dists)
    except (ValueError, TypeError) as exc:
        raise reader.error(section, one_line(exc)) from None
    for name, (parent, branches) in space.conditions.items():
        if name in trainer:
            raise reader.error(f"[space.{parent}.{branches[0]}]", f"{name!r} is also set in [trainer]; keep one")
    _check_accepted(reader, space, objective)
    return space


def _check_accepted(reader, space, objective):
    """Every [space] parameter is a setting the objective has, with values it accepts (each
    branch's parameters together with the branch that holds them)."""
    valid_settings = getattr(objective, "valid_settings", None)
    if callable(valid_settings):
        valid = list(valid_settings())
        for name in space:
            if name not in valid:
                raise reader.unknown("[space]", "parameter", name, valid, " (the trainer has no such setting)")
    validate = getattr(objective, "validate", None)
    if callable(validate):
        for choice, sub in space.alternatives():
            where = "".join(f" in branch {k}={v!r}" for k, v in choice.items())
            for name, dist in sub.items():
                for value in _probe_values(dist):
                    try:
                        validate({**choice, name: value})
                    except ValueError as exc:
                        raise reader.error("[space]", f"{name!r}{where if name not in choice else ''}: "
                                                      f"{one_line(exc)}") from None


def _probe_values(dist):
    """Values of a distribution that the trainer must accept: every choice, both range ends."""
    if isinstance(dist, Choice):
        return dist.values
    if isinstance(dist, Fixed):
        return [dist.value]
    if dist.ordered:
        return [dist.low, dist.high]
    return []

