"""How busy the workers are: the main job's trials replayed on 2, 8 and 32 simulated workers.

The main job (``studies/digits_mlp.toml``) is run once for real (or ``--trials DB`` names a finished
run's ``study.db``); its stored trials give every trial's duration and result. The simulation then
drives the study's own strategy through hpsearch's own :class:`~hpsearch.strategies.schedule.Schedule`
and :class:`~hpsearch.execution.study_run.StudyRun` (in memory), on ``W`` simulated workers: a free
worker takes the next ready request (longest training first, as the run loop hands them out), is busy for the trial's recorded
duration, and its record is told back when it ends. Three schedules:

- **synchronous** (hpsearch 0.1): brackets one after another, each rung a barrier;
- **side by side, in waves**: every bracket's rungs ready at once, but new requests wait until the
  whole batch handed to the pool has ended (the run loop on a pool that takes work per call);
- **side by side**: a free worker takes whatever is ready the moment it is (a pool that takes work
  while it runs).

Reported per schedule and worker count: wall time (the simulated makespan), utilisation (the
summed durations / (W x wall)) over the search and over the whole run (confirmation and test
included), and whether the trials table (numbers, parameters, budgets, seeds, results) is
identical to the one-worker table. Goal (issue 23): >= 90% utilisation on 8 workers, the same
table for 1, 2 and 8 workers.

Run: ``python benchmarks/bench_schedule.py [--quick] [--trials runs/digits-mlp/study.db]``.
"""
import heapq
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, base_parser, describe_machine, format_table, report_and_save  # noqa: E402

SCRIPT = "bench_schedule"
STUDY = ROOT / "studies" / "digits_mlp.toml"
WORKERS = (2, 8, 32)
SCHEDULES = ("synchronous", "waves", "side by side")
QUICK_STUDY = """
name = "curve-quick"
metric = "score"
direction = "maximize"
seed = 0
[trainer]
objective = "hpsearch.objectives:LearningCurve"
[trainer.settings]
optimum = { lr = 1e-3, reg = 1e-4 }
noise = 0.01
[space]
lr = { type = "loguniform", low = 1e-5, high = 1e-1 }
reg = { type = "loguniform", low = 1e-6, high = 1e-1 }
[search]
strategy = "hyperband"
min_budget = 1
max_budget = 9
eta = 3
total_budget = 150
[confirm]
top = 2
seeds = 2
"""


def record_run(study_file, folder):
    """Run ``study_file`` for real into ``folder`` (one worker, so durations are not contended);
    returns its ``study.db``."""
    subprocess.run([sys.executable, "-m", "hpsearch", "run", str(study_file), "--out", str(folder), "--quiet",
                    "--no-plots", "--n-jobs", "1"], check=True, cwd=ROOT,
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL)
    return folder / "study.db"


def load_recorded(db, name):
    """``{number: record}`` of every stored trial (search, confirmation and test)."""
    from hpsearch.storage.storage import Storage

    with Storage(db, readonly=True) as storage:
        study_id, _ = storage.find_study(name)
        return {r["number"]: r for r in storage.load_trials(study_id)}


def simulate(sf, recorded, workers, schedule, synthetic=False):
    """Replay ``sf``'s strategy on ``workers`` simulated workers with ``schedule``; returns
    ``(table, figures)``: the records in number order and wall time / utilisation."""
    from hpsearch.execution.study_run import RunOptions, StudyRun
    from hpsearch.storage.checkpoints import CheckpointStore
    from hpsearch.storage.storage import Storage

    study = sf.make_study(None)
    storage = Storage(None)
    run = StudyRun(study, sf.build_strategy(), RunOptions(seed=sf.seed), CheckpointStore(None))
    run.open(storage, storage.open_study(sf.name, {"replay": True}), side_by_side=schedule != "synchronous")
    barrier = schedule != "side by side"
    queue, held, running = run.pending(), [], []
    clock, busy, search_end, search_busy, seq = 0.0, 0.0, 0.0, 0.0, 0
    while queue or running or held:
        if barrier and not running and not queue:
            queue, held = sorted(held, key=run.schedule.priority), []
        while queue and len(running) < workers:
            request = queue.pop(0)
            duration = _duration(recorded, request, synthetic)
            heapq.heappush(running, (clock + duration, seq, request, duration))
            seq += 1
        end, _, request, duration = heapq.heappop(running)
        clock, busy = end, busy + duration
        record = dict(recorded[request.number])
        record.pop("trial_epochs", None)
        run.finish(request, record)
        if record.get("role", "search") == "search":
            search_end, search_busy = clock, search_busy + duration
        new = run.pending()
        (held if barrier else queue).extend(new)
        queue.sort(key=run.schedule.priority)
    assert run.finished, "the replay ended before the strategy did"
    table = [(r["number"], r["stage"], r["budget"], r["seed"], r["status"], tuple(sorted(r["params"].items())),
              r["metrics"].get(sf.metric)) for r in (run.records[n] for n in sorted(run.records))]
    figures = {"wall": clock, "utilisation": busy / (workers * clock) if clock else 0.0,
               "search_wall": search_end,
               "search_utilisation": search_busy / (workers * search_end) if search_end else 0.0}
    return table, figures


