"""Watch a run live in optuna-dashboard: a read-only Optuna storage over a run folder, and its server.

``serve("runs/digits-mlp")`` (CLI: ``hpsearch dashboard runs/digits-mlp``) serves
optuna-dashboard (``optuna_dashboard.wsgi``) over :class:`RunFolderStorage`, an
``optuna.storages.BaseStorage`` that reads the run's ``study.db`` (or a comparison's
``compare.db``: one study per strategy) and never writes:

- it may start before the run: until the database appears it holds no study;
- each read refreshes the studies by reading only what was committed since the last look
  (:class:`~hpsearch.integration.study_view.StudyView`), so it follows a running, resumed or
  finished run at a few milliseconds per refresh;
- every write method raises :class:`ReadOnlyStorageError`, and the server answers every request
  that could write (any method but GET and HEAD) with HTTP 405 and the reason, before
  optuna-dashboard sees it.
"""
import copy
import threading
from pathlib import Path

from optuna.storages import BaseStorage

from hpsearch.errors import HpsearchError
from hpsearch.integration.findings import read_lr_range
from hpsearch.integration.optuna_trials import check_curves
from hpsearch.integration.study_view import ID_STRIDE, StudyView
from hpsearch.storage.runfolder import COMPARE_DB, DB_NAME, LR_RANGE
from hpsearch.storage.safe_files import refuse_links

__all__ = ["RunFolderStorage", "ReadOnlyStorageError", "dashboard_app", "serve", "READ_ONLY_REASON"]

READ_ONLY_REASON = ("hpsearch dashboard is read-only: it shows the run folder as stored and never changes it "
                    "(run, resume or export the study with the hpsearch command instead)")


class ReadOnlyStorageError(HpsearchError, NotImplementedError):
    """A write to the read-only storage of ``hpsearch dashboard``."""


class RunFolderStorage(BaseStorage):
    """A read-only ``optuna.storages.BaseStorage`` over an hpsearch run folder.

    Args:
        path: a run folder (holding ``study.db``, or ``compare.db`` for a comparison), or a
            database file. It need not exist yet: the storage holds no study until it does.
        curves: which configurations carry their learning curves (``"all"``, ``"none"``, or K
            for the K best); fewer curves make a page of thousands of trials load faster.

    Every Optuna study is an hpsearch study of the file (study ids are hpsearch's); trials are
    configurations (see :mod:`hpsearch.integration.optuna_trials`). Every write raises
    :class:`ReadOnlyStorageError`.

    Raises:
        ValueError: a bad ``curves``.
        HpsearchError: (when read) the database is a symbolic link, or not an hpsearch database.
    """

    def __init__(self, path, curves="all"):
        self._path = Path(path)
        self._curves = check_curves(curves)
        self._lock = threading.RLock()
        self._db = None          # (path, inode) of the open database
        self._storage = None
        self._views = {}         # study id -> StudyView

    # -------------------------------------------------------------- the run folder
    def database(self):
        """The database this storage reads (None until the run creates it)."""
        if self._path.suffix == ".db":
            candidates = [self._path]
        else:
            candidates = [self._path / DB_NAME, self._path / COMPARE_DB]
        for db in candidates:
            refuse_links(db)   # a run folder is data: a planted link is refused, never followed
            if db.is_file():
                return db
        return None

    def _refresh(self):
        """Open the database once it exists (again if it was replaced); refresh every study."""
        from hpsearch.storage.storage import Storage

        with self._lock:
            db = self.database()
            key = None if db is None else (db, db.stat().st_ino)
            if key != self._db:
                self._close()
                if db is None or not _has_schema(db):
                    return
                self._storage, self._db = Storage(db, readonly=True), key
            if self._storage is None:
                return
            names = self._storage.study_names()
            known = {view.name for view in self._views.values()}
            for name in names:
                if name not in known:
                    view = StudyView(self._storage, name, self._curves, self._lr_range)
                    self._views[view.study_id] = view
            for view in self._views.values():
                view.refresh()

    def _lr_range(self):
        folder = self._path.parent if self._path.suffix == ".db" else self._path
        return read_lr_range(folder / LR_RANGE)

    def _close(self):
        if self._storage is not None:
            self._storage.close()
        self._storage, self._db, self._views = None, None, {}

    def close(self):
        """Close the database (the storage opens it again when read)."""
        with self._lock:
            self._close()

    def _view(self, study_id):
        self._refresh()
        view = self._views.get(study_id)
        if view is None:
            raise KeyError(f"no study with id {study_id} in {self._path}")
        return view

    def _frozen_study(self, view):
        from optuna.study import StudyDirection
        from optuna.study._frozen import FrozenStudy

        direction = StudyDirection.MAXIMIZE if view.direction == "maximize" else StudyDirection.MINIMIZE
        return FrozenStudy(study_name=view.name, direction=None, directions=[direction],
                           user_attrs=dict(view.user_attrs), system_attrs=dict(view.system_attrs),
                           study_id=view.study_id)

    # -------------------------------------------------------------- reads
    def get_all_studies(self):
        self._refresh()
        with self._lock:
            return [self._frozen_study(v) for _, v in sorted(self._views.items())]

    def get_study_id_from_name(self, study_name):
        self._refresh()
        with self._lock:
            for view in self._views.values():
                if view.name == study_name:
                    return view.study_id
        raise KeyError(f"no study named {study_name!r} in {self._path}")

    def get_study_name_from_id(self, study_id):
        return self._view(study_id).name

    def get_study_directions(self, study_id):
        return self._frozen_study(self._view(study_id)).directions

    def get_study_user_attrs(self, study_id):
        return dict(self._view(study_id).user_attrs)

    def get_study_system_attrs(self, study_id):
        return dict(self._view(study_id).system_attrs)

    def get_all_trials(self, study_id, deepcopy=True, states=None):
        with self._lock:
            trials = list(self._view(study_id).trials)
        if states is not None:
            trials = [t for t in trials if t.state in states]
        return copy.deepcopy(trials) if deepcopy else trials

    def get_trial(self, trial_id):
        study_id, number = divmod(trial_id, ID_STRIDE)
        with self._lock:
            trials = self._view(study_id).trials
            if number >= len(trials):
                raise KeyError(f"no trial with id {trial_id} in {self._path}")
            return copy.deepcopy(trials[number])

    def get_trial_id_from_study_id_trial_number(self, study_id, trial_number):
        trials = self._view(study_id).trials
        if not 0 <= trial_number < len(trials):
            raise KeyError(f"no trial number {trial_number} in study {study_id}")
        return trials[trial_number]._trial_id

    # -------------------------------------------------------------- writes: all refused
    def _refuse(self, *args, **kwargs):
        raise ReadOnlyStorageError(READ_ONLY_REASON)

    create_new_study = delete_study = set_study_user_attr = set_study_system_attr = _refuse
    create_new_trial = set_trial_param = set_trial_state_values = set_trial_intermediate_value = _refuse
    set_trial_user_attr = set_trial_system_attr = _refuse

    def __repr__(self):
        return f"RunFolderStorage({str(self._path)!r})"



