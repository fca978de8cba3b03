"""The fused (numba) optimizer steps: bit-identical to the NumPy path, used when available,
never when ``fused=False``, and a clear error for ``fused=True`` without numba."""
import numpy as np
import pytest

from models import MLP, Trainer, load_dataset
from models import fused
from models.flat_params import FlatParams
from models.optimizers import make_optimizer

FUSED_CASES = [
    ("adam", {}),
    ("adam", {"lr": 0.1, "betas": (0.5, 0.7)}),
    ("adam", {"weight_decay": 0.1}),
    ("adam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("adam", {"amsgrad": True}),
    ("adam", {"amsgrad": True, "weight_decay": 0.05, "eps": 0.0}),
    ("momentum", {}),
    ("momentum", {"lr": 0.3, "weight_decay": 0.2}),
    ("nesterov", {"weight_decay": 0.01}),
    ("sgd", {"momentum": 0.5, "dampening": 0.3}),
]
IDS = [f"{name}-{'-'.join(sorted(kw)) or 'defaults'}" for name, kw in FUSED_CASES]


def _needs_kernels():
    """Skip unless numba is installed with its JIT on (the test extra installs it)."""
    pytest.importorskip("numba")
    if fused.fused_kernels() is None:
        pytest.skip("numba's JIT is disabled here")


def _steps(name, kwargs, dtype, fused, flat, steps=25):
    """Parameters after ``steps`` steps on seeded gradients (some large, some tiny, one with
    NaN and inf entries), the lr changed halfway as the trainer's decay does."""
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((40, 25)).astype(dtype), "b": rng.standard_normal(7).astype(dtype)}
    if flat:  # views of one array, as models.MLP lays them out: the optimizer's flat path
        flat_params = FlatParams(params)
        grads = flat_params.grads
    else:
        grads = {k: np.empty_like(v) for k, v in params.items()}
    opt = make_optimizer(name, fused=fused, **kwargs)
    for t in range(steps):
        for g in grads.values():
            g[...] = rng.standard_normal(g.shape) * (3.0 if t % 5 == 0 else 1e-3)
        if t == steps - 1:
            grads["b"][:2] = [np.nan, np.inf]
        if t == steps // 2:
            opt.lr *= 0.5
        with np.errstate(invalid="ignore", over="ignore"):  # the NaN step warns on the NumPy path
            opt.step_flat(flat_params) if flat else opt.step(params, grads)
    return params


