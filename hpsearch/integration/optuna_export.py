"""A finished (or interrupted) run, written into an Optuna storage.

``export_run("runs/demo", "sqlite:///optuna.db")`` copies every finished trial of the run
into a new Optuna study, so optuna-dashboard and ``optuna.visualization`` can open it:

- parameters with one Optuna distribution each, spanning every stage's range (coarse-to-fine
  stages search narrower ranges; a trial's stage is in its user attributes); Choice values that are not plain distinct scalars (lists such
  as ``hidden_dims``) are written as their JSON text (``"[100, 100]"``); Fixed values as a
  one-value categorical;
- the metric as the trial's value; "ok" trials COMPLETE, "failed" and "diverged" ones FAIL;
- the learning curve as intermediate values (epoch -> the metric at that epoch);
- multi-fidelity studies (sha, hyperband, promoting coarse-to-fine): one Optuna trial per
  configuration, its intermediate values the curve over every rung it reached; one stopped
  below the study's highest budget is PRUNED, as Optuna's pruners would have left it;
- user attributes: ``number`` (ours), ``stage``, ``budget``, ``seed``, ``status``,
  ``duration``, ``error`` and every other metric; start and end times as the trial's.
"""
import datetime
import json
import math
import numbers
import os
import shlex
from pathlib import Path

from hpsearch.distributions import (Choice, Fixed, IntLogUniform, IntUniform, LogUniform, Uniform,
                                    distribution_from_dict)
from hpsearch.errors import HpsearchError

__all__ = ["export_run"]

_STATES = {"ok": "COMPLETE", "failed": "FAIL", "diverged": "FAIL"}


def _label(value):
    """The JSON text of a choice value (lists, dicts) as Optuna's CategoricalDistribution holds it."""
    return json.dumps(value, sort_keys=True)


def _categorical(values):
    from optuna.distributions import CategoricalDistribution

    from hpsearch.samplers.optuna_convert import raw_choices

    if raw_choices(values):
        return CategoricalDistribution(values), lambda v: v
    return CategoricalDistribution([_label(v) for v in values]), _label


def _observed(values):
    """A distribution spanning the values seen (for a scipy.stats parameter, which Optuna lacks)."""
    from optuna.distributions import FloatDistribution, IntDistribution

    seen = [v for v in values if v is not None]
    if seen and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in seen):
        if all(isinstance(v, numbers.Integral) for v in seen):
            return IntDistribution(min(seen), max(seen)), int
        if all(math.isfinite(v) for v in seen):
            return FloatDistribution(float(min(seen)), float(max(seen))), float
    distinct = list({_label(v): v for v in seen}.values())
    return _categorical(distinct or [None])


def _range(dists):
    """One Optuna distribution spanning every stage's range of a numeric parameter."""
    from optuna.distributions import FloatDistribution, IntDistribution

    low, high = min(d.low for d in dists), max(d.high for d in dists)
    if isinstance(dists[0], (IntUniform, IntLogUniform)):
        return IntDistribution(low, high, log=dists[0].log), int
    return FloatDistribution(low, high, log=dists[0].log), float


def _optuna_distributions(spaces, records):
    """name -> (optuna distribution, encode), one per parameter for the whole run.

    Coarse-to-fine stages search narrower ranges; the export spans all of them (the union of
    ranges, of choices) so every trial shares one distribution per parameter, which Optuna's
    importance and contour plots need. The stage of each trial stays in its user attributes.
    """
    names = list(dict.fromkeys([n for space in spaces for n in space] + [n for r in records for n in r["params"]]))
    out = {}
    for name in names:
        dists = [space[name] for space in spaces if name in space]
        kinds = {type(d) for d in dists}
        if len(kinds) == 1 and kinds <= {Uniform, LogUniform, IntUniform, IntLogUniform}:
            out[name] = _range(dists)
        elif dists and kinds <= {Choice, Fixed}:
            values = [v for d in dists for v in (d.values if isinstance(d, Choice) else [d.value])]
            out[name] = _categorical(list({_label(v): v for v in values}.values()))
        else:  # a scipy.stats parameter (Optuna has no such distribution): span the values seen
            out[name] = _observed([r["params"].get(name) for r in records if name in r["params"]])
    return out


def _stage_space(space):
    """name -> distribution of a stored stage.

    A stage whose space holds a scipy.stats distribution comes back from the storage in its dict
    form (the scipy object cannot be rebuilt); its other parameters are rebuilt one by one.
    """
    if not isinstance(space, dict):
        return dict(space.items())
    out = {}
    for name, d in space.items():
        try:
            out[name] = distribution_from_dict(d)
        except (ValueError, TypeError, KeyError):
            continue
    return out


def _when(timestamp):
    return None if timestamp is None else datetime.datetime.fromtimestamp(float(timestamp))


def _lineages(records):
    """The records grouped by configuration: a trial and the trials that continued it, in order.

    A multi-fidelity study stores one row per rung; Optuna keeps one trial per configuration
    whose intermediate values are its learning curve over every rung.
    """
    by_number = {r["number"]: r for r in records}
    chains, child_of = [], {}
    for r in records:
        parent = r.get("continued_from")
        if parent is not None and parent in by_number:
            child_of[parent] = r
    for r in records:
        if r.get("continued_from") is not None and r["continued_from"] in by_number:
            continue
        chain = [r]
        while chain[-1]["number"] in child_of:
            chain.append(child_of[chain[-1]["number"]])
        chains.append(chain)
    return chains


