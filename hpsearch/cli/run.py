"""``hpsearch run`` and ``hpsearch compare``: run a study file, or compare strategies on it."""
import shlex
from pathlib import Path

from hpsearch.cli.output import err, report, resume_command, say
from hpsearch.cli.signals import exit_status, stopped
from hpsearch.errors import StudyInterrupted
from hpsearch.storage.runfolder import RUNS, RunFolder

__all__ = ["cmd_run", "cmd_compare"]


def _save_plots(kind, *args):
    """Draw plots through hpsearch.plots; returns the written paths."""
    from hpsearch import plots

    return list(getattr(plots, kind)(*args))


def _regular_file(path):
    """A file of the run's own, not a link a colleague could have planted (those are refused on write)."""
    return not path.is_symlink() and path.is_file()


def _print_plan(sf, name, strategy, built, n_jobs):
    """What ``--dry-run`` (and a run's header) prints: the plan, as ``built`` (the run's strategy)
    describes it; returns the planned stages."""
    _say_plan_head(sf, name, strategy)
    planned = built.planned(sf.space, sf.seed, sf.direction)
    described = built.describe(planned)
    for line in described.steps:
        say(line)
    say(f"total: {described.total}, n_jobs={_jobs(n_jobs)}")
    for line in described.after:
        say(line)
    return planned


def _jobs(n_jobs):
    import os

    return f"auto ({os.cpu_count() or 1} cores)" if n_jobs == "auto" else str(n_jobs)


def _say_plan_head(sf, name, strategy):
    say(f"study {name!r} from {sf.path}: {strategy}, {sf.direction} {sf.metric}, seed {sf.seed}")
    say(f"space: {', '.join(f'{k}={v!r}' for k, v in sf.space.nested().items())}")


def cmd_run(args, argv):
    from hpsearch.errors import StudyLockedError, StudyMismatchError
    from hpsearch.studyfile.reader import load_study_file

    sf = load_study_file(args.study)
    if args.seed is not None:
        sf.seed = args.seed
    strategy = args.strategy or sf.strategy
    name = args.name or sf.name
    if args.name is None and strategy != sf.strategy:
        name = f"{sf.name}-{strategy}"  # another strategy is another study: its own folder
    # absolute before any trial runs: nothing a trial does to the working folder moves the outputs;
    # a planted link stops it before anything runs
    folder = RunFolder(RunFolder.for_study(name, args.out).path.absolute()).refuse_links()
    n_jobs = args.n_jobs or sf.n_jobs or "auto"
    built = sf.build_strategy(strategy)  # the one strategy object the header and the run share
    if args.dry_run:
        _print_plan(sf, name, strategy, built, n_jobs)
        say(f"would write: {folder.db}, {folder.trials_csv} and plots (dry run: nothing ran)")
        return 0
    planned = built.planned(sf.space, sf.seed, sf.direction)
    folder.create()
    resume = resume_command(argv)
    before, complete = _say_resuming(folder, name, sum(s.n_trials for s in planned), args.quiet)
    if not complete:
        _import_in_background(plots=not args.no_plots)
    previous = folder.read_info()
    # how many stored trials the folder's plots show, kept until plots are drawn again
    drawn = {"plotted_trials": previous["plotted_trials"]} if "plotted_trials" in previous else {}
    folder.write_info(study_file=str(Path(sf.path).resolve()), name=name, cwd=str(Path.cwd()), resume=resume,
                      **drawn)
    if not args.quiet:
        _print_plan(sf, name, strategy, built, n_jobs)
    study = sf.make_study(folder.db, name)
    new = []   # trials this command ran (a resume of a finished study runs none)
    try:
        result = sf.run(study, built, n_jobs=n_jobs, backend=args.backend, scheduler=args.scheduler,
                        retry_failed=args.retry_failed, overwrite=args.overwrite, progress=not args.quiet,
                        log=None if args.quiet else say, callbacks=[new.append], trial_timeout=args.trial_timeout)
    except (StudyLockedError, StudyMismatchError):
        # refused: run.json keeps describing the run that owns the folder
        if previous:
            folder.write_info(**previous)
        raise
    except StudyInterrupted as exc:
        n = 0 if exc.result is None else exc.result.stored_count()
        if exc.result is not None:
            exc.result.to_csv(folder.trials_csv)
        err(f"{stopped()}: {n} trials saved in {folder.db}; resume with: {resume}")
        return exit_status()
    plotted = result.stored_count()
    # a finished run asked again: its tables and plots already say all there is (no pandas, no redraw)
    up_to_date = not new and before == plotted and previous.get("plotted_trials") == plotted
    tables_current = up_to_date and _regular_file(folder.trials_csv)
    csv = [folder.trials_csv if tables_current else result.to_csv(folder.trials_csv)]
    say("")
    if result.extended:
        say(f"extended study {name!r}, its stored trials kept: {'; '.join(result.extended)}")
    if result.best_trial is None:
        say(result.summary(top=10))
        first = next((r for r in result.records if r["status"] == "failed"), None)
        why = f"; first error (trial {first['number']}): {first['error']}" if first else \
            " (every trial diverged)"
        err(f"error: study {name!r} produced no ok trial{why}; its trials are in {folder.db}")
        return 1
    report(result, top=10)
    if tables_current and _regular_file(folder.confirmation_csv):
        csv.append(folder.confirmation_csv)
    elif (confirmed := result.confirmation_table()) is not None:
        csv.append(folder.write_table(folder.confirmation_csv, confirmed))
    try:
        if args.no_plots or up_to_date:
            plots = []
        else:
            plots = _save_plots("save_run_plots", result, folder.path)
            folder.write_info(**{**folder.read_info(), "plotted_trials": plotted})
    except KeyboardInterrupt:
        err(f"{stopped()} while drawing the plots; the study is complete in {folder.db}; "
            f"draw them with: hpsearch plot {shlex.quote(str(folder.path))}")
        return exit_status()
    say("")
    if up_to_date and not args.no_plots:
        say(f"nothing new since the last run: its plots in {folder.path} are up to date "
            f"(hpsearch plot {shlex.quote(str(folder.path))} draws them again)")
    say("wrote:")
    for path in [folder.db] + csv + plots:
        say(f"  {path}")
    return 0


