"""``hpsearch show``, ``plot`` and ``export``: read a finished (or stopped) run, run nothing."""
import os
from pathlib import Path

from hpsearch.cli.output import report, say
from hpsearch.errors import HpsearchError
from hpsearch.storage.runfolder import RunFolder, open_database, pick_study

__all__ = ["cmd_show", "cmd_plot", "cmd_export", "cmd_copy"]


def _load_run(args):
    """(database, study name, result, its :class:`~hpsearch.cli.completion.Completion`) of the run
    a show/plot command names."""
    from hpsearch.cli.completion import completion
    from hpsearch.results.search_result import SearchResult
    from hpsearch.storage.storage import Storage

    db = open_database(args.run_dir)
    with Storage(db, readonly=True) as storage:
        name = pick_study(db, storage.study_names(), args.name)
        result = SearchResult.from_storage(storage, name)
        planned = _planned(storage, name)
        _, spec = storage.find_study(name)
    return db, name, result, completion(result, spec, planned)


def _planned(storage, name):
    """Trials planned for a stored study: stored stage sizes, else the spec's stage sizes."""
    from hpsearch.strategies.planning import MULTI_FIDELITY

    study_id, spec = storage.find_study(name)
    if spec.get("strategy") in MULTI_FIDELITY:
        return _planned_halving(spec)
    stored = {d["index"]: d["n_trials"] for d in storage.load_stages(study_id)}
    stages = spec.get("stages", {})
    ordered = [stages[k] for k in sorted(stages, key=int)] if isinstance(stages, dict) else list(stages)
    return sum(stored.get(i, s["n_trials"]) for i, s in enumerate(ordered))


def _planned_halving(spec):
    """Trial rows a successive-halving or Hyperband study plans: every rung of every bracket
    (a promoted configuration is a new row that continues the old one), as planning plans them."""
    from hpsearch.strategies.planning import FIDELITY_DEFAULTS, SearchPlan

    # the sampler only proposes configurations: the rungs, and so the count, do not depend on it
    fidelity = {k: spec[k] for k in FIDELITY_DEFAULTS if k in spec and k != "sampler"}
    return sum(stage.n_trials for stage in SearchPlan(spec["strategy"], (), fidelity=fidelity).stages)


def cmd_show(args, argv):
    db, name, result, progress = _load_run(args)
    state = "complete" if progress.complete else "incomplete (interrupted or still running)"
    say(f"{db}: study {name!r}, {progress.describe()}, {state}")
    if not progress.complete:
        command = RunFolder(db.parent).rerun_command()
        if command:
            say(f"resume with: {command}", verbatim=True)
    report(result, top=args.top)
    if not _writable(db.parent):
        say(f"({db.parent} is read-only: opened for reading, nothing was written)")
    return 0


def _writable(folder):
    return os.access(folder, os.W_OK)


def cmd_plot(args, argv):
    from hpsearch.plots import save_run_plots

    db, name, result, _ = _load_run(args)
    if len(result) == 0:
        raise HpsearchError(f"{db}: study {name!r} has no finished trial to plot yet")
    out = Path(args.out) if args.out else db.parent
    RunFolder(out).refuse_links()
    if out.exists() and not _writable(out):
        raise HpsearchError(f"cannot write plots into {out} (read-only); draw them elsewhere with --out DIR")
    out.mkdir(parents=True, exist_ok=True)
    written = save_run_plots(result, out)
    say(f"study {name!r}: {len(result)} trials; wrote:")
    for path in written:
        say(f"  {path}")
    return 0


def cmd_copy(args, argv):
    from hpsearch.storage.folder_copy import copy_run

    written = copy_run(args.run_dir, args.dest)
    say(f"copied {args.run_dir} to {args.dest} ({written[0].name} as one self-contained file):")
    for path in written:
        say(f"  {path}")
    return 0


def cmd_export(args, argv):
    from hpsearch.integration.optuna_export import export_run
    from hpsearch.storage.storage import Storage

    db = open_database(args.run_dir)
    with Storage(db, readonly=True) as storage:
        name = pick_study(db, storage.study_names(), args.name)
    exported = export_run(db, args.optuna, name=name, optuna_name=args.optuna_name, progress=not args.quiet,
                          curves=args.curves)
    say(f"exported study {name!r} from {db} to {args.optuna} (Optuna study {exported!r})")
    say(f"open it with: optuna-dashboard {args.optuna}")
    return 0
