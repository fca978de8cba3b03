"""Search strategies at equal compute, repeated, with statistics.

:func:`compare_strategies` runs every strategy ``repeats`` times (repeat ``r``
uses study seed ``seed + r``) on the same objective and space, each run at the
same compute: the same number of trials and the same total epochs. A
coarse-to-fine plan's stages fix both totals; a single-stage strategy gets
``n_trials = total trials`` and ``budget = round(total epochs / total trials)``.
Grid runs its largest grid that fits in the trials (it may run fewer); the other
strategies are not cut down to match it, and the trial and epoch counts actually
used are reported. Every run is stored in ``out_dir/compare.db`` under its own
study name, so an interrupted comparison resumes where it stopped.
"""
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hpsearch.storage.runfolder import COMPARE_DB, RunFolder
from hpsearch.storage.safe_files import write_text

__all__ = ["Comparison", "compare_strategies", "DEFAULT_STRATEGIES"]

DEFAULT_STRATEGIES = ("grid", "random", "sobol", "coarse-to-fine")


@dataclass
class Comparison:
    """The outcome of :func:`compare_strategies`.

    Attributes:
        name: the study's name; metric, direction: what was optimised.
        space: the :class:`~hpsearch.space.Space` searched (the first stage's for coarse-to-fine).
        strategies: the strategies, in the order given; repeats: runs per strategy.
        runs: one row per trial of every run: ``strategy, repeat, number, stage, status, budget,
            value`` (the metric; NaN when the trial is not ``"ok"``), ``param_<name>...``;
            sorted by strategy (in the given order), repeat, number.
        summary: index ``strategy``; columns ``median, q1, q3`` (of the best value per run),
            ``trials``, ``epochs`` (per run, the median over repeats).
        test: Mann-Whitney U of random's vs grid's best values (``{"a": "random", "b": "grid",
            "statistic", "pvalue", "alternative", "n_a", "n_b"}``), or None when either is missing.
    """

    name: str
    metric: str
    direction: str
    space: object
    strategies: list
    repeats: int
    runs: pd.DataFrame
    summary: pd.DataFrame
    test: dict = None

    def best_per_run(self):
        """DataFrame ``strategy, repeat, best_value, trials, epochs``, one row per run."""
        return _best_per_run(self.runs, self.strategies, self.direction)

    def to_csv(self, path):
        """Write :attr:`runs` (one row per trial of every run) to ``path``; returns the path.

        Written atomically and never through a symbolic link (see :mod:`hpsearch.storage.safe_files`).
        """
        return write_text(Path(path), self.runs.to_csv(index=False))

    def report(self):
        """The summary as text: median [q1, q3] of the best value per strategy, and the test."""
        lines = [f"compare {self.name!r}: {len(self.strategies)} strategies x {self.repeats} repeats, "
                 f"{self.direction} {self.metric}, same compute per run"]
        width = max(len("strategy"), *(len(s) for s in self.strategies))
        lines.append(f"  {'strategy':<{width}}  {'trials':>6}  {'epochs':>6}  best {self.metric}: median [q1, q3]")
        for strategy, row in self.summary.iterrows():
            if math.isnan(row["median"]):
                value = "no ok trial"
            else:
                value = f"{row['median']:.4f} [{row['q1']:.4f}, {row['q3']:.4f}]"
            lines.append(f"  {strategy:<{width}}  {int(row['trials']):>6}  {int(row['epochs']):>6}  {value}")
        trials = self.summary["trials"]
        if "grid" in self.summary.index and trials["grid"] < trials.max():
            lines.append(f"  (grid runs its largest grid that fits: {int(trials['grid'])} of "
                         f"{int(trials.max())} trials)")
        if self.test is None:
            lines.append("Mann-Whitney U test: needs both random and grid with at least one ok run each")
        else:
            t = self.test
            lines.append(f"Mann-Whitney U, random vs grid best {self.metric} ({t['alternative']}, "
                         f"{t['n_a']} vs {t['n_b']} runs): U = {t['statistic']:.1f}, p = {t['pvalue']:.3g}")
        return "\n".join(lines)