def _duration(recorded, request, synthetic):
    old = recorded.get(request.number)
    if old is None or old["params"] != request.params or old["budget"] != request.budget:
        raise SystemExit(f"the recorded run does not hold trial {request.number} as the strategy asks it "
                         f"({request.params}, budget {request.budget}): record it with this version")
    if synthetic:   # --quick: the reference objective takes no time; a duration per epoch trained
        return 0.01 * (request.budget - (0 if request.continue_from is None else
                                         recorded[request.continue_from]["budget"]))
    return float(old.get("duration") or 0.0)


def main(argv=None):
    parser = base_parser(__doc__.splitlines()[0], 1)
    parser.add_argument("--trials", type=Path, default=None,
                        help="a finished main-job run's study.db to replay (default: run the main job once)")
    args = parser.parse_args(argv)
    from hpsearch.studyfile.reader import load_study_file

    with tempfile.TemporaryDirectory() as tmp:
        study_file = STUDY
        if args.quick:
            study_file = Path(tmp) / "quick.toml"
            study_file.write_text(QUICK_STUDY)
        sf = load_study_file(study_file)
        db = args.trials or record_run(study_file, Path(tmp) / "run")
        recorded = load_recorded(db, sf.name)
    work = sum(float(r.get("duration") or 0.0) for r in recorded.values())
    reference, _ = simulate(sf, recorded, 1, "side by side", synthetic=args.quick)
    rows, results, identical = [], {}, {}
    for schedule in SCHEDULES:
        for workers in (1,) + WORKERS:
            table, figures = simulate(sf, recorded, workers, schedule, synthetic=args.quick)
            key = f"{schedule}/{workers}"
            identical[key] = table == reference
            results[key] = figures
            if workers == 1:
                continue
            rows.append([schedule, str(workers), f"{figures['wall']:.2f} s", f"{figures['utilisation']:.0%}",
                         f"{figures['search_wall']:.2f} s", f"{figures['search_utilisation']:.0%}",
                         "yes" if identical[key] else "NO"])
    lines = [f"{sf.name}: {len(recorded)} trials, {work:.2f} s of trial durations"
             + (" (--quick: synthetic durations, 0.01 s per epoch trained)" if args.quick else ""), "",
             format_table(["schedule", "workers", "wall", "utilisation", "search wall", "search utilisation",
                           "table = 1 worker's"], rows)]
    # with unlimited workers the wall is the longest chain of rungs that must follow one another:
    # no schedule that decides promotions from whole rungs can beat max(work / W, that chain)
    _, unlimited = simulate(sf, recorded, 10 ** 6, "side by side", synthetic=args.quick)
    search_work = results["side by side/1"]["search_wall"]
    bounds = {w: search_work / (w * max(search_work / w, unlimited["search_wall"])) for w in WORKERS}
    lines += ["", f"longest chain of rungs (unlimited workers): {unlimited['search_wall']:.2f} s of the search's "
                  f"{search_work:.2f} s; so the best search utilisation any rung-synchronous schedule can reach is "
                  + ", ".join(f"{bounds[w]:.0%} on {w}" for w in WORKERS)]
    goal = results["side by side/8"]["search_utilisation"]
    payload = {"benchmark": SCRIPT, "quick": args.quick, "machine": describe_machine(), "study": sf.name,
               "trials": len(recorded), "work_seconds": work, "results": results,
               "identical_tables": identical, "critical_path": unlimited["search_wall"],
               "utilisation_bound": {str(w): bounds[w] for w in WORKERS},
               "goals": {"search_utilisation_8": goal, "met_90": goal >= 0.9,
                         "identical_1_2_8": all(identical[f"side by side/{w}"] for w in (1, 2, 8))}}
    return report_and_save(lines, payload["machine"], payload, args, SCRIPT)


if __name__ == "__main__":
    main()
