"""scikit-learn's RandomizedSearchCV against hpsearch.sklearn.SearchCV, on digits.

Two tasks: an RBF ``SVC`` over C (log 1e-1..1e3) and gamma (log 1e-5..1e-1), and a
``StandardScaler`` + ``LogisticRegression`` pipeline over C (log 1e-4..1e2). Digits is split
once, 75/25 stratified (seed 0); the searches see the 75%, 3-fold CV, and the refit
``best_estimator_`` is scored once on the 25%.

Per task and seed (``--repeats``, default 10; seed r):

- quality, n_jobs=2, the same number of fits (20 candidates x 3 folds): ``RandomizedSearchCV``
  (scipy ``loguniform``, ``random_state=r``), ``SearchCV`` random (``seed=r``), ``SearchCV``
  coarse-to-fine (15 candidates, then 5 in the narrowed space): best CV score, test score, wall time;
- overhead at equal work, n_jobs=1 and 2: ``SearchCV`` random, then ``RandomizedSearchCV``
  replaying exactly its candidates (a distribution whose ``rvs`` hands them out in order), in
  alternating order; the ratio of their wall times (goal: at most 1.1x).

Medians over the seeds are printed and written to benchmarks/results/bench_sklearn.json.
Run: ``python benchmarks/bench_sklearn.py [--quick] [--repeats N]``.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (base_parser, check_repeats, describe_machine, fmt_ratio, fmt_seconds, format_table,  # noqa: E402
                     median, report_and_save)

SCRIPT = "bench_sklearn"
PEERS = ("RandomizedSearchCV", "SearchCV random", "SearchCV coarse-to-fine")
GOAL = 1.1


class Replay:
    """A "distribution" whose ``rvs`` returns given values in order: RandomizedSearchCV then
    evaluates exactly the candidates another search drew (ParameterSampler calls ``rvs`` once
    per parameter and candidate, in candidate order)."""

    def __init__(self, values):
        self.values, self.i = list(values), 0

    def rvs(self, random_state=None):
        value = self.values[self.i % len(self.values)]
        self.i += 1
        return value


def tasks():
    """name -> (estimator, hpsearch space, scipy space)."""
    from scipy.stats import loguniform
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    import hpsearch as hp

    return {
        "SVC (C, gamma)": (SVC(), {"C": hp.LogUniform(1e-1, 1e3), "gamma": hp.LogUniform(1e-5, 1e-1)},
                           {"C": loguniform(1e-1, 1e3), "gamma": loguniform(1e-5, 1e-1)}),
        "LogisticRegression (C)": (make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)),
                                   {"logisticregression__C": hp.LogUniform(1e-4, 1e2)},
                                   {"logisticregression__C": loguniform(1e-4, 1e2)}),
    }


def timed(search, X, y):
    start = time.perf_counter()
    search.fit(X, y)
    return search, time.perf_counter() - start


def quality(estimator, space, scipy_space, data, seed, n_trials, cv):
    """{peer: (best CV score, test score, seconds)} for one seed, n_jobs=2."""
    import warnings

    from sklearn.model_selection import RandomizedSearchCV

    from hpsearch.sklearn import SearchCV

    X, X_test, y, y_test = data
    searches = {
        "RandomizedSearchCV": RandomizedSearchCV(estimator, scipy_space, n_iter=n_trials, cv=cv, random_state=seed,
                                                 n_jobs=2),
        "SearchCV random": SearchCV(estimator, space, n_trials=n_trials, cv=cv, seed=seed, n_jobs=2),
        "SearchCV coarse-to-fine": SearchCV(estimator, space, strategy="coarse-to-fine", n_trials=n_trials, cv=cv,
                                            seed=seed, n_jobs=2),
    }
    out = {}
    for name, search in searches.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # edge warnings and convergence warnings: not measured here
            search, seconds = timed(search, X, y)
        out[name] = (float(search.best_score_), float(search.score(X_test, y_test)), seconds)
    return out


def overhead(estimator, space, data, seed, n_trials, cv, n_jobs):
    """(SearchCV seconds, RandomizedSearchCV seconds) on the same candidates; the order alternates by seed."""
    import warnings

    from sklearn.model_selection import RandomizedSearchCV

    from hpsearch.sklearn import SearchCV

    X, _, y, _ = data
    ours = SearchCV(estimator, space, n_trials=n_trials, cv=cv, seed=seed, n_jobs=n_jobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = timed(ours, X, y)[1]
        names = sorted(ours.best_params_)
        replay = {n: Replay([p[n] for p in ours.cv_results_["params"]]) for n in names}
        theirs = RandomizedSearchCV(estimator, replay, n_iter=n_trials, cv=cv, n_jobs=n_jobs)
        theirs_seconds = timed(theirs, X, y)[1]
        assert theirs.cv_results_["params"] == ours.cv_results_["params"], "the replay drew other candidates"
        if seed % 2:   # odd seeds time ours after theirs (its first run only drew the candidates)
            first = timed(SearchCV(estimator, space, n_trials=n_trials, cv=cv, seed=seed, n_jobs=n_jobs), X, y)[1]
    return first, theirs_seconds


def run(args):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    repeats = check_repeats(args.repeats) or (1 if args.quick else 10)
    n_trials, cv = (4, 2) if args.quick else (20, 3)
    X, y = load_digits(return_X_y=True)
    if args.quick:
        X, y = X[:300], y[:300]
    data = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    figures = {}
    for task, (estimator, space, scipy_space) in tasks().items():
        rows = {"quality": [], "overhead_1": [], "overhead_2": []}
        for seed in range(repeats):
            rows["quality"].append(quality(estimator, space, scipy_space, data, seed, n_trials, cv))
            for n_jobs in (1, 2):
                rows[f"overhead_{n_jobs}"].append(overhead(estimator, space, data, seed, n_trials, cv, n_jobs))
            print(f"{task}: seed {seed} done", file=sys.stderr)
        figures[task] = summarize(rows)
    return figures, repeats, n_trials, cv


def summarize(rows):
    """Medians over the seeds of every peer's figures and of the overhead ratios."""
    out = {"peers": {}}
    for peer in PEERS:
        runs = [r[peer] for r in rows["quality"]]
        out["peers"][peer] = {"best_cv": median([r[0] for r in runs]), "test": median([r[1] for r in runs]),
                              "seconds": median([r[2] for r in runs]), "runs": runs}
    for n_jobs in (1, 2):
        pairs = rows[f"overhead_{n_jobs}"]
        out[f"overhead_n_jobs_{n_jobs}"] = {"ours": median([p[0] for p in pairs]), "theirs": median([p[1] for p in pairs]),
                                            "ratio": median([p[0] / p[1] for p in pairs]), "pairs": pairs}
    return out


