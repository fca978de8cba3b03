"""The lecture's learning-rate range check: which learning rates make the loss go down at all.

cs231n lecture 6, after the sanity checks: "start with small regularization and find a learning
rate that makes the loss go down"; too low, the loss barely changes; too high, it explodes or
turns NaN. ``lr_range_check`` trains one configuration for a short fixed number of iterations at
each learning rate of a wide log grid, every run from the same initialisation and the same
batches, classifies each learning rate and turns the good zone into a range to search::

    check = lr_range_check(load_dataset("digits", preprocess="center"), hidden_dims=[90])
    check["good"], check["suggested"]        # e.g. [1e-4, 0.03] and [3e-4, 0.01]

Unlike a single "best learning rate" (fastai's lr_find, Lightning's Tuner.lr_find), the result
is a range, which is what a search needs; it is read from losses averaged over several seeds
and over the last iterations, so one noisy minibatch does not move it.
"""
import inspect
import math

import numpy as np

from models._checks import int_at_least, positive_int, real, seed_int
from models.mlp import MLP
from models.optimizers import make_optimizer, optimizer_keywords
from models.trainer import DIVERGENCE_FACTOR

__all__ = ["lr_range_check", "classify_learning_rates", "default_learning_rates", "ZONES"]

#: The zones a learning rate is put in, from low to high.
ZONES = ("too low", "good", "too high")
_MLP_SETTINGS = tuple(p for p in inspect.signature(MLP.__init__).parameters
                      if p not in ("self", "input_dim", "num_classes", "seed"))


def default_learning_rates(low=1e-7, high=10.0, per_decade=4):
    """Learning rates spaced evenly in log between ``low`` and ``high``, ``per_decade`` per decade,
    both ends included (default: 33 values from 1e-7 to 10)."""
    low, high = real("low", low, 0.0, low_open=True), real("high", high, 0.0, low_open=True)
    per_decade = positive_int("per_decade", per_decade)
    if high <= low:
        raise ValueError(f"high must be above low, got low={low!r}, high={high!r}")
    n = int(round(math.log10(high / low) * per_decade)) + 1
    return [float(v) for v in np.logspace(math.log10(low), math.log10(high), max(n, 2))]


def classify_learning_rates(lrs, start_loss, end_loss, diverged, min_drop=0.1):
    """The zone of each learning rate, from its losses.

    A diverged learning rate is "too high"; one whose loss fell by at least ``min_drop`` (a
    fraction of the start loss) is "good"; one that fell by less is "too low" below the learning
    rate with the largest fall and "too high" above it (the loss curve against lr is a valley:
    small steps barely move the loss, large ones bounce or stall).

    Args:
        lrs: increasing learning rates.
        start_loss, end_loss: the loss before and after training at each learning rate.
        diverged: whether each run diverged (NaN/inf, or above the divergence rule).
        min_drop: the smallest relative fall ``(start - end) / start`` that counts as learning.

    Returns:
        (zones, relative drops): two lists, one entry per learning rate.
    """
    lrs = [float(v) for v in lrs]
    if any(b <= a for a, b in zip(lrs, lrs[1:])):
        raise ValueError("lrs must be strictly increasing")
    drops = [(s - e) / s if not d and s > 0 and math.isfinite(e) else math.nan
             for s, e, d in zip(start_loss, end_loss, diverged)]
    learning = [i for i, v in enumerate(drops) if v >= min_drop]
    best = max(learning, key=lambda i: (drops[i], -i)) if learning else None
    zones = []
    for i, (drop, bad) in enumerate(zip(drops, diverged)):
        if bad or math.isnan(drop):
            zones.append("too high")
        elif drop >= min_drop:
            zones.append("good")
        else:
            zones.append("too low" if best is None or i < best else "too high")
    return zones, drops