@pytest.mark.parametrize("flat", [True, False], ids=["flat", "per-parameter"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kwargs", FUSED_CASES, ids=IDS)
def test_fused_step_is_bit_identical_to_numpy_path(name, kwargs, dtype, flat):
    _needs_kernels()
    fused = _steps(name, kwargs, dtype, True, flat)
    plain = _steps(name, kwargs, dtype, False, flat)
    for key in fused:
        assert fused[key].dtype == dtype
        np.testing.assert_array_equal(fused[key], plain[key])  # NaN where NaN, every bit the same


class _Counting:
    """Stands in for models._kernels and counts the kernel calls it forwards."""

    def __init__(self, kernels):
        self.kernels, self.calls = kernels, []

    def __getattr__(self, name):
        def call(*args):
            self.calls.append(name)
            return getattr(self.kernels, name)(*args)
        return call


@pytest.fixture
def counting(monkeypatch):
    _needs_kernels()
    spy = _Counting(fused.fused_kernels())
    monkeypatch.setattr(fused, "_KERNELS", spy)
    return spy


@pytest.mark.parametrize("name,kernel", [("adam", "adam_step"), ("momentum", "sgd_step"),
                                         ("nesterov", "sgd_step")])
def test_default_uses_the_kernel_when_numba_is_installed(counting, name, kernel):
    model = MLP(6, [5], 3, seed=0)
    opt = make_optimizer(name)
    _, grads = model.loss(np.ones((4, 6)), np.array([0, 1, 2, 0]))
    opt.step_flat(model.flat)
    opt.step_flat(model.flat)
    assert counting.calls == [kernel, kernel]  # one call per step: the flat path, fused
    opt.step(model.params, grads)
    assert counting.calls == [kernel] * (2 + len(model.params))  # per parameter: one call each


@pytest.mark.parametrize("name,kwargs", [("adam", {"fused": False}), ("sgd", {}), ("radam", {}),
                                         ("rmsprop", {})])
def test_kernel_not_used_when_disabled_or_not_available(counting, name, kwargs):
    params = {"W": np.ones((3, 4))}
    make_optimizer(name, **kwargs).step(params, {"W": np.full((3, 4), 0.5)})
    assert counting.calls == []
    assert np.all(params["W"] < 1.0)


def test_arrays_the_kernel_cannot_take_use_the_numpy_path(counting):
    # a strided view and a float16 array: correct updates, no kernel call
    strided = {"W": np.ones((4, 6))[:, ::2]}
    half = {"W": np.ones((3, 2), dtype=np.float16)}
    for params in (strided, half):
        reference = {"W": np.array(params["W"], copy=True)}
        make_optimizer("adam", lr=0.1).step(params, {"W": np.full(params["W"].shape, 0.5, params["W"].dtype)})
        make_optimizer("adam", lr=0.1, fused=False).step(reference, {"W": np.full(reference["W"].shape, 0.5,
                                                                                  reference["W"].dtype)})
        np.testing.assert_array_equal(params["W"], reference["W"])
    assert counting.calls == []


def test_without_numba_fused_none_runs_numpy_and_fused_true_is_a_named_error(monkeypatch):
    monkeypatch.setattr(fused, "_KERNELS", False)
    monkeypatch.setattr(fused, "_KERNELS_MISSING", "numba cannot be imported: No module named 'numba'")
    params = {"W": np.ones(5)}
    make_optimizer("adam", lr=0.1).step(params, {"W": np.ones(5)})
    np.testing.assert_allclose(params["W"], 0.9)
    with pytest.raises(ValueError, match=r"fused=True needs numba.*No module named 'numba'.*fused=None or False"):
        make_optimizer("adam", fused=True)


def test_disabled_jit_counts_as_unavailable(monkeypatch):
    numba = pytest.importorskip("numba")
    monkeypatch.setattr(fused, "_KERNELS", None)
    monkeypatch.setattr(numba.config, "DISABLE_JIT", True)
    assert fused.fused_kernels() is None
    with pytest.raises(ValueError, match="NUMBA_DISABLE_JIT"):
        make_optimizer("momentum", fused=True)


@pytest.mark.parametrize("bad", ["yes", 1, 0.0])
def test_fused_must_be_none_or_a_bool(bad):
    with pytest.raises(ValueError, match=r"fused must be None, True or False, got"):
        make_optimizer("adam", fused=bad)


def test_training_history_is_identical_with_and_without_the_kernel():
    """What a study relies on: installing numba changes speed, never results."""
    _needs_kernels()
    data = load_dataset("digits", seed=0, preprocess="standardize")

    def train(fused):
        model = MLP(64, [32], 10, dtype="float32", seed=3)
        hist = Trainer(model, data, optimizer="adam", lr=3e-3, epochs=5, batch_size=64, seed=1,
                       fused=fused).train()
        return hist, model.params

    (h1, p1), (h2, p2) = train(True), train(False)
    assert h1["loss"] == h2["loss"] and h1["val_acc"] == h2["val_acc"]
    for key in p1:
        np.testing.assert_array_equal(p1[key], p2[key])
    assert h1["best_val_acc"] > 0.9


_FIRST_FUSED_STEP = """
import numpy as np
from models import MLP, make_optimizer
from models import _kernels
model = MLP(6, [5], 3, seed=0, dtype="float32")
_, grads = model.loss(np.ones((4, 6), np.float32), np.array([0, 1, 2, 0]))
opt = make_optimizer("adam", fused=True)
opt.step_flat(model.flat)
stats = _kernels.adam_step.stats
print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
"""


def test_a_new_process_loads_the_kernels_from_numbas_disk_cache(tmp_path):
    """cache=True: the first process compiles and writes the cache, the next ones only load it."""
    import os
    import subprocess
    import sys

    _needs_kernels()
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}

    def run():
        out = subprocess.run([sys.executable, "-c", _FIRST_FUSED_STEP], env=env, capture_output=True,
                             text=True, check=True, timeout=120)
        return tuple(int(v) for v in out.stdout.split())

    assert run() == (0, 1)     # compiled once (a miss), written to the cache
    assert run() == (1, 0)     # loaded from the cache: no compilation
    assert any(tmp_path.rglob("*.nbi"))


def test_by_default_only_large_updates_load_the_kernels(monkeypatch):
    """fused=None: a small network's step never pays numba's start; a large update does."""
    _needs_kernels()
    from models import _kernels

    calls = []
    optimizers_kernels = _Counting(_kernels)
    monkeypatch.setattr(fused, "_KERNELS", None)   # not loaded in this "process" yet
    monkeypatch.setattr(fused, "fused_kernels", lambda: calls.append(1) or optimizers_kernels)
    small = FlatParams({"W": np.ones(fused.FUSED_MIN_SIZE - 1, np.float32)})
    make_optimizer("adam").step_flat(small)
    assert calls == [] and optimizers_kernels.calls == []
    large = FlatParams({"W": np.ones(fused.FUSED_MIN_SIZE, np.float32)})
    make_optimizer("adam").step_flat(large)
    assert calls and optimizers_kernels.calls == ["adam_step"]
    make_optimizer("adam", fused=True).step_flat(small)   # fused=True: always
    assert optimizers_kernels.calls == ["adam_step"] * 2
