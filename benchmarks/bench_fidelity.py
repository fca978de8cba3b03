"""Multi-fidelity search at equal epochs: ours (sha, hyperband; random or per-budget model) against
Optuna's pruners and DEHB, on four problems.

Every method gets the same total epochs per problem: the search's (``total``) plus the
confirmation's (the main job's ``[confirm]``: the top 2 configurations trained again with 2 fresh
seeds at the maximum budget). Ours spend them as search + confirmation and hand over the
confirmation winner; ``sha-bohb-noconfirm`` spends them all on the search and hands over its best
trial at the highest budget (which of the two ships the better model is question 2 of issue 22).
The peers search for the whole total and hand over their own best. Problems (``--problems``):

  - ``main``: the main job, ``studies/digits_mlp.toml``'s objective and space (Adam, one hidden
    layer; lr, reg, width, activation, dropout); 656 + 160 epochs, max budget 40; target 0.975;
  - ``sgd``: digits with SGD + momentum 0.9, two hidden layers, lr log-uniform 1e-4..1, width
    log-uniform 16..256, activation relu or tanh; 656 + 160 epochs, max budget 40; target 0.97;
  - ``spiral``: a noisy problem of another shape: three interleaved spirals (200 points per arm,
    noise 0.5; 60/20/20 split), an Adam MLP of two hidden layers, batch 32; lr, reg, width,
    activation; 405 + 108 epochs, max budget 27; target 0.85;
  - ``sklearn-sgd``: scikit-learn's ``SGDClassifier`` on digits (standardised), one ``partial_fit``
    pass per epoch and no checkpoints (a promoted trial trains again from scratch: promotion
    costs ours its full budget); loss, alpha, learning-rate schedule, eta0; 405 + 108 epochs, max
    budget 27; target 0.96.

Ours (``hpsearch.Study.run``, n_jobs=1; min budget 1, eta 3): ``sha`` and ``hyperband`` (random
sampler), ``sha-bohb`` and ``hyperband-bohb`` (:class:`hpsearch.samplers.BOHBSampler`, the model per
budget; ``sampler = "tpe"`` in a study file), ``sha-bohb-noconfirm``, and ``hyperband-rungs2`` (the
confirmation's candidates taken in turn from the two highest budgets reached: ``[confirm] rungs = 2``). Optuna (ask and tell, the
same objective, per-epoch ``trial.report`` / ``should_prune``): ``optuna-tpe-hyperband``
(TPESampler + HyperbandPruner) and ``optuna-random-sha`` (RandomSampler + SuccessiveHalvingPruner),
min resource 1, reduction factor 3. ``dehb`` (DEHB 0.1, Awad et al. 2021; ask/tell, min fidelity 1,
eta 3, fidelities rounded to whole epochs, every job trained from scratch as DEHB does) runs in a
separate environment, ``/work/venv-bench`` or ``$HPSEARCH_BENCH_PYTHON``, through
``_dehb_peer.py`` (see benchmarks/README.md); without it the row is left out and a note says so.
Optuna and DEHB stop (mid-trial if need be) when the total is reached.

Per run, every epoch any trial trains is an observation (its validation accuracy) at the run's
cumulative epoch count, in the run's deterministic order (continued trials count only their new
epochs). Reported per strategy, median and quartiles over the seeds, and per seed in the JSON:
(a) the best val_acc the search reports; (b) the epochs until an observation first reaches the
target; (c) the area under the best-so-far observation against epochs, normalised to the total;
(d) wall time and the tool's overhead per trial (wall time minus the time inside the objective,
per trial); (e) the handed-over configuration trained again with 5 fresh seeds at the maximum
budget (the same seeds for every strategy of a seed): mean val and test accuracy, a re-run that
diverges counting as chance. Across problems: every strategy's mean rank on (b), (c) and (e) over
the (problem, seed) blocks, a Friedman test, and for our default (``DEFAULT``) a Wilcoxon
signed-rank test against each other strategy.

Goals (issue 22), per problem: our default's median re-measured val_acc at least the best
peer's (or within noise: Wilcoxon p >= 0.05 over the seeds); median epochs to target at most
0.5x the better Optuna peer's on ``main`` and ``sgd``; each adaptive strategy not worse than its
random twin beyond noise; the same trials table for n_jobs=1 and 2 (checked on one seed).
"""
import inspect
import json
import math
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import ROOT, base_parser, check_repeats, describe_machine, format_table, interleaved, \
    order_quartiles, report_and_save

