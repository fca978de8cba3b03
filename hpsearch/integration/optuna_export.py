"""A run written into an Optuna storage, atomically and fast.

``export_run("runs/demo", "sqlite:///optuna.db")`` copies a study into a new Optuna study, so
optuna-dashboard and ``optuna.visualization`` can open it. The trials are the ones
``hpsearch dashboard`` shows, through the same mapping
(:mod:`hpsearch.integration.optuna_trials`): one Optuna trial per configuration, pruned
configurations with their last value, learning curves as intermediate values, hpsearch's
findings (edge flags, confirmation, test metrics) as study attributes and the study's note.

The export is atomic: the trials go into a study named ``"<name> (exporting, pid N on HOST)"``,
renamed to ``<name>`` once complete; an interruption deletes it, and a temporary study left by a
process that died is deleted by the next export of the same name. So no partial study ever looks
complete, and exporting again after an interruption works. Into a SQL database the trials are
written in batches of ``batch_size`` per transaction through Optuna's own table definitions
(see ``benchmarks/bench_dashboard.py`` for the figures).
A space with branches keeps them: the branch parameter is a categorical, and each trial holds
only its branch's parameters (Optuna's define-by-run shape).
"""
import os
import shlex
import socket
from pathlib import Path

from hpsearch.errors import HpsearchError

__all__ = ["export_run"]

_EXPORTING = " (exporting, pid "


def _open_optuna(url):
    """An Optuna RDBStorage for ``url``; HpsearchError when it is not a usable database URL."""
    import optuna

    try:
        return optuna.storages.RDBStorage(url)
    except ImportError as exc:
        raise HpsearchError(f"cannot open Optuna storage {url!r}: {exc}") from None
    except Exception as exc:  # sqlalchemy's ArgumentError and friends: not a usable URL
        if type(exc).__module__.split(".")[0] not in ("sqlalchemy", "optuna") and not isinstance(exc, ValueError):
            raise
        raise HpsearchError(f"cannot open Optuna storage {url!r}: {str(exc).splitlines()[0]}; expected a "
                            f"database URL such as sqlite:///optuna.db") from None


def _study_names(storage):
    return {s.study_name: s._study_id for s in storage.get_all_studies()}


def _clean_leftovers(storage, optuna_name):
    """Delete the temporary studies of earlier exports of ``optuna_name`` whose process died."""
    from hpsearch.storage.leases import process_identity

    host = socket.gethostname()
    prefix = optuna_name + _EXPORTING
    for name, study_id in _study_names(storage).items():
        if not name.startswith(prefix) or not name.endswith(")"):
            continue
        pid_text, _, where = name[len(prefix):-1].partition(" on ")
        if where == host and pid_text.isdigit() and not process_identity(int(pid_text))[0]:
            storage.delete_study(study_id)


def _write_batches(storage, study_id, trials, batch_size, bar):
    """Insert ``trials`` (FrozenTrials numbered 0, 1, ...) ``batch_size`` per transaction.

    Through Optuna's own table definitions and value encodings (``optuna.storages._rdb.models``),
    as multi-row inserts: Optuna's ``create_new_trial`` runs several queries per parameter and
    attribute and commits each trial, which makes 100,000 trials take hours. The temporary study
    is this export's alone, so its trial numbers identify its rows.
    """
    try:
        from optuna.distributions import distribution_to_json
        from optuna.storages._rdb import models
    except ImportError:   # an Optuna without these table models: one trial per transaction
        models = None
    for first in range(0, len(trials), batch_size):
        batch = trials[first:first + batch_size]
        if models is None:
            for trial in batch:
                storage.create_new_trial(study_id, template_trial=trial)
            bar.update(len(batch))
            continue
        with storage.engine.begin() as conn:   # one transaction: all of the batch or nothing
            conn.execute(models.TrialModel.__table__.insert(), [
                {"number": t.number, "study_id": study_id, "state": t.state, "datetime_start": _utc(t.datetime_start),
                 "datetime_complete": _utc(t.datetime_complete)} for t in batch])
            table = models.TrialModel.__table__
            ids = dict(conn.execute(table.select().with_only_columns(table.c.number, table.c.trial_id).where(
                (table.c.study_id == study_id) & table.c.number.between(batch[0].number, batch[-1].number))).all())
            values, params, steps, attrs = [], [], [], []
            for t in batch:
                trial_id = ids[t.number]
                if t.value is not None:
                    value, kind = models.TrialValueModel.value_to_stored_repr(t.value)
                    values.append({"trial_id": trial_id, "objective": 0, "value": value, "value_type": kind})
                for name, value in t.params.items():
                    dist = t.distributions[name]
                    params.append({"trial_id": trial_id, "param_name": name, "param_value": dist.to_internal_repr(value),
                                   "distribution_json": distribution_to_json(dist)})
                for step, value in t.intermediate_values.items():
                    stored, kind = models.TrialIntermediateValueModel.intermediate_value_to_stored_repr(value)
                    steps.append({"trial_id": trial_id, "step": step, "intermediate_value": stored,
                                  "intermediate_value_type": kind})
                attrs.extend({"trial_id": trial_id, "key": k, "value_json": _json(v)} for k, v in t.user_attrs.items())
            for model, rows in ((models.TrialValueModel, values), (models.TrialParamModel, params),
                                (models.TrialIntermediateValueModel, steps), (models.TrialUserAttributeModel, attrs)):
                if rows:
                    conn.execute(model.__table__.insert(), rows)
        bar.update(len(batch))


