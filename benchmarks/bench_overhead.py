"""Per-trial overhead of hpsearch with SQLite persistence against Optuna, on a trivial objective.

The objective does nothing (``hpsearch.objectives.trivial``: ``{"value": 0.0}``; for Optuna
the same two suggestions and a constant), so every second measured is the framework's:
proposing parameters, running the trial, recording it, and for the persisted peers one
SQLite transaction per finished trial.

Peers (n_jobs=1, random sampling of a 2-parameter space, uniform x and log-uniform y):
  - hpsearch, SQLite:   ``hp.Study(..., storage=<temp file>).optimize("random", n_trials=N)``
  - hpsearch, memory:   the same with ``storage=None`` (SQLite ``:memory:``)
  - optuna, memory:     ``optuna.create_study(sampler=RandomSampler(seed))``, InMemoryStorage
  - optuna, SQLite:     ``optuna.storages.RDBStorage("sqlite:///<temp file>")``, capped at
                        ``--optuna-sqlite-cap`` trials (it is far slower; the cap is noted)

For every run a callback timestamps each finished trial, which gives the per-trial time of
the first and of the last 1,000 trials: flat means the cost does not grow with the study.
Goal: hpsearch persisted <= 2x Optuna in memory, and flat up to 10,000 trials.

Run: ``python benchmarks/bench_overhead.py [--quick] [--repeats N] [--profile]``.
"""
import cProfile
import gc
import io
import logging
import math
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (base_parser, check_repeats, describe_machine, fmt_ratio, fmt_seconds, format_table,  # noqa: E402
                     interleaved, median, report_and_save)

SCRIPT = "bench_overhead"
GOAL_RATIO = 2.0
WINDOW = 1000  # trials in the "first" and "last" windows


def _space():
    import hpsearch as hp

    return hp.Space({"x": hp.Uniform(0.0, 1.0), "y": hp.LogUniform(1e-3, 1.0)})


def run_hpsearch(n_trials, persisted, seed, workdir):
    """One hpsearch study; returns (total seconds, per-trial finish times relative to the start)."""
    import hpsearch as hp
    from hpsearch.objectives import trivial

    storage = str(Path(workdir) / f"hp_{n_trials}_{seed}_{time.time_ns()}.db") if persisted else None
    stamps = []
    stamp = stamps.append
    clock = time.perf_counter
    study = hp.Study(trivial, _space(), metric="value", direction="minimize", storage=storage,
                     name="overhead")
    t0 = clock()
    study.optimize(sampler="random", n_trials=n_trials, budget=1, n_jobs=1, seed=seed,
                   callbacks=[lambda record: stamp(clock())])
    total = clock() - t0
    if storage is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(storage + suffix).unlink(missing_ok=True)
    return total, [s - t0 for s in stamps]


