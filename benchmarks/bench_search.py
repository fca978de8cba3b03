"""Search quality at equal compute on the digits MLP: samplers and coarse-to-fine; multi-fidelity vs Optuna.

Two parts (``--part``, default both; a single part keeps the other's figures in the JSON):

  - ``equal-trials`` (below): grid, random, Sobol, coarse-to-fine and Optuna TPE at the same
    trials and epochs;
  - ``fidelity`` (:mod:`bench_fidelity`, which also runs on its own): sha and hyperband, with
    the random sampler or the per-budget model, against Optuna TPE + HyperbandPruner, Optuna
    random + SuccessiveHalvingPruner and DEHB at the same total epochs, on four problems, with the
    handed-over configurations re-trained with fresh seeds (n_jobs=1 per search).

In the equal-trials part, every strategy runs ``--repeats`` times (default 10; repeat r uses study seed r) through
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

Run: ``python benchmarks/bench_search.py [--quick] [--part all|equal-trials|fidelity] [--repeats N]
[--n-jobs 2] [--strategies ...] [--problems main sgd]`` (the full run takes ~15-20 min on one core).
"""
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (base_parser, check_repeats, default_out, describe_machine, format_table,  # noqa: E402
                     order_quartiles, report_and_save)
import bench_fidelity  # noqa: E402

SCRIPT = "bench_search"
STRATEGIES = ("grid", "random", "sobol", "coarse-to-fine", "tpe")
PARTS = ("all", "equal-trials", "fidelity")
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
    parser.add_argument("--part", choices=PARTS, default="all",
                        help="equal-trials (grid ... tpe), fidelity (sha, hyperband, ... vs Optuna's pruners) "
                             "or all (default); a single part keeps the other's figures in the JSON")
    parser.add_argument("--n-jobs", type=int, default=None,
                        help="parallel trials per run of the equal-trials part (default 2; --quick 1)")
    parser.add_argument("--target", type=float, default=0.97,
                        help="validation accuracy to reach in the equal-trials part (default 0.97)")
    parser.add_argument("--strategies", nargs="+", default=None,
                        help=f"strategies to compare (default: equal-trials {' '.join(STRATEGIES)}; "
                             f"fidelity {' '.join(bench_fidelity.STRATEGIES)})")
    parser.add_argument("--problems", nargs="+", default=list(bench_fidelity.TARGETS),
                        help=f"fidelity problems (default: {' '.join(bench_fidelity.TARGETS)})")
    args = parser.parse_args(argv)
    repeats = check_repeats(args.repeats) or (2 if args.quick else 10)
    n_jobs = args.n_jobs or (1 if args.quick else 2)
    if n_jobs < 1:
        raise SystemExit(f"--n-jobs must be a positive integer, got {n_jobs}")
    _check_strategies(args)
    log = (lambda line: print(line, flush=True)) if not args.quick else None
    payload = {"benchmark": SCRIPT, "quick": args.quick, "repeats": repeats}
    previous = _previous(args)
    lines = []
    if args.part in ("equal-trials", "all"):
        part, part_lines = equal_trials(args, repeats, n_jobs, log)
        payload.update(part)
        lines += part_lines + [""]
    else:
        payload.update({k: v for k, v in previous.items() if k not in ("fidelity", "machine", "quick", "repeats")})
    if args.part in ("fidelity", "all"):
        t0 = time.perf_counter()
        part, part_lines = bench_fidelity.run_part(args.problems, args.strategies or list(bench_fidelity.STRATEGIES),
                                                   repeats, args.quick, log=log)
        payload["fidelity"] = {"repeats": repeats, "n_jobs": 1, "wall_seconds": time.perf_counter() - t0, **part}
        lines += part_lines + ["", f"fidelity part: wall time {payload['fidelity']['wall_seconds']:.0f} s"]
    elif "fidelity" in previous:
        payload["fidelity"] = previous["fidelity"]
    machine = describe_machine()
    payload["machine"] = machine
    return report_and_save(lines, machine, payload, args, SCRIPT)


def _check_strategies(args):
    valid = STRATEGIES if args.part == "equal-trials" else \
        bench_fidelity.STRATEGIES if args.part == "fidelity" else None
    if args.strategies is not None and valid is None:
        raise SystemExit("--strategies needs --part equal-trials or --part fidelity")
    for name in args.strategies or ():
        if name not in valid:
            raise SystemExit(f"--strategies: unknown strategy {name!r} for --part {args.part}; "
                             f"expected one of {', '.join(valid)}")
    for name in args.problems:
        if name not in bench_fidelity.TARGETS:
            raise SystemExit(f"--problems: unknown problem {name!r}; expected one of "
                             f"{', '.join(bench_fidelity.TARGETS)}")


def _previous(args):
    """The figures of the last full run (to keep the part not run now), or {}."""
    path = args.out or default_out(SCRIPT, args.quick)
    if args.part == "all" or not path.exists():
        return {}
    try:
        previous = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return previous if previous.get("benchmark") == SCRIPT and previous.get("quick") == args.quick else {}


def equal_trials(args, repeats, n_jobs, log):
    """The first part: grid, random, Sobol, coarse-to-fine and TPE at equal trials and epochs."""
    stages = STAGES_QUICK if args.quick else STAGES

    from hpsearch.compare import compare_strategies
    from models import MLPObjective

    objective = MLPObjective("digits", preprocess="standardize", batch_size=64, depth=1)
    parts = {"objective": objective, "space": _space(), "metric": "val_acc", "direction": "maximize",
             "name": "bench-search", "stages": stages}
    t0 = time.perf_counter()
    comparison = compare_strategies(parts, strategies=args.strategies or list(STRATEGIES), repeats=repeats, seed=0,
                                    n_jobs=n_jobs, log=log)
    wall = time.perf_counter() - t0
    figures, rows = _equal_figures(comparison, args.target)
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

    payload = {"n_jobs": n_jobs, "target": args.target, "stages": stages, "space": _space().to_dict(),
               "objective": objective.get_params() if hasattr(objective, "get_params") else repr(objective),
               "wall_seconds": wall, "figures": figures, "tests": tests, "expectations": expectations,
               "goals": {"coarse_to_fine_at_least_tpe": {"value": [med("coarse-to-fine"), med("tpe")],
                                                         "met": expectations.get("coarse_to_fine_at_least_tpe")}}}
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
    return payload, lines


def _equal_figures(comparison, target):
    """Per strategy of the equal-trials part: its figures (for the JSON) and its table row."""
    best = comparison.best_per_run()
    reach = epochs_to_target(comparison.runs, target)
    figures, rows = {}, []
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
        rows.append([strategy, int(q["trials"]), int(q["epochs"]), f"{q['median']:.4f}",
                     f"[{q['q1']:.4f}, {q['q3']:.4f}]", f"{figures[strategy]['reached']}/{len(cost)}",
                     _fmt_epochs(cq[1]), f"[{_fmt_epochs(cq[0])}, {_fmt_epochs(cq[2])}]"])
    return figures, rows


if __name__ == "__main__":
    main()
