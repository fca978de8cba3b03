"""The ``hpsearch`` command: run, compare, show, plot, sanity, export.

Every mistake in the user's input (a study file, an option, a storage) ends as
one line ``hpsearch: error: <message>`` on stderr and exit status 2, never a
traceback; Ctrl-C keeps the finished trials, prints how to resume and exits 130.
A bug inside hpsearch still shows its traceback.
"""
import argparse
import copy
import json
import os
import shlex
import sys
import warnings
from pathlib import Path

from hpsearch.errors import HpsearchError, StudyInterrupted

__all__ = ["main", "build_parser"]

PROG = "hpsearch"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE
DB_NAME = "study.db"
RUN_INFO = "run.json"
# Errors that come from what the user typed or pointed us at (OSError covers missing
# files, permissions and full disks).
_USER_ERRORS = (HpsearchError, ValueError, OSError)


class _Parser(argparse.ArgumentParser):
    """argparse with our one-line error format (argparse's own exits with 2 already)."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{PROG}: error: {message}\n")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _n_jobs(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or -1 (all cores), got {text!r}") from None
    if value == 0 or value < -1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or -1 (all cores), got {text!r}")
    return value


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if not 0 <= value < 2 ** 32:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**32), got {text!r}")
    return value


def _strategy_list(text):
    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list such as grid,random")
    if len(set(items)) != len(items):
        raise argparse.ArgumentTypeError(f"a strategy is listed twice in {text!r}")
    return items


def build_parser():
    """The argument parser of the ``hpsearch`` command (also used by the README test)."""
    from hpsearch import __version__

    parser = _Parser(prog=PROG, description="Hyperparameter search the cs231n way: log scales, random "
                     "over grid, coarse-to-fine, edge warnings, resumable parallel studies.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    run = sub.add_parser("run", help="run (or resume) a study file",
                         description="Run a study file; running the same command again resumes it.")
    run.add_argument("study", metavar="STUDY.toml")
    run.add_argument("--out", metavar="DIR", help="output folder (default: runs/<name>/)")
    run.add_argument("--n-jobs", type=_n_jobs, metavar="N", help="parallel trials (default: all cores)")
    run.add_argument("--seed", type=_seed, metavar="S", help="study seed (default: the file's)")
    run.add_argument("--backend", metavar="B", help="loky (default), threading, multiprocessing or dask")
    run.add_argument("--scheduler", metavar="ADDR", help="Dask scheduler address, e.g. tcp://HOST:8786")
    run.add_argument("--strategy", metavar="S", help="another strategy at the same compute "
                     "(random, grid, sobol, coarse-to-fine, tpe, cmaes, qmc, gp, optuna-random); "
                     "the study is then named <name>-<strategy>")
    run.add_argument("--name", help="study name (default: the file's name)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--overwrite", action="store_true",
                     help="discard a stored study of the same name whose settings differ")
    run.add_argument("--retry-failed", action="store_true", help="on resume, run failed trials again")
    run.add_argument("--dry-run", action="store_true", help="check the file and print the plan; run nothing")

    cmp_ = sub.add_parser("compare", help="compare strategies at equal compute, repeated",
                          description="Run each strategy R times with different seeds at the same compute "
                          "(same trials, same total epochs); print medians, quartiles and a Mann-Whitney U "
                          "test of random vs grid; write comparison.csv and plots. Resumable.")
    cmp_.add_argument("study", metavar="STUDY.toml")
    cmp_.add_argument("--strategies", type=_strategy_list, default=None, metavar="LIST",
                      help="comma-separated (default: grid,random,sobol,coarse-to-fine)")
    cmp_.add_argument("--budget", type=_positive_int, metavar="B",
                      help="trials per run (default: the file's total); epochs scale with it")
    cmp_.add_argument("--repeats", type=_positive_int, default=5, metavar="R", help="runs per strategy (default 5)")
    cmp_.add_argument("--out", metavar="DIR", help="output folder (default: runs/<name>-compare/)")
    cmp_.add_argument("--n-jobs", type=_n_jobs, metavar="N", help="parallel trials (default: all cores)")
    cmp_.add_argument("--seed", type=_seed, metavar="S", help="base seed; repeat r uses seed + r")
    cmp_.add_argument("--backend", metavar="B", help="loky (default), threading, multiprocessing or dask")
    cmp_.add_argument("--quiet", action="store_true", help="no progress bar")

    show = sub.add_parser("show", help="the table, best trial and flags of a run")
    show.add_argument("run_dir", metavar="RUN_DIR")
    show.add_argument("--top", type=_positive_int, default=10, metavar="N", help="trials listed (default 10)")
    show.add_argument("--name", help="study name (when the folder's database holds several)")

    plot = sub.add_parser("plot", help="(re)draw a run's plots")
    plot.add_argument("run_dir", metavar="RUN_DIR")
    plot.add_argument("--name", help="study name (when the folder's database holds several)")

    sanity = sub.add_parser("sanity", help="babysitting checks of a study's trainer",
                            description="Initial loss vs ln(C), loss rising with reg, overfitting a tiny "
                            "subset, per-layer activation and gradient statistics; saves sanity.png.")
    sanity.add_argument("study", metavar="STUDY.toml")
    sanity.add_argument("--out", metavar="DIR", help="folder for sanity.png (default: runs/<name>/)")
    sanity.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="check this setting instead of the space's middle, e.g. --set activation=relu "
                             "--set init=he (repeatable; values read as TOML)")

    export = sub.add_parser("export", help="write a run into an Optuna storage")
    export.add_argument("run_dir", metavar="RUN_DIR")
    export.add_argument("--optuna", required=True, metavar="URL", help="Optuna storage URL, e.g. sqlite:///optuna.db")
    export.add_argument("--name", help="study name (when the folder's database holds several)")
    export.add_argument("--optuna-name", metavar="NAME",
                        help="name of the new Optuna study (default: the hpsearch study's name)")
    return parser


def main(argv=None):
    """Run the ``hpsearch`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
    handler = {"run": cmd_run, "compare": cmd_compare, "show": cmd_show, "plot": cmd_plot,
               "sanity": cmd_sanity, "export": cmd_export}[args.command]
    try:
        with warnings.catch_warnings():  # restores the caller's warning display afterwards
            warnings.showwarning = _show_warning
            return handler(args, argv)
    except StudyInterrupted as exc:
        # A command without its own resume message (compare handles it itself).
        _err(f"interrupted: {exc}")
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (`hpsearch show ... | head`): stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except _USER_ERRORS as exc:
        _err(f"error: {_one_line(exc)}")
        return EXIT_USAGE


# -- helpers ------------------------------------------------------------------------------

def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings are for users here: one line, no source file or code."""
    _err(f"warning: {_one_line(message)}")


def _one_line(exc):
    text = " ".join(str(exc).split())
    if isinstance(exc, OSError) and getattr(exc, "filename", None) and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    return text or type(exc).__name__


def _err(message):
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _say(text=""):
    print(text, flush=True)


def _resume_command(argv):
    """The command to run again to resume: the same one without --overwrite/--dry-run."""
    kept = [a for a in argv if a not in ("--overwrite", "--dry-run")]
    return " ".join([PROG] + [shlex.quote(a) for a in kept])


def _default_n_jobs():
    return os.cpu_count() or 1


def _database(run_dir):
    """The storage file of a run folder (a .db file path is accepted too)."""
    run_dir = Path(run_dir)
    if run_dir.is_file():
        return run_dir
    if not run_dir.exists():
        raise HpsearchError(f"{run_dir}: no such run folder")
    db = run_dir / DB_NAME
    if not db.is_file():
        raise HpsearchError(f"{run_dir}: not a run folder (no {DB_NAME}); run 'hpsearch run STUDY.toml' first")
    return db


def _study_name(db, name):
    """The study to read from ``db``: ``name``, or the only one, or the one in run.json."""
    from hpsearch.storage import Storage

    with Storage(db) as storage:
        names = storage.study_names()
    if name is not None:
        if name not in names:
            raise HpsearchError(f"{db}: no study named {name!r}; studies present: {', '.join(names) or 'none'}")
        return name
    if len(names) == 1:
        return names[0]
    if not names:
        raise HpsearchError(f"{db}: holds no study yet")
    info = _read_info(Path(db).parent)
    if info.get("name") in names:
        return info["name"]
    raise HpsearchError(f"{db} holds several studies ({', '.join(names)}); choose one with --name")


def _read_info(run_dir):
    try:
        return json.loads((Path(run_dir) / RUN_INFO).read_text())
    except (OSError, ValueError):
        return {}


def _planned(db, name):
    """Trials planned for a stored study: stored stage sizes, else the spec's stage sizes."""
    from hpsearch.storage import Storage

    with Storage(db) as storage:
        study_id, spec = storage.find_study(name)
        stored = {d["index"]: d["n_trials"] for d in storage.load_stages(study_id)}
    stages = spec.get("stages", [])
    if isinstance(stages, dict):  # stored as {"0": {...}, "1": {...}}
        stages = [stages[k] for k in sorted(stages, key=int)]
    return sum(stored.get(i, s["n_trials"]) for i, s in enumerate(stages))


def _report(result, top):
    """The summary of a result without its flags, then the flags in their own block."""
    plain = copy.copy(result)
    plain.boundary = []
    _say(plain.summary(top=top))
    _flags(result)


def _flags(result):
    if not result.boundary:
        _say("boundary: no best value sits at the edge of its range")
        return
    n = len(result.boundary)
    _say("")
    _say(f"!! {n} boundary flag{'s' if n > 1 else ''}: the best value sits at the edge of its range; "
         f"the optimum may lie outside it. Widen the range and run again:")
    for flag in result.boundary:
        _say(f"!!   {flag.suggestion}")


def _save_plots(kind, *args):
    """Draw plots through hpsearch.plots; returns the written paths."""
    from hpsearch import plots

    return list(getattr(plots, kind)(*args))


# -- run ------------------------------------------------------------------------------------

def _print_plan(sf, name, plan, counts, strategy, n_jobs):
    total_trials = sum(counts)
    total_epochs = sum(c * s.budget for c, s in zip(counts, plan))
    _say(f"study {name!r} from {sf.path}: {strategy}, {sf.direction} {sf.metric}, seed {sf.seed}")
    _say(f"space: {', '.join(f'{k}={v!r}' for k, v in sf.space.items())}")
    for i, (stage, count) in enumerate(zip(plan, counts)):
        asked = "" if count == stage.n_trials else f" (its largest grid; {stage.n_trials} asked)"
        _say(f"  stage {i}: {count} trials{asked} x {stage.budget} epochs, {stage.sampler} sampler")
    _say(f"total: {total_trials} trials, {total_epochs} epochs, n_jobs={n_jobs}")


def cmd_run(args, argv):
    from hpsearch.studyfile import load_study_file

    sf = load_study_file(args.study)
    if args.seed is not None:
        sf.seed = args.seed
    strategy = args.strategy or sf.strategy
    name = args.name or sf.name
    if args.name is None and strategy != sf.strategy:
        name = f"{sf.name}-{strategy}"  # another strategy is another study: its own folder
    out = Path(args.out) if args.out else Path("runs") / name
    plan = sf.plan(strategy)
    counts = sf.planned_trials(plan)
    n_jobs = args.n_jobs or sf.n_jobs or _default_n_jobs()
    if args.dry_run:
        _print_plan(sf, name, plan, counts, strategy, n_jobs)
        _say(f"would write: {out / DB_NAME}, {out / 'trials.csv'} and plots (dry run: nothing ran)")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    db = out / DB_NAME
    resume = _resume_command(argv)
    if db.exists():
        from hpsearch.storage import Storage

        with Storage(db) as storage:
            present = name in storage.study_names()
        if present:
            from hpsearch.study import load_study

            done = len(load_study(db, name))
            if not args.quiet:
                _say(f"resuming study {name!r}: {done} of {sum(counts)} trials already done in {db}")
    (out / RUN_INFO).write_text(json.dumps({"study_file": str(sf.path), "name": name, "resume": resume},
                                           indent=2) + "\n")
    if not args.quiet:
        _print_plan(sf, name, plan, counts, strategy, n_jobs)
    study = sf.make_study(db, name)
    try:
        result = sf.run(study, strategy=strategy, n_jobs=n_jobs, backend=args.backend, scheduler=args.scheduler,
                        retry_failed=args.retry_failed, overwrite=args.overwrite, progress=not args.quiet)
    except StudyInterrupted as exc:
        n = 0 if exc.result is None else len(exc.result)
        if exc.result is not None:
            exc.result.to_csv(out / "trials.csv")
        _err(f"interrupted: {n} trials saved in {db}; resume with: {resume}")
        return EXIT_INTERRUPTED
    csv = result.to_csv(out / "trials.csv")
    _say("")
    _report(result, top=10)
    try:
        written = [db, csv] + _save_plots("save_run_plots", result, out)
    except KeyboardInterrupt:
        _err(f"interrupted while drawing the plots; the study is complete in {db}; "
             f"draw them with: hpsearch plot {shlex.quote(str(out))}")
        return EXIT_INTERRUPTED
    _say("")
    _say("wrote:")
    for path in written:
        _say(f"  {path}")
    return 0


# -- show / plot / export -------------------------------------------------------------------

def _load_run(args):
    """(database, study name, result) of the run folder a show/plot command names."""
    from hpsearch.study import load_study

    db = _database(args.run_dir)
    name = _study_name(db, args.name)
    return db, name, load_study(db, name)


def cmd_show(args, argv):
    db, name, result = _load_run(args)
    planned = _planned(db, name)
    done = len(result)
    state = "complete" if done >= planned else "incomplete (interrupted or still running)"
    _say(f"{db}: study {name!r}, {done} of {planned} planned trials done, {state}")
    if done < planned:
        info = _read_info(db.parent)
        if info.get("resume"):
            _say(f"resume with: {info['resume']}")
    _report(result, top=args.top)
    return 0


def cmd_plot(args, argv):
    db, name, result = _load_run(args)
    if len(result) == 0:
        raise HpsearchError(f"{db}: study {name!r} has no finished trial to plot yet")
    written = _save_plots("save_run_plots", result, db.parent)
    _say(f"study {name!r}: {len(result)} trials; wrote:")
    for path in written:
        _say(f"  {path}")
    return 0


def cmd_export(args, argv):
    from hpsearch.export import export_run

    db = _database(args.run_dir)
    name = _study_name(db, args.name)
    exported = export_run(db, args.optuna, name=name, optuna_name=args.optuna_name)
    _say(f"exported study {name!r} from {db} to {args.optuna} (Optuna study {exported!r})")
    _say(f"open it with: optuna-dashboard {args.optuna}")
    return 0


# -- compare --------------------------------------------------------------------------------

def cmd_compare(args, argv):
    from hpsearch.compare import DEFAULT_STRATEGIES, compare_strategies
    from hpsearch.studyfile import load_study_file

    sf = load_study_file(args.study)
    out = Path(args.out) if args.out else Path("runs") / f"{sf.name}-compare"
    strategies = args.strategies or list(DEFAULT_STRATEGIES)
    n_jobs = args.n_jobs or sf.n_jobs or _default_n_jobs()
    seed = sf.seed if args.seed is None else args.seed
    resume = _resume_command(argv)
    try:
        comparison = compare_strategies(sf, strategies=strategies, repeats=args.repeats, budget=args.budget,
                                        seed=seed, n_jobs=n_jobs, out_dir=out, backend=args.backend,
                                        progress=not args.quiet, log=None if args.quiet else _say)
    except StudyInterrupted:
        _err(f"interrupted: finished trials are saved in {out / 'compare.db'}; resume with: {resume}")
        return EXIT_INTERRUPTED
    _say("")
    _say(comparison.report())
    csv = comparison.to_csv(out / "comparison.csv")
    written = [out / "compare.db", csv] + _save_plots("save_comparison_plots", comparison, out)
    _say("")
    _say("wrote:")
    for path in written:
        _say(f"  {path}")
    return 0


# -- sanity ---------------------------------------------------------------------------------

def _sanity_arguments(sf, overrides=()):
    """(the MLP objective, trial params, its configuration, the settings shown) for ``sanity``.

    The configuration checked is the file's fixed [trainer] settings with every [space]
    parameter at the middle of its range (geometric middle for log ranges) or its first
    choice, then the ``--set KEY=VALUE`` overrides.
    """
    from models import MLPObjective

    if not isinstance(sf.objective, MLPObjective):
        raise HpsearchError(f"{sf.path}: 'hpsearch sanity' checks the MLP trainer; this study uses the "
                            f"objective {sf.objective_ref!r}")
    middle = sf.sanity_settings()
    params = {name: middle[name] for name in sf.space}
    params.update(_parse_overrides(overrides))
    try:
        sf.objective.validate(params)
        config = sf.objective.configuration(params)
    except ValueError as exc:
        raise HpsearchError(f"{sf.path}: sanity configuration: {exc}") from None
    mlp, trainer = config["mlp"], config["trainer"]
    shown = {"activation": mlp.get("activation", "relu"), "init": mlp.get("init", "he"),
             "optimizer": trainer.get("optimizer", "adam"), "lr": trainer.get("lr", 1e-3),
             "hidden_dims": config["hidden_dims"],
             **{k: v for k, v in mlp.items() if k not in ("activation", "init", "reg")},
             "preprocess": config["data"].get("preprocess", "none")}
    return params, config, shown


def _parse_overrides(overrides):
    """``["lr=0.01", "activation=tanh", "hidden_dims=[64, 64]"]`` -> a params dict (values read as TOML)."""
    import tomllib

    params = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise HpsearchError(f"--set needs KEY=VALUE, got {item!r}")
        try:
            params[key] = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            params[key] = text.strip()  # a bare word: activation=tanh
    return params


def _sanity_text(sf, source, shown, report):
    def mark(ok):
        return "PASS" if ok else "FAIL"

    def fmt(value):
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    lines = [f"sanity checks for study {sf.name!r} on {source!r}",
             "configuration: " + ", ".join(f"{k}={fmt(v)}" for k, v in shown.items()),
             "  ([space] parameters at the middle of their range, choices at their first value, "
             "then any --set)"]
    c = report["num_classes"]
    lines.append(f"  [{mark(report['initial_loss_ok'])}] initial loss {report['initial_loss']:.4f} with reg=0; "
                 f"expected ln({c}) = {report['expected_initial_loss']:.4f}")
    regs = report["reg_check"]
    steps = ", ".join(f"reg={fmt(float(r))}: {loss:.4g}" for r, loss in zip(regs["regs"], regs["losses"]))
    lines.append(f"  [{mark(regs['ok'])}] loss rises with reg: {steps}")
    over = report["overfit"]
    lines.append(f"  [{mark(over['ok'])}] overfit {over['n_samples']} training samples: train acc "
                 f"{over['train_acc']:.3f} after {over['epochs']} epochs (reg=0; should reach 1.000)")
    lines.append("per-layer statistics (one forward/backward pass; first 1000 training samples):")
    lines.append(f"  {'layer':>5}  {'activation':<10}  {'mean':>9}  {'std':>9}  {'dead':>6}  {'saturated':>9}  "
                 f"{'grad norm':>9}")
    for layer in report["layers"]:
        lines.append(f"  {layer['layer']:>5}  {layer['activation']:<10}  {layer['mean']:>9.3g}  "
                     f"{layer['std']:>9.3g}  {layer['dead_fraction']:>6.1%}  {layer['saturated_fraction']:>9.1%}  "
                     f"{layer['grad_norm']:>9.3g}")
    stds = [layer["std"] for layer in report["layers"]]
    if len(stds) > 1 and stds[0] > 0 and stds[-1] < 0.1 * stds[0]:
        lines.append(f"  activations shrink from std {stds[0]:.3g} to {stds[-1]:.3g} through the layers: "
                     f"vanishing signal (try xavier or he init)")
    grads = [layer["grad_norm"] for layer in report["layers"]]
    if len(grads) > 1 and grads[-1] > 0 and grads[0] < 1e-3 * grads[-1]:
        lines.append(f"  gradients vanish towards the input: grad norm {grads[-1]:.3g} at layer {len(grads)}, "
                     f"{grads[0]:.3g} at layer 1")
    lines.append("all checks passed" if report["ok"] else "some checks FAILED")
    return "\n".join(lines)


def cmd_sanity(args, argv):
    from models import sanity_report

    from hpsearch.studyfile import load_study_file

    sf = load_study_file(args.study)
    out = Path(args.out) if args.out else Path("runs") / sf.name
    params, config, shown = _sanity_arguments(sf, args.set)
    data = sf.objective.load_data(params)
    trainer = config["trainer"]
    mlp = {k: v for k, v in config["mlp"].items() if k != "reg"}   # the report sweeps reg itself
    report = sanity_report(data, hidden_dims=config["hidden_dims"], optimizer=trainer.get("optimizer", "adam"),
                           lr=trainer.get("lr", 1e-3), seed=sf.seed, **mlp)
    source = sf.objective.dataset if isinstance(sf.objective.dataset, str) else "data"
    _say(_sanity_text(sf, source, shown, report))
    out.mkdir(parents=True, exist_ok=True)
    from hpsearch.plots import save_sanity_plot

    path = save_sanity_plot(report, out / "sanity.png")
    _say(f"wrote: {path}")
    # exit 1 when a check fails, so scripts can gate a search on it
    return 0 if report["ok"] else 1
