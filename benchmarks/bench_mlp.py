"""Training speed of models.MLP against PyTorch (CPU), scikit-learn and the GEMM roofline.

(a) A CIFAR-10-sized problem: 20,000 x 3,072 float32 inputs (synthetic, seeded) -> 512 ReLU
    -> 10 classes, Adam (lr 1e-3), batch 256. Seconds per epoch of
      - ours:     models.Trainer on models.MLP (one epoch = the minibatch loop plus the
                  trainer's per-epoch train/validation accuracy on 1,000 + 1,000 rows);
      - ours, no evaluation: the same with ``eval_every=None``: the minibatch loop alone;
      - torch:    the same network, initial weights, optimizer and per-epoch evaluation in
                  PyTorch on the CPU, with torch.set_num_threads = numpy's BLAS threads;
      - sklearn:  MLPClassifier(solver="adam").partial_fit, one epoch per call;
      - roofline: just the two large matrix products of every step, X_b @ W1 and
                  X_b.T @ dH1 (float32, numpy's BLAS, same shapes and number of steps):
                  no implementation that computes them with this BLAS can be faster.
    Goals: ours <= 0.9x torch (both evaluate every epoch) and ours, no evaluation <= 1.3x
    roofline (the roofline bounds the training steps; evaluation is not part of them).
(b) digits (1,797 8x8 images, standardised), 64 -> 100 -> 10, Adam, batch 200, 50 epochs:
    ours (Trainer, with its per-epoch accuracies), ours evaluated after the last epoch only
    (``eval_every=50``), scikit-learn's MLPClassifier (solver adam, batch_size=200, max_iter=50,
    tol=0, n_iter_no_change=50 so it runs all 50 epochs, then scored on the validation set)
    and PyTorch (per-epoch accuracies, as ours). Goal: ours <= 0.5x scikit-learn, on the same
    work: scikit-learn measures no accuracy while it trains, so the goal compares "ours,
    evaluated after the last epoch"; the per-epoch row is reported beside it.

Each peer is measured ``--repeats`` times, interleaved (a, b, c, then b, c, a, ...), after a
0.3 s rest that lets the previous peer's idle BLAS/OpenMP threads stop spinning, and the median
is reported. The two parts run in separate processes, (b) first. Run: ``python benchmarks/bench_mlp.py [--quick] [--repeats N] [--part a|b]``.
"""
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (ROOT, base_parser, blas_threads, check_repeats, default_out, describe_machine,  # noqa: E402
                     fmt_ratio, fmt_seconds, format_table, interleaved, machine_lines, median,
                     torch_or_none, write_json)

SCRIPT = "bench_mlp"

CIFAR = {"n_train": 20000, "n_val": 1000, "dim": 3072, "hidden": 512, "classes": 10, "batch_size": 256,
         "lr": 1e-3, "seed": 0}
CIFAR_QUICK = {"n_train": 600, "n_val": 100, "dim": 96, "hidden": 32, "classes": 10, "batch_size": 64,
               "lr": 1e-3, "seed": 0}
DIGITS = {"hidden": 100, "batch_size": 200, "epochs": 50, "lr": 1e-3, "seed": 0}
DIGITS_QUICK = {"hidden": 16, "batch_size": 200, "epochs": 2, "lr": 1e-3, "seed": 0}

GOALS = {"cifar_ours_vs_torch": 0.9, "cifar_ours_vs_roofline": 1.3, "digits_ours_vs_sklearn": 0.5}


class ArrayData:
    """The four arrays a Trainer needs."""

    def __init__(self, X_train, y_train, X_val, y_val):
        self.X_train, self.y_train, self.X_val, self.y_val = X_train, y_train, X_val, y_val


def synthetic_cifar(cfg):
    """Seeded Gaussian inputs (float32) labelled by a random linear teacher (learnable labels)."""
    rng = np.random.default_rng(cfg["seed"])
    n = cfg["n_train"] + cfg["n_val"]
    X = rng.standard_normal((n, cfg["dim"]), dtype=np.float32)
    teacher = rng.standard_normal((cfg["dim"], cfg["classes"]), dtype=np.float32)
    y = np.argmax(X @ teacher, axis=1).astype(np.int64)
    k = cfg["n_train"]
    return ArrayData(X[:k], y[:k], X[k:], y[k:])


