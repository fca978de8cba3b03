"""Multi-fidelity search at equal epochs: ours (sha, hyperband, coarse-to-fine) against Optuna's pruners.

The second part of ``bench_search.py`` (``--part fidelity``), kept in its own module because
it is a comparison of its own. Every strategy gets the same total epochs (``TOTAL`` = 656,
the main job's) with the same maximum budget (40 epochs, the main job's final stage) on two
problems, ``--repeats`` seeds each (default 10):

  - ``main``: the main job, ``studies/digits_mlp.toml``'s objective and space (Adam, one hidden
    layer; lr, reg, width, activation, dropout); target val_acc 0.975;
  - ``sgd``: digits with SGD + momentum 0.9, two hidden layers, lr log-uniform 1e-4..1, width
    log-uniform 16..256, activation relu or tanh; target 0.97.

Ours (``hpsearch.Study.run``, n_jobs=1): ``sha`` and ``hyperband`` (random sampler; min budget 1,
eta 3), ``hyperband-tpe`` (BOHB-like), ``c2f-promote`` (coarse-to-fine whose later stages also
continue the previous stage's best from checkpoints) and ``c2f-main`` (the main job's three
coarse-to-fine stages before this benchmark chose its strategy). Optuna (ask and tell, same
``MLPObjective``, per-epoch ``trial.report`` / ``should_prune``): ``optuna-tpe-hyperband``
(TPESampler + HyperbandPruner) and ``optuna-random-sha`` (RandomSampler +
SuccessiveHalvingPruner), min resource 1, max 40, reduction factor 3; it counts the epochs
it trains and stops (mid-trial if need be) when the total is reached.

Per run, every epoch any trial trains is an observation (its validation accuracy) at the
run's cumulative epoch count, in the run's deterministic order (continued trials count only
their new epochs). Reported per strategy, median and quartiles over the seeds of:
(a) the best val_acc the search reports (ours: its best trial, chosen at the highest budget
reached; Optuna: ``study.best_value`` over complete trials); (b) the epochs until an
observation first reaches the target; (c) the area under the best-so-far observation
against epochs, normalised to ``TOTAL`` (0 before the first epoch ends); (d) wall time; (e)
the chosen configuration trained again with 5 fresh seeds at the maximum budget (the same
seeds for every strategy of a seed): mean val and test accuracy, a re-run that diverges
counting as chance (0.1; SGD at lr near 1 sometimes does).

Goals (issue 13), per problem, against the better Optuna peer on each figure: our best
strategy's median epochs to target at most 0.5x, median AUC at least, median re-measured
val_acc at least; and the same trials table for n_jobs=1 and 2 (checked on one seed).
"""
import json
import math
import time

import numpy as np

from _common import ROOT, format_table, interleaved, order_quartiles

TOTAL, MAX_BUDGET, MIN_BUDGET, ETA = 656, 40, 1, 3
QUICK = {"total": 40, "max_budget": 4}
REMEASURE_SEEDS = 5
CHANCE = 0.1   # the accuracy of a guess among the ten digits: what a diverged re-run is worth
# coarse-to-fine stages, (n_trials, budget, promote): the main job's (656 epochs) and with
# promotion (144 + 12 * 12 + 4 * 9 + 6 * 40 + 3 * 28 = 648 epochs)
STAGES = {"c2f-main": [(48, 3, 0), (16, 12, 0), (8, 40, 0)], "c2f-promote": [(48, 3, 0), (12, 12, 4), (6, 40, 3)]}
QUICK_STAGES = {"c2f-main": [(6, 1, 0), (3, 2, 0), (2, 4, 0)], "c2f-promote": [(6, 1, 0), (3, 2, 2), (2, 4, 1)]}
OURS = ("sha", "hyperband", "hyperband-tpe", "c2f-promote", "c2f-main")
OPTUNA = ("optuna-tpe-hyperband", "optuna-random-sha")
STRATEGIES = OURS + OPTUNA
TARGETS = {"main": 0.975, "sgd": 0.97}


class Problem:
    """An objective, its space and the target accuracy; ``quick`` shrinks the budgets."""

    def __init__(self, name, objective, space, target, quick):
        self.name, self.objective, self.space, self.target = name, objective, space, target
        self.total = QUICK["total"] if quick else TOTAL
        self.max_budget = QUICK["max_budget"] if quick else MAX_BUDGET
        self.quick = quick


def make_problem(name, quick=False):
    """The ``main`` or ``sgd`` problem (see the module docstring)."""
    import hpsearch as hp
    from hpsearch.studyfile.reader import load_study_file
    from models import MLPObjective

    if name == "main":
        definition = load_study_file(ROOT / "studies" / "digits_mlp.toml")
        objective, space = definition.objective, definition.space
    elif name == "sgd":
        objective = MLPObjective("digits", preprocess="center", optimizer="sgd", momentum=0.9, batch_size=64,
                                 depth=2)
        space = hp.Space({"lr": hp.LogUniform(1e-4, 1.0), "width": hp.IntLogUniform(16, 256),
                          "activation": hp.Choice(["relu", "tanh"])})
    else:
        raise SystemExit(f"unknown problem {name!r}; expected one of {', '.join(TARGETS)}")
    return Problem(name, objective, space, TARGETS[name], quick)