def _best_per_run(runs, strategies, direction):
    rows = []
    for (strategy, repeat), group in runs.groupby(["strategy", "repeat"], sort=False):
        ok = group[group["value"].notna()]
        # the run's own best: among the ok trials at the highest budget reached (SearchResult's rule)
        values = ok.loc[ok["budget"] == ok["budget"].max(), "value"]
        if values.empty:
            best = math.nan
        else:
            best = float(values.max() if direction == "maximize" else values.min())
        rows.append({"strategy": strategy, "repeat": int(repeat), "best_value": best,
                     "trials": int(len(group)), "epochs": int(group.get("trial_epochs", group["budget"]).sum())})
    table = pd.DataFrame(rows, columns=["strategy", "repeat", "best_value", "trials", "epochs"])
    order = {s: i for i, s in enumerate(strategies)}
    table = table.sort_values(["strategy", "repeat"], key=lambda c: c.map(order) if c.name == "strategy" else c,
                              kind="stable")
    return table.reset_index(drop=True)


def _summary(best, strategies):
    rows = []
    for strategy in strategies:
        group = best[best["strategy"] == strategy]
        values = group["best_value"].dropna().to_numpy(dtype=float)
        if values.size:
            q1, median, q3 = np.percentile(values, [25, 50, 75])
        else:
            q1 = median = q3 = math.nan
        rows.append({"strategy": strategy, "median": float(median), "q1": float(q1), "q3": float(q3),
                     "trials": int(np.median(group["trials"])) if len(group) else 0,
                     "epochs": int(np.median(group["epochs"])) if len(group) else 0})
    return pd.DataFrame(rows).set_index("strategy")


def _test(best):
    from scipy.stats import mannwhitneyu

    a = best.loc[best["strategy"] == "random", "best_value"].dropna().to_numpy(dtype=float)
    b = best.loc[best["strategy"] == "grid", "best_value"].dropna().to_numpy(dtype=float)
    if a.size == 0 or b.size == 0:
        return None
    res = mannwhitneyu(a, b, alternative="two-sided")
    return {"a": "random", "b": "grid", "statistic": float(res.statistic), "pvalue": float(res.pvalue),
            "alternative": "two-sided", "n_a": int(a.size), "n_b": int(b.size)}


def _as_definition(source):
    """A StudyDefinition from a definition (a loaded study file), a study file path, or a dict of parts."""
    from hpsearch.studyfile.definition import StudyDefinition
    from hpsearch.studyfile.reader import load_study_file

    if isinstance(source, StudyDefinition):
        return source
    if isinstance(source, (str, Path)):
        return load_study_file(source)
    if isinstance(source, dict):
        try:
            return StudyDefinition.from_parts(source)
        except ValueError as exc:
            raise ValueError(f"compare_strategies: {exc}") from None
    raise ValueError(f"compare_strategies needs a StudyFile, a study file path or a dict of parts, got {source!r}")


