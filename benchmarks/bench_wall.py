"""The main job's wall time end to end, against the work it does and the floor without hpsearch.

Measured, each ``--repeats`` times (default 3; median reported), interleaved:

- **main job**: ``hpsearch run studies/digits_mlp.toml --quiet`` as a subprocess in a scratch
  folder (a fresh run each time), at ``--n-jobs 1`` and at the default (``auto``: all cores
  unless the study is too small for workers);
- **the work**: the sum of the run's trial durations (confirmation and test included);
- **the floor**: the same trials (parameters, budgets, seeds read from the stored run) called
  one after another in one process, without hpsearch;
- **first trial of a fresh worker**: a new Python process that imports the objective's module
  and runs one 3-epoch digits trial (the cost every loky worker pays before its first result);
- **plots**: ``save_run_plots`` on the main job's result and on LogBowl studies of 1,000 and
  10,000 trials;
- **CLI latency**: ``hpsearch run --dry-run`` and ``hpsearch show`` on the finished run.

The figure it prints (issue 23): the main job's wall time / (the summed durations of all its
trials, confirmation and test runs included, / the cores + 1 s). Goals: that ratio <= 1.3 at the
default n_jobs; the default never slower than ``--n-jobs 1``; the finished study run again (nothing
to do) under 1 s; ``hpsearch plot`` on its folder, as a whole command, under 1.5 s; plots <= 1.5 s;
first trial <= 0.3 s; show and --dry-run <= 0.5 s.

Run: ``python benchmarks/bench_wall.py [--quick] [--repeats N]``.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (ROOT, base_parser, check_repeats, describe_machine, fmt_ratio, fmt_seconds, fresh_out,  # noqa: E402
                     format_table, interleaved, median, report_and_save)

SCRIPT = "bench_wall"
STUDY = ROOT / "studies" / "digits_mlp.toml"
QUICK_STUDY = """
name = "digits-quick"
metric = "val_acc"
direction = "maximize"
[trainer]
dataset = "digits"
preprocess = "center"
batch_size = 64
[space]
lr = { type = "loguniform", low = 1e-4, high = 1e-1 }
[search]
strategy = "random"
n_trials = 4
budget = 1
"""
FIRST_TRIAL = """
import time
t0 = time.perf_counter()
from models import MLPObjective
objective = MLPObjective("digits", preprocess="center", optimizer="adam", batch_size=64, depth=1)
objective({"lr": 1e-3, "reg": 1e-4, "width": 64, "activation": "relu", "dropout": 0.1}, 3, 0)
print(time.perf_counter() - t0)
"""


def _env():
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), MPLBACKEND="Agg")


def _hpsearch(args, cwd):
    """Wall seconds of one ``python -m hpsearch ARGS`` (a failure stops the benchmark)."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "hpsearch", *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=1800)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"hpsearch {' '.join(args)} failed ({done.returncode}): {done.stderr[-1500:]}")
    return wall, done.stdout


def main_job(study, n_jobs, scratch):
    """(wall seconds, run folder, the n_jobs the run used) of a fresh main job."""
    folder = Path(tempfile.mkdtemp(dir=scratch))
    args = ["run", str(study), "--out", str(folder / "run"), "--quiet"]
    if n_jobs is not None:
        args += ["--n-jobs", str(n_jobs)]
    else:
        args.remove("--quiet")  # the default run says how many workers it chose
    wall, out = _hpsearch(args, folder)
    used = n_jobs or next((int(line.split()[1].rstrip(",")) for line in out.splitlines() if line.startswith("n_jobs: ")),
                          os.cpu_count() or 1)
    return wall, folder / "run", used


def work_of(run_dir):
    """(the summed durations of all the run's trials, confirmation and test included; the trials)."""
    import hpsearch as hp

    result = hp.load_study(run_dir / "study.db", _name(run_dir))
    rows = result.records + result.confirm_records + ([result.test_record] if result.test_record else [])
    return sum(r["duration"] or 0.0 for r in rows), rows