def make_strategy(name, problem):
    """One of our strategies, planned for ``problem``'s total epochs and maximum budget."""
    from hpsearch.strategies.stage import Stage
    from hpsearch.strategies import CoarseToFine, Hyperband, SuccessiveHalving

    b = {"min_budget": MIN_BUDGET, "max_budget": problem.max_budget, "eta": ETA, "total_budget": problem.total}
    if name == "sha":
        return SuccessiveHalving(**b)
    if name == "hyperband":
        return Hyperband(**b)
    if name == "hyperband-tpe":
        return Hyperband(**b, sampler="tpe")
    stages = (QUICK_STAGES if problem.quick else STAGES)[name]
    return CoarseToFine([Stage(n, budget, promote=p) for n, budget, p in stages])


# ---------------------------------------------------------------------- running one search
def run_ours(name, problem, seed, n_jobs=1):
    """Run our strategy ``name`` once; returns the run's record (see :func:`run_search`)."""
    from hpsearch.study import Study

    study = Study(problem.objective, problem.space, metric="val_acc", direction="maximize",
                  name=f"bench-{problem.name}-{name}")
    t0 = time.perf_counter()
    result = study.run(make_strategy(name, problem), n_jobs=n_jobs, seed=seed)
    wall = time.perf_counter() - t0
    observations, spent = [], 0
    for record in result.records:   # trial-number order: the study's deterministic order
        trained = record.get("trial_epochs", record["budget"])
        first_epoch = record["budget"] - trained   # the epochs it continued from
        for point in result.curves.get(record["number"], []):
            observations.append((spent + point["epoch"] - first_epoch, point["val_acc"]))
        spent += trained
    table = result.trials[["number", "stage", "budget", "trial_epochs", "seed", "val_acc"] +
                          [f"param_{n}" for n in problem.space.names]]
    return {"best_value": result.best_value, "best_params": result.best_params, "epochs": spent,
            "trials": len(result.records), "wall": wall, "observations": observations,
            "table": json.loads(table.to_json(orient="records"))}


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
    observations, trials = [], 0
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

            try:
                metrics = problem.objective(params, budget=problem.max_budget,
                                            seed=seeding.trial_seed(seed, 0, trial.number), report=report)
            except (_Pruned, _Spent):
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                continue
            value = metrics["val_acc"]
            ok = metrics["status"] == "ok" and math.isfinite(value)
            study.tell(trial, value if ok else None, state=None if ok else optuna.trial.TrialState.FAIL)
    wall = time.perf_counter() - t0
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    best = max(complete, key=lambda t: (t.value, -t.number)) if complete else None
    best_params = None if best is None else {n: decode(best.params[n]) for n, (_, decode) in coded.items()}
    return {"best_value": None if best is None else best.value, "best_params": best_params,
            "epochs": len(observations), "trials": trials, "wall": wall, "observations": observations}


