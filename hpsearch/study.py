"""Study: the user's handle on a named search (objective, space, metric, storage).

:meth:`Study.run` executes a search strategy (:mod:`hpsearch.strategies`) through the
run loop (:mod:`hpsearch.execution.study_run`); :meth:`Study.optimize` (one stage of random, grid,
Sobol or Optuna search) and :meth:`Study.coarse_to_fine` are its two common forms.
With a storage, running the same call again resumes the study.
"""
from contextlib import ExitStack
from pathlib import Path

from hpsearch.checks import check_direction
from hpsearch.errors import StudyMismatchError
from hpsearch.execution.study_run import RunOptions, StudyRun, told_record
from hpsearch.results.search_result import SearchResult
from hpsearch.storage.specs import json_roundtrip
from hpsearch.strategies.stage import Stage

__all__ = ["Study", "load_study"]


def _qualified_name(objective):
    target = objective if hasattr(objective, "__qualname__") else type(objective)
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"


class Study:
    """A named search over ``space`` for the best ``metric`` of ``objective``.

    Args:
        objective: a callable of the search protocol
            ``objective(params, budget, seed, report) -> dict``; picklable for
            process backends (define it in a module, not in ``__main__`` of a notebook
            if possible). If it has ``get_params()``, its result is part of the
            study's identity so a changed setting is caught on resume. If it has
            ``setting_bounds() -> {name: (lo, hi)}``, those become hard bounds of the
            space's ranges: coarse-to-fine never moves a range past them.
        space: a :class:`~hpsearch.space.Space` or a plain dict of distributions.
        metric: the returned key to optimise (non-empty string).
        direction: ``"maximize"`` or ``"minimize"``.
        storage: None (in memory; every run starts fresh), a path to a SQLite file
            (str or Path; resumable), or a :class:`~hpsearch.storage.storage.Storage`.
        name: the study's name inside the storage.

    Raises:
        ValueError: a bad direction, metric, name, storage or objective (the message
            names the argument).
    """

    def __init__(self, objective, space, metric="val_acc", direction="maximize", storage=None, name="study"):
        from hpsearch.space import Space
        from hpsearch.storage.storage import Storage

        if not callable(objective):
            raise ValueError(f"objective must be callable as objective(params, budget, seed, report), "
                             f"got {objective!r}")
        check_direction(direction)
        if not isinstance(metric, str) or not metric:
            raise ValueError(f"metric must be a non-empty string (a key the objective returns), got {metric!r}")
        if metric.startswith("test_"):
            raise ValueError(f"metric {metric!r} is measured on the test set, which a search must never see; "
                             f"search on a validation metric")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        if not (storage is None or isinstance(storage, (str, Path, Storage))):
            raise ValueError(f"storage must be None, a file path or a Storage, got {storage!r}")
        self.objective = objective
        space = space if isinstance(space, Space) else Space(space)
        setting_bounds = getattr(objective, "setting_bounds", None)
        if callable(setting_bounds):
            # the objective knows which values it accepts: narrowing must stay inside them
            space = space.with_bounds(setting_bounds())
        self.space = space
        self.metric = metric
        self.direction = direction
        self.storage = storage
        self.name = name

    def __repr__(self):
        return (f"Study(name={self.name!r}, metric={self.metric!r}, direction={self.direction!r}, "
                f"storage={self.storage!r})")

    # ------------------------------------------------------------------ public
    def run(self, strategy, *, n_jobs=1, seed=0, backend=None, scheduler=None, retry_failed=False,
            overwrite=False, progress=False, callbacks=(), fail_fast=5, keep_checkpoints=False, confirm=None,
            log=None, trial_timeout=None):
        """Run ``strategy`` (a :class:`~hpsearch.strategies.Strategy`) on this study.

        Args:
            strategy: e.g. :class:`~hpsearch.strategies.CoarseToFine`.
            n_jobs, seed, backend, scheduler, retry_failed, progress, callbacks, fail_fast,
                keep_checkpoints, log, trial_timeout: see :class:`~hpsearch.execution.study_run.RunOptions`; only ``seed``
                changes which trials run.
            overwrite: discard a stored study of the same name whose settings differ.
            confirm: a :class:`~hpsearch.strategies.confirmed.Confirmation` (or a dict of its fields, e.g.
                ``{"top": 3, "seeds": 5}``): after the search, train the best configurations again
                with fresh seeds, choose by their mean, and test the winner once.

        Returns:
            :class:`~hpsearch.results.search_result.SearchResult`.

        Raises:
            ValueError: bad arguments (named in the message).
            StudyMismatchError: the stored study has other settings, or its stored trials
                differ from what the sampler now proposes for them.
            StudyLockedError: another live process is running this study.
            StudyMetricError: the objective does not return ``metric`` as a number (the trial is stored).
            StudyFailedError: the first ``fail_fast`` trials all failed with one error.
            StudyInterrupted: Ctrl-C; ``.result`` holds the trials that finished.
        """
        options = RunOptions(n_jobs=n_jobs, seed=seed, backend=backend, scheduler=scheduler,
                             retry_failed=retry_failed, progress=progress, callbacks=callbacks,
                             fail_fast=fail_fast, keep_checkpoints=keep_checkpoints, log=log,
                             trial_timeout=trial_timeout)
        with ExitStack() as stack:
            run, extension = self._begin(stack, self._confirmed(strategy, confirm), options, overwrite)
            try:
                result = run.execute(run.storage, run.study_id)
            except StudyMismatchError:
                if extension is not None:  # it was not an extension after all: the stored study stays
                    run.storage.replace_spec(run.study_id, extension[0])
                raise
            result.extended = None if extension is None else extension[1]
            return result

    # ------------------------------------------------------------------ ask and tell
    def ask(self, strategy=None, *, seed=0, confirm=None, overwrite=False, keep_checkpoints=False, fail_fast=5):
        """The next trial to run, for a training loop of your own (Optuna's ``study.ask()``).

        The first call starts the search of ``strategy`` (or resumes it from the storage: a driver
        that was killed picks up where it stopped; trials it had asked for and not told are asked
        again). Run the request however you like (``request.params``, ``request.budget``,
        ``request.seed``; ``request.continue_from``: the trial whose state to train on from, or
        None) and :meth:`tell` its metrics. Requests come as soon as the strategy can decide them,
        so several may be running at once; which ones and their numbers never depend on the order
        the results are told in: the same seed gives the same trials table as :meth:`run`.

        Args:
            strategy: the :class:`~hpsearch.strategies.Strategy` (first call only; later calls
                may omit it).
            seed, confirm, overwrite, keep_checkpoints, fail_fast: as for :meth:`run` (first call).

        Returns:
            a :class:`~hpsearch.strategies.TrialRequest`, or None when no trial can be decided
            until running ones are told, or when the search has ended (:attr:`finished`).

        Raises:
            ValueError: no strategy on the first call, or another one than the session's.
            StudyMismatchError, StudyLockedError: as for :meth:`run`.
        """
        session = self.__dict__.get("_session")
        if session is None:
            if strategy is None:
                raise ValueError("the first ask() needs the strategy to run, e.g. study.ask(hp.Hyperband(...))")
            options = RunOptions(n_jobs=1, seed=seed, fail_fast=fail_fast, keep_checkpoints=keep_checkpoints)
            stack = ExitStack()
            try:
                run, _ = self._begin(stack, self._confirmed(strategy, confirm), options, overwrite)
                run.open(run.storage, run.study_id)
            except BaseException:
                stack.close()
                raise
            session = self._session = _AskTell(run, stack, strategy)
        elif strategy is not None and strategy is not session.strategy:
            raise ValueError("this study is running another strategy through ask(); finish it (or make a new "
                             "Study) before asking for another")
        return session.ask()

    def tell(self, request, metrics=None, *, duration=None, curve=None, error=None, continued=None):
        """Record the outcome of ``request`` (from :meth:`ask`), in any order.

        Args:
            request: the :class:`~hpsearch.strategies.TrialRequest` that ran.
            metrics: what the objective returned (a dict with the study metric as a number;
                ``"status": "diverged"`` allowed; a ``"checkpoint"`` of bytes is kept when the
                request says ``keep_checkpoint``). Ignored when ``error`` is given.
            duration: seconds it took (None: unknown).
            curve: its learning curve, a list of ``{"epoch": e, **metrics}`` (optional).
            error: the trial failed: a one-line message.
            continued: it trained on from ``request.continue_from``'s state (default: whenever
                the request says ``continue_from``); False when it trained from scratch.

        Returns:
            the study's :class:`~hpsearch.results.search_result.SearchResult` when this tell ended
            the search (the session is then closed), else None.

        Raises:
            ValueError: no :meth:`ask` session, a request that is not running, or metrics without
                the study metric as a number.
        """
        session = self.__dict__.get("_session")
        if session is None:
            raise ValueError("tell() needs a request from ask() of this study")
        result = session.tell(request, metrics, duration=duration, curve=curve, error=error, continued=continued)
        if result is not None:
            self._session = None
        return result

    @property
    def finished(self):
        """The search started by :meth:`ask` has ended (every trial it asked for is told), or none runs."""
        session = self.__dict__.get("_session")
        return session is None or session.run.finished

    def _confirmed(self, strategy, confirm):
        return confirmed(strategy, confirm, self.objective, self.space)

    def _begin(self, stack, strategy, options, overwrite):
        """Open the storage and the study (checking its spec), take the lease: ``(StudyRun, extension)``;
        ``stack`` closes them."""
        spec = self._spec(strategy, options.seed)
        storage, owned = self._open_storage()
        if owned:
            stack.callback(storage.close)
        study_id, extension = self._open_study(storage, spec, overwrite)
        stack.enter_context(storage.lease(study_id))
        checkpoints = self._checkpoints(storage)
        if overwrite:
            checkpoints.clear()  # the stored trials they belonged to are gone
        run = StudyRun(self, strategy, options, checkpoints, extending=extension is not None)
        run.storage, run.study_id = storage, study_id
        return run, extension

    def _open_study(self, storage, spec, overwrite):
        """``(study_id, None)``, or ``(study_id, (old spec, changes))`` when ``spec`` extends it."""
        from hpsearch.storage.specs import spec_extension

        try:
            return storage.open_study(self.name, spec, overwrite=overwrite), None
        except StudyMismatchError:
            if self.name not in storage.study_names():
                raise
            study_id, old = storage.find_study(self.name)
            changes = spec_extension(old, json_roundtrip(spec))
            if changes is None:
                raise
            storage.replace_spec(study_id, spec)
            return study_id, (old, changes)

    def optimize(self, sampler="random", n_trials=50, budget=1, *, batch_size=None, follow_up=False, **run_options):
        """Run one stage of ``n_trials`` trials with ``budget`` each, proposed by ``sampler``.

        Exactly ``coarse_to_fine([Stage(n_trials, budget, sampler)], ...)``.

        Args:
            sampler: a sampler name (``"random"``, ``"grid"``, ``"sobol"``, ``"tpe"``, ...) or object.
            n_trials, budget: positive ints.
            batch_size: trials asked at a time from an adaptive sampler (default
                :data:`~hpsearch.strategies.DEFAULT_BATCH`, whatever ``n_jobs``).
            follow_up: opt in to the follow-up stage that settles suspect edges (see
                :meth:`coarse_to_fine`; off here, so ``n_trials`` is all that runs).
            **run_options: the keyword arguments of :meth:`run`.

        Returns:
            :class:`~hpsearch.results.search_result.SearchResult`.
        """
        return self.coarse_to_fine([Stage(n_trials, budget, sampler)], batch_size=batch_size, follow_up=follow_up,
                                   **run_options)

    def coarse_to_fine(self, stages, *, top_fraction=0.2, min_top=3, margin=0.25, move_edges=True,
                       batch_size=None, follow_up=True, **run_options):
        """Run ``stages`` in order, each in the space narrowed around the previous stage's best trials.

        After stage k, each ordered range shrinks to the span of stage k's top trials
        (``top_fraction`` of its ok trials, at least ``min_top``) padded by ``margin``;
        when the best sits at an edge and ``move_edges`` is on, the range moves outward
        past that edge instead (see :class:`~hpsearch.strategies.Narrowing`).

        Args:
            stages: a list of :class:`Stage`.
            top_fraction, min_top, margin, move_edges: the narrowing settings.
            batch_size: trials asked at a time from adaptive samplers (see :meth:`optimize`).
            follow_up: after the last stage, a few trials per edge the search left suspect but
                unproven (at most 2 edges x 10 trials, one decade or one range-width either side
                of the edge) confirm or clear it (:mod:`hpsearch.strategies.follow_up`).
            **run_options: the keyword arguments of :meth:`run`.

        Returns:
            :class:`~hpsearch.results.search_result.SearchResult`.
        """
        from hpsearch.strategies import CoarseToFine, Narrowing

        narrowing = Narrowing(top_fraction=top_fraction, min_top=min_top, margin=margin, move_edges=move_edges,
                              follow_up=follow_up)
        return self.run(CoarseToFine(stages, narrowing, batch_size=batch_size), **run_options)

    # ------------------------------------------------------------------ helpers
    def _objective_id(self):
        get_params = getattr(self.objective, "get_params", None)
        if callable(get_params):
            return json_roundtrip(get_params())
        return _qualified_name(self.objective)

    def _spec(self, strategy, seed):
        return {"space": self.space.to_dict(), "metric": self.metric, "direction": self.direction,
                "seed": seed, **strategy.spec(), "objective": self._objective_id()}

    def _checkpoints(self, storage):
        """Where this study keeps paused trials: beside its storage file, else in memory."""
        from hpsearch.storage.checkpoints import CheckpointStore
        from hpsearch.storage.runfolder import checkpoint_dir

        if storage.path is None:
            return CheckpointStore(None)
        return CheckpointStore(checkpoint_dir(storage.path, self.name))

    def _open_storage(self):
        """(storage, owned): a Storage for this run; owned ones are closed after it."""
        from hpsearch.storage.storage import Storage

        if isinstance(self.storage, Storage):
            return self.storage, False
        return Storage(self.storage), True