def _say_resuming(folder, name, planned, quiet):
    """Say how far the stored study got (search, confirmation, test); returns its stored trial
    count and whether it is complete."""
    if not folder.db.exists():
        return 0, False
    from hpsearch.cli.completion import completion
    from hpsearch.results.search_result import SearchResult
    from hpsearch.storage.storage import Storage

    with Storage(folder.db, readonly=True) as storage:
        if name not in storage.study_names():
            return 0, False
        _, spec = storage.find_study(name)
        stored = SearchResult.from_storage(storage, name)
    state = completion(stored, spec, planned)
    if not quiet:
        rest = "nothing left to run" if state.complete else "running the rest"
        say(f"resuming study {name!r}: {state.describe()} in {folder.db}; {rest}")
    return state.stored, state.complete


def _import_in_background(plots):
    """Import, on a thread of its own, the libraries the end of a run needs: scipy.stats (the edge
    test, the confirmation's t-test), pandas (the tables) and matplotlib (the plots).

    They cost about 2 s on two cores, paid after the last trial when imported where they are
    first used; here they load while the workers train and the main thread waits for results.
    Only third-party packages, whose imports do not depend on ours, so the two threads never
    wait for each other's half-imported modules.
    """
    import importlib
    import threading

    modules = ["scipy.stats", "pandas"] + (["matplotlib.figure", "matplotlib.backends.backend_agg"] if plots else [])

    def load():
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception:  # noqa: BLE001 - where it is used, the import runs again and reports
                return

    threading.Thread(target=load, name="hpsearch-imports", daemon=True).start()


def cmd_compare(args, argv):
    from hpsearch.compare import DEFAULT_STRATEGIES, compare_strategies
    from hpsearch.studyfile.reader import load_study_file

    sf = load_study_file(args.study)
    out = Path(args.out) if args.out else RUNS / f"{sf.name}-compare"
    RunFolder(out).refuse_links()
    strategies = args.strategies or list(DEFAULT_STRATEGIES)
    n_jobs = args.n_jobs or sf.n_jobs or "auto"
    seed = sf.seed if args.seed is None else args.seed
    resume = resume_command(argv)
    try:
        comparison = compare_strategies(sf, strategies=strategies, repeats=args.repeats, n_trials=args.trials,
                                        seed=seed, n_jobs=n_jobs, out_dir=out, backend=args.backend,
                                        progress=not args.quiet, log=None if args.quiet else say)
    except StudyInterrupted:
        _write_compare_info(out, sf, resume)
        err(f"{stopped()}: finished trials are saved in {RunFolder(out).compare_db}; resume with: {resume}")
        return exit_status()
    _write_compare_info(out, sf, resume)
    say("")
    say(comparison.report())
    csv = comparison.to_csv(RunFolder(out).comparison_csv)
    written = [RunFolder(out).compare_db, csv] + _save_plots("save_comparison_plots", comparison, out)
    say("")
    say("wrote:")
    for path in written:
        say(f"  {path}")
    return 0


def _write_compare_info(out, sf, resume):
    """run.json of a comparison folder: the command that made it (no study name: it holds many)."""
    if out.is_dir():
        RunFolder(out).write_info(study_file=str(Path(sf.path).resolve()), cwd=str(Path.cwd()), resume=resume)