def compare_strategies(study_file_or_parts, strategies=DEFAULT_STRATEGIES, repeats=5, n_trials=None, seed=0,
                       n_jobs=None, out_dir=None, backend=None, progress=False, log=None):
    """Run each strategy ``repeats`` times at equal compute and summarise the best values.

    Args:
        study_file_or_parts: a :class:`~hpsearch.studyfile.reader.StudyFile`, a study file path, or a
            dict with ``objective``, ``space`` and either ``stages`` (a list of ``(n_trials,
            budget[, sampler])`` or Stage objects) or ``n_trials`` and ``budget``; optional
            ``metric`` (default ``"val_acc"``), ``direction`` (``"maximize"``), ``name``, ``points``.
        strategies: strategy names (samplers and ``"coarse-to-fine"``).
        repeats: positive int, runs per strategy; repeat ``r`` uses seed ``seed + r``.
        n_trials: total trials per run (positive int) instead of the file's; the total
            epochs scale with it (the average epochs per trial stay the same).
        seed: the base seed (non-negative int).
        n_jobs: parallel trials inside each run (default: all cores; -1 also means all).
        out_dir: folder for ``compare.db`` (resumable); None keeps everything in memory.
        backend: joblib backend name (default: the file's, else ``"loky"``).
        progress: a tqdm bar per run.
        log: optional callable ``log(str)`` told about each run as it finishes.

    Returns:
        :class:`Comparison`.

    Raises:
        ValueError / HpsearchError: unknown strategies, bad counts, storage problems.
        StudyInterrupted: Ctrl-C; finished trials are kept in ``compare.db``.
    """
    from hpsearch.checks import SEED_LIMIT, check_seed, positive_int
    from hpsearch.strategies.planning import check_strategy

    sf = _as_definition(study_file_or_parts)
    strategies = list(strategies)
    if not strategies:
        raise ValueError("compare_strategies needs at least one strategy")
    for strategy in strategies:
        check_strategy(strategy)
    if len(set(strategies)) != len(strategies):
        raise ValueError(f"a strategy is listed twice in {strategies}")
    positive_int(repeats, "repeats")
    check_seed(seed)
    if seed + repeats > SEED_LIMIT:  # found now, not at the last repeat
        raise ValueError(f"seed {seed} with {repeats} repeats would use seeds up to {seed + repeats - 1} "
                         f"(repeat r uses seed + r), and a seed must be below 2**32")
    for strategy in strategies:
        sf.plan(strategy, n_trials=n_trials)  # an impossible plan fails now, not after an hour of runs
    storage = None
    if out_dir is not None:
        out_dir = Path(out_dir)
        RunFolder(out_dir).refuse_links().create()
        storage = out_dir / COMPARE_DB
    frames = []
    total = len(strategies) * repeats
    for i, strategy in enumerate(strategies):
        for r in range(repeats):
            study = sf.make_study(storage, name=f"{sf.name}-{strategy}-{r}")
            result = sf.run(study, strategy=strategy, n_trials=n_trials, seed=seed + r, n_jobs=n_jobs,
                            backend=backend, progress=progress)
            frames.append(_run_frame(result, strategy, r, sf.metric))
            if log is not None:
                best = "none" if result.best_value is None else f"{result.best_value:.4f}"
                epochs = int(result.trials["trial_epochs"].sum()) if len(result) else 0
                log(f"[{i * repeats + r + 1}/{total}] {strategy} repeat {r} (seed {seed + r}): "
                    f"{len(result)} trials, {epochs} epochs, best {sf.metric} {best}")
    runs = pd.concat(frames, ignore_index=True)
    order = {s: k for k, s in enumerate(strategies)}
    runs = runs.sort_values(["strategy", "repeat", "number"],
                            key=lambda c: c.map(order) if c.name == "strategy" else c,
                            kind="stable").reset_index(drop=True)
    best = _best_per_run(runs, strategies, sf.direction)
    return Comparison(name=sf.name, metric=sf.metric, direction=sf.direction, space=sf.space,
                      strategies=strategies, repeats=repeats, runs=runs, summary=_summary(best, strategies),
                      test=_test(best) if {"random", "grid"} <= set(strategies) else None)


def _run_frame(result, strategy, repeat, metric):
    trials = result.trials
    params = [c for c in trials.columns if c.startswith("param_")]
    frame = pd.DataFrame({
        "strategy": strategy,
        "repeat": repeat,
        "number": trials["number"].astype("int64"),
        "stage": trials["stage"].astype("int64"),
        "status": trials["status"],
        "budget": trials["budget"].astype("int64"),
        "value": trials[metric].where(trials["status"] == "ok") if metric in trials else math.nan,
        # what the run trained (a continued multi-fidelity trial trains only its extra epochs)
        "trial_epochs": trials["trial_epochs"].astype("int64"),
        "study_epochs": trials["study_epochs"].astype("int64"),
    })
    for column in params:
        frame[column] = trials[column]
    return frame
