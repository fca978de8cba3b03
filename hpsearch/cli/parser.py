"""The ``hpsearch`` command line: one argument parser, one small function per command."""
import argparse
import sys

from hpsearch.checks import check_name, check_seed
from hpsearch.cli.output import PROG
from hpsearch.storage.runfolder import COMPARISON_CSV

__all__ = ["build_parser", "EXIT_USAGE"]

EXIT_USAGE = 2


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


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _seed(text):
    try:
        return check_seed(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**32), got {text!r}") from None


def _study_name(text):
    try:
        return check_name(text, "the study name")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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

    _add_run(sub)
    _add_compare(sub)
    _add_views(sub)
    _add_sanity(sub)
    _add_dashboard(sub)
    return parser


def _add_run(sub):
    run = sub.add_parser("run", help="run (or resume) a study file",
                         description="Run a study file; running the same command again resumes it. Strategies: "
                         "random, grid, sobol, coarse-to-fine, sha (successive halving), hyperband, tpe, cmaes, "
                         "qmc, gp, optuna-random.")
    run.add_argument("study", metavar="STUDY.toml")
    run.add_argument("--out", metavar="DIR", help="output folder (default: runs/<name>/)")
    run.add_argument("--n-jobs", type=_n_jobs, metavar="N",
                     help="parallel trials (default: all cores, unless the first trial shows the study too small "
                          "to pay for starting workers; -1: all cores)")
    run.add_argument("--no-plots", action="store_true", help="write no plots (draw them later with hpsearch plot)")
    run.add_argument("--seed", type=_seed, metavar="S", help="study seed (default: the file's)")
    run.add_argument("--backend", metavar="B", help="loky (default), threading, multiprocessing or dask")
    run.add_argument("--scheduler", metavar="ADDR", help="Dask scheduler address, e.g. tcp://HOST:8786")
    run.add_argument("--trial-timeout", type=_seconds, metavar="SECONDS",
                     help="fail a trial whose objective call takes longer, stop its worker and go on "
                          "(default: the file's trial_timeout, else none)")
    run.add_argument("--strategy", metavar="S", help="another strategy at the same compute "
                     "(random, grid, sobol, coarse-to-fine, sha, hyperband, tpe, bohb, cmaes, qmc, gp, "
                     "optuna-random); "
                     "the study is then named <name>-<strategy>")
    run.add_argument("--name", type=_study_name, help="study name (default: the file's name)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--overwrite", action="store_true",
                     help="discard a stored study of the same name whose settings differ")
    run.add_argument("--retry-failed", action="store_true", help="on resume, run failed trials again")
    run.add_argument("--dry-run", action="store_true", help="check the file and print the plan; run nothing")


