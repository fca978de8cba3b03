"""Study: drives samplers, the runner and storage through one or more search stages.

The parent process draws every trial's parameters (``sampler.ask``) and seed
(``seeding.trial_seed``) before dispatching it, so a study seed fixes the whole
trial table whatever ``n_jobs`` or backend runs it. Trials run through
:func:`hpsearch.runner.run_trial` inside one ``joblib.Parallel`` block reused
for every stage; each finished trial is stored in its own transaction as soon
as it arrives. Running a study again re-derives the same proposals from the
seed and the stored results, skips the trials already stored and runs only the
missing ones, so an interrupted study resumes into exactly the table an
uninterrupted run would have produced.
"""
import dataclasses
import json
import math
import threading
import time
import warnings
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpsearch import seeding
from hpsearch.backends import check_backend, make_parallel, parallel_context, uses_processes
from hpsearch.errors import StudyInterrupted, StudyMismatchError
from hpsearch.result import SearchResult, StageRecord
from hpsearch.runner import run_trial, worker_threads

__all__ = ["Study", "Stage", "load_study"]

DIRECTIONS = ("maximize", "minimize")
_HEARTBEAT_SECONDS = 5.0


def _positive_int(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner} {name} must be a positive integer, got {value!r}")
    return value


def _get_sampler(sampler):
    from hpsearch.samplers import get_sampler

    return get_sampler(sampler)


@dataclass(frozen=True)
class Stage:
    """One stage of a search: how many trials, with what budget, from which sampler.

    Args:
        n_trials: positive int, the trials to propose (grid may propose fewer).
        budget: positive int handed to every trial (epochs for the MLP).
        sampler: a sampler name (``"random"``, ``"grid"``, ``"sobol"``, ``"tpe"``, ...),
            a sampler object, or an ``optuna.samplers.BaseSampler``.

    Raises:
        ValueError: a non-positive or non-integer count/budget, or an unknown sampler name.
    """

    n_trials: int
    budget: int
    sampler: Any = "random"

    def __post_init__(self):
        _positive_int("Stage", "n_trials", self.n_trials)
        _positive_int("Stage", "budget", self.budget)
        # unknown names and objects without the sampler interface fail here, not half-way through a study
        _get_sampler(self.sampler)


def _qualified_name(objective):
    target = objective if hasattr(objective, "__qualname__") else type(objective)
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"


def _plain(value):
    """``value`` after a JSON round trip, as stored (tuples become lists)."""
    return json.loads(json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))


class _Heartbeat:
    """Refreshes the study's lease every few seconds from a daemon thread (trials may be long)."""

    def __init__(self, storage, study_id, every=_HEARTBEAT_SECONDS):
        self._storage, self._study_id, self._every = storage, study_id, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hpsearch-heartbeat", daemon=True)

    def _run(self):
        while not self._stop.wait(self._every):
            try:
                self._storage.heartbeat(self._study_id)
            except Exception:  # the main thread sees storage problems on its next write
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False


