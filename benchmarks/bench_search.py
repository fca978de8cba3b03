"""Search quality at equal compute on the digits MLP: grid, random, Sobol, coarse-to-fine, Optuna TPE.

Every strategy runs ``--repeats`` times (default 10; repeat r uses study seed r) through
``hpsearch.compare.compare_strategies``, each run with the same number of trials and the same
total epochs:

  - coarse-to-fine: ``Stage(60 trials, 2 epochs)`` then ``Stage(30 trials, 8 epochs)``
    (90 trials, 360 epochs);
  - grid, random, sobol, tpe: 90 trials of 4 epochs (360 epochs); the grid runs its largest
    full grid that fits, 3^4 = 81 trials (324 epochs), as reported in the table.

The objective is ``models.MLPObjective("digits", preprocess="standardize", batch_size=64,
depth=1)`` over lr (log-uniform 1e-5..1e-1), reg (log-uniform 1e-6..1e-1), the hidden width
(log-uniform integer 16..512) and dropout (uniform 0..0.5).

Reported per strategy: median and quartiles of the best validation accuracy of a run, and of
the compute needed to first reach ``--target`` (default 0.97): the cumulative epochs of the
run's trials, in trial order, up to and including the first trial at or above the target
("not reached" when a run never gets there; such runs count as infinitely expensive in the
quartiles). Plus the Mann-Whitney U test of random vs grid best values (scipy.stats), and of
coarse-to-fine vs TPE.

Expectations: random at least as good as grid (Bergstra & Bengio 2012), Sobol slightly better
than random; our goal: coarse-to-fine at least as good as TPE at equal epochs.

Run: ``python benchmarks/bench_search.py [--quick] [--repeats N] [--n-jobs 2]``.
"""
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (base_parser, check_repeats, describe_machine, format_table, report_and_save)  # noqa: E402

SCRIPT = "bench_search"
STRATEGIES = ("grid", "random", "sobol", "coarse-to-fine", "tpe")
STAGES = [(60, 2), (30, 8)]
STAGES_QUICK = [(4, 1), (2, 4)]


def _space():
    import hpsearch as hp

    return hp.Space({"lr": hp.LogUniform(1e-5, 1e-1), "reg": hp.LogUniform(1e-6, 1e-1),
                     "width": hp.IntLogUniform(16, 512), "dropout": hp.Uniform(0.0, 0.5)})


def epochs_to_target(runs, target):
    """Per (strategy, repeat): cumulative epochs up to the first trial with value >= target (inf if none)."""
    out = {}
    for (strategy, repeat), group in runs.groupby(["strategy", "repeat"], sort=False):
        group = group.sort_values("number")
        spent = group["budget"].cumsum().to_numpy()
        hit = np.flatnonzero(group["value"].fillna(-math.inf).to_numpy() >= target)
        out[(strategy, int(repeat))] = float(spent[hit[0]]) if hit.size else math.inf
    return out


def order_quartiles(values):
    """(q1, median, q3) without interpolation (``inverted_cdf``), so inf ("not reached") stays inf."""
    if not values:
        return (math.nan,) * 3
    return tuple(float(np.percentile(np.asarray(values, dtype=float), q, method="inverted_cdf"))
                 for q in (25, 50, 75))


def _fmt_epochs(x):
    return "not reached" if x == math.inf else ("-" if math.isnan(x) else f"{x:.0f}")


def mann_whitney(a, b):
    from scipy.stats import mannwhitneyu

    a = [x for x in a if math.isfinite(x)]
    b = [x for x in b if math.isfinite(x)]
    if not a or not b:
        return None
    res = mannwhitneyu(a, b, alternative="two-sided")
    return {"statistic": float(res.statistic), "pvalue": float(res.pvalue), "alternative": "two-sided",
            "n_a": len(a), "n_b": len(b)}