# ---------------------------------------------------------------------------- peers
class Ours:
    """models.Trainer on models.MLP; ``run()`` runs ``epochs`` more epochs. ``fused``: the
    optimizer's keyword (None: the compiled step when numba is installed; False: NumPy's);
    ``eval_every``: the trainer's (1: accuracies every epoch; None: never)."""

    def __init__(self, data, dims, cfg, epochs, fused=None, eval_every=1):
        from models import MLP, Trainer

        self.model = MLP(dims[0], [dims[1]], dims[2], activation="relu", init="he", dtype="float32",
                         seed=cfg["seed"])
        self.init_params = {k: v.copy() for k, v in self.model.params.items()}
        self.trainer = Trainer(self.model, data, optimizer="adam", lr=cfg["lr"], epochs=epochs,
                               batch_size=cfg["batch_size"], seed=cfg["seed"], fused=fused,
                               eval_every=eval_every)

    def run(self):
        hist = self.trainer.train()
        if hist["status"] != "ok":
            raise RuntimeError(f"our training diverged: {hist['loss'][-3:]}")
        return hist["val_acc"][-1]


class Torch:
    """The same network, initial weights, optimizer and per-epoch evaluation in PyTorch."""

    def __init__(self, torch, data, init_params, cfg, epochs, threads, train_acc_rows=1000):
        self.torch = torch
        torch.set_num_threads(threads)
        nn = torch.nn
        d, h = init_params["W1"].shape
        c = init_params["W2"].shape[1]
        self.net = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, c))
        with torch.no_grad():  # start from our initial weights: same problem, no torch RNG
            self.net[0].weight.copy_(torch.from_numpy(init_params["W1"].T.copy()))
            self.net[0].bias.copy_(torch.from_numpy(init_params["b1"]))
            self.net[2].weight.copy_(torch.from_numpy(init_params["W2"].T.copy()))
            self.net[2].bias.copy_(torch.from_numpy(init_params["b2"]))
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg["lr"])
        self.loss_fn = nn.CrossEntropyLoss()
        self.X = torch.from_numpy(np.ascontiguousarray(data.X_train, dtype=np.float32))
        self.y = torch.from_numpy(data.y_train.astype(np.int64))
        self.Xv = torch.from_numpy(np.ascontiguousarray(data.X_val, dtype=np.float32))
        self.yv = torch.from_numpy(data.y_val.astype(np.int64))
        rows = min(train_acc_rows, len(self.X))
        pick = np.sort(np.random.default_rng(cfg["seed"]).choice(len(self.X), rows, replace=False))
        self.Xa, self.ya = self.X[torch.from_numpy(pick)], self.y[torch.from_numpy(pick)]
        self.gen = torch.Generator().manual_seed(cfg["seed"])
        self.bs, self.epochs = cfg["batch_size"], epochs

    def _acc(self, X, y):
        with self.torch.no_grad():
            return float((self.net(X).argmax(1) == y).float().mean())

    def run(self):
        torch, net, opt, loss_fn = self.torch, self.net, self.opt, self.loss_fn
        n, bs = len(self.X), self.bs
        val = math.nan
        for _ in range(self.epochs):
            net.train()
            perm = torch.randperm(n, generator=self.gen)
            losses = []
            for start in range(0, n, bs):
                idx = perm[start:start + bs]
                xb, yb = self.X[idx], self.y[idx]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(net(xb), yb)
                loss.backward()
                opt.step()
                losses.append(loss.item())  # ours records every iteration's loss too
            net.eval()
            self._acc(self.Xa, self.ya)
            val = self._acc(self.Xv, self.yv)
        return val