def _add_compare(sub):
    cmp_ = sub.add_parser("compare", help="compare strategies at equal compute, repeated",
                          description="Run each strategy R times with different seeds at the same compute "
                          "(same trials, same total epochs); print medians, quartiles and a Mann-Whitney U "
                          f"test of random vs grid; write {COMPARISON_CSV} and plots. Resumable.")
    cmp_.add_argument("study", metavar="STUDY.toml")
    cmp_.add_argument("--strategies", type=_strategy_list, default=None, metavar="LIST",
                      help="comma-separated, from random, grid, sobol, coarse-to-fine, sha, hyperband, tpe, "
                           "bohb, cmaes, qmc, gp, optuna-random (default: grid,random,sobol,coarse-to-fine)")
    cmp_.add_argument("--trials", dest="trials", type=_positive_int, metavar="N",
                      help="trials per run (default: the file's total); epochs scale with it")
    cmp_.add_argument("--repeats", type=_positive_int, default=5, metavar="R", help="runs per strategy (default 5)")
    cmp_.add_argument("--out", metavar="DIR", help="output folder (default: runs/<name>-compare/)")
    cmp_.add_argument("--n-jobs", type=_n_jobs, metavar="N", help="parallel trials (default: as for run)")
    cmp_.add_argument("--seed", type=_seed, metavar="S", help="base seed; repeat r uses seed + r")
    cmp_.add_argument("--backend", metavar="B", help="loky (default), threading, multiprocessing or dask")
    cmp_.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_views(sub):
    show = sub.add_parser("show", help="the table, best trial and flags of a run")
    show.add_argument("run_dir", metavar="RUN_DIR", help="a run folder or a storage file (read, never written)")
    show.add_argument("--top", type=_positive_int, default=10, metavar="N", help="trials listed (default 10)")
    show.add_argument("--name", help="study name (when the folder's database holds several)")

    plot = sub.add_parser("plot", help="(re)draw a run's plots")
    plot.add_argument("run_dir", metavar="RUN_DIR")
    plot.add_argument("--out", metavar="DIR", help="folder for the PNG files (default: the run folder)")
    plot.add_argument("--name", help="study name (when the folder's database holds several)")
    _add_export(sub)

    copy = sub.add_parser("copy", help="copy a run folder safely (its database as one self-contained file)",
                          description="Copy a run folder to DEST: the database with SQLite's backup API (a "
                          "consistent snapshot that includes the trials still in its -wal file, safe while the "
                          "run goes on), then its other files. cp of study.db alone can miss those trials.")
    copy.add_argument("run_dir", metavar="RUN_DIR")
    copy.add_argument("dest", metavar="DEST", help="a new (or empty) folder")


def _add_sanity(sub):
    sanity = sub.add_parser("sanity", help="babysitting checks of a study's trainer",
                            description="Initial loss vs ln(C), loss rising with reg, overfitting a tiny "
                            "subset, per-layer activation and gradient statistics (sanity.png), then which "
                            "learning rates make the loss go down and the range to search (lr_range.png).")
    sanity.add_argument("study", metavar="STUDY.toml")
    sanity.add_argument("--out", metavar="DIR", help="folder for sanity.png (default: runs/<name>/)")
    sanity.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="check this setting instead of the space's middle, e.g. --set activation=relu "
                             "--set init=he (repeatable; values read as TOML)")
    sanity.add_argument("--no-lr-range", action="store_true",
                        help="skip the learning-rate range check (which rates make the loss go down)")


def _add_export(sub):
    export = sub.add_parser("export", help="write a run into an Optuna storage")
    export.add_argument("run_dir", metavar="RUN_DIR")
    export.add_argument("--optuna", required=True, metavar="URL", help="Optuna storage URL, e.g. sqlite:///optuna.db")
    export.add_argument("--name", help="study name (when the folder's database holds several)")
    export.add_argument("--optuna-name", metavar="NAME",
                        help="name of the new Optuna study (default: the hpsearch study's name)")
    export.add_argument("--curves", type=_curves, default="all", metavar="WHICH",
                        help="learning curves to export: all (default), none, or K for the K best configurations")
    export.add_argument("--quiet", action="store_true", help="no progress bar")


def _curves(text):
    from hpsearch.integration.optuna_trials import check_curves

    try:
        return check_curves(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _port(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number in [0, 65535], got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number in [0, 65535], got {text!r}")
    return value


def _add_dashboard(sub):
    dash = sub.add_parser("dashboard", help="watch a run live in optuna-dashboard (read-only)",
                          description="Serve optuna-dashboard over a run folder (or a comparison folder: one "
                          "study per strategy), read-only. It may start before the run and follows it, "
                          "a resume included. Needs optuna-dashboard (pip install 'hpsearch[dashboard]').")
    dash.add_argument("run_dir", metavar="RUN_DIR", help="a run or comparison folder, or a storage file")
    dash.add_argument("--host", default="127.0.0.1",
                      help="address to listen on (default 127.0.0.1: only this machine can connect)")
    dash.add_argument("--port", type=_port, default=8080, help="port (default 8080; 0: any free port)")
    dash.add_argument("--curves", type=_curves, default="all", metavar="WHICH",
                      help="learning curves shown: all (default), none, or K for the K best configurations "
                           "(fewer load faster for thousands of trials)")
