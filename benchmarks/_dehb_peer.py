"""One DEHB search for bench_fidelity.py, run in the benchmark environment (DEHB is no
dependency of hpsearch; see benchmarks/README.md for installing it).

usage: python _dehb_peer.py '{"problem": "main", "quick": false, "seed": 0, "total": 816,
                               "min_budget": 1, "max_budget": 40, "eta": 3}'

Prints one JSON line: ``best_value``, ``best_params`` (DEHB's incumbent, what it hands over),
``epochs``, ``trials``, ``wall``, ``overhead`` (s per job outside the objective) and
``observations`` ([cumulative epoch, val_acc] for every epoch trained). DEHB trains every job
from scratch at its fidelity (rounded to whole epochs); the run stops, mid-job if need be, when
the epochs reach ``total``.
"""
import json
import math
import sys
import tempfile
import time


class _Spent(Exception):
    pass


def config_space(space, seed):
    """hpsearch's space as a ConfigSpace ConfigurationSpace (Choice values by index)."""
    from ConfigSpace import Categorical, ConfigurationSpace, Float, Integer

    import hpsearch as hp

    cs = ConfigurationSpace(seed=seed)
    for name, dist in space.items():
        if isinstance(dist, hp.Choice):
            cs.add(Categorical(name, [str(i) for i in range(len(dist.values))]))
        elif isinstance(dist, (hp.IntUniform, hp.IntLogUniform)):
            cs.add(Integer(name, (int(dist.low), int(dist.high)), log=isinstance(dist, hp.IntLogUniform)))
        else:
            cs.add(Float(name, (float(dist.low), float(dist.high)), log=isinstance(dist, hp.LogUniform)))
    return cs


def decode(space, config):
    import hpsearch as hp

    out = {}
    for name, dist in space.items():
        value = config[name]
        if isinstance(dist, hp.Choice):
            out[name] = dist.values[int(value)]
        elif isinstance(dist, (hp.IntUniform, hp.IntLogUniform)):
            out[name] = int(value)
        else:
            out[name] = float(value)
    return out


def main(request):
    from dehb import DEHB

    from bench_fidelity import make_problem
    from hpsearch import seeding

    problem = make_problem(request["problem"], request["quick"])
    seed, total = int(request["seed"]), int(request["total"])
    cs = config_space(problem.space, seed)
    observations, trials, inside = [], 0, 0.0
    best = (-math.inf, None)
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        dehb = DEHB(cs=cs, min_fidelity=request["min_budget"], max_fidelity=request["max_budget"],
                    eta=request["eta"], n_workers=1, seed=seed, output_path=out, save_freq=None)
        while len(observations) < total:
            job = dehb.ask()
            params = decode(problem.space, job["config"])
            budget = max(1, int(round(job["fidelity"])))

            def report(epoch, metrics):
                observations.append((len(observations) + 1, metrics["val_acc"]))
                if len(observations) >= total:
                    raise _Spent

            t_in = time.perf_counter()
            try:
                metrics = problem.objective(params, budget=budget, seed=seeding.trial_seed(seed, 0, trials),
                                            report=report)
            except _Spent:
                inside += time.perf_counter() - t_in
                trials += 1
                break
            inside += time.perf_counter() - t_in
            trials += 1
            value = metrics.get("val_acc", math.nan)
            ok = metrics.get("status") == "ok" and math.isfinite(value)
            dehb.tell(job, {"fitness": -value if ok else 0.0, "cost": budget})
            if ok and value > best[0]:
                best = (value, params)
        wall = time.perf_counter() - t0
        incumbent, score = dehb.get_incumbents()
    handed = decode(problem.space, incumbent) if incumbent is not None and math.isfinite(score) else best[1]
    print(json.dumps({"best_value": -float(score) if math.isfinite(score) else best[0], "best_params": handed,
                      "epochs": len(observations), "trials": trials, "wall": wall,
                      "overhead": (wall - inside) / max(1, trials), "observations": observations}))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