def _has_schema(db):
    """False while the run is creating ``db`` (an empty file, or no table committed yet): the
    schema is created in one transaction, so a reader sees none of it or all of it."""
    import sqlite3
    from urllib.parse import quote

    if db.stat().st_size == 0:
        return False
    try:
        conn = sqlite3.connect(f"file:{quote(str(db.resolve()))}?mode=ro", uri=True)
        try:
            return conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] > 0
        finally:
            conn.close()
    except sqlite3.Error:
        return True   # let Storage say what is wrong with it


def dashboard_app(storage):
    """optuna-dashboard's WSGI application over ``storage``, answering every request that could
    write (any method but GET and HEAD) with HTTP 405 and the reason."""
    try:
        import optuna_dashboard
    except ImportError:
        raise HpsearchError("hpsearch dashboard needs optuna-dashboard: pip install 'hpsearch[dashboard]' "
                            "(or pip install optuna-dashboard)") from None
    import json

    app = optuna_dashboard.wsgi(storage)

    def read_only(environ, start_response):
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            body = json.dumps({"reason": READ_ONLY_REASON}).encode()
            start_response("405 Method Not Allowed", [("Content-Type", "application/json"), ("Allow", "GET, HEAD"),
                                                      ("Content-Length", str(len(body)))])
            return [body]
        return app(environ, start_response)

    return read_only


def serve(run_folder, host="127.0.0.1", port=8080, curves="all", log=print, ready=None):
    """Serve optuna-dashboard over ``run_folder`` until interrupted (Ctrl-C).

    Args:
        run_folder: a run or comparison folder (or a database file); it may not exist yet.
        host: the address to bind (loopback by default: other machines cannot connect).
        port: the port (0: any free one).
        curves: see :class:`RunFolderStorage`.
        log: where the lines saying how to reach it go (None: nowhere).
        ready: called with the bound ``(host, port)`` once the server listens (for tests).

    Raises:
        HpsearchError: optuna-dashboard is not installed, or the address cannot be bound.
    """
    import wsgiref.simple_server

    storage = RunFolderStorage(run_folder, curves)
    app = dashboard_app(storage)

    class _Quiet(wsgiref.simple_server.WSGIRequestHandler):
        def log_message(self, *args):   # one line per request would bury the address
            pass

    try:
        server = wsgiref.simple_server.make_server(host, port, app, handler_class=_Quiet)
    except OSError as exc:
        raise HpsearchError(f"cannot serve the dashboard on {host}:{port}: {exc.strerror or exc}; "
                            f"choose another --port") from None
    bound = server.server_address[:2]
    say = log or (lambda line: None)
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    say(f"optuna-dashboard for {run_folder} at http://{shown}:{bound[1]}/dashboard (read-only; Ctrl-C stops it)")
    if storage.database() is None:
        say(f"waiting for {run_folder} to hold a study (start the run; the page shows it when its first "
            f"trial is stored)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        say(f"listening on {host}: anyone who can reach this machine can read the study")
    if ready is not None:
        ready(bound)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        storage.close()