class Sklearn:
    """MLPClassifier(solver="adam"): ``partial_fit`` (one epoch per call) or a full ``fit``."""

    def __init__(self, data, cfg, hidden, classes, max_iter=1):
        from sklearn.neural_network import MLPClassifier

        self.data, self.classes = data, np.arange(classes)
        # tol=0 and n_iter_no_change=max_iter: never stop early, run every epoch asked for
        self.clf = MLPClassifier(hidden_layer_sizes=(hidden,), activation="relu", solver="adam", alpha=0.0,
                                 batch_size=cfg["batch_size"], learning_rate_init=cfg["lr"],
                                 max_iter=max_iter, shuffle=True, random_state=cfg["seed"], tol=0.0,
                                 n_iter_no_change=max(max_iter, 1), early_stopping=False)

    def epoch(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.clf.partial_fit(self.data.X_train, self.data.y_train, classes=self.classes)
        return self.clf.score(self.data.X_val, self.data.y_val)

    def fit(self):
        from sklearn.base import clone

        clf = clone(self.clf)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter reached, as intended
            clf.fit(self.data.X_train, self.data.y_train)
        if clf.n_iter_ != clf.max_iter:
            raise RuntimeError(f"scikit-learn ran {clf.n_iter_} epochs, expected {clf.max_iter}")
        return clf.score(self.data.X_val, self.data.y_val)


class Roofline:
    """The two large GEMMs of every training step, nothing else (numpy's BLAS, float32)."""

    def __init__(self, data, cfg):
        X = np.ascontiguousarray(data.X_train, dtype=np.float32)
        self.X, self.bs = X, cfg["batch_size"]
        rng = np.random.default_rng(cfg["seed"])
        self.W1 = rng.standard_normal((X.shape[1], cfg["hidden"]), dtype=np.float32)
        self.dH = rng.standard_normal((self.bs, cfg["hidden"]), dtype=np.float32)
        self.H = np.empty((self.bs, cfg["hidden"]), dtype=np.float32)
        self.dW = np.empty_like(self.W1)

    def run(self):
        X, bs = self.X, self.bs
        for start in range(0, len(X), bs):
            xb = X[start:start + bs]
            m = len(xb)
            np.matmul(xb, self.W1, out=self.H[:m])        # forward:  X_b @ W1
            np.matmul(xb.T, self.dH[:m], out=self.dW)     # backward: X_b.T @ dH1
        return math.nan


def breakdown(data, dims, cfg, roofline_epoch):
    """Where one epoch of ours goes: the Trainer's loop re-timed piece by piece.

    Times, over one epoch, the batch gather (np.take), ``model.loss(X_b, y_b)`` (forward and
    backward), ``optimizer.step`` and the per-epoch train/validation accuracies, with the
    same model, optimizer and batch order as ``Trainer``; the roofline's time is given to
    show how much of ``loss`` the two large GEMMs explain.
    """
    from models import MLP, make_optimizer

    model = MLP(dims[0], [dims[1]], dims[2], activation="relu", init="he", dtype="float32", seed=cfg["seed"])
    opt = make_optimizer("adam", lr=cfg["lr"])
    X, y = data.X_train, data.y_train
    n, bs = len(X), cfg["batch_size"]
    rng = np.random.default_rng(cfg["seed"])
    xbuf, ybuf = np.empty((bs, X.shape[1]), dtype=X.dtype), np.empty(bs, dtype=y.dtype)
    acc_rows = np.sort(rng.choice(n, min(1000, n), replace=False))
    acc_X, acc_y = X[acc_rows], y[acc_rows]
    clock = time.perf_counter
    totals = {}
    for epoch in range(2):  # the first epoch warms up buffers and optimizer state
        t = {"gather": 0.0, "loss (forward + backward)": 0.0, "optimizer step": 0.0, "accuracies": 0.0}
        order = rng.permutation(n)
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            m = len(idx)
            xb, yb = (xbuf, ybuf) if m == bs else (xbuf[:m], ybuf[:m])
            t0 = clock()
            np.take(X, idx, axis=0, out=xb, mode="clip")  # as the Trainer gathers
            np.take(y, idx, out=yb, mode="clip")
            t1 = clock()
            model.loss(xb, yb)  # the gradients land in model.flat
            t2 = clock()
            opt.step_flat(model.flat)
            t3 = clock()
            t["gather"] += t1 - t0
            t["loss (forward + backward)"] += t2 - t1
            t["optimizer step"] += t3 - t2
        t0 = clock()
        model.accuracy(acc_X, acc_y)
        model.accuracy(data.X_val, data.y_val)
        t["accuracies"] += clock() - t0
        totals = t
    total = sum(totals.values())
    return {"seconds": totals, "total": total, "roofline_gemms": roofline_epoch,
            "shares": {k: v / total for k, v in totals.items()},
            "loss_minus_gemms": totals["loss (forward + backward)"] - roofline_epoch}


def optimizer_kernel():
    """Which Adam step "ours" runs: numba's fused kernel when numba is installed, else NumPy's."""
    from models.optimizers import fused_kernels

    if fused_kernels() is None:
        return "numpy"
    import numba

    return f"numba {numba.__version__}"


# Name of the extra peer that runs our NumPy optimizer step (fused=False), measured when the
# default "ours" runs numba's fused step: both figures come from the same run.
NUMPY_STEP = "ours, NumPy step"
# Ours without the per-epoch accuracies, for the comparisons with peers that do not measure
# them: the roofline (the training steps' GEMMs) and scikit-learn's fit (scored once, at the end).
NO_EVAL = "ours, no evaluation"
EVAL_AT_END = "ours, evaluated after the last epoch"


# ---------------------------------------------------------------------------- parts
# Seconds of rest before each measurement. Idle BLAS/OpenMP worker threads busy-wait for a
# while before they sleep (OpenBLAS: 2**28 cycles, ~0.1 s), so without a pause the threads
# of the peer that ran last would still spin on the cores while the next peer is timed.
SETTLE = 0.3


def _measure(runners, repeats, settle=SETTLE):
    """Run every runner ``repeats`` times, interleaved, resting ``settle`` seconds before each.

    Returns (name -> list of seconds, name -> the last run's result).
    """
    times = {name: [] for name in runners}
    results = {name: None for name in runners}
    for _, name in interleaved(runners, repeats):
        time.sleep(settle)
        t0 = time.perf_counter()
        results[name] = runners[name]()
        times[name].append(time.perf_counter() - t0)
    return times, results


def part_cifar(cfg, repeats, torch, notes, settle=SETTLE):
    data = synthetic_cifar(cfg)
    dims = (cfg["dim"], cfg["hidden"], cfg["classes"])
    ours = Ours(data, dims, cfg, epochs=1)
    runners = {"ours": ours.run, NO_EVAL: Ours(data, dims, cfg, epochs=1, eval_every=None).run}
    kernel = optimizer_kernel()
    if kernel != "numpy":
        runners[NUMPY_STEP] = Ours(data, dims, cfg, epochs=1, fused=False).run
    if torch is not None:
        runners["torch"] = Torch(torch, data, ours.init_params, cfg, epochs=1, threads=blas_threads()).run
    runners["sklearn"] = Sklearn(data, cfg, cfg["hidden"], cfg["classes"]).epoch
    runners["roofline"] = Roofline(data, cfg).run
    for fn in runners.values():  # warm-up epoch: buffers, optimizer state, thread pools
        fn()
    times, results = _measure(runners, repeats, settle)
    med = {k: median(v) for k, v in times.items()}
    parts = breakdown(data, dims, cfg, med["roofline"])
    steps = math.ceil(cfg["n_train"] / cfg["batch_size"])
    flops = 2 * 2 * cfg["n_train"] * cfg["dim"] * cfg["hidden"]  # the two big GEMMs of an epoch
    ratios = {"ours_vs_roofline": med[NO_EVAL] / med["roofline"],
              "ours_with_evaluation_vs_roofline": med["ours"] / med["roofline"],
              "ours_vs_sklearn": med["ours"] / med["sklearn"]}
    if NUMPY_STEP in med:
        ratios["ours_numpy_step_with_evaluation_vs_roofline"] = med[NUMPY_STEP] / med["roofline"]
    if "torch" in med:
        ratios["ours_vs_torch"] = med["ours"] / med["torch"]
        ratios["torch_vs_roofline"] = med["torch"] / med["roofline"]
    return {
        "config": dict(cfg, steps_per_epoch=steps, optimizer_step=kernel),
        "unit": "seconds per epoch",
        "times": times,
        "median": med,
        "roofline_gflops": flops / med["roofline"] / 1e9,
        "breakdown": parts,
        "val_acc_last_epoch": results,
        "ratios": ratios,
        "goals": {
            "ours_vs_torch": {"target": GOALS["cifar_ours_vs_torch"], "value": ratios.get("ours_vs_torch"),
                              "met": (ratios["ours_vs_torch"] <= GOALS["cifar_ours_vs_torch"])
                              if "ours_vs_torch" in ratios else None,
                              "compares": "ours / torch"},
            "ours_vs_roofline": {"target": GOALS["cifar_ours_vs_roofline"], "value": ratios["ours_vs_roofline"],
                                 "met": ratios["ours_vs_roofline"] <= GOALS["cifar_ours_vs_roofline"],
                                 "compares": f"{NO_EVAL} / roofline"},
        },
    }


def part_digits(cfg, repeats, torch, notes, single_thread=True, settle=SETTLE):
    from models import MLP, load_dataset

    data = load_dataset("digits", seed=cfg["seed"], preprocess="standardize")
    dims = (data.X_train.shape[1], cfg["hidden"], 10)
    init = {k: v.copy() for k, v in MLP(*dims[:1], [dims[1]], dims[2], seed=cfg["seed"]).params.items()}

    def ours():
        return Ours(data, dims, cfg, epochs=cfg["epochs"]).run()

    def ours_eval_at_end():
        return Ours(data, dims, cfg, epochs=cfg["epochs"], eval_every=cfg["epochs"]).run()

    runners = {"ours": ours, EVAL_AT_END: ours_eval_at_end}
    kernel = optimizer_kernel()
    if kernel != "numpy":
        def ours_numpy_step():
            return Ours(data, dims, cfg, epochs=cfg["epochs"], fused=False).run()
        runners[NUMPY_STEP] = ours_numpy_step
    if torch is not None:
        def torch_run():
            return Torch(torch, data, init, cfg, epochs=cfg["epochs"], threads=blas_threads()).run()
        runners["torch"] = torch_run
    runners["sklearn"] = Sklearn(data, cfg, cfg["hidden"], 10, max_iter=cfg["epochs"]).fit
    if single_thread:
        # The same runs with one BLAS thread: on this small problem the GEMMs are so short
        # that handing them to a second thread costs more than it saves, badly so on a
        # loaded machine. Informational rows; the goal is judged on the default rows.
        # one controller for every run: threadpool_limits() would scan all loaded libraries
        # (several ms once torch and scikit-learn are loaded) inside each timed run
        from threadpoolctl import ThreadpoolController

        controller = ThreadpoolController()

        def one_thread(fn):
            def run():
                with controller.limit(limits=1, user_api="blas"):
                    return fn()
            return run
        runners["ours, 1 BLAS thread"] = one_thread(ours)
        if torch is not None:
            def torch_run_1():
                return Torch(torch, data, init, cfg, epochs=cfg["epochs"], threads=1).run()
            runners["torch, 1 thread"] = torch_run_1
        runners["sklearn, 1 BLAS thread"] = one_thread(runners["sklearn"])
    for fn in runners.values():  # warm-up (imports, thread pools)
        fn()
    times, results = _measure(runners, repeats, settle)
    med = {k: median(v) for k, v in times.items()}
    ratios = {"ours_vs_sklearn": med[EVAL_AT_END] / med["sklearn"],
              "ours_every_epoch_vs_sklearn": med["ours"] / med["sklearn"]}
    if NUMPY_STEP in med:
        ratios["ours_numpy_step_every_epoch_vs_sklearn"] = med[NUMPY_STEP] / med["sklearn"]
    if "torch" in med:
        ratios["ours_vs_torch"] = med["ours"] / med["torch"]
    if single_thread:
        ours_1 = med["ours, 1 BLAS thread"]
        ratios["ours_every_epoch_1_thread_vs_sklearn_1_thread"] = ours_1 / med["sklearn, 1 BLAS thread"]
        ratios["ours_every_epoch_1_thread_vs_sklearn"] = ours_1 / med["sklearn"]
    return {
        "config": dict(cfg, n_train=len(data.X_train), n_val=len(data.X_val),
                       steps_per_epoch=math.ceil(len(data.X_train) / cfg["batch_size"]), optimizer_step=kernel),
        "unit": f"seconds per training run ({cfg['epochs']} epochs)",
        "times": times,
        "median": med,
        "val_acc_final": results,
        "ratios": ratios,
        "goals": {"ours_vs_sklearn": {"target": GOALS["digits_ours_vs_sklearn"], "value": ratios["ours_vs_sklearn"],
                                      "met": ratios["ours_vs_sklearn"] <= GOALS["digits_ours_vs_sklearn"],
                                      "compares": f"{EVAL_AT_END} / sklearn (the same work)"}},
    }


def _table(part, title, per):
    med, ratios = part["median"], part["ratios"]
    rows = []
    for name in med:
        ratio = med["ours"] / med[name] if name != "ours" else 1.0
        acc = (part.get("val_acc_last_epoch") or part.get("val_acc_final"))[name]
        rows.append([name, fmt_seconds(med[name]), fmt_ratio(ratio),
                     "-" if acc is None or (isinstance(acc, float) and math.isnan(acc)) else f"{acc:.3f}"])
    goals = "; ".join(f"{k} = {g.get('compares', k)} = {fmt_ratio(g['value'])} (goal <= {g['target']}x: "
                      f"{'met' if g['met'] else 'not met' if g['met'] is not None else 'n/a'})"
                      for k, g in part["goals"].items())
    extra = ", ".join(f"{k} {fmt_ratio(v)}" for k, v in ratios.items())
    return (format_table(["peer", f"median {per}", "ours / peer", "val acc"], rows, title=title)
            + "\nratios: " + extra + "\ngoals: " + goals)


def render(payload):
    """The printed report of a payload: the tables of the parts it holds, the machine, notes."""
    out = []
    if "cifar" in payload:
        part = payload["cifar"]
        cfg = part["config"]
        text = _table(part, f"(a) {cfg['n_train']} x {cfg['dim']} -> {cfg['hidden']} ReLU -> {cfg['classes']}, "
                            f"Adam, batch {cfg['batch_size']}: seconds per epoch, median of {len(part['times']['ours'])}; "
                            f"ours steps with {cfg.get('optimizer_step', 'numpy')}",
                      "s/epoch")
        text += f"\nroofline (2 GEMMs/step) runs at {part['roofline_gflops']:.0f} GFLOP/s"
        b = part["breakdown"]
        text += ("\nwhere one epoch of ours goes (re-timed loop, %s): " % fmt_seconds(b["total"])
                 + ", ".join(f"{k} {fmt_seconds(v)} ({b['shares'][k] * 100:.0f}%)" for k, v in b["seconds"].items())
                 + f"; the two large GEMMs (roofline) are {fmt_seconds(b['roofline_gemms'])} of the loss time")
        out.append(text)
    if "digits" in payload:
        part = payload["digits"]
        cfg = part["config"]
        out.append(_table(part, f"(b) digits 64 -> {cfg['hidden']} -> 10, Adam, batch {cfg['batch_size']}, "
                                f"{cfg['epochs']} epochs: seconds per run, median of {len(part['times']['ours'])}; "
                                f"ours steps with {cfg.get('optimizer_step', 'numpy')}",
                          "s/run"))
    out.append("\n".join(machine_lines(payload["machine"])))
    if payload["notes"]:
        out.append("notes: " + "; ".join(payload["notes"]))
    return "\n\n".join(out)


def _parts_in_fresh_processes(args):
    """Run part (b), then part (a), each in a new interpreter; merge their payloads.

    Measured in one process, part (b) ran ~25% slower for every peer after part (a), and
    part (a)'s optimizer step ~60% slower after part (b), for reasons not pinned down (state
    the other part leaves in the allocator, the page tables or the CPU clocks); separate
    processes keep each part's figures clean.
    """
    import json
    import subprocess
    import tempfile

    payloads = {}
    with tempfile.TemporaryDirectory(prefix="bench_mlp_") as tmp:
        for part in ("b", "a"):
            out = Path(tmp) / f"{part}.json"
            cmd = [sys.executable, str(Path(__file__).resolve()), "--part", part, "--out", str(out)]
            cmd += (["--quick"] if args.quick else []) + (["--no-torch"] if args.no_torch else [])
            cmd += ["--repeats", str(args.repeats)] if args.repeats else []
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(ROOT))
            if proc.returncode != 0:
                raise RuntimeError(f"bench_mlp --part {part} failed:\n{proc.stderr[-3000:]}")
            payloads[part] = json.loads(out.read_text())
    merged = dict(payloads["a"])
    merged["digits"] = payloads["b"]["digits"]
    merged["repeats"] = {"a": payloads["a"]["repeats"]["a"], "b": payloads["b"]["repeats"]["b"]}
    merged["machine_part_b"] = payloads["b"]["machine"]
    merged["notes"] = list(dict.fromkeys(payloads["b"]["notes"] + payloads["a"]["notes"]))
    return merged