def _utc(when):
    """A local datetime as the naive UTC Optuna's tables hold."""
    import datetime

    return None if when is None else when.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def _json(value):
    import json

    return json.dumps(value)


def _rename(storage, study_id, name, url):
    """Give the finished temporary study its final name (one statement, so all or nothing)."""
    try:
        from optuna.storages._rdb import models
    except ImportError:
        models = None
    if name in _study_names(storage):
        raise HpsearchError(_exists(name, url))
    if models is None:
        raise HpsearchError(f"this Optuna cannot rename a study; the export is in {url} as "
                            f"{storage.get_study_name_from_id(study_id)!r}")
    session = storage.scoped_session()
    try:
        session.query(models.StudyModel).filter(models.StudyModel.study_id == study_id).update(
            {models.StudyModel.study_name: name})
        session.commit()
    except Exception:
        session.rollback()
        raise HpsearchError(_exists(name, url)) from None
    finally:
        session.close()


def _exists(name, url):
    return (f"an Optuna study named {name!r} already exists in {url}; choose another name with "
            f"optuna_name=... (CLI: --optuna-name NEW) or delete it first with `optuna delete-study "
            f"--study-name {shlex.quote(name)} --storage {shlex.quote(url)}`")


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


def export_run(run_dir_or_db, url, name=None, optuna_name=None, progress=False, batch_size=1000, curves="all"):
    """Write a run's study into a new study of an Optuna storage.

    Args:
        run_dir_or_db: the folder written by ``hpsearch run`` (holding ``study.db``) or a
            storage file.
        url: an Optuna storage URL, e.g. ``"sqlite:///optuna.db"``.
        name: the hpsearch study to export; None for the storage's only study.
        optuna_name: the new Optuna study's name; default ``name``.
        progress: show a progress bar (tqdm, on stderr).
        batch_size: trials written per transaction (positive int).
        curves: which configurations keep their learning curves: ``"all"``, ``"none"`` or K
            (the K best).

    Returns:
        str: the Optuna study name (``optuna.load_study(study_name=..., storage=url)`` opens it).

    Raises:
        HpsearchError: no run or storage file there, no such study in it, or several studies
            and ``name`` is None; ``url`` is not an Optuna storage URL; an Optuna study of that
            name exists already at ``url``.
        KeyboardInterrupt: interrupted; nothing is left in ``url``.
    """
    import optuna
    from tqdm.auto import tqdm

    from hpsearch.checks import positive_int
    from hpsearch.integration.findings import read_lr_range
    from hpsearch.integration.study_view import StudyView
    from hpsearch.samplers.optuna_convert import quiet_optuna
    from hpsearch.storage.runfolder import LR_RANGE, open_database, pick_study
    from hpsearch.storage.storage import Storage

    positive_int(batch_size, "batch_size")
    db = open_database(run_dir_or_db)
    with Storage(db, readonly=True) as storage:
        name = pick_study(db, storage.study_names(), name)
        view = StudyView(storage, name, curves=curves, lr_range=lambda: read_lr_range(db.parent / LR_RANGE))
        view.refresh()
    optuna_name = name if optuna_name is None else optuna_name
    _refuse_links_in_run_folder(url, db.parent)
    trials = list(view.trials)

    with quiet_optuna():
        target = _open_optuna(url)
        if optuna_name in _study_names(target):
            raise HpsearchError(_exists(optuna_name, url))
        _clean_leftovers(target, optuna_name)
        temporary = f"{optuna_name}{_EXPORTING}{os.getpid()} on {socket.gethostname()})"
        study = optuna.create_study(storage=target, study_name=temporary, direction=view.direction)
        try:
            with tqdm(total=len(trials), desc=f"export {optuna_name}", unit="trial", disable=not progress,
                      leave=False) as bar:
                _write_batches(target, study._study_id, trials, batch_size, bar)
            for key, value in {**view.user_attrs, "hpsearch_storage": str(db)}.items():
                target.set_study_user_attr(study._study_id, key, value)
            for key, value in view.system_attrs.items():   # the metric's name and the note
                target.set_study_system_attr(study._study_id, key, value)
            _rename(target, study._study_id, optuna_name, url)
        except BaseException:
            target.delete_study(study._study_id)
            raise
        finally:
            target.remove_session()
    return optuna_name