def main(argv=None):
    parser = base_parser(__doc__.splitlines()[0], default_repeats=10)
    parser.add_argument("--n-jobs", type=int, default=None, help="parallel trials per run (default 2; --quick 1)")
    parser.add_argument("--target", type=float, default=0.97, help="validation accuracy to reach (default 0.97)")
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES),
                        help=f"strategies to compare (default: {' '.join(STRATEGIES)})")
    args = parser.parse_args(argv)
    repeats = check_repeats(args.repeats) or (2 if args.quick else 10)
    n_jobs = args.n_jobs or (1 if args.quick else 2)
    if n_jobs < 1:
        raise SystemExit(f"--n-jobs must be a positive integer, got {n_jobs}")
    stages = STAGES_QUICK if args.quick else STAGES

    from hpsearch.compare import compare_strategies
    from models import MLPObjective

    objective = MLPObjective("digits", preprocess="standardize", batch_size=64, depth=1)
    parts = {"objective": objective, "space": _space(), "metric": "val_acc", "direction": "maximize",
             "name": "bench-search", "stages": stages}
    log = (lambda line: print(line, flush=True)) if not args.quick else None
    t0 = time.perf_counter()
    comparison = compare_strategies(parts, strategies=args.strategies, repeats=repeats, seed=0, n_jobs=n_jobs,
                                    log=log)
    wall = time.perf_counter() - t0

    best = comparison.best_per_run()
    reach = epochs_to_target(comparison.runs, args.target)
    figures = {}
    rows = []
    for strategy in comparison.strategies:
        group = best[best["strategy"] == strategy]
        values = [float(v) for v in group["best_value"]]
        q = comparison.summary.loc[strategy]
        cost = [reach[(strategy, int(r))] for r in group["repeat"]]
        cq = order_quartiles(cost)
        figures[strategy] = {
            "best_val_acc": values,
            "best_val_acc_quartiles": [float(q["q1"]), float(q["median"]), float(q["q3"])],
            "trials": int(q["trials"]), "epochs": int(q["epochs"]),
            "epochs_to_target": [None if c == math.inf else c for c in cost],
            "epochs_to_target_quartiles": [None if c == math.inf else c for c in cq],
            "reached": int(sum(c != math.inf for c in cost)),
        }
        rows.append([strategy, int(q["trials"]), int(q["epochs"]), f"{q['median']:.4f}", f"[{q['q1']:.4f}, {q['q3']:.4f}]",
                     f"{figures[strategy]['reached']}/{len(cost)}", _fmt_epochs(cq[1]),
                     f"[{_fmt_epochs(cq[0])}, {_fmt_epochs(cq[2])}]"])
    tests = {}
    if {"random", "grid"} <= set(figures):
        tests["random_vs_grid"] = mann_whitney(figures["random"]["best_val_acc"], figures["grid"]["best_val_acc"])
    if {"coarse-to-fine", "tpe"} <= set(figures):
        tests["coarse_to_fine_vs_tpe"] = mann_whitney(figures["coarse-to-fine"]["best_val_acc"],
                                                      figures["tpe"]["best_val_acc"])
    expectations = {}

    def med(s):
        return figures[s]["best_val_acc_quartiles"][1] if s in figures else math.nan

    if {"random", "grid"} <= set(figures):
        expectations["random_at_least_grid"] = med("random") >= med("grid")
    if {"sobol", "random"} <= set(figures):
        expectations["sobol_at_least_random"] = med("sobol") >= med("random")
    if {"coarse-to-fine", "tpe"} <= set(figures):
        expectations["coarse_to_fine_at_least_tpe"] = med("coarse-to-fine") >= med("tpe")

    machine = describe_machine()
    payload = {"benchmark": SCRIPT, "quick": args.quick, "repeats": repeats, "n_jobs": n_jobs,
               "target": args.target, "stages": stages, "space": _space().to_dict(),
               "objective": objective.get_params() if hasattr(objective, "get_params") else repr(objective),
               "wall_seconds": wall, "figures": figures, "tests": tests, "expectations": expectations,
               "goals": {"coarse_to_fine_at_least_tpe": {"value": [med("coarse-to-fine"), med("tpe")],
                                                         "met": expectations.get("coarse_to_fine_at_least_tpe")}},
               "machine": machine}
    total_trials = sum(n for n, _ in stages)
    total_epochs = sum(n * b for n, b in stages)
    title = (f"Best validation accuracy on digits at equal compute ({total_trials} trials, {total_epochs} epochs "
             f"per run; coarse-to-fine {' + '.join(f'{n} x {b} ep' for n, b in stages)}), {repeats} repeats, "
             f"n_jobs={n_jobs}")
    lines = [format_table(["strategy", "trials", "epochs", "best val acc (median)", "[q1, q3]",
                           f"runs reaching {args.target}", f"epochs to {args.target} (median)", "[q1, q3]"],
                          rows, title=title), ""]
    for name, t in tests.items():
        lines.append(f"Mann-Whitney U, {name.replace('_', ' ')}: " +
                     ("not enough runs" if t is None else
                      f"U = {t['statistic']:.1f}, p = {t['pvalue']:.3g} (two-sided, {t['n_a']} vs {t['n_b']} runs)"))
    lines.append("expectations: " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in expectations.items()))
    lines += ["", f"wall time {wall:.0f} s"]
    return report_and_save(lines, machine, payload, args, SCRIPT)


if __name__ == "__main__":
    main()