def confirmed(strategy, confirm, objective, space):
    """``strategy`` followed by the confirmation ``confirm`` (a Confirmation, a dict of its fields or
    None). ``test=True`` means "when the objective can": for an objective that takes no ``final``
    the stored plan says ``test=False``, so the plan, the progress bar and ``show`` never wait for a
    test run that cannot happen.

    Raises:
        ValueError: ``per_branch`` names no branch parameter of ``space``.
    """
    if confirm is None:
        return strategy
    import dataclasses

    from hpsearch.execution.worker import protocol_keywords
    from hpsearch.strategies.confirmed import Confirmation, Confirmed

    confirmation = confirm if isinstance(confirm, Confirmation) else Confirmation(**confirm)
    branches = getattr(space, "branches", {})
    if confirmation.per_branch is not None and confirmation.per_branch not in branches:
        raise ValueError(f"confirm per_branch={confirmation.per_branch!r} is not a branch parameter of the "
                         f"space; expected one of {', '.join(branches) or 'none (the space has no Branch)'}")
    if confirmation.test and "final" not in protocol_keywords(objective):
        confirmation = dataclasses.replace(confirmation, test=False)
    return Confirmed(strategy, confirmation)


class _AskTell:
    """One ask/tell session: a :class:`StudyRun` driven by the caller instead of a worker pool."""

    def __init__(self, run, stack, strategy):
        self.run, self.stack, self.strategy = run, stack, strategy
        self.queue = []   # decided, not yet asked

    def ask(self):
        if not self.queue:
            self.queue = self.run.pending()
        return self.queue.pop(0) if self.queue else None

    def tell(self, request, metrics, duration=None, curve=None, error=None, continued=None):
        record = told_record(request, metrics, self.run.metric, duration=duration, curve=curve, error=error)
        if (request.continue_from is not None) if continued is None else continued:
            self.run.continued(request)
        self.queue = [r for r in self.queue if r.number != request.number]
        self.run.finish(request, record)
        if not self.run.finished:
            return None
        try:
            self.run.close()
            return self.run.result()
        finally:
            self.stack.close()


def load_study(storage, name, select="highest-budget"):
    """The result of a stored study, without running anything.

    Args:
        storage: a storage file path (str or Path) or a :class:`~hpsearch.storage.storage.Storage`.
        name: the study's name.
        select: how the best trial is chosen: ``"highest-budget"`` (among the ok trials at the
            highest budget any reached: what the study itself reports) or ``"all"``.

    Returns:
        :class:`~hpsearch.results.search_result.SearchResult` (trials, best, boundary flags, stages, curves).

    Raises:
        StorageError: a missing file (never created), not an hpsearch database, or an
            unknown study name (the message lists the names present).
    """
    return SearchResult.from_storage(storage, name, select)
