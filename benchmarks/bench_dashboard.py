"""What watching and exporting a big study costs: the dashboard's refresh and ``hpsearch export``.

A stored random-search study of N trials (default 10,000; each with 3 parameters, 3 metrics and
a 10-epoch learning curve) is written with hpsearch's Storage, then measured:

  - refresh, full:        a new ``StudyView`` reads the whole study (what a dashboard does once);
  - refresh, nothing new: ``StudyView.refresh()`` when nothing was committed (every page poll);
  - refresh, 10 new rows: the same after another connection stored 10 more trials;
  - export, batched:      ``export_run`` into a new SQLite Optuna storage (batches of 1,000
                          trials per transaction through Optuna's table models);
  - export, per trial:    Optuna's public ``study.add_trials`` (one transaction per trial, what
                          ``hpsearch export`` did before), on the first ``--per-trial-cap`` trials.

Per-trial export times are extrapolated to 100,000 trials (both are linear in the trials:
the batched path writes each trial once; the per-trial path commits each).

Run: ``python benchmarks/bench_dashboard.py [--quick] [--repeats N] [--trials N]``.
"""
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (base_parser, check_repeats, describe_machine, fmt_seconds, format_table, median,  # noqa: E402
                     report_and_save)

SCRIPT = "bench_dashboard"


def make_study(db, n_trials, first=0):
    """Store trials ``first .. first + n_trials - 1`` of a random-search study named "big" in ``db``."""
    import numpy as np

    import hpsearch as hp
    from hpsearch.storage.storage import Storage

    space = hp.Space({"lr": hp.LogUniform(1e-5, 1e-1), "reg": hp.LogUniform(1e-6, 1e-1),
                      "width": hp.IntUniform(16, 512)})
    spec = {"space": space.to_dict(), "metric": "val_acc", "direction": "maximize", "seed": 0,
            "stages": {"0": {"n_trials": 100_000, "budget": 10, "sampler": "random"}}}
    rng = np.random.default_rng(first)
    with Storage(db) as storage:
        study_id = storage.open_study("big", spec)
        if first == 0:
            storage.save_stage(study_id, 0, space.to_dict(), "random", 100_000, 10)
        for number in range(first, first + n_trials):
            params = space.from_unit(rng.random(len(space.dims)))
            acc = [float(x) for x in np.sort(rng.random(10))]
            storage.save_trial(study_id, {
                "number": number, "stage": 0, "status": "ok", "params": params, "budget": 10, "seed": number,
                "start": 1.7e9 + number, "end": 1.7e9 + number + 1, "duration": 1.0,
                "metrics": {"val_acc": acc[-1], "train_acc": acc[-1], "loss": 1 - acc[-1]},
                "curve": [{"epoch": e + 1, "val_acc": a, "loss": 1 - a} for e, a in enumerate(acc)]})


def time_refresh(db):
    """(full read, refresh with nothing new, refresh after 10 new rows) in seconds."""
    from hpsearch.integration.study_view import StudyView
    from hpsearch.storage.storage import Storage

    with Storage(db, readonly=True) as storage:
        view = StudyView(storage, "big")
        start = time.perf_counter()
        view.refresh()
        full = time.perf_counter() - start
        start = time.perf_counter()
        view.refresh()
        idle = time.perf_counter() - start
        n = len(view.trials)
        make_study(db, 10, first=n)
        start = time.perf_counter()
        view.refresh()
        new = time.perf_counter() - start
        assert len(view.trials) == n + 10
    return full, idle, new


def time_export(db, workdir, cap):
    """(seconds per trial batched, seconds per trial one transaction each, trials exported)."""
    import optuna

    from hpsearch.integration.optuna_export import export_run
    from hpsearch.integration.study_view import StudyView
    from hpsearch.storage.storage import Storage

    url = f"sqlite:///{workdir / 'batched.db'}"
    start = time.perf_counter()
    export_run(db, url)
    batched = time.perf_counter() - start
    n = len(optuna.load_study(study_name="big", storage=url).trials)
    with Storage(db, readonly=True) as storage:
        view = StudyView(storage, "big")
        view.refresh()
        trials = [optuna.trial.create_trial(state=t.state, value=t.value, params=t.params,
                                            distributions=t.distributions, user_attrs=t.user_attrs,
                                            intermediate_values=t.intermediate_values) for t in view.trials[:cap]]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=f"sqlite:///{workdir / 'per_trial.db'}", study_name="big",
                                direction="maximize")
    start = time.perf_counter()
    study.add_trials(trials)
    per_trial = (time.perf_counter() - start) / len(trials)
    return batched / n, per_trial, n


def main(argv=None):
    parser = base_parser(__doc__.splitlines()[0], default_repeats=3)
    parser.add_argument("--trials", type=int, default=None, help="trials in the stored study (default 10,000)")
    parser.add_argument("--per-trial-cap", type=int, default=200,
                        help="trials exported one transaction each (it is slow; default 200)")
    args = parser.parse_args(argv)
    repeats = check_repeats(args.repeats) or (1 if args.quick else 3)
    n_trials = args.trials or (300 if args.quick else 10_000)
    cap = min(args.per_trial_cap, 20 if args.quick else args.per_trial_cap, n_trials)
    runs = {"full": [], "idle": [], "new": [], "batched": [], "per_trial": []}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(repeats):
            workdir = Path(tmp) / str(repeat)
            workdir.mkdir()
            db = workdir / "study.db"
            make_study(db, n_trials)
            full, idle, new = time_refresh(db)
            batched, per_trial, exported = time_export(db, workdir, cap)
            for key, value in zip(runs, (full, idle, new, batched, per_trial)):
                runs[key].append(value)
    figures = {k: median(v) for k, v in runs.items()}
    spread = {k: [min(v), max(v)] for k, v in runs.items()}
    rows = [
        ["refresh, full read", fmt_seconds(figures["full"]), f"{n_trials:,} trials"],
        ["refresh, nothing new", fmt_seconds(figures["idle"]), "PRAGMA data_version only"],
        ["refresh, 10 new rows", fmt_seconds(figures["new"]), "reads the 10 rows"],
        ["export, batched", f"{figures['batched'] * 1e3:.2f} ms/trial",
         f"100,000 trials: {fmt_seconds(figures['batched'] * 1e5)}"],
        ["export, one transaction per trial", f"{figures['per_trial'] * 1e3:.1f} ms/trial",
         f"100,000 trials: {fmt_seconds(figures['per_trial'] * 1e5)} (first {cap} trials timed)"],
    ]
    lines = [format_table(["measure", f"median of {repeats}", "note"], rows,
                          title=f"{SCRIPT}: a {n_trials:,}-trial study")]
    payload = {"benchmark": SCRIPT, "quick": args.quick, "repeats": repeats, "n_trials": n_trials,
               "per_trial_cap": cap, "median_seconds": figures, "min_max_seconds": spread,
               "export_100k_seconds": {"batched": figures["batched"] * 1e5,
                                       "per_trial": figures["per_trial"] * 1e5},
               "machine": describe_machine()}
    return report_and_save(lines, payload["machine"], payload, args, SCRIPT)


if __name__ == "__main__":
    main()