SCRIPT = "bench_fidelity"
MIN_BUDGET, ETA = 1, 3
CONFIRM_TOP, CONFIRM_SEEDS = 2, 2       # the main job's [confirm]
REMEASURE_SEEDS = 5
CHANCE = {"main": 0.1, "sgd": 0.1, "spiral": 1 / 3, "sklearn-sgd": 0.1}   # a diverged re-run's worth
# name -> (target val_acc, max budget, search epochs)
PROBLEMS = {"main": (0.975, 40, 656), "sgd": (0.97, 40, 656), "spiral": (0.85, 27, 405),
            "sklearn-sgd": (0.96, 27, 405)}
TARGETS = {name: p[0] for name, p in PROBLEMS.items()}
QUICK = {"total": 40, "max_budget": 4}
DEFAULT_REPEATS = 3
OURS = ("sha", "sha-bohb", "hyperband", "hyperband-bohb", "sha-bohb-noconfirm", "hyperband-rungs2")
OPTUNA = ("optuna-tpe-hyperband", "optuna-random-sha")
OTHERS = ("dehb",)
PEERS = OPTUNA + OTHERS
STRATEGIES = OURS + PEERS


def _main_job_setup():
    """The main job's strategy as named here, read from its study file (one source of truth)."""
    import tomllib

    search = tomllib.loads((ROOT / "studies" / "digits_mlp.toml").read_text())["search"]
    adaptive = search.get("sampler", "random") not in ("random", "sobol", "grid")
    return search["strategy"] + ("-bohb" if adaptive else "")


DEFAULT = _main_job_setup()  # the main job's setup: the goals are judged on it
RANDOM_TWIN = {"sha-bohb": "sha", "hyperband-bohb": "hyperband"}
DEHB_PYTHON = Path(os.environ.get("HPSEARCH_BENCH_PYTHON", "/work/venv-bench/bin/python"))


class Problem:
    """An objective, its space, target and budgets; ``quick`` shrinks the budgets."""

    def __init__(self, name, objective, space, quick):
        target, max_budget, search = PROBLEMS[name]
        self.name, self.objective, self.space, self.target = name, objective, space, target
        self.search_total = QUICK["total"] if quick else search
        self.max_budget = QUICK["max_budget"] if quick else max_budget
        self.confirm_seeds = 1 if quick else CONFIRM_SEEDS
        self.confirm_epochs = CONFIRM_TOP * self.confirm_seeds * self.max_budget
        self.total = self.search_total + self.confirm_epochs   # what every method may spend
        self.chance = CHANCE[name]
        self.quick = quick
        # does the objective continue a promoted trial from its checkpoint?
        self.continues = "checkpoint" in inspect.signature(objective).parameters


def make_problem(name, quick=False):
    """One of :data:`PROBLEMS` (see the module docstring)."""
    import hpsearch as hp
    from models import MLPObjective

    if name == "main":
        from hpsearch.studyfile.reader import load_study_file

        definition = load_study_file(ROOT / "studies" / "digits_mlp.toml")
        objective, space = definition.objective, definition.space
    elif name == "sgd":
        objective = MLPObjective("digits", preprocess="center", optimizer="sgd", momentum=0.9, batch_size=64,
                                 depth=2)
        space = hp.Space({"lr": hp.LogUniform(1e-4, 1.0), "width": hp.IntLogUniform(16, 256),
                          "activation": hp.Choice(["relu", "tanh"])})
    elif name == "spiral":
        objective = MLPObjective("spiral", n_per_class=200, noise=0.5, preprocess="center", optimizer="adam",
                                 batch_size=32, depth=2)
        space = hp.Space({"lr": hp.LogUniform(1e-4, 1e-1), "reg": hp.LogUniform(1e-6, 1e-1),
                          "width": hp.IntLogUniform(8, 256), "activation": hp.Choice(["relu", "tanh"])})
    elif name == "sklearn-sgd":
        from _sgd_classifier import SGDDigits

        objective = SGDDigits()
        space = hp.Space({"loss": hp.Choice(["hinge", "log_loss", "modified_huber"]),
                          "alpha": hp.LogUniform(1e-7, 1e-1), "eta0": hp.LogUniform(1e-5, 1.0),
                          "learning_rate": hp.Choice(["constant", "invscaling", "adaptive"])})
    else:
        raise SystemExit(f"unknown problem {name!r}; expected one of {', '.join(PROBLEMS)}")
    return Problem(name, objective, space, quick)


