"""SearchResult: what a study found, as a trials table plus the best trial, flags and stages.

A result is built from plain trial records (see ARCHITECTURE.md "Trial records"),
either straight from a study that just ran or from a storage
(:meth:`SearchResult.from_storage`, used by :func:`hpsearch.load_study`). It
never runs anything.
"""
import math
from pathlib import Path

from hpsearch.records import best_record, check_selection, top_records
from hpsearch.errors import StorageError
from hpsearch.strategies.stage import Stage, StageRecord

__all__ = ["SearchResult", "StageRecord"]

#: Columns multi-fidelity strategies add to the trials table (when any trial has them).
_LABEL_COLUMNS = ("bracket", "rung", "continued_from")


def _stage_record(d):
    from hpsearch.space import Space

    try:
        space = Space.from_dict(d["space"])
    except (ValueError, TypeError):
        # a scipy.stats distribution stored by repr cannot be rebuilt; keep its dict form
        space = d["space"]
    return Stage(int(d["n_trials"]), d["budget"], str(d["sampler"]), index=int(d["index"]), space=space)


def _flag(d):
    from hpsearch.diagnostics.boundary import BoundaryFlag

    return d if isinstance(d, BoundaryFlag) else BoundaryFlag(**d)


class SearchResult:
    """The outcome of a study (complete or interrupted).

    Args:
        records: finished trial records (dicts with ``number, stage, status, params,
            metrics, budget, seed, start, end, duration, error, curve``), any order.
        metric: the metric the study optimises.
        direction: ``"maximize"`` or ``"minimize"``.
        name: the study name.
        param_names: parameter names in space order (the ``param_<name>`` columns);
            names found only in records are appended in order of appearance.
        stages: list of :class:`~hpsearch.strategies.stage.Stage` as they ran (index and space set).
        boundary: list of :class:`~hpsearch.diagnostics.boundary.BoundaryFlag` (or their dicts).
        select: how the best trial is chosen, one of :data:`hpsearch.records.SELECTIONS` (default: among the
            trials at the highest budget reached).
        checkpoint_bytes: the most disk the run's checkpoints took (0: none, or not known).

    Attributes:
        trials: DataFrame, one row per trial sorted by number, columns ``number, stage,
            status, param_<name>... (space order), <metric>, <other metrics sorted>...,
            budget, trial_epochs, study_epochs, [bracket, rung, continued_from], seed, duration,
            error``: ``budget`` is the budget the trial reached, ``trial_epochs`` what it trained
            itself (less than ``budget`` when it continued a paused trial), ``study_epochs`` the
            study's trained epochs when its result was recorded, in trial-number order;
            multi-fidelity strategies add the bracket and rung and the trial it continued.
            List-valued parameters stay lists (object columns); a metric a trial did not
            return is NaN.
        best_trial: the best ``"ok"`` trial's record (dict), or None.
        best_params: its params (dict), or None.
        best_value: its metric value (float), or None.
        boundary: the boundary flags of the stage holding the best trial.
        stages: the stages as they ran.
        curves: dict trial number -> list of per-epoch dicts ``{"epoch": e, ...}``.
        metric, direction, name: the study's settings.
    """

    def __init__(self, records, metric, direction, name, param_names=(), stages=(), boundary=(),
                 select="highest-budget", checkpoint_bytes=0):
        self.select = select
        self.checkpoint_bytes = checkpoint_bytes
        self.extended = None  # set by Study.run: how the run extended the stored study
        self.metric = metric
        self.direction = direction
        self.name = name
        everything = sorted((dict(r) for r in records), key=lambda r: r["number"])
        # confirmation and test runs come after the search and never take part in it
        self.records = [r for r in everything if r.get("role", "search") == "search"]
        self.confirm_records = [r for r in everything if r.get("role") == "confirm"]
        self.test_record = next((r for r in everything if r.get("role") == "test"), None)
        names = list(param_names)
        for record in self.records:
            names.extend(n for n in record.get("params", {}) if n not in names)
        self.param_names = names
        self.stages = list(stages)
        self.boundary = [_flag(f) for f in boundary]
        self.curves = {r["number"]: list(r.get("curve") or []) for r in self.records}
        self.best_trial = self._best()
        self.best_params = None if self.best_trial is None else dict(self.best_trial["params"])
        self.best_value = None if self.best_trial is None else self.best_trial["metrics"][metric]
        self._trials = None  # the DataFrame, built when first asked for (pandas is slow to import)
        self.confirmation = self._confirmation()
        self.test_metrics = None if self.test_record is None or self.test_record["status"] != "ok" else \
            {k: v for k, v in self.test_record["metrics"].items() if k.startswith("test_")}

    # ------------------------------------------------------------------ building
    def _confirmation(self):
        if not self.confirm_records:
            return None
        from hpsearch.strategies.confirmed import confirmation_report

        return confirmation_report(self.confirm_records, self.metric, self.direction)

    def confirmation_table(self):
        """The confirmed candidates as a DataFrame (one row each, search rank order): ``candidate,
        trial, mean, std, runs, param_<name>..., value_0, value_1, ...`` (per fresh seed); None
        when the study confirmed nothing."""
        if self.confirmation is None:
            return None
        import pandas as pd

        rows = []
        for c in self.confirmation.candidates:
            row = {"candidate": c["candidate"], "trial": c["confirms"], "mean": c["mean"], "std": c["std"],
                   "runs": c["ok"]}
            row.update((f"param_{n}", c["params"].get(n)) for n in self.param_names)
            row.update((f"value_{k}", v) for k, v in enumerate(c["values"]))
            rows.append(row)
        return pd.DataFrame(rows)

    def _best(self):
        best = best_record(self.records, self.metric, self.direction, self.select)
        return None if best is None else dict(best)

    def _table(self):
        import pandas as pd

        metric_names = {k for r in self.records for k in r.get("metrics", {})} - {self.metric}
        metric_columns = [self.metric] + sorted(metric_names)
        columns = {
            "number": pd.Series([r["number"] for r in self.records], dtype="int64"),
            "stage": pd.Series([r["stage"] for r in self.records], dtype="int64"),
            "status": pd.Series([r["status"] for r in self.records], dtype=object),
        }
        for name in self.param_names:
            values = [r.get("params", {}).get(name) for r in self.records]
            # lists (e.g. hidden_dims) must stay whole, not be spread over rows
            as_object = any(isinstance(v, (list, tuple, dict)) for v in values)
            columns[f"param_{name}"] = pd.Series(values, dtype=object) if as_object else pd.Series(values)
        for name in metric_columns:
            columns[name] = pd.Series([r.get("metrics", {}).get(name, math.nan) for r in self.records],
                                      dtype="float64")
        columns["budget"] = pd.Series([r.get("budget") for r in self.records])
        trained = [r.get("trial_epochs", r.get("budget") or 0) for r in self.records]
        columns["trial_epochs"] = pd.Series(trained, dtype="int64")
        columns["study_epochs"] = pd.Series(trained, dtype="int64").cumsum()
        for name in _LABEL_COLUMNS:
            if any(name in r for r in self.records):
                columns[name] = pd.Series([r.get(name) for r in self.records], dtype="Int64")
        columns["seed"] = pd.Series([r.get("seed") for r in self.records], dtype="int64")
        columns["duration"] = pd.Series([r.get("duration") for r in self.records], dtype="float64")
        columns["error"] = pd.Series([r.get("error") for r in self.records], dtype=object)
        table = pd.DataFrame(columns)
        if not self.records:
            table["budget"] = table["budget"].astype("int64")
        return table

    @classmethod
    def from_storage(cls, storage, study, select="highest-budget"):
        """Read a study's result from a storage without running anything.

        Args:
            storage: a :class:`~hpsearch.storage.storage.Storage`, or the path of a storage file.
            study: the study's name (str) or its id in ``storage`` (int).
            select: how the best trial is chosen (see :data:`hpsearch.records.SELECTIONS`).

        Raises:
            StorageError: the file does not exist (it is not created), is not an
                hpsearch database, or holds no study of that name (the message lists
                the names present).
        """
        from hpsearch.storage.storage import Storage

        check_selection(select)
        if isinstance(storage, Storage):
            return cls._read(storage, study, select)
        path = Path(storage)
        if not path.is_file():
            raise StorageError(f"storage file '{path}' does not exist")
        with Storage(path, readonly=True) as opened:
            return cls._read(opened, study, select)

    @classmethod
    def _read(cls, storage, study, select):
        if isinstance(study, str):
            study_id, spec = storage.find_study(study)
            name = study
        else:
            for name in storage.study_names():
                study_id, spec = storage.find_study(name)
                if study_id == study:
                    break
            else:
                raise StorageError(f"no study with id {study!r} in {storage!r}")
        return cls(
            storage.load_trials(study_id),
            metric=spec["metric"],
            direction=spec["direction"],
            name=name,
            param_names=_space_names(spec.get("space", {})),
            stages=[_stage_record(d) for d in storage.load_stages(study_id)],
            boundary=storage.load_flags(study_id),
            select=select,
        )

    # ------------------------------------------------------------------ output
    def __len__(self):
        return len(self.records)

    def __repr__(self):
        best = "none" if self.best_value is None else f"{self.best_value:.6g}"
        return (f"SearchResult(name={self.name!r}, trials={len(self.records)}, {self.metric} best={best}, "
                f"flags={len(self.boundary)})")

    def stored_count(self):
        """Every trial of the result: the search's, the confirmation runs and the test run."""
        return len(self.records) + len(self.confirm_records) + int(self.test_record is not None)

    def counts(self):
        """Number of trials per status: ``{"ok": n, "diverged": n, "failed": n}``."""
        counts = {"ok": 0, "diverged": 0, "failed": 0}
        for record in self.records:
            counts[record["status"]] = counts.get(record["status"], 0) + 1
        return counts

    def to_csv(self, path):
        """Write the trials table to ``path`` (CSV, no index; parents created); returns the path.

        Written atomically and never through a symbolic link (see :mod:`hpsearch.storage.safe_files`).

        Raises:
            UnsafePathError: ``path`` is a symbolic link.
        """
        from hpsearch.storage.safe_files import write_text

        return write_text(Path(path), self.trials.to_csv(index=False))

    @property
    def trials(self):
        """The trials table (a DataFrame; see the class docstring)."""
        if self._trials is None:
            self._trials = self._table()
        return self._trials

    def top(self, n=10):
        """The ``n`` best "ok" trials as a DataFrame (best first), among those the selection rule
        compares (by default the trials at the highest budget reached)."""
        numbers = [r["number"] for r in self.top_records(n)]
        table = self.trials
        return table.set_index("number", drop=False).loc[numbers].reset_index(drop=True) if numbers else table.head(0)

    def top_records(self, n=10):
        """The ``n`` best "ok" trial records (best first) among those the selection rule compares."""
        return top_records(self.records, self.metric, self.direction, n, self.select)

    def summary(self, top=10):
        """A readable report: counts, the best trials, the stages, the compute, the failures and
        the confirmation (see :func:`hpsearch.results.summary.summarize`).

        Args:
            top: how many of the best trials to list.

        Returns:
            str (several lines, no trailing newline).
        """
        from hpsearch.results.summary import summarize

        return summarize(self, top)


def _space_names(space_dict):
    """Every parameter name of a stored space, in space order (a branch's parameters after its
    branch parameter); the top-level names when the space does not rebuild (a scipy.stats one)."""
    from hpsearch.space import Space

    try:
        return list(Space.from_dict(space_dict).names)
    except (ValueError, TypeError):
        return list(space_dict)