def _curve(chain, metric):
    curve = {}
    for record in chain:
        for point in record.get("curve") or []:
            value = point.get(metric)
            if isinstance(value, numbers.Real) and not isinstance(value, bool) and "epoch" in point:
                curve[int(point["epoch"])] = float(value)
    return curve


def _frozen_trial(chain, metric, encoders, top_budget, pruning):
    """One Optuna trial for a configuration's rows (``chain``, first to last)."""
    import optuna
    from optuna.trial import TrialState

    first, record = chain[0], chain[-1]
    params, distributions = {}, {}
    for name, value in first["params"].items():
        dist, encode = encoders[name]
        params[name], distributions[name] = encode(value), dist
    metrics = record.get("metrics") or {}
    ok = record["status"] == "ok"
    attrs = {"number": record["number"], "stage": record["stage"], "budget": record.get("budget"),
             "seed": record.get("seed"), "status": record["status"], "duration": record.get("duration")}
    if len(chain) > 1:
        attrs["rows"] = [r["number"] for r in chain]
    for key in ("bracket", "rung"):
        if key in record:
            attrs[key] = record[key]
    if record.get("error"):
        attrs["error"] = record["error"]
    attrs.update((k, v) for k, v in metrics.items() if k != metric)
    if not ok and metric in metrics:
        attrs[metric] = metrics[metric]  # a diverged trial's NaN stays visible
    state = _STATES.get(record["status"], "FAIL")
    if ok and pruning and (record.get("budget") or 0) < top_budget:
        state = "PRUNED"  # stopped at a lower rung: Optuna's word for it
    trial = optuna.trial.create_trial(
        state=getattr(TrialState, state), value=float(metrics[metric]) if state == "COMPLETE" else None,
        params=params, distributions=distributions, user_attrs=attrs, intermediate_values=_curve(chain, metric))
    start, end = _when(first.get("start")), _when(record.get("end"))
    if start is not None and end is not None:
        trial.datetime_start, trial.datetime_complete = start, end
    return trial


def _refuse_links_in_run_folder(url, folder):
    """An Optuna SQLite file written into the run folder ``folder`` must not be a planted link
    (SQLite would write through it and its side files)."""
    from hpsearch.storage.runfolder import SQLITE_SIDE_FILES
    from hpsearch.storage.safe_files import refuse_links

    if not url.startswith("sqlite:///"):
        return
    path = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
    if not Path(os.path.realpath(path.parent)).is_relative_to(os.path.realpath(folder)):
        return   # outside the run folder: the user's own path
    for entry in (path, *(path.with_name(path.name + side) for side in SQLITE_SIDE_FILES)):
        refuse_links(entry)


def export_run(run_dir_or_db, url, name=None, optuna_name=None):
    """Write a run's finished trials into a new study of an Optuna storage.

    Args:
        run_dir_or_db: the folder written by ``hpsearch run`` (holding ``study.db``) or a
            storage file.
        url: an Optuna storage URL, e.g. ``"sqlite:///optuna.db"``.
        name: the hpsearch study to export; None for the storage's only study.
        optuna_name: the new Optuna study's name; default ``name``.

    Returns:
        str: the Optuna study name (``optuna.load_study(study_name=..., storage=url)`` opens it).

    Raises:
        HpsearchError: no run or storage file there, no such study in it, or several studies
            and ``name`` is None; ``url`` is not
            an Optuna storage URL; an Optuna study of that name exists already at ``url``.
    """
    import warnings

    import optuna

    from hpsearch.results.search_result import SearchResult
    from hpsearch.samplers.optuna_convert import quiet_optuna
    from hpsearch.storage.runfolder import open_database, pick_study
    from hpsearch.storage.storage import Storage

    db = open_database(run_dir_or_db)
    with Storage(db, readonly=True) as storage:
        name = pick_study(db, storage.study_names(), name)
        result = SearchResult.from_storage(storage, name)
    optuna_name = name if optuna_name is None else optuna_name
    _refuse_links_in_run_folder(url, db.parent)
    spaces = [_stage_space(s.space) for s in result.stages]
    encoders = _optuna_distributions(spaces, result.records)
    chains = _lineages(result.records)
    pruning = any(len(chain) > 1 or "rung" in chain[0] for chain in chains)
    top_budget = max((r.get("budget") or 0 for r in result.records), default=0)
    trials = [_frozen_trial(chain, result.metric, encoders, top_budget, pruning) for chain in chains]

    with quiet_optuna():
        try:
            study = optuna.create_study(storage=url, study_name=optuna_name, direction=result.direction)
        except optuna.exceptions.DuplicatedStudyError:
            raise HpsearchError(
                f"an Optuna study named {optuna_name!r} already exists in {url}; choose another name with "
                f"optuna_name=... (CLI: --optuna-name NEW) or delete it first with `optuna delete-study "
                f"--study-name {shlex.quote(optuna_name)} --storage {shlex.quote(url)}`") from None
        except ImportError as exc:
            raise HpsearchError(f"cannot open Optuna storage {url!r}: {exc}") from None
        except Exception as exc:  # sqlalchemy's ArgumentError and friends: not a usable URL
            if type(exc).__module__.split(".")[0] != "sqlalchemy" and not isinstance(exc, ValueError):
                raise
            raise HpsearchError(f"cannot open Optuna storage {url!r}: {str(exc).splitlines()[0]}; expected a "
                                f"database URL such as sqlite:///optuna.db") from None
        study.add_trials(trials)
        study.set_user_attr("hpsearch_study", name)
        study.set_user_attr("hpsearch_storage", str(db))
        study.set_user_attr("metric", result.metric)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # set_metric_names is marked experimental
            study.set_metric_names([result.metric])
    return optuna_name