def make_strategy(name, problem):
    """One of our strategies (without its confirmation), planned for ``problem``.

    Its plan counts promoted trials as continuing from their checkpoints; for an objective
    without checkpoints (``sklearn-sgd``) a promoted trial trains again from scratch, so the
    plan's total is lowered until what it really trains fits the same epochs as the peers'."""
    from hpsearch.strategies import Hyperband, SuccessiveHalving

    epochs = problem.total if name.endswith("-noconfirm") else problem.search_total
    sampler = "bohb" if "-bohb" in name else "random"
    cls = Hyperband if name.startswith("hyperband") else SuccessiveHalving
    total = epochs
    while True:
        strategy = cls(min_budget=MIN_BUDGET, max_budget=problem.max_budget, eta=ETA, total_budget=total,
                       sampler=sampler)
        if problem.continues or scratch_epochs(strategy) <= epochs:
            return strategy
        total -= 1


def scratch_epochs(strategy):
    """What ``strategy``'s brackets train when every promoted trial starts again from scratch."""
    return sum(size * budget for b in strategy.brackets for size, budget in zip(b.rung_sizes(), b.budgets))


# ---------------------------------------------------------------------- running one search
def run_ours(name, problem, seed, n_jobs=1):
    """Run our strategy ``name`` once (search, then the confirmation unless ``-noconfirm``);
    returns the run's record (see :func:`run_search`)."""
    from hpsearch.strategies.confirmed import Confirmation
    from hpsearch.study import Study

    study = Study(problem.objective, problem.space, metric="val_acc", direction="maximize",
                  name=f"bench-{problem.name}-{name}")
    # -rungs2: the confirmation's candidates taken in turn from the two highest budgets reached
    rungs = 2 if name.endswith("-rungs2") else 1
    confirm = None if name.endswith("-noconfirm") else Confirmation(CONFIRM_TOP, problem.confirm_seeds, test=False,
                                                                    rungs=rungs)
    t0 = time.perf_counter()
    result = study.run(make_strategy(name, problem), n_jobs=n_jobs, seed=seed, confirm=confirm)
    wall = time.perf_counter() - t0
    observations, spent, inside = [], 0, 0.0
    everything = sorted(result.records + result.confirm_records, key=lambda r: r["number"])
    for record in everything:   # trial-number order: the study's deterministic order
        trained = record.get("trial_epochs", record["budget"])
        first_epoch = record["budget"] - trained   # the epochs it continued from
        for point in record.get("curve") or []:
            observations.append((spent + point["epoch"] - first_epoch, point["val_acc"]))
        spent += trained
        inside += record["duration"] or 0.0
    handed = result.confirmation.winner["params"] if result.confirmation and result.confirmation.winner \
        else result.best_params
    table = result.trials[["number", "stage", "budget", "trial_epochs", "seed", "val_acc"] +
                          [f"param_{n}" for n in problem.space.names]]
    return {"best_value": result.best_value, "best_params": handed, "epochs": spent,
            "trials": len(everything), "wall": wall, "overhead": (wall - inside) / max(1, len(everything)),
            "observations": observations, "table": json.loads(table.to_json(orient="records"))}


class _Pruned(Exception):
    pass


class _Spent(Exception):
    pass


def run_optuna(name, problem, seed):
    """Run an Optuna peer once (ask and tell, per-epoch report and prune), stopping when the
    epochs trained reach ``problem.total``."""
    import optuna

    from hpsearch import seeding
    from hpsearch.samplers.optuna_convert import quiet_optuna, to_optuna_distribution

    coded = {n: to_optuna_distribution(n, d) for n, d in problem.space.items()}
    if name == "optuna-tpe-hyperband":
        sampler = optuna.samplers.TPESampler(seed=seed)
        pruner = optuna.pruners.HyperbandPruner(min_resource=MIN_BUDGET, max_resource=problem.max_budget,
                                                reduction_factor=ETA)
    else:
        sampler = optuna.samplers.RandomSampler(seed=seed)
        pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=MIN_BUDGET, reduction_factor=ETA)
    observations, trials, inside = [], 0, 0.0
    t0 = time.perf_counter()
    with quiet_optuna():
        # a fixed name: HyperbandPruner puts trials in brackets by a hash of the study name (a
        # random one by default), so without it the same seed gives other trials
        study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner,
                                    study_name=f"bench-{problem.name}-{name}-{seed}")
        while len(observations) < problem.total:
            trial = study.ask({n: dist for n, (dist, _) in coded.items()})
            params = {n: decode(trial.params[n]) for n, (_, decode) in coded.items()}
            trials += 1

            def report(epoch, metrics, trial=trial):
                observations.append((len(observations) + 1, metrics["val_acc"]))
                if math.isfinite(metrics["val_acc"]):
                    trial.report(metrics["val_acc"], epoch)
                if len(observations) >= problem.total:
                    raise _Spent
                if trial.should_prune():
                    raise _Pruned

            t_in = time.perf_counter()
            try:
                metrics = problem.objective(params, budget=problem.max_budget,
                                            seed=seeding.trial_seed(seed, 0, trial.number), report=report)
            except (_Pruned, _Spent):
                inside += time.perf_counter() - t_in
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                continue
            inside += time.perf_counter() - t_in
            value = metrics["val_acc"]
            ok = metrics["status"] == "ok" and math.isfinite(value)
            study.tell(trial, value if ok else None, state=None if ok else optuna.trial.TrialState.FAIL)
    wall = time.perf_counter() - t0
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    best = max(complete, key=lambda t: (t.value, -t.number)) if complete else None
    best_params = None if best is None else {n: decode(best.params[n]) for n, (_, decode) in coded.items()}
    return {"best_value": None if best is None else best.value, "best_params": best_params,
            "epochs": len(observations), "trials": trials, "wall": wall, "overhead": (wall - inside) / max(1, trials),
            "observations": observations}