def run_optuna(n_trials, persisted, seed, workdir):
    """One Optuna study with RandomSampler; same protocol as :func:`run_hpsearch`."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    path = Path(workdir) / f"optuna_{n_trials}_{seed}_{time.time_ns()}.db"
    storage = optuna.storages.RDBStorage(f"sqlite:///{path}") if persisted else None
    stamps = []
    clock = time.perf_counter

    def objective(trial):
        trial.suggest_float("x", 0.0, 1.0)
        trial.suggest_float("y", 1e-3, 1.0, log=True)
        return 0.0

    t0 = clock()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed), storage=storage,
                                direction="minimize", study_name=f"overhead_{seed}")
    study.optimize(objective, n_trials=n_trials, callbacks=[lambda s, t: stamps.append(clock())])
    total = clock() - t0
    if persisted:
        storage.engine.dispose()
        path.unlink(missing_ok=True)
    return total, [s - t0 for s in stamps]


PEERS = {
    "hpsearch, SQLite": (run_hpsearch, True),
    "hpsearch, memory": (run_hpsearch, False),
    "optuna, memory": (run_optuna, False),
    "optuna, SQLite": (run_optuna, True),
}


def _windows(stamps, window):
    """Per-trial seconds over the first and the last ``window`` trials (from the finish times)."""
    n = len(stamps)
    w = min(window, n // 2)  # two disjoint windows, even for a small study
    if w < 1:
        return math.nan, math.nan
    first = (stamps[w] - stamps[0]) / w
    last = (stamps[-1] - stamps[-1 - w]) / w
    return first, last


def measure(sizes, repeats, optuna_sqlite_cap, workdir, window):
    """Interleaved runs of every peer at every size; returns the figures per size and peer."""
    figures = {}
    for fn, persisted in PEERS.values():  # warm-up: imports and first-use costs, not measured
        fn(20, persisted, seed=0, workdir=workdir)
    for n in sizes:
        peers = {}
        for name, (fn, persisted) in PEERS.items():
            n_run = min(n, optuna_sqlite_cap) if name == "optuna, SQLite" else n
            peers[name] = (fn, persisted, n_run)
        runs = {name: [] for name in peers}
        for r, name in interleaved(peers, repeats):
            fn, persisted, n_run = peers[name]
            # start every run with the previous runs' garbage collected, so a full collection
            # triggered by one peer's leftovers does not land in the next peer's time
            gc.collect()
            total, stamps = fn(n_run, persisted, seed=r, workdir=workdir)
            if len(stamps) != n_run:
                raise RuntimeError(f"{name}: {len(stamps)} trials finished, expected {n_run}")
            first, last = _windows(stamps, window)
            runs[name].append({"total": total, "per_trial": total / n_run, "first": first, "last": last})
        figures[str(n)] = {
            name: {
                "n_trials": peers[name][2],
                "window": min(window, peers[name][2] // 2),
                "runs": runs[name],
                "per_trial": median([x["per_trial"] for x in runs[name]]),
                "first_window": median([x["first"] for x in runs[name]]),
                "last_window": median([x["last"] for x in runs[name]]),
            }
            for name in peers
        }
    return figures


def profile_hpsearch(n_trials, workdir, top=25):
    """cProfile of one persisted hpsearch study: the top functions by own time, as text and data."""
    profiler = cProfile.Profile()
    profiler.enable()
    total, _ = run_hpsearch(n_trials, True, seed=0, workdir=workdir)
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, func), (cc, nc, tt, ct, _) in stats.stats.items():
        rows.append({"function": func, "file": f"{Path(filename).name}:{line}", "calls": nc,
                     "own_s": tt, "cumulative_s": ct})
    rows.sort(key=lambda r: r["own_s"], reverse=True)
    profiled = sum(r["own_s"] for r in rows)
    for r in rows:
        r["share"] = r["own_s"] / profiled if profiled else math.nan
    buf = io.StringIO()
    pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(top)
    return {"n_trials": n_trials, "total_s": total, "top_own_time": rows[:top], "cumulative_text": buf.getvalue()}


def main(argv=None):
    parser = base_parser(__doc__.splitlines()[0], default_repeats=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=None,
                        help="study sizes in trials (default 1000 10000; --quick 60 120)")
    parser.add_argument("--optuna-sqlite-cap", type=int, default=None,
                        help="most trials run with Optuna's SQLite storage (default 2000; it costs ~10-20 ms a trial)")
    parser.add_argument("--profile", action="store_true",
                        help="also cProfile one persisted hpsearch study of the largest size")
    args = parser.parse_args(argv)
    repeats = check_repeats(args.repeats) or (1 if args.quick else 3)
    sizes = args.sizes or ([60, 120] if args.quick else [1000, 10000])
    cap = args.optuna_sqlite_cap or (50 if args.quick else 2000)
    window = 20 if args.quick else WINDOW
    logging.getLogger("optuna").setLevel(logging.WARNING)
    notes = []
    with tempfile.TemporaryDirectory(prefix="bench_overhead_") as workdir:
        figures = measure(sizes, repeats, cap, workdir, window)
        profile = profile_hpsearch(max(sizes), workdir) if args.profile else None
    if any(n > cap for n in sizes):
        notes.append(f"Optuna's SQLite storage was capped at {cap} trials per run (its per-trial cost makes "
                     f"larger runs take many minutes); its figures are for {cap} trials")

    ratios = {}
    rows = []
    for n, peers in figures.items():
        ref = peers["optuna, memory"]["per_trial"]
        ours = peers["hpsearch, SQLite"]
        ratios[n] = {
            "hpsearch_sqlite_vs_optuna_memory": ours["per_trial"] / ref,
            "hpsearch_sqlite_vs_optuna_sqlite": ours["per_trial"] / peers["optuna, SQLite"]["per_trial"],
            "hpsearch_sqlite_last_vs_first_window": ours["last_window"] / ours["first_window"],
            # without the fixed cost of opening the study and building the result
            "hpsearch_sqlite_vs_optuna_memory_last_window": ours["last_window"] / peers["optuna, memory"]["last_window"],
        }
        for name, f in peers.items():
            rows.append([n, name, f["n_trials"], fmt_seconds(f["per_trial"]), fmt_seconds(f["first_window"]),
                         fmt_seconds(f["last_window"]), fmt_ratio(f["last_window"] / f["first_window"]),
                         fmt_ratio(ours["per_trial"] / f["per_trial"])])
    largest = str(max(sizes))
    goals = {
        "persisted_vs_optuna_memory": {
            "target": GOAL_RATIO,
            "value": {n: r["hpsearch_sqlite_vs_optuna_memory"] for n, r in ratios.items()},
            "met": all(r["hpsearch_sqlite_vs_optuna_memory"] <= GOAL_RATIO for r in ratios.values()),
        },
        # "flat": the last window costs at most 25% more per trial than the first one
        "flat": {"target": 1.25, "value": ratios[largest]["hpsearch_sqlite_last_vs_first_window"],
                 "met": ratios[largest]["hpsearch_sqlite_last_vs_first_window"] <= 1.25},
    }
    payload = {"benchmark": SCRIPT, "quick": args.quick, "repeats": repeats, "sizes": sizes,
               "window": window, "optuna_sqlite_cap": cap, "figures": figures, "ratios": ratios,
               "goals": goals, "notes": notes, "profile": profile, "machine": describe_machine()}
    table = format_table(
        ["trials", "peer", "run", "per trial", "first window", "last window", "last/first",
         "hpsearch SQLite / peer"], rows,
        title=f"Per-trial time on a trivial objective, n_jobs=1, median of {repeats} (per trial = whole study "
              f"/ trials; windows = the first and last {window} trials, or half a smaller run)")
    lines = [table, "",
             "goals: hpsearch SQLite / optuna memory " + ", ".join(
                 f"{n}: {fmt_ratio(v)}" for n, v in goals["persisted_vs_optuna_memory"]["value"].items())
             + f" (<= {GOAL_RATIO}x: {'met' if goals['persisted_vs_optuna_memory']['met'] else 'not met'}); "
             f"flat at {largest} trials: last/first {fmt_ratio(goals['flat']['value'])} "
             f"({'met' if goals['flat']['met'] else 'not met'})"]
    if profile:
        lines += ["", f"cProfile of hpsearch, SQLite, {profile['n_trials']} trials "
                      f"({profile['total_s']:.2f} s under the profiler), top own time:"]
        lines += [f"  {r['share'] * 100:5.1f}%  {r['own_s']:.3f} s  {r['calls']:>7}  {r['function']} ({r['file']})"
                  for r in profile["top_own_time"][:15]]
    return report_and_save(lines, payload["machine"], payload, args, SCRIPT, notes)


if __name__ == "__main__":
    main()
