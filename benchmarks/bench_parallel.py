"""Parallel speed-up of a study of real MLP trials on digits: n_jobs=1 vs n_jobs=2.

The study: ``--trials`` random trials (default 40) of ``models.MLPObjective("digits",
preprocess="standardize", batch_size=32)`` with ``--epochs`` epochs each (default 30), searching lr
(log-uniform 1e-4..1e-2), reg (log-uniform 1e-6..1e-2) and the hidden width (100..300).
Every configuration runs in a fresh Python process with its own environment; there a small
warm-up study starts the worker pool and loads the data in every worker, then the timed study
runs on the warm pool (the steady state of a long search). Configurations are interleaved over
the repeats:

  - ``n_jobs=1``:                one process; BLAS keeps its default threads (all cores).
  - ``n_jobs=1, 1 BLAS thread``: the same with OPENBLAS/OMP/MKL_NUM_THREADS=1, i.e. the best
                                 serial set-up for such small matrices (a stricter baseline).
  - ``n_jobs=2, limited``:       two loky workers; hpsearch limits each worker's BLAS pools to
                                 cores // n_jobs (threadpoolctl, around every trial); the default.
  - ``n_jobs=2, unlimited``:     two loky workers without any limit. hpsearch offers no switch
                                 for this, so the child process replaces
                                 ``hpsearch.study.worker_threads`` by a function returning None
                                 (no limit in ``run_trial``) and sets OPENBLAS/OMP/MKL_NUM_THREADS to
                                 the core count in its environment, which stops joblib's loky
                                 backend from applying its own default limit in the workers; and
                                 the trials run through ``UnlimitedMLPObjective``, which switches off
                                 the trainer's own rule of one BLAS thread for small networks
                                 (``models.trainer.SMALL_PRODUCT``) in the worker.

Speed-up = wall time of n_jobs=1 / wall time of n_jobs=2 (each the median over repeats).
Goal: >= 1.8x from two workers on two cores.

Run: ``python benchmarks/bench_parallel.py [--quick] [--repeats N] [--trials 16] [--epochs 10]``.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (ROOT, base_parser, check_repeats, describe_machine, fmt_ratio, fmt_seconds, format_table,  # noqa: E402
                     interleaved, median, report_and_save)

SCRIPT = "bench_parallel"
GOAL = 1.8
_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

CONFIGS = {
    "n_jobs=1": {"n_jobs": 1, "limit": True, "env_threads": None},
    "n_jobs=1, 1 BLAS thread": {"n_jobs": 1, "limit": True, "env_threads": 1},
    "n_jobs=2, limited": {"n_jobs": 2, "limit": True, "env_threads": None},
    "n_jobs=2, unlimited": {"n_jobs": 2, "limit": False, "env_threads": "cores"},
}


def _unlimited_objective_class():
    """MLPObjective with the trainer's small-network BLAS limit switched off where it runs."""
    from models import MLPObjective

    class UnlimitedMLPObjective(MLPObjective):
        def __call__(self, *args, **kwargs):
            import models.trainer

            models.trainer.SMALL_PRODUCT = 0  # every product "large": BLAS keeps all its threads
            return super().__call__(*args, **kwargs)

    return UnlimitedMLPObjective


def run_study(n_jobs, limit, trials, epochs, batch_size, seed):
    """Run the study in this process, after a small warm-up study.

    The warm-up (``2 * n_jobs`` one-epoch trials) starts the worker pool, which joblib's loky
    backend then reuses, and loads the dataset once in every worker, so the timed study
    measures the steady state of a long search, not process start-up.

    Returns:
        (wall seconds, per-trial durations, best val_acc, warm-up wall seconds).
    """
    import hpsearch as hp
    import hpsearch.study
    from models import MLPObjective

    objective_class = MLPObjective
    if not limit:
        # no BLAS limit in the workers: run_trial(threads=None) leaves the pools alone, and
        # the trainer does not limit small networks itself
        hpsearch.study.worker_threads = lambda n_jobs, cpu_count=None: None
        objective_class = _unlimited_objective_class()
    objective = objective_class("digits", preprocess="standardize", batch_size=batch_size)
    space = hp.Space({"lr": hp.LogUniform(1e-4, 1e-2), "reg": hp.LogUniform(1e-6, 1e-2),
                      "width": hp.IntUniform(100, 300)})
    study = hp.Study(objective, space, metric="val_acc", direction="maximize", storage=None, name="parallel")
    t0 = time.perf_counter()
    study.optimize(sampler="random", n_trials=2 * n_jobs, budget=1, n_jobs=n_jobs, seed=seed + 1000)
    warmup = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = study.optimize(sampler="random", n_trials=trials, budget=epochs, n_jobs=n_jobs, seed=seed)
    wall = time.perf_counter() - t0
    ok = res.trials[res.trials["status"] == "ok"]
    if len(ok) != trials:
        raise RuntimeError(f"{len(ok)} of {trials} trials ok:\n{res.trials[['number', 'status', 'error']]}")
    return wall, [float(d) for d in res.trials["duration"]], float(res.best_value), warmup