class _Progress:
    """A tqdm bar over all trials showing the best value so far and the failures."""

    def __init__(self, enabled, total, metric, direction):
        self.bar = None
        self.metric, self.direction = metric, direction
        self.best, self.failed, self.diverged = None, 0, 0
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="trial", dynamic_ncols=True)

    def resize(self, delta):
        if self.bar is not None and delta:
            self.bar.total += delta
            self.bar.refresh()

    def update(self, record):
        if self.bar is None:
            return
        if record["status"] == "ok":
            value = record["metrics"].get(self.metric)
            if self.best is None or (value > self.best if self.direction == "maximize" else value < self.best):
                self.best = value
        elif record["status"] == "diverged":
            self.diverged += 1
        else:
            self.failed += 1
        self.bar.set_postfix(best="-" if self.best is None else f"{self.best:.4g}", failed=self.failed,
                             diverged=self.diverged, refresh=False)
        self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()


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
            (str or Path; resumable), or a :class:`~hpsearch.storage.Storage`.
        name: the study's name inside the storage.

    Raises:
        ValueError: a bad direction, metric, name, storage or objective (the message
            names the argument).
    """

    def __init__(self, objective, space, metric="val_acc", direction="maximize", storage=None, name="study"):
        from hpsearch.space import Space
        from hpsearch.storage import Storage

        if not callable(objective):
            raise ValueError(f"objective must be callable as objective(params, budget, seed, report), "
                             f"got {objective!r}")
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
        if not isinstance(metric, str) or not metric:
            raise ValueError(f"metric must be a non-empty string (a key the objective returns), got {metric!r}")
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
    def optimize(self, sampler="random", n_trials=50, budget=1, n_jobs=1, seed=0, backend="loky",
                 scheduler=None, batch_size=None, retry_failed=False, overwrite=False, progress=False,
                 callbacks=()):
        """Run one stage of ``n_trials`` trials with ``budget`` each; see :meth:`coarse_to_fine`.

        Exactly ``coarse_to_fine([Stage(n_trials, budget, sampler)], ...)``.

        Returns:
            :class:`~hpsearch.result.SearchResult`.
        """
        return self.coarse_to_fine([Stage(n_trials, budget, sampler)], n_jobs=n_jobs, seed=seed, backend=backend,
                                   scheduler=scheduler, batch_size=batch_size, retry_failed=retry_failed,
                                   overwrite=overwrite, progress=progress, callbacks=callbacks)

    def coarse_to_fine(self, stages, n_jobs=1, seed=0, backend="loky", scheduler=None, batch_size=None,
                       top_fraction=0.2, min_top=3, margin=0.25, move_edges=True, retry_failed=False,
                       overwrite=False, progress=False, callbacks=()):
        """Run ``stages`` in order, each in the space narrowed around the previous stage's best trials.

        After stage k, each ordered range shrinks to the span of stage k's top trials
        (``top_fraction`` of its ok trials, at least ``min_top``) padded by ``margin``;
        when the best sits at an edge and ``move_edges`` is on, the range moves outward
        past that edge instead. With a storage, running the same call again resumes.

        Args:
            stages: a list of :class:`Stage`.
            n_jobs: parallel workers (a positive int, or -1 for all cores).
            seed: the study seed (non-negative int); it fixes every proposal and trial seed.
            backend: ``"loky"`` (processes), ``"threading"``, ``"multiprocessing"`` or ``"dask"``.
            scheduler: a Dask scheduler address (``backend="dask"`` only; None starts a LocalCluster).
            batch_size: trials asked per batch from adaptive samplers (default ``n_jobs``);
                the same seed and batch size reproduce the same trials.
            top_fraction, min_top, margin, move_edges: the narrowing settings.
            retry_failed: on resume, run stored ``"failed"`` trials again.
            overwrite: discard a stored study of the same name whose settings differ.
            progress: show a tqdm progress bar (best so far, failures).
            callbacks: callables ``f(record)`` called in this process with every newly
                finished trial record (a plain dict), as it completes.

        Returns:
            :class:`~hpsearch.result.SearchResult`.

        Raises:
            ValueError: bad arguments (named in the message).
            StudyMismatchError: the stored study has other settings, or its stored trials
                differ from what the sampler now proposes for them.
            StudyLockedError: another live process is running this study.
            StudyInterrupted: Ctrl-C; ``.result`` holds the trials that finished.
        """
        stages = self._check_stages(stages)
        n_jobs = self._check_n_jobs(n_jobs)
        seed = seeding._check_seed(seed)
        check_backend(backend, scheduler)
        if batch_size is not None:
            _positive_int("coarse_to_fine", "batch_size", batch_size)
        if not 0 < top_fraction <= 1:
            raise ValueError(f"top_fraction must be in (0, 1], got {top_fraction!r}")
        _positive_int("coarse_to_fine", "min_top", min_top)
        if not margin >= 0:
            raise ValueError(f"margin must be >= 0, got {margin!r}")
        callbacks = list(callbacks)
        for callback in callbacks:
            if not callable(callback):
                raise ValueError(f"callbacks must be callables f(record), got {callback!r}")
        samplers = [_get_sampler(stage.sampler) for stage in stages]
        settings = {"top_fraction": top_fraction, "min_top": min_top, "margin": margin,
                    "move_edges": bool(move_edges)}
        batch = batch_size or n_jobs
        spec = self._spec(stages, samplers, seed, settings, batch)
        run = _Run(self, stages, samplers, n_jobs, seed, backend, scheduler, batch, settings,
                   retry_failed, progress, callbacks)
        storage, owned = self._open_storage()
        try:
            study_id = storage.open_study(self.name, spec, overwrite=overwrite)
            storage.acquire(study_id)
            try:
                with _Heartbeat(storage, study_id):
                    return run.execute(storage, study_id)
            finally:
                storage.release(study_id)
        finally:
            if owned:
                storage.close()

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _check_stages(stages):
        if isinstance(stages, Stage):
            stages = [stages]
        stages = list(stages)
        if not stages:
            raise ValueError("stages must hold at least one Stage, got an empty list")
        for i, stage in enumerate(stages):
            if not isinstance(stage, Stage):
                raise ValueError(f"stages[{i}] must be a Stage(n_trials, budget, sampler), got {stage!r}")
        return stages

    @staticmethod
    def _check_n_jobs(n_jobs):
        if n_jobs == -1 and not isinstance(n_jobs, bool):
            import joblib

            return joblib.cpu_count()
        return _positive_int("study", "n_jobs", n_jobs)

    def _objective_id(self):
        get_params = getattr(self.objective, "get_params", None)
        if callable(get_params):
            return _plain(get_params())
        return _qualified_name(self.objective)

    def _spec(self, stages, samplers, seed, settings, batch):
        # keyed by stage index (not a list) so a changed setting is reported as e.g.
        # "stages.1.n_trials: 20 -> 30" by the storage's spec comparison
        stage_specs = {}
        for k, (stage, sampler) in enumerate(zip(stages, samplers)):
            entry = {"n_trials": stage.n_trials, "budget": stage.budget, "sampler": repr(sampler)}
            if getattr(sampler, "is_adaptive", False):
                # adaptive proposals depend on how many results were told before each ask
                entry["batch_size"] = batch
            stage_specs[str(k)] = entry
        return {
            "space": self.space.to_dict(),
            "metric": self.metric,
            "direction": self.direction,
            "seed": seed,
            "stages": stage_specs,
            "narrowing": dict(settings),
            "objective": self._objective_id(),
        }

    def _open_storage(self):
        """(storage, owned): a Storage for this run; owned ones are closed after it."""
        from hpsearch.storage import Storage

        if isinstance(self.storage, Storage):
            return self.storage, False
        return Storage(self.storage), True


class _Run:
    """One execution of a study's stages against an opened storage (internal)."""

    def __init__(self, study, stages, samplers, n_jobs, seed, backend, scheduler, batch, settings,
                 retry_failed, progress, callbacks):
        self.study = study
        self.stages, self.samplers = stages, samplers
        self.n_jobs, self.seed, self.backend, self.scheduler = n_jobs, seed, backend, scheduler
        self.batch, self.settings = batch, settings
        self.retry_failed, self.progress, self.callbacks = retry_failed, progress, callbacks
        self.records = {}  # number -> finished record (stored before or run now)
        self.stage_records = []

    # ------------------------------------------------------------------ driver
    def execute(self, storage, study_id):
        self.storage, self.study_id = storage, study_id
        self.stored = {r["number"]: r for r in storage.load_trials(study_id)}
        self.stored_stages = {d["index"]: d for d in storage.load_stages(study_id)}
        bar = _Progress(self.progress, sum(s.n_trials for s in self.stages), self.study.metric,
                        self.study.direction)
        self.bar = bar
        try:
            with ExitStack() as stack:
                kwargs = stack.enter_context(parallel_context(self.backend, self.n_jobs, self.scheduler,
                                                              check=self.study.objective))
                self.threads = None
                if self.n_jobs > 1:
                    threads = worker_threads(self.n_jobs)
                    if self.backend == "dask" and self.scheduler is not None:
                        pass  # remote workers have their own cores; this machine's count says nothing
                    elif uses_processes(self.backend):
                        self.threads = threads  # each worker process limits its own pools
                    else:
                        # threadpoolctl is process-wide: one limit around the whole threaded run
                        from threadpoolctl import threadpool_limits

                        stack.enter_context(threadpool_limits(limits=threads))
                self._parallel_kwargs = kwargs
                self.parallel = make_parallel(self.n_jobs, **kwargs).__enter__()
                stack.callback(lambda: self.parallel.__exit__(None, None, None))
                self._stages()
        except KeyboardInterrupt:
            bar.close()
            raise StudyInterrupted(self._result(partial=True),
                                   f"study {self.study.name!r} interrupted; run it again to resume") from None
        finally:
            bar.close()
        return self._result()

    def _stages(self):
        study = self.study
        space, number = study.space, 0
        for k, (stage, sampler) in enumerate(zip(self.stages, self.samplers)):
            n_k = int(sampler.start(space, stage.n_trials, seeding.sampler_seed(self.seed, k), study.direction))
            self._check_stored_stage(k, space, n_k, stage.budget)
            self.storage.save_stage(self.study_id, k, space.to_dict(), repr(sampler), n_k, stage.budget)
            self.stage_records.append(StageRecord(k, space, repr(sampler), n_k, stage.budget))
            self.bar.resize(n_k - stage.n_trials)
            adaptive = bool(getattr(sampler, "is_adaptive", False))
            size = self.batch if adaptive else max(n_k, 1)
            for first in range(0, n_k, size):
                m = min(size, n_k - first)
                proposals = list(sampler.ask(m))
                if len(proposals) != m:
                    raise RuntimeError(f"sampler {sampler!r} returned {len(proposals)} proposals for ask({m})")
                self._run_batch(k, stage.budget, number + first, proposals)
                if adaptive:
                    for i, params in enumerate(proposals):
                        record = self.records[number + first + i]
                        value = record["metrics"][study.metric] if record["status"] == "ok" else None
                        sampler.tell(first + i, params, value)
            ok = [self.records[n] for n in range(number, number + n_k) if self.records[n]["status"] == "ok"]
            number += n_k
            if k + 1 < len(self.stages):
                if ok:
                    from hpsearch.narrowing import narrow_space

                    space = narrow_space(space, [r["params"] for r in ok],
                                         [r["metrics"][study.metric] for r in ok], study.direction,
                                         top_fraction=self.settings["top_fraction"],
                                         min_top=self.settings["min_top"], margin=self.settings["margin"],
                                         move_edges=self.settings["move_edges"])
                else:
                    warnings.warn(f"stage {k} of study {study.name!r} has no ok trial; "
                                  f"stage {k + 1} searches the same space", RuntimeWarning, stacklevel=3)

    def _check_stored_stage(self, k, space, n_k, budget):
        old = self.stored_stages.get(k)
        if old is None:
            return
        if _plain(space.to_dict()) != old["space"] or old["n_trials"] != n_k or old["budget"] != budget:
            raise StudyMismatchError(
                f"study {self.study.name!r}: stage {k} now searches {space.to_dict()} with {n_k} trials "
                f"(budget {budget}) but was stored with {old['space']} and {old['n_trials']} trials "
                f"(budget {old['budget']}); the results it was derived from changed (retried trials?) "
                f"or the sampler/library version did; use a new name or overwrite=True")

    def _run_batch(self, k, budget, first, proposals):
        """Run the proposals numbered from ``first`` that are not stored yet; store each as it ends."""
        from joblib import delayed

        study = self.study
        todo = []
        for i, params in enumerate(proposals):
            number = first + i
            old = self.stored.get(number)
            if old is not None:
                self._check_stored_trial(old, number, k, budget, params)
                if old["status"] != "failed" or not self.retry_failed:
                    self.records[number] = old
                    self.bar.update(old)
                    continue
            todo.append((number, params))
        if todo:
            self._dispatch(k, budget, dict(todo))

    def _dispatch(self, k, budget, pending):
        """Run ``pending`` (number -> params) in parallel, surviving workers that die.

        A worker process that dies (segfault, out of memory) breaks the whole pool and
        joblib cannot say which trial killed it. The pool is then rebuilt and the
        unfinished trials run again in chunks of ``n_jobs``; in a chunk that breaks the pool
        again, they run one by one, and a trial that kills its worker on its own is
        recorded as failed. The study goes on.
        """
        try:
            self._consume(k, budget, pending)
            return
        except Exception as exc:
            if not _worker_died(exc):
                raise
            self._reset_parallel()
        numbers = sorted(pending)
        for start in range(0, len(numbers), self.n_jobs):
            chunk = {n: pending[n] for n in numbers[start:start + self.n_jobs] if n in pending}
            try:
                self._consume(k, budget, chunk)
                continue
            except Exception as exc:
                if not _worker_died(exc):
                    raise
                self._reset_parallel()
            for number in sorted(chunk):
                try:
                    self._consume(k, budget, {number: chunk[number]})
                except Exception as exc:
                    if not _worker_died(exc):
                        raise
                    self._reset_parallel()
                    self._finish(_crashed_record(number, k, chunk[number], budget,
                                                 seeding.trial_seed(self.seed, k, number), exc))

    def _consume(self, k, budget, pending):
        """Dispatch ``pending`` in one parallel call; finish each record as it arrives.

        Records are matched by number and removed from ``pending``; a record that is not
        pending (a straggler of a broken pool) is ignored.
        """
        from joblib import delayed

        study = self.study
        tasks = [delayed(run_trial)(study.objective, params, budget, seeding.trial_seed(self.seed, k, number),
                                    number, k, self.threads, study.metric)
                 for number, params in sorted(pending.items())]
        for record in self.parallel(tasks):
            if pending.pop(record["number"], _MISSING) is not _MISSING:
                self._finish(record)

    def _finish(self, record):
        self.storage.save_trial(self.study_id, record)
        self.records[record["number"]] = record
        self.bar.update(record)
        for callback in self.callbacks:
            callback(record)

    def _reset_parallel(self):
        """Replace a pool broken by a dead worker with a fresh one."""
        try:
            self.parallel.__exit__(None, None, None)
        except Exception:  # the broken pool may fail to shut down cleanly; it is discarded anyway
            pass
        self.parallel = make_parallel(self.n_jobs, **self._parallel_kwargs).__enter__()

    def _check_stored_trial(self, old, number, k, budget, params):
        if old["params"] == _plain(params) and old["stage"] == k and old["budget"] == budget:
            return
        raise StudyMismatchError(
            f"study {self.study.name!r}: stored trial {number} (stage {old['stage']}, budget {old['budget']}) "
            f"has params {old['params']} but the sampler now proposes {_plain(params)} (stage {k}, budget "
            f"{budget}) for it; the sampler or a library version changed since it was stored, so resuming "
            f"would mix two searches; use a new name or overwrite=True")

    # ------------------------------------------------------------------ results
    def _flags(self, records):
        """Boundary flags over the stage holding the best ok trial (its space and ok trials)."""
        from hpsearch.boundary import find_boundary_flags

        study = self.study
        best = SearchResult(records, study.metric, study.direction, study.name).best_trial
        if best is None or best["stage"] >= len(self.stage_records):
            return []
        stage = self.stage_records[best["stage"]]
        ok = [r for r in records if r["stage"] == stage.index and r["status"] == "ok"
              and math.isfinite(r["metrics"].get(study.metric, math.nan))]
        return find_boundary_flags(stage.space, [r["params"] for r in ok],
                                   [r["metrics"][study.metric] for r in ok], study.direction,
                                   top_fraction=self.settings["top_fraction"], min_top=self.settings["min_top"])

    def _result(self, partial=False):
        study = self.study
        if partial:
            # every stored trial counts, including ones this run had not reached yet
            records = {r["number"]: r for r in self.storage.load_trials(self.study_id)}
            records.update(self.records)
            records = list(records.values())
        else:
            records = [self.records[n] for n in sorted(self.records)]
        flags = self._flags(records)
        self.storage.save_flags(self.study_id, [dataclasses.asdict(f) for f in flags])
        return SearchResult(records, study.metric, study.direction, study.name, param_names=list(study.space),
                            stages=list(self.stage_records), boundary=flags)


_MISSING = object()


def _worker_died(exc):
    """True for the errors a backend raises when a worker process dies mid-trial."""
    from concurrent.futures import BrokenExecutor

    return isinstance(exc, BrokenExecutor) or type(exc).__name__ in ("TerminatedWorkerError", "KilledWorker")


def _crashed_record(number, stage, params, budget, seed, exc):
    """The failed record of a trial whose worker process died while running it."""
    now = time.time()
    return {"number": number, "stage": stage, "status": "failed", "params": dict(params), "metrics": {},
            "budget": budget, "seed": seed, "start": now, "end": now, "duration": None,
            "error": f"{type(exc).__name__}: the worker process running this trial died (a crash or "
                     f"out of memory?)",
            "curve": []}


def load_study(storage, name):
    """The result of a stored study, without running anything.

    Args:
        storage: a storage file path (str or Path) or a :class:`~hpsearch.storage.Storage`.
        name: the study's name.

    Returns:
        :class:`~hpsearch.result.SearchResult` (trials, best, boundary flags, stages, curves).

    Raises:
        StorageError: a missing file (never created), not an hpsearch database, or an
            unknown study name (the message lists the names present).
    """
    return SearchResult.from_storage(storage, name)