def main(argv=None):
    parser = base_parser(__doc__.splitlines()[0], default_repeats=10)
    args = parser.parse_args(argv)
    machine = describe_machine()
    figures, repeats, n_trials, cv = run(args)
    lines = [f"{n_trials} candidates x {cv}-fold CV per search, {repeats} seeds, digits 75/25; medians", ""]
    goals = {}
    for task, f in figures.items():
        table = [[peer, f"{p['best_cv']:.4f}", f"{p['test']:.4f}", fmt_seconds(p["seconds"])]
                 for peer, p in f["peers"].items()]
        lines += [format_table(["peer (n_jobs=2)", "best CV score", "test score", "wall time"], table, title=task), ""]
        table = []
        for n_jobs in (1, 2):
            o = f[f"overhead_n_jobs_{n_jobs}"]
            met = o["ratio"] <= GOAL
            goals[f"{task}: SearchCV <= {GOAL}x RandomizedSearchCV, n_jobs={n_jobs}"] = met
            table.append([n_jobs, fmt_seconds(o["ours"]), fmt_seconds(o["theirs"]),
                          f"{fmt_ratio(o['ratio'])} (goal <= {GOAL}x: {'met' if met else 'missed'})"])
        lines += [format_table(["n_jobs", "SearchCV random", "RandomizedSearchCV, same candidates", "ratio"], table,
                               title=f"{task}: overhead at equal work"), ""]
    payload = {"script": SCRIPT, "quick": args.quick, "repeats": repeats, "n_trials": n_trials, "cv": cv,
               "figures": figures, "goals": goals, "machine": machine}
    return report_and_save(lines, machine, payload, args, SCRIPT)


if __name__ == "__main__":
    main()