def run_child(config, trials, epochs, batch_size, seed):
    """Run one configuration in a fresh interpreter; returns its JSON result."""
    env = dict(os.environ)
    threads = config["env_threads"]
    if threads is not None:
        value = str(os.cpu_count() or 1) if threads == "cores" else str(threads)
        env.update({var: value for var in _THREAD_VARS})
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_child",
           json.dumps({"n_jobs": config["n_jobs"], "limit": config["limit"], "trials": trials,
                       "epochs": epochs, "batch_size": batch_size, "seed": seed})]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(ROOT), env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"configuration {config} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _child_main(spec):
    spec = json.loads(spec)
    wall, durations, best, warmup = run_study(spec["n_jobs"], spec["limit"], spec["trials"], spec["epochs"],
                                              spec["batch_size"], spec["seed"])
    print(json.dumps({"wall": wall, "durations": durations, "best_val_acc": best, "warmup": warmup}))


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--_child"]:
        _child_main(argv[1])
        return None
    parser = base_parser(__doc__.splitlines()[0], default_repeats=3)
    parser.add_argument("--trials", type=int, default=None, help="trials per study (default 40; --quick 4)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per trial (default 30; --quick 1)")
    parser.add_argument("--batch-size", type=int, default=32, help="the trials' minibatch size (default 32)")
    args = parser.parse_args(argv)
    repeats = check_repeats(args.repeats) or (1 if args.quick else 3)
    trials = args.trials or (4 if args.quick else 40)
    epochs = args.epochs or (1 if args.quick else 30)
    for flag, value in (("--trials", trials), ("--epochs", epochs), ("--batch-size", args.batch_size)):
        if value < 1:
            raise SystemExit(f"{flag} must be a positive integer, got {value}")

    runs = {name: [] for name in CONFIGS}
    for r, name in interleaved(CONFIGS, repeats):
        runs[name].append(run_child(CONFIGS[name], trials, epochs, args.batch_size, seed=r))
    figures = {}
    for name, results in runs.items():
        figures[name] = {
            **CONFIGS[name],
            "walls": [x["wall"] for x in results],
            "wall": median([x["wall"] for x in results]),
            "trial_seconds": median([median(x["durations"]) for x in results]),
            "best_val_acc": [x["best_val_acc"] for x in results],
            "warmup_wall": median([x["warmup"] for x in results]),
        }
    base, base1 = figures["n_jobs=1"]["wall"], figures["n_jobs=1, 1 BLAS thread"]["wall"]
    speedups = {
        "limited_vs_n_jobs1": base / figures["n_jobs=2, limited"]["wall"],
        "unlimited_vs_n_jobs1": base / figures["n_jobs=2, unlimited"]["wall"],
        "limited_vs_n_jobs1_1thread": base1 / figures["n_jobs=2, limited"]["wall"],
        "unlimited_vs_n_jobs1_1thread": base1 / figures["n_jobs=2, unlimited"]["wall"],
    }
    goals = {"speedup_limited": {"target": GOAL, "value": speedups["limited_vs_n_jobs1"],
                                 "met": speedups["limited_vs_n_jobs1"] >= GOAL},
             "speedup_limited_vs_best_serial": {"target": GOAL, "value": speedups["limited_vs_n_jobs1_1thread"],
                                                "met": speedups["limited_vs_n_jobs1_1thread"] >= GOAL}}
    rows = [[name, fmt_seconds(f["wall"]), fmt_seconds(f["trial_seconds"]), fmt_ratio(base / f["wall"]),
             fmt_ratio(base1 / f["wall"])] for name, f in figures.items()]
    machine = describe_machine()
    payload = {"benchmark": SCRIPT, "quick": args.quick, "repeats": repeats, "trials": trials, "epochs": epochs,
               "batch_size": args.batch_size,
               "figures": figures, "speedups": speedups, "goals": goals, "machine": machine,
               "notes": ["'unlimited' disables hpsearch's per-trial limit by replacing "
                         "hpsearch.study.worker_threads in the child process (no public switch exists), "
                         "sets OPENBLAS/OMP/MKL_NUM_THREADS to the core count so joblib's loky backend adds "
                         "no limit of its own, and sets models.trainer.SMALL_PRODUCT = 0 in the workers so "
                         "the trainer does not put small networks on one BLAS thread"]}
    table = format_table(["configuration", "study wall time", "median trial", "speed-up vs n_jobs=1",
                          "vs n_jobs=1 1 thread"], rows,
                         title=f"{trials} random MLP trials on digits, {epochs} epochs each (batch "
                               f"{args.batch_size}), warm worker pools, median of {repeats}")
    lines = [table, "",
             f"goal: speed-up >= {GOAL}x with two workers: {fmt_ratio(speedups['limited_vs_n_jobs1'])} vs n_jobs=1 "
             f"({'met' if goals['speedup_limited']['met'] else 'not met'}), "
             f"{fmt_ratio(speedups['limited_vs_n_jobs1_1thread'])} vs the 1-thread serial run "
             f"({'met' if goals['speedup_limited_vs_best_serial']['met'] else 'not met'})"]
    return report_and_save(lines, machine, payload, args, SCRIPT, payload["notes"][:1])


if __name__ == "__main__":
    main()