def main(argv=None):
    parser = base_parser(__doc__.splitlines()[0], default_repeats="5 for (a), 11 for (b)")
    parser.add_argument("--part", choices=["a", "b", "both"], default="both",
                        help="a: CIFAR-10-sized problem, b: digits (default both, each in its own process)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch peer")
    args = parser.parse_args(argv)
    repeats = check_repeats(args.repeats)
    if args.part == "both":
        payload = _parts_in_fresh_processes(args)
    else:
        # (b) runs take ~0.1 s: more repeats cost little and steady the median on a busy machine
        repeats_a = repeats or (2 if args.quick else 5)
        repeats_b = repeats or (2 if args.quick else 11)
        settle = 0.0 if args.quick else SETTLE
        notes = []
        torch, why = (None, "PyTorch skipped (--no-torch)") if args.no_torch else torch_or_none()
        if why:
            notes.append(why)
        payload = {"benchmark": SCRIPT, "quick": args.quick, "repeats": {"a": repeats_a, "b": repeats_b},
                   "goals": GOALS}
        if args.part == "b":
            cfg = DIGITS_QUICK if args.quick else DIGITS
            payload["digits"] = part_digits(cfg, repeats_b, torch, notes, settle=settle)
        else:
            cfg = CIFAR_QUICK if args.quick else CIFAR
            payload["cifar"] = part_cifar(cfg, repeats_a, torch, notes, settle=settle)
        payload["machine"] = describe_machine()  # after the peers ran, so torch's pools are listed
        env = payload["machine"]["blas_env"]
        if env.get("OPENBLAS_CORETYPE") or env.get("OPENBLAS_L2_SIZE"):
            notes.append("OPENBLAS_CORETYPE=%s and OPENBLAS_L2_SIZE=%s were set in the environment: numpy's "
                         "OpenBLAS uses that kernel instead of the one it would detect; PyTorch (MKL) is not "
                         "affected" % (env.get("OPENBLAS_CORETYPE"), env.get("OPENBLAS_L2_SIZE")))
        payload["notes"] = notes
    print(render(payload))
    path = write_json(args.out or default_out(SCRIPT, args.quick), payload)
    print(f"\nwrote {path}")
    return payload


if __name__ == "__main__":
    main()