def lr_range_check(data, lrs=None, iterations=100, seed=0, n_seeds=3, optimizer="adam", batch_size=64,
                   min_drop=0.1, **settings):
    """Train one configuration briefly at every learning rate of a log grid and classify them.

    Args:
        data: an object with ``X_train`` and ``y_train`` (a ``Dataset``).
        lrs: increasing learning rates; None: :func:`default_learning_rates` (1e-7 .. 10,
            4 per decade).
        iterations: minibatch steps per learning rate (int >= 10).
        seed: every run with the same seed starts from the same weights and sees the same
            batches; ``n_seeds`` seeds derived from it (SeedSequence) are averaged.
        n_seeds: how many seeds to average the losses over (int >= 1).
        optimizer, batch_size: as the Trainer's; ``**settings`` also takes the MLP's settings
            (hidden_dims, activation, init, batchnorm, dropout, reg, dtype, ...) and the
            optimizer's keywords (momentum, betas, ...).
        min_drop: the relative fall of the loss below which a learning rate is not learning.

    Returns:
        A dict of plain data:

        - ``"table"``: one dict per learning rate, increasing: ``lr``, ``start_loss`` (the loss
          of the first minibatch, before any step, averaged over the seeds), ``end_loss`` (the
          mean loss of the last tenth of the iterations, averaged over the seeds; NaN when a
          seed diverged), ``drop`` (``(start - end) / start``; NaN when diverged), ``diverged``
          (bool: some seed's loss was NaN/inf or above 3x its first loss, the Trainer's rule),
          ``zone`` ("too low", "good" or "too high");
        - ``"good"``: ``[low, high]``, the smallest and largest learning rate of the unbroken
          run of good ones around the best, or None when no learning rate is good;
        - ``"best_lr"``: the learning rate with the largest drop (None when none is good);
        - ``"suggested"``: ``[low, high]`` to search (a ``loguniform`` range), or None: the
          learning rates of the good zone whose loss fell by at least half as much as at the
          best one (the valley's floor, where a longer search spends its trials well; the
          zone's ends barely learn or nearly diverge), widened by one grid step on each side
          when that leaves a single learning rate;
        - ``"iterations"``, ``"n_seeds"``, ``"seed"``, ``"min_drop"``, ``"optimizer"``,
          ``"batch_size"``: the settings used.

    Raises:
        ValueError: bad data or settings, naming them.
    """
    lrs = default_learning_rates() if lrs is None else [real("lrs", v, 0.0, low_open=True) for v in lrs]
    iterations = int_at_least("iterations", iterations, 10)
    n_seeds, seed = positive_int("n_seeds", n_seeds), seed_int(seed)
    min_drop = real("min_drop", min_drop, 0.0, 1.0, low_open=True, high_open=True)
    batch_size = positive_int("batch_size", batch_size)
    mlp, opt = _split_settings(optimizer, settings)
    X, y, classes = _training_arrays(data, mlp.get("dtype", "float32"))
    # per seed, one (model seed, batch seed) pair shared by every learning rate
    seeds = [tuple(int(child.generate_state(1)[0]) for child in seq.spawn(2))
             for seq in np.random.SeedSequence(seed).spawn(n_seeds)]
    runs = [[_short_run(X, y, classes, lr, iterations, pair, optimizer, batch_size, mlp, opt) for lr in lrs]
            for pair in seeds]
    start = [math.fsum(r[i][0] for r in runs) / n_seeds for i in range(len(lrs))]
    diverged = [any(r[i][2] for r in runs) for i in range(len(lrs))]
    end = [math.nan if diverged[i] else math.fsum(r[i][1] for r in runs) / n_seeds for i in range(len(lrs))]
    zones, drops = classify_learning_rates(lrs, start, end, diverged, min_drop)
    table = [{"lr": lr, "start_loss": s, "end_loss": e, "drop": d, "diverged": bad, "zone": z}
             for lr, s, e, d, bad, z in zip(lrs, start, end, drops, diverged, zones)]
    good, best = _good_zone(lrs, zones, drops)
    return {"table": table, "good": good, "best_lr": best, "suggested": _suggested(lrs, zones, drops),
            "iterations": iterations, "n_seeds": n_seeds, "seed": seed, "min_drop": min_drop,
            "optimizer": optimizer, "batch_size": batch_size}