def cores():
    """The cores this process may use (what the issue's ratio divides the work by)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def ratio(wall, summed):
    """The issue's figure: wall / (summed trial durations / cores + 1 s)."""
    return wall / (summed / cores() + 1.0)


def _name(run_dir):
    return json.loads((run_dir / "run.json").read_text())["name"]


def floor_of(rows):
    """Seconds to call the same trials one after another in this process, without hpsearch."""
    from hpsearch.studyfile.reader import load_study_file

    objective = load_study_file(STUDY).objective
    objective(rows[0]["params"], 1, 0)  # load the data first, as a worker does once
    t0 = time.perf_counter()
    for r in rows:
        kwargs = {"final": True} if r.get("role") == "test" else {}
        objective(r["params"], r["budget"], r["seed"], **kwargs)
    return time.perf_counter() - t0


def first_trial():
    """(time inside the fresh process, the process's whole wall time) to its first digits trial."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", FIRST_TRIAL], cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=300, check=True)
    return float(done.stdout.strip().splitlines()[-1]), time.perf_counter() - t0


def plot_seconds(result, scratch):
    from hpsearch.plots import save_run_plots

    t0 = time.perf_counter()
    save_run_plots(result, Path(tempfile.mkdtemp(dir=scratch)))
    return time.perf_counter() - t0


def bowl_result(n_trials):
    import hpsearch as hp
    from hpsearch.objectives import LogBowl

    space = {"lr": hp.LogUniform(1e-6, 1e-1), "reg": hp.LogUniform(1e-6, 1e-1), "width": hp.IntLogUniform(16, 512)}
    return hp.Study(LogBowl({"lr": 1e-3, "reg": 1e-4}, noise=0.05), space, metric="score").optimize(
        n_trials=n_trials, budget=3, seed=0)


def _row(name, values, goal=None, ratio_to=None):
    m = median(values)
    spread = f"{fmt_seconds(min(values))} - {fmt_seconds(max(values))}" if values else "-"
    return [name, fmt_seconds(m), spread, goal or "", fmt_ratio(m / ratio_to) if ratio_to else ""]


def measure(args, repeats, scratch):
    study = STUDY
    if args.quick:  # a small study of the same trainer, for the smoke test
        study = Path(scratch) / "digits_quick.toml"
        study.write_text(QUICK_STUDY)
    f = {"main_default": [], "main_one": [], "work_default": [], "work_one": [], "ratio_default": [],
         "ratio_one": [], "floor": [], "first_trial": [], "first_trial_process": [], "dry_run": [], "show": [],
         "rerun": [], "plot_command": [], "workers_used": []}
    for _, peer in interleaved(["default", "one"], repeats):
        wall, run_dir, used = main_job(study, None if peer == "default" else 1, scratch)
        summed, rows = work_of(run_dir)
        f[f"main_{peer}"].append(wall)
        f[f"work_{peer}"].append(summed)
        f[f"ratio_{peer}"].append(ratio(wall, summed))
        if peer == "default":
            f["workers_used"].append(used)
            f["dry_run"].append(_hpsearch(["run", str(study), "--dry-run"], scratch)[0])
            f["show"].append(_hpsearch(["show", str(run_dir)], scratch)[0])
            # the finished study run again: nothing to train, nothing new to draw
            f["rerun"].append(_hpsearch(["run", str(study), "--out", str(run_dir), "--quiet"], scratch)[0])
            f["plot_command"].append(_hpsearch(["plot", str(run_dir)], scratch)[0])
            f["floor"].append(floor_of(rows))
            inside, process = first_trial()
            f["first_trial"].append(inside)
            f["first_trial_process"].append(process)
            last_run = run_dir
    import hpsearch as hp

    main_result = hp.load_study(last_run / "study.db", _name(last_run))
    results = {len(main_result.records): main_result}
    for n in ((200,) if args.quick else (1000, 10000)):
        results[n] = bowl_result(n)
    f["plots"] = {n: [plot_seconds(res, scratch) for _ in range(repeats)] for n, res in results.items()}
    return f


def main(argv=None):
    parser = base_parser(__doc__.splitlines()[0], default_repeats=3)
    args = parser.parse_args(argv)
    if args.out is None and not args.quick:
        # the committed bench_wall.json holds a quiet machine's figures: replaced only when --out says so
        args.out = fresh_out(SCRIPT)
    repeats = check_repeats(args.repeats) or (1 if args.quick else 3)
    scratch = tempfile.mkdtemp(prefix="bench-wall-")
    try:
        f = measure(args, repeats, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    summed = median(f["work_default"])
    main_default, main_one = median(f["main_default"]), median(f["main_one"])
    the_ratio = median(f["ratio_default"])
    goals = {
        "main_job_within_1.3x_work_over_cores_plus_1s": {"value": the_ratio, "met": the_ratio <= 1.3},
        "default_not_slower_than_one": {"value": main_default / main_one, "met": main_default <= main_one},
        "rerun_of_a_finished_study_under_1s": {"value": median(f["rerun"]), "met": median(f["rerun"]) < 1.0},
        "plot_command_under_1.5s": {"value": median(f["plot_command"]), "met": median(f["plot_command"]) < 1.5},
        "plots_at_most_1.5s": {"value": max(median(v) for v in f["plots"].values()),
                               "met": all(median(v) <= 1.5 for v in f["plots"].values())},
        "first_trial_at_most_0.3s": {"value": median(f["first_trial"]), "met": median(f["first_trial"]) <= 0.3},
        "cli_at_most_0.5s": {"value": max(median(f["dry_run"]), median(f["show"])),
                             "met": max(median(f["dry_run"]), median(f["show"])) <= 0.5},
    }
    base = summed / cores() + 1.0
    rows = [
        _row("main job, default n_jobs", f["main_default"], "<= 1.3 x (work / cores + 1 s)", base),
        _row("main job, --n-jobs 1", f["main_one"], "default no slower", base),
        _row("  the work: summed trial durations (confirmation, test included)", f["work_default"]),
        _row("  the floor (the same trials, one process, no hpsearch)", f["floor"]),
        _row("the finished study run again (nothing to do)", f["rerun"], "< 1 s"),
        _row("hpsearch plot on the run folder (whole command)", f["plot_command"], "< 1.5 s"),
        _row("first trial of a fresh process (inside it)", f["first_trial"], "<= 0.3 s"),
        _row("  the same process's whole wall time", f["first_trial_process"]),
        _row("hpsearch run --dry-run", f["dry_run"], "<= 0.5 s"),
        _row("hpsearch show (finished run)", f["show"], "<= 0.5 s"),
    ] + [_row(f"plots, {n} trials", v, "<= 1.5 s") for n, v in f["plots"].items()]
    spread = f"{min(f['ratio_default']):.2f}-{max(f['ratio_default']):.2f}"
    lines = [format_table(["measure", "median", "min - max", "goal", "ratio to goal's base"], rows,
                          title=f"Main job wall time ({repeats} repeats; default n_jobs used "
                                f"{sorted(set(f['workers_used']))} workers)"),
             "", f"main job wall / (summed trial durations / {cores()} cores + 1 s) = {the_ratio:.2f} "
                 f"(median; {spread} over {repeats} runs; --n-jobs 1: {median(f['ratio_one']):.2f})",
             "", "goals: " + ", ".join(f"{k} {'met' if v['met'] else 'MISSED'} ({v['value']:.3g})"
                                       for k, v in goals.items())]
    machine = describe_machine()
    payload = {"benchmark": SCRIPT, "quick": args.quick, "repeats": repeats, "figures": f, "goals": goals,
               "machine": machine}
    return report_and_save(lines, machine, payload, args, SCRIPT)


if __name__ == "__main__":
    main()