def dehb_available():
    """The benchmark environment's python when DEHB is installed there, else None."""
    if not DEHB_PYTHON.exists():
        return None
    probe = subprocess.run([str(DEHB_PYTHON), "-c", "import dehb, ConfigSpace"], capture_output=True)
    return DEHB_PYTHON if probe.returncode == 0 else None


def run_dehb(problem, seed):
    """Run DEHB once in the benchmark environment (``_dehb_peer.py``, a subprocess)."""
    request = {"problem": problem.name, "quick": problem.quick, "seed": int(seed), "total": problem.total,
               "min_budget": MIN_BUDGET, "max_budget": problem.max_budget, "eta": ETA}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "benchmarks")]))
    done = subprocess.run([str(DEHB_PYTHON), str(ROOT / "benchmarks" / "_dehb_peer.py"), json.dumps(request)],
                          capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    if done.returncode != 0:
        raise RuntimeError(f"DEHB peer failed: {done.stderr.strip().splitlines()[-1:]}")
    run = json.loads(done.stdout.strip().splitlines()[-1])
    run["observations"] = [tuple(o) for o in run["observations"]]
    return run


def run_search(name, problem, seed):
    """One run of strategy ``name``: ``{best_value, best_params (handed over), epochs, trials, wall,
    overhead, observations: [(cumulative epoch, val_acc), ...]}`` (ours also ``table``)."""
    if name in OPTUNA:
        return run_optuna(name, problem, seed)
    if name == "dehb":
        return run_dehb(problem, seed)
    return run_ours(name, problem, seed)


# ---------------------------------------------------------------------- figures of a run
def epochs_to_reach(observations, target):
    """The cumulative epoch of the first observation at or above ``target`` (inf if none)."""
    return next((float(e) for e, v in observations if v >= target), math.inf)


def best_so_far_auc(observations, total):
    """Area under the best-so-far val_acc against epochs over ``[0, total]``, divided by ``total``
    (the curve is 0 before the first observation; NaN observations never raise it)."""
    area, best, last = 0.0, 0.0, 0
    for epoch, value in observations:
        epoch = min(epoch, total)
        area += best * (epoch - last)
        last = epoch
        if value > best:   # False for NaN
            best = value
    return (area + best * (total - last)) / total


def remeasure(problem, params, seeds, cache):
    """Mean val and test accuracy of ``params`` trained at the maximum budget with each of ``seeds``;
    a run that diverges scores the problem's chance level (its model is useless) and is counted."""
    if params is None:
        return {"val_acc": math.nan, "test_acc": math.nan, "diverged": len(seeds)}
    runs = []
    for s in seeds:
        key = (problem.name, json.dumps(params, sort_keys=True), int(s))
        if key not in cache:
            m = problem.objective(params, budget=problem.max_budget, seed=int(s), final=True)
            ok = m["status"] == "ok" and math.isfinite(m["val_acc"]) and math.isfinite(m["test_acc"])
            cache[key] = (m["val_acc"], m["test_acc"]) if ok else None
        runs.append(cache[key])
    scores = [(problem.chance, problem.chance) if r is None else r for r in runs]
    return {"val_acc": float(np.mean([v for v, _ in scores])), "test_acc": float(np.mean([t for _, t in scores])),
            "diverged": sum(r is None for r in runs)}


def summarise(runs, problem):
    """Per strategy: the per-seed figures and their (q1, median, q3)."""
    figures = {}
    for name, per_seed in runs.items():
        f = {"best_val_acc": [r["best_value"] for r in per_seed],
             "epochs_to_target": [epochs_to_reach(r["observations"], problem.target) for r in per_seed],
             "auc": [best_so_far_auc(r["observations"], problem.total) for r in per_seed],
             "wall": [r["wall"] for r in per_seed], "overhead": [r["overhead"] for r in per_seed],
             "remeasured_val_acc": [r["remeasured"]["val_acc"] for r in per_seed],
             "remeasured_test_acc": [r["remeasured"]["test_acc"] for r in per_seed],
             "remeasured_diverged": [r["remeasured"]["diverged"] for r in per_seed],
             "epochs": [r["epochs"] for r in per_seed], "trials": [r["trials"] for r in per_seed]}
        f["quartiles"] = {k: order_quartiles([math.nan if x is None else x for x in v])
                          for k, v in f.items() if k not in ("epochs", "trials", "remeasured_diverged")}
        f["reached"] = sum(math.isfinite(x) for x in f["epochs_to_target"])
        figures[name] = f
    return figures


# ---------------------------------------------------------------------- goals
def goals(figures):
    """Each of our strategies against the peers on each figure: ratios and verdicts.

    Epochs to target and AUC against the better Optuna peer; the re-measured val_acc against the
    best peer (Optuna or DEHB), "met" when at least as high, or within noise when the per-seed
    values are there (Wilcoxon signed-rank over the seeds, p >= 0.05)."""
    optuna = [p for p in OPTUNA if p in figures]
    if not optuna:
        return {}

    def med(name, key):
        return figures[name]["quartiles"][key][1]

    optuna_best = {"epochs_to_target": min(med(p, "epochs_to_target") for p in optuna),
                   "auc": max(med(p, "auc") for p in optuna),
                   "remeasured_val_acc": max(med(p, "remeasured_val_acc") for p in optuna),
                   "remeasured_test_acc": max(med(p, "remeasured_test_acc") for p in optuna)}
    peers = [p for p in PEERS if p in figures]
    best_peer = max(peers, key=lambda p: med(p, "remeasured_val_acc"))
    out = {"optuna_best": optuna_best, "best_peer": best_peer}
    for name in (s for s in OURS if s in figures):
        ours_e, theirs_e = med(name, "epochs_to_target"), optuna_best["epochs_to_target"]
        # never reaching the target is infinitely slow; reaching it when Optuna never does is 0x
        ratio = math.inf if not math.isfinite(ours_e) else (ours_e / theirs_e if math.isfinite(theirs_e) else 0.0)
        diff = med(name, "remeasured_val_acc") - med(best_peer, "remeasured_val_acc")
        p = paired_pvalue(figures[name].get("remeasured_val_acc"), figures[best_peer].get("remeasured_val_acc"))
        out[name] = {
            "epochs_ratio": ratio, "epochs_met": bool(ratio <= 0.5),
            "auc_ratio": med(name, "auc") / optuna_best["auc"], "auc_met": bool(med(name, "auc") >= optuna_best["auc"]),
            "remeasured_val_diff": diff, "remeasured_pvalue": p,
            "remeasured_met": bool(diff >= 0 or (p is not None and p >= 0.05)),
            "remeasured_test_diff": med(name, "remeasured_test_acc") - optuna_best["remeasured_test_acc"],
        }
        twin = RANDOM_TWIN.get(name)
        if twin in figures:
            out[name]["vs_random"] = {
                key: {"diff": med(name, key) - med(twin, key),
                      "pvalue": paired_pvalue(figures[name].get(key), figures[twin].get(key))}
                for key in ("auc", "remeasured_val_acc")}
    return out


def paired_pvalue(a, b):
    """Two-sided Wilcoxon signed-rank p of the paired values ``a``, ``b`` (None without two
    finite pairs that differ)."""
    if a is None or b is None:
        return None
    pairs = [(x, y) for x, y in zip(a, b) if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
    if len(pairs) < 2 or all(x == y for x, y in pairs):
        return None
    from scipy.stats import wilcoxon

    x, y = np.array(pairs).T
    return float(wilcoxon(x, y, zero_method="zsplit").pvalue)


def best_strategy(per_problem_goals):
    """Ours with the most goals met over all problems; ties: the smallest product of epoch ratios."""
    def score(name):
        g = [p[name] for p in per_problem_goals.values() if name in p]
        met = sum(x["epochs_met"] + x["auc_met"] + x["remeasured_met"] for x in g)
        return (-met, sum(math.log(max(x["epochs_ratio"], 1e-9)) for x in g))

    names = [s for s in OURS if all(s in p for p in per_problem_goals.values())]
    return min(names, key=score) if names else None


# lower is better for epochs to target; higher for the others
RANKED = {"epochs_to_target": 1.0, "auc": -1.0, "remeasured_val_acc": -1.0, "overhead": 1.0}


def rank_summary(per_problem_figures, default=DEFAULT):
    """Mean ranks over the (problem, seed) blocks where every strategy ran, per figure, with a
    Friedman test across strategies and Wilcoxon signed-rank tests of ``default`` against each
    other strategy (on the per-block ranks, so problems of different scales pool)."""
    from scipy.stats import friedmanchisquare, rankdata

    names = [n for n in STRATEGIES if all(n in f for f in per_problem_figures.values())]
    out = {"strategies": names}
    for key, sign in RANKED.items():
        blocks = []
        for figures in per_problem_figures.values():
            for values in zip(*(figures[n][key] for n in names)):
                v = np.array([math.nan if x is None else x for x in values], dtype=float)
                v = np.where(np.isnan(v), np.inf, sign * v)   # a missing figure ranks last
                blocks.append(rankdata(v))
        if not blocks or len(names) < 3:
            continue
        ranks = np.array(blocks)
        entry = {"blocks": len(blocks), "mean_rank": dict(zip(names, ranks.mean(axis=0).round(3).tolist()))}
        entry["friedman_p"] = float(friedmanchisquare(*ranks.T).pvalue) if len(blocks) > 1 else None
        if default in names:
            i = names.index(default)
            entry[f"{default}_vs"] = {n: paired_pvalue(ranks[:, i].tolist(), ranks[:, j].tolist())
                                      for j, n in enumerate(names) if j != i}
        out[key] = entry
    return out


def same_trials_for_n_jobs(name, problem, seed, table_n_jobs_1):
    """Run ``name`` again with n_jobs=2: is its trials table identical to the n_jobs=1 one?"""
    return run_ours(name, problem, seed, n_jobs=2)["table"] == table_n_jobs_1


# ---------------------------------------------------------------------- the whole part
def run_problem(problem, strategies, repeats, log, cache):
    """Every strategy ``repeats`` times (seed r for repeat r, strategies interleaved), re-measured."""
    runs = {s: [None] * repeats for s in strategies}
    for r, name in interleaved(strategies, repeats):
        run = run_search(name, problem, r)
        # fresh seeds, apart from every search's and confirmation's streams (a winner chosen on its
        # confirmation seeds would be re-measured on its luck)
        seeds = np.random.SeedSequence([r, 22, 5]).generate_state(REMEASURE_SEEDS).tolist()
        run["remeasured"] = remeasure(problem, run["best_params"], seeds, cache)
        runs[name][r] = run
        if log:
            log(f"  {problem.name} seed {r} {name}: best {run['best_value']}, {run['epochs']} epochs, "
                f"{run['wall']:.1f} s, re-measured val {run['remeasured']['val_acc']:.4f}")
    return runs


def _q(values, fmt):
    q1, m, q3 = values
    return f"{fmt(m)} [{fmt(q1)}, {fmt(q3)}]"


def _acc(x):
    return "-" if not math.isfinite(x) else f"{x:.4f}"


def _ep(x):
    return "never" if x == math.inf else ("-" if math.isnan(x) else f"{x:.0f}")


def _p(x):
    return "-" if x is None else f"{x:.2g}"


def table_lines(problem, figures, goal, repeats):
    """The problem's table (medians [q1, q3]) and our strategies against the peers."""
    rows = []
    for name, f in figures.items():
        q = f["quartiles"]
        rows.append([name, int(np.median(f["trials"])), int(np.median(f["epochs"])), _q(q["best_val_acc"], _acc),
                     f"{f['reached']}/{repeats}", _q(q["epochs_to_target"], _ep), _q(q["auc"], _acc),
                     _q(q["remeasured_val_acc"], _acc), _acc(q["remeasured_test_acc"][1]),
                     f"{sum(f['remeasured_diverged'])}/{REMEASURE_SEEDS * len(f['remeasured_diverged'])}",
                     f"{q['wall'][1]:.1f}", f"{1e3 * q['overhead'][1]:.1f}"])
    title = (f"problem {problem.name!r}: {problem.total} epochs per run ({problem.search_total} search + "
             f"{problem.confirm_epochs} confirmation for ours), max budget {problem.max_budget}, target "
             f"{problem.target}, {repeats} seeds; median [q1, q3]")
    lines = [format_table(["strategy", "trials", "epochs", "best val_acc", "reached", "epochs to target",
                           "AUC best-so-far", f"handed over, re-measured val ({REMEASURE_SEEDS} seeds)",
                           "re-measured test", "re-runs diverged", "wall s", "overhead ms/trial"], rows,
                          title=title), ""]
    if goal:
        b = goal["optuna_best"]
        lines.append(f"better Optuna peer per figure: epochs to target {_ep(b['epochs_to_target'])}, "
                     f"AUC {_acc(b['auc'])}; best peer on re-measured val: {goal['best_peer']}")
        for name in (s for s in OURS if s in goal):
            g = goal[name]
            v = g.get("vs_random")
            twin = "" if v is None else (
                f"; vs {RANDOM_TWIN[name]}: AUC {v['auc']['diff']:+.4f} (p {_p(v['auc']['pvalue'])}), "
                f"re-measured {v['remeasured_val_acc']['diff']:+.4f} (p {_p(v['remeasured_val_acc']['pvalue'])})")
            lines.append(f"  {name}: epochs {g['epochs_ratio']:.2f}x ({'met' if g['epochs_met'] else 'missed'}, "
                         f"goal <= 0.5x), AUC {g['auc_ratio']:.3f}x, re-measured val "
                         f"{g['remeasured_val_diff']:+.4f} vs {goal['best_peer']} (p {_p(g['remeasured_pvalue'])}, "
                         f"{'met' if g['remeasured_met'] else 'missed'}){twin}")
    return lines


def rank_lines(ranks):
    """Mean ranks (1 = best) per figure across every (problem, seed) block, with the tests."""
    names = ranks["strategies"]
    keys = [k for k in RANKED if k in ranks]
    if not keys:
        return []
    rows = [[n] + [f"{ranks[k]['mean_rank'][n]:.2f}" + (f" (p {_p(ranks[k][f'{DEFAULT}_vs'][n])})"
                                                        if n != DEFAULT and f"{DEFAULT}_vs" in ranks[k] else "")
                   for k in keys] for n in names]
    title = (f"mean rank over {ranks[keys[0]]['blocks']} (problem, seed) blocks, 1 = best; p: Wilcoxon signed-rank "
             f"of {DEFAULT} against the row; Friedman p: " +
             ", ".join(f"{k} {_p(ranks[k]['friedman_p'])}" for k in keys))
    return [format_table(["strategy"] + keys, rows, title=title)]


def run_part(problems, strategies, repeats, quick, log=None):
    """Run the comparison on ``problems``; returns ``(payload, lines)`` for the report and JSON."""
    cache, payload, lines = {}, {"problems": {}}, []
    if "dehb" in strategies and dehb_available() is None:
        strategies = [s for s in strategies if s != "dehb"]
        payload["notes"] = [f"dehb left out: no DEHB in {DEHB_PYTHON} (see benchmarks/README.md)"]
        lines.append(payload["notes"][0])
    built = {name: make_problem(name, quick) for name in problems}
    all_runs = {}
    for name, problem in built.items():
        t0 = time.perf_counter()
        runs = all_runs[name] = run_problem(problem, strategies, repeats, log, cache)
        figures = summarise(runs, problem)
        goal = goals(figures)
        payload["problems"][name] = {
            "target": problem.target, "total_epochs": problem.total, "search_epochs": problem.search_total,
            "confirm_epochs": problem.confirm_epochs, "max_budget": problem.max_budget,
            "objective": problem.objective.get_params(), "space": problem.space.to_dict(),
            "wall_seconds": time.perf_counter() - t0, "figures": figures, "goals": goal,
            "chosen_params": {s: [r["best_params"] for r in rs] for s, rs in runs.items()}}
        lines += table_lines(problem, figures, goal, repeats) + [""]
    ranks = payload["ranks"] = rank_summary({p: v["figures"] for p, v in payload["problems"].items()})
    lines += rank_lines(ranks) + [""]
    per_problem_goals = {p: v["goals"] for p, v in payload["problems"].items() if v["goals"]}
    best = best_strategy(per_problem_goals) if per_problem_goals else None
    payload["best_strategy"] = best
    if best is not None:
        first = next(iter(built))
        same = same_trials_for_n_jobs(best, built[first], 0, all_runs[first][best][0]["table"])
        payload["same_trials_n_jobs_1_and_2"] = {"strategy": best, "problem": first, "seed": 0, "same": same}
        met = {p: {k: g[best][k] for k in ("epochs_met", "auc_met", "remeasured_met")}
               for p, g in per_problem_goals.items()}
        payload["goals"] = {"best_strategy": best, "met": met, "same_trials_n_jobs_1_and_2": same,
                            "all_met": same and all(all(v.values()) for v in met.values())}
        lines.append(f"our best strategy: {best}; goals met: " +
                     "; ".join(f"{p}: " + ", ".join(f"{k[:-4]} {'yes' if v else 'no'}" for k, v in m.items())
                               for p, m in met.items()) +
                     f"; same trials for n_jobs=1 and 2 ({first}, seed 0): {'yes' if same else 'NO'}")
    return payload, lines


def sampler_overhead(n_observations=1000, proposals=50):
    """Milliseconds per BOHBSampler proposal with ``n_observations`` told at one budget (the main
    job's space): median and max over ``proposals`` single asks after a warm-up ask."""
    from hpsearch.samplers import BOHBSampler

    space = make_problem("main", quick=True).space
    sampler = BOHBSampler()
    sampler.start(space, n_observations + proposals + 1, seed=0, direction="maximize")
    rng = np.random.default_rng(0)
    for i, params in enumerate(sampler.ask(n_observations)):
        sampler.tell(i, params, float(rng.random()), budget=1)
    sampler.ask(1)
    times = []
    for _ in range(proposals):
        t = time.perf_counter()
        sampler.ask(1)
        times.append(1e3 * (time.perf_counter() - t))
    return {"observations": n_observations, "median_ms": float(np.median(times)), "max_ms": float(np.max(times)),
            "optuna_tpe_median_ms": optuna_tpe_overhead(space, n_observations, proposals)}


def optuna_tpe_overhead(space, n_observations, proposals):
    """Milliseconds per proposal of the alternative: Optuna's TPE driven per budget through its
    public API (one in-memory study per budget holding that budget's results, ``study.ask``),
    with ``n_observations`` results at one budget: the median over ``proposals`` asks."""
    import optuna

    from hpsearch.samplers.optuna_convert import quiet_optuna, to_optuna_distribution

    coded = {n: to_optuna_distribution(n, d) for n, d in space.items() if n in space.dims}
    dists = {n: d for n, (d, _) in coded.items()}
    rng = np.random.default_rng(0)
    with quiet_optuna():
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
        asked = [study.ask(dists) for _ in range(n_observations)]   # random (startup) proposals
        for trial in asked:
            study.tell(trial, float(rng.random()))
        times = []
        for _ in range(proposals):
            t = time.perf_counter()
            trial = study.ask(dists)
            times.append(1e3 * (time.perf_counter() - t))
            study.tell(trial, state=optuna.trial.TrialState.FAIL)   # a proposal only: never a result
    return float(np.median(times))


def combine(paths):
    """The ranks across the problems of several runs' JSON files (e.g. two processes, each
    running some of the problems): ``(payload, lines)``."""
    problems = {}
    for path in paths:
        problems.update(json.loads(Path(path).read_text())["problems"])
    ranks = rank_summary({p: v["figures"] for p, v in problems.items()})
    return {"combined": [str(p) for p in paths], "problems": problems, "ranks": ranks}, rank_lines(ranks)


def main(argv=None):
    parser = base_parser(__doc__.splitlines()[0], DEFAULT_REPEATS)
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=list(STRATEGIES))
    parser.add_argument("--combine", nargs="+", type=Path, default=None, metavar="JSON",
                        help="rank across the problems of earlier runs' JSON files instead of running")
    args = parser.parse_args(argv)
    if args.combine:
        payload, lines = combine(args.combine)
        machine = describe_machine()
        return report_and_save(lines, machine, {"benchmark": SCRIPT, "quick": args.quick, **payload,
                                                "machine": machine}, args, SCRIPT)
    repeats = check_repeats(args.repeats) or (1 if args.quick else DEFAULT_REPEATS)
    log = (lambda line: print(line, flush=True)) if not args.quick else None
    t0 = time.perf_counter()
    part, lines = run_part(args.problems, args.strategies, repeats, args.quick, log=log)
    overhead = sampler_overhead(100 if args.quick else 1000)
    lines.append(f"BOHBSampler: {overhead['median_ms']:.2f} ms per proposal (max {overhead['max_ms']:.2f}) with "
                 f"{overhead['observations']} observations; Optuna's TPE driven per budget: "
                 f"{overhead['optuna_tpe_median_ms']:.2f} ms")
    payload = {"benchmark": SCRIPT, "quick": args.quick, "repeats": repeats, **part,
               "bohb_overhead": overhead, "wall_seconds": time.perf_counter() - t0}
    machine = describe_machine()
    payload["machine"] = machine
    return report_and_save(lines, machine, payload, args, SCRIPT, notes=part.get("notes", ()))


if __name__ == "__main__":
    main()
