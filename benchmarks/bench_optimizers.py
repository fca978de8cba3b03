"""The shipped optimizer comparison end to end: ``hpsearch run studies/optimizers.toml``.

Measured, ``--repeats`` times (default 3; median and range reported): the wall time of
``hpsearch run studies/optimizers.toml --n-jobs 2 --quiet`` as a subprocess in a scratch folder
(a fresh run each time, plots included), and what the run found: the winning optimizer after
confirmation, its lead over the runner-up optimizer, and whether that lead is within noise.
The same seed gives the same answer every repeat; only the time varies.

Goal (issue 24): the study finishes in under a minute on two cores.

Run: ``python benchmarks/bench_optimizers.py [--quick] [--repeats N]``.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (ROOT, base_parser, check_repeats, describe_machine, fmt_seconds,  # noqa: E402
                     format_table, median, report_and_save)

SCRIPT = "bench_optimizers"
STUDY = ROOT / "studies" / "optimizers.toml"
GOAL_SECONDS = 60.0


def _study(quick, scratch):
    """The shipped study, or (quick) the same file at a small fraction of its budget."""
    if not quick:
        return STUDY
    text = STUDY.read_text()
    for old, new in (("total_budget = 400", "total_budget = 12"), ("max_budget = 9", "max_budget = 3"),
                     ("seeds = 3", "seeds = 2"), ("top = 3", "top = 2")):
        text = text.replace(old, new)
    path = Path(scratch) / "optimizers-quick.toml"
    path.write_text(text)
    return path


def run_once(study, scratch):
    """(wall seconds, run folder) of one fresh ``hpsearch run``."""
    folder = Path(tempfile.mkdtemp(dir=scratch))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "hpsearch", "run", str(study), "--out", str(folder / "run"),
                           "--n-jobs", "2", "--quiet"], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=1800)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"hpsearch run failed ({done.returncode}): {done.stderr[-1500:]}")
    return wall, folder / "run"


def finding(run_dir):
    """What the run says: the winning optimizer, its lead over the runner-up optimizer, noise."""
    import hpsearch as hp
    from hpsearch.records import branch_bests

    result = hp.load_study(run_dir / "study.db", "optimizers")
    report = result.confirmation
    ranked = sorted((c for c in report.candidates if c["ok"]), key=lambda c: -c["mean"])
    first, second = ranked[0], ranked[1]
    return {"winner": first["params"]["optimizer"], "winner_mean": first["mean"],
            "runner_up": second["params"]["optimizer"], "runner_up_mean": second["mean"],
            "lead": first["mean"] - second["mean"], "within_noise": report.within_noise, "pvalue": report.pvalue,
            "search_best_per_optimizer": {r["params"]["optimizer"]: r["metrics"]["val_acc"]
                                          for r in branch_bests(result.records, "val_acc", "maximize", "optimizer")}}


def main(argv=None):
    parser = base_parser(__doc__.splitlines()[0], default_repeats=3)
    args = parser.parse_args(argv)
    repeats = check_repeats(args.repeats) or (1 if args.quick else 3)
    scratch = tempfile.mkdtemp(prefix="bench-optimizers-")
    try:
        study = _study(args.quick, scratch)
        walls, found = [], None
        for _ in range(repeats):
            wall, run_dir = run_once(study, scratch)
            walls.append(wall)
            found = finding(run_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    wall = median(walls)
    goals = {"under_a_minute_on_two_cores": {"value": wall, "met": wall < GOAL_SECONDS}}
    noise = "within" if found["within_noise"] else "beyond"
    lead = f"{found['lead']:.4f}" + (f" ({noise} noise, p={found['pvalue']:.2g})" if found["pvalue"] is not None else "")
    met = goals["under_a_minute_on_two_cores"]["met"]
    rows = [["wall time (median)", fmt_seconds(wall)],
            ["range", f"{fmt_seconds(min(walls))} - {fmt_seconds(max(walls))}"],
            ["winner (confirmed mean)", f"{found['winner']} {found['winner_mean']:.4f}"],
            ["runner-up optimizer", f"{found['runner_up']} {found['runner_up_mean']:.4f}"],
            ["lead", lead]]
    quick = " (quick: a small fraction of the budget)" if args.quick else ""
    lines = [format_table(["studies/optimizers.toml, --n-jobs 2", "value"], rows, title=f"{SCRIPT}: {repeats} run(s){quick}"),
             "", f"goal: under {GOAL_SECONDS:.0f} s on two cores: {'met' if met else 'NOT met'}"]
    machine = describe_machine()
    payload = {"benchmark": SCRIPT, "quick": args.quick, "repeats": repeats, "machine": machine,
               "wall_seconds": walls, "median_seconds": wall, "finding": found, "goals": goals}
    return report_and_save(lines, machine, payload, args, SCRIPT)


if __name__ == "__main__":
    main()