def run_search(name, problem, seed):
    """One run of strategy ``name``: ``{best_value, best_params, epochs, trials, wall,
    observations: [(cumulative epoch, val_acc), ...]}`` (ours also ``table``)."""
    return run_optuna(name, problem, seed) if name in OPTUNA else run_ours(name, problem, seed)


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
    a run that diverges scores ``CHANCE`` (its model is useless) and is counted."""
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
    scores = [(CHANCE, CHANCE) if r is None else r for r in runs]
    return {"val_acc": float(np.mean([v for v, _ in scores])), "test_acc": float(np.mean([t for _, t in scores])),
            "diverged": sum(r is None for r in runs)}


def summarise(runs, problem):
    """Per strategy: the per-seed figures and their (q1, median, q3)."""
    figures = {}
    for name, per_seed in runs.items():
        f = {"best_val_acc": [r["best_value"] for r in per_seed],
             "epochs_to_target": [epochs_to_reach(r["observations"], problem.target) for r in per_seed],
             "auc": [best_so_far_auc(r["observations"], problem.total) for r in per_seed],
             "wall": [r["wall"] for r in per_seed],
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
    """Each of our strategies against the better Optuna peer on each figure: ratios and verdicts."""
    peers = [p for p in OPTUNA if p in figures]
    if not peers:
        return {}

    def med(name, key):
        return figures[name]["quartiles"][key][1]

    optuna_best = {"epochs_to_target": min(med(p, "epochs_to_target") for p in peers),
                   "auc": max(med(p, "auc") for p in peers),
                   "remeasured_val_acc": max(med(p, "remeasured_val_acc") for p in peers),
                   "remeasured_test_acc": max(med(p, "remeasured_test_acc") for p in peers)}
    out = {"optuna_best": optuna_best}
    for name in (s for s in OURS if s in figures):
        ours_e, theirs_e = med(name, "epochs_to_target"), optuna_best["epochs_to_target"]
        # never reaching the target is infinitely slow; reaching it when Optuna never does is 0x
        ratio = math.inf if not math.isfinite(ours_e) else (ours_e / theirs_e if math.isfinite(theirs_e) else 0.0)
        out[name] = {
            "epochs_ratio": ratio, "epochs_met": bool(ratio <= 0.5),
            "auc_ratio": med(name, "auc") / optuna_best["auc"], "auc_met": bool(med(name, "auc") >= optuna_best["auc"]),
            "remeasured_val_diff": med(name, "remeasured_val_acc") - optuna_best["remeasured_val_acc"],
            "remeasured_met": bool(med(name, "remeasured_val_acc") >= optuna_best["remeasured_val_acc"]),
            "remeasured_test_diff": med(name, "remeasured_test_acc") - optuna_best["remeasured_test_acc"],
        }
    return out


def best_strategy(per_problem_goals):
    """Ours with the most goals met over all problems; ties: the smallest product of epoch ratios."""
    def score(name):
        g = [p[name] for p in per_problem_goals.values() if name in p]
        met = sum(x["epochs_met"] + x["auc_met"] + x["remeasured_met"] for x in g)
        return (-met, sum(math.log(max(x["epochs_ratio"], 1e-9)) for x in g))

    names = [s for s in OURS if all(s in p for p in per_problem_goals.values())]
    return min(names, key=score) if names else None


def same_trials_for_n_jobs(name, problem, seed, table_n_jobs_1):
    """Run ``name`` again with n_jobs=2: is its trials table identical to the n_jobs=1 one?"""
    return run_ours(name, problem, seed, n_jobs=2)["table"] == table_n_jobs_1


# ---------------------------------------------------------------------- the whole part
def run_problem(problem, strategies, repeats, log, cache):
    """Every strategy ``repeats`` times (seed r for repeat r, strategies interleaved), re-measured."""
    from hpsearch import seeding

    runs = {s: [None] * repeats for s in strategies}
    for r, name in interleaved(strategies, repeats):
        run = run_search(name, problem, r)
        seeds = [seeding.confirm_seed(r, 0, k) for k in range(REMEASURE_SEEDS)]
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


def table_lines(problem, figures, goal, repeats):
    """The problem's table (medians [q1, q3]) and the ratios of ours to the better Optuna peer."""
    rows = []
    for name, f in figures.items():
        q = f["quartiles"]
        rows.append([name, int(np.median(f["trials"])), int(np.median(f["epochs"])), _q(q["best_val_acc"], _acc),
                     f"{f['reached']}/{repeats}", _q(q["epochs_to_target"], _ep), _q(q["auc"], _acc),
                     _q(q["wall"], lambda x: f"{x:.1f}"), _acc(q["remeasured_val_acc"][1]),
                     _acc(q["remeasured_test_acc"][1]),
                     f"{sum(f['remeasured_diverged'])}/{REMEASURE_SEEDS * len(f['remeasured_diverged'])}"])
    title = (f"problem {problem.name!r}: {problem.total} epochs per run, max budget {problem.max_budget}, "
             f"target {problem.target}, {repeats} seeds; median [q1, q3]")
    lines = [format_table(["strategy", "trials", "epochs", "best val_acc", "reached", "epochs to target",
                           "AUC best-so-far", "wall s", f"re-measured val ({REMEASURE_SEEDS} seeds)",
                           "re-measured test", "re-runs diverged"], rows, title=title), ""]
    if goal:
        b = goal["optuna_best"]
        lines.append(f"better Optuna peer per figure: epochs to target {_ep(b['epochs_to_target'])}, "
                     f"AUC {_acc(b['auc'])}, re-measured val {_acc(b['remeasured_val_acc'])}")
        for name in (s for s in OURS if s in goal):
            g = goal[name]
            lines.append(f"  {name}: epochs {g['epochs_ratio']:.2f}x ({'met' if g['epochs_met'] else 'missed'}, "
                         f"goal <= 0.5x), AUC {g['auc_ratio']:.3f}x ({'met' if g['auc_met'] else 'missed'}), "
                         f"re-measured val {g['remeasured_val_diff']:+.4f} "
                         f"({'met' if g['remeasured_met'] else 'missed'}), test {g['remeasured_test_diff']:+.4f}")
    return lines


def run_part(problems, strategies, repeats, quick, log=None):
    """Run the comparison on ``problems``; returns ``(payload, lines)`` for the report and JSON."""
    cache, payload, lines = {}, {"problems": {}}, []
    built = {name: make_problem(name, quick) for name in problems}
    all_runs = {}
    for name, problem in built.items():
        t0 = time.perf_counter()
        runs = all_runs[name] = run_problem(problem, strategies, repeats, log, cache)
        figures = summarise(runs, problem)
        goal = goals(figures)
        payload["problems"][name] = {
            "target": problem.target, "total_epochs": problem.total, "max_budget": problem.max_budget,
            "objective": problem.objective.get_params(), "space": problem.space.to_dict(),
            "wall_seconds": time.perf_counter() - t0, "figures": figures, "goals": goal,
            "chosen_params": {s: [r["best_params"] for r in rs] for s, rs in runs.items()}}
        lines += table_lines(problem, figures, goal, repeats) + [""]
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