def _split_settings(optimizer, settings):
    """(MLP keywords, optimizer keywords) of ``settings``; ValueError naming an unknown one."""
    if "lr" in settings:
        raise ValueError("lr_range_check sweeps lr itself; pass lrs=[...] to choose the learning rates")
    accepted = [k for k in optimizer_keywords(optimizer) if k != "lr"]
    unknown = [k for k in settings if k not in _MLP_SETTINGS and k not in accepted]
    if unknown:
        raise ValueError(f"unknown setting {unknown[0]!r} for lr_range_check; expected an MLP setting "
                         f"({', '.join(_MLP_SETTINGS)}) or a keyword of {optimizer!r} ({', '.join(accepted)})")
    return ({k: v for k, v in settings.items() if k in _MLP_SETTINGS},
            {k: v for k, v in settings.items() if k not in _MLP_SETTINGS})


def _training_arrays(data, dtype):
    if not (hasattr(data, "X_train") and hasattr(data, "y_train")):
        raise ValueError("data must have X_train and y_train arrays")
    X = np.ascontiguousarray(data.X_train, dtype=np.dtype(dtype))
    y = np.asarray(data.y_train, dtype=np.int64)
    if X.ndim != 2 or y.shape != (len(X),) or len(X) < 2:
        raise ValueError(f"X_train {X.shape} and y_train {y.shape} must be (N, D) and (N,) with N >= 2")
    classes = getattr(data, "num_classes", None) or int(y.max()) + 1
    return X, y, max(int(classes), 2)


def _short_run(X, y, num_classes, lr, iterations, seeds, optimizer, batch_size, mlp, opt):
    """(first loss, mean loss of the last tenth of the iterations, diverged) of one short run;
    ``seeds``: (model seed, batch seed)."""
    model_seed, batch_seed = seeds
    model = MLP(X.shape[1], mlp.get("hidden_dims", (100,)), num_classes, seed=model_seed,
                **{k: v for k, v in mlp.items() if k != "hidden_dims"})
    step = make_optimizer(optimizer, lr=lr, **opt).step_flat
    rng = np.random.default_rng(batch_seed)
    bs = min(batch_size, len(X))
    window = max(iterations // 10, 1)
    losses = []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(iterations):
            idx = rng.choice(len(X), bs, replace=False)
            loss, _ = model.loss(X[idx], y[idx])
            losses.append(float(loss))
            if not loss <= DIVERGENCE_FACTOR * losses[0]:   # also true for NaN
                return losses[0], math.nan, True
            step(model.flat)
    return losses[0], math.fsum(losses[-window:]) / window, False


def _good_run(zones, drops):
    """(first, last, best) indices of the unbroken run of good learning rates around the one
    with the largest drop, or None when none is good."""
    good = [i for i, z in enumerate(zones) if z == "good"]
    if not good:
        return None
    best = max(good, key=lambda i: (drops[i], -i))
    lo = hi = best
    while lo > 0 and zones[lo - 1] == "good":
        lo -= 1
    while hi < len(zones) - 1 and zones[hi + 1] == "good":
        hi += 1
    return lo, hi, best


def _good_zone(lrs, zones, drops):
    """([low, high] of the good run, its best lr), or (None, None)."""
    run = _good_run(zones, drops)
    if run is None:
        return None, None
    lo, hi, best = run
    return [lrs[lo], lrs[hi]], lrs[best]


def _suggested(lrs, zones, drops):
    """[low, high] of the good run's learning rates with at least half the best drop."""
    run = _good_run(zones, drops)
    if run is None:
        return None
    lo, hi, best = run
    floor = [i for i in range(lo, hi + 1) if drops[i] >= 0.5 * drops[best]]
    first, last = min(floor), max(floor)
    if first == last:
        first, last = max(first - 1, lo), min(last + 1, hi)
    return [lrs[first], lrs[last]]
