"""backend="dask": the same trials as loky, on a LocalCluster bound to 127.0.0.1."""
import socket
import sys

import pytest

pytest.importorskip("distributed")

import hpsearch as hp  # noqa: E402
from hpsearch.execution.dask_backend import DASK_MISSING, dask_backend, local_cluster  # noqa: E402
from hpsearch.errors import HpsearchError  # noqa: E402
from hpsearch.objectives import LogBowl  # noqa: E402

SPACE = {"lr": hp.LogUniform(1e-6, 1e-1), "reg": hp.LogUniform(1e-5, 1e1), "hidden": hp.Choice([[50], [100]])}


@pytest.fixture(scope="module")
def cluster():
    """One 2-worker cluster for the module (starting one is the slow part)."""
    with local_cluster(2) as cluster:
        yield cluster


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(objective, space, metric, budget=2, n_jobs=2, **kwargs):
    res = hp.Study(objective, space, metric=metric, direction="maximize").optimize(budget=budget, n_jobs=n_jobs,
                                                                                 seed=0, **kwargs)
    return res.trials.drop(columns=["duration"]), res.curves


def test_local_cluster_gives_the_loky_table():
    # scheduler=None: dask_backend starts (and closes) its own 2-process LocalCluster.
    objective = LogBowl({"lr": 1e-3, "reg": 1e-2}, noise=0.1)  # noise drawn from each trial's seed
    dask_table, dask_curves = _run(objective, SPACE, "score", sampler="random", n_trials=8, backend="dask")
    loky_table, loky_curves = _run(objective, SPACE, "score", sampler="random", n_trials=8, backend="loky")
    assert len(dask_table) == 8 and (dask_table["status"] == "ok").all()
    assert dask_table.equals(loky_table)
    assert dask_curves == loky_curves


def test_scheduler_address_with_an_adaptive_sampler_gives_the_loky_table(cluster):
    objective = LogBowl({"lr": 1e-3, "reg": 1e-2}, noise=0.1)
    kwargs = dict(sampler="tpe", n_trials=8)
    dask_table, _ = _run(objective, SPACE, "score", backend="dask", scheduler=cluster.scheduler_address, **kwargs)
    loky_table, _ = _run(objective, SPACE, "score", backend="loky", **kwargs)
    assert dask_table.equals(loky_table)


@pytest.mark.parametrize("sampler", ["random", "bohb"])
def test_hyperband_on_dask_continues_checkpoints_and_gives_the_serial_table(cluster, sampler):
    """Checkpoints cross to the workers and back as bytes: no shared file system needed; the
    per-budget model (bohb) proposes the same configurations on dask as serially."""
    from hpsearch.objectives import LearningCurve
    from hpsearch.strategies import Hyperband

    def run(**kwargs):
        study = hp.Study(LearningCurve({"lr": 1e-3, "reg": 1e-2}, noise=0.01), SPACE, metric="score")
        return study.run(Hyperband(min_budget=1, max_budget=9, eta=3, sampler=sampler), seed=0, **kwargs).trials.drop(
            columns=["duration"])

    on_dask = run(n_jobs=2, backend="dask", scheduler=cluster.scheduler_address)
    assert on_dask.equals(run(n_jobs=1))
    continued = on_dask[on_dask["continued_from"].notna()]
    assert len(continued) and (continued["trial_epochs"] < continued["budget"]).all()


def test_mlp_on_dask_matches_a_serial_run_and_loads_the_dataset_once_per_worker(cluster):
    from distributed import Client

    from models import MLPObjective

    # Runs in each worker process (local functions travel by value): count load_dataset calls.
    def install_counter():
        import models.objective as mo

        original = getattr(mo, "_hp_original_load", mo.load_dataset)
        mo._hp_original_load, mo._hp_loads = original, []

        def counting(*args, **kwargs):
            mo._hp_loads.append(args[0])
            return original(*args, **kwargs)

        mo.load_dataset = counting
        mo._DATA_CACHE.clear()

    def loads_and_restore():
        import models.objective as mo

        mo.load_dataset = mo._hp_original_load
        return len(mo._hp_loads)

    objective = MLPObjective("digits", hidden_dims=[16], batch_size=200)
    space = {"lr": hp.LogUniform(1e-4, 1e-1), "reg": hp.LogUniform(1e-6, 1e-2)}
    with Client(cluster, set_as_default=False) as client:
        client.run(install_counter)
        try:
            dask_table, dask_curves = _run(objective, space, "val_acc", sampler="random", n_trials=6, budget=1,
                                           backend="dask", scheduler=cluster.scheduler_address)
        finally:
            loads = client.run(loads_and_restore)
    # the reference runs in this process (n_jobs=1): no second pool to start
    here_table, here_curves = _run(objective, space, "val_acc", sampler="random", n_trials=6, budget=1, n_jobs=1)
    assert (dask_table["status"] == "ok").all() and dask_table["val_acc"].nunique() > 1
    assert dask_table.equals(here_table) and dask_curves == here_curves
    # 6 trials on 2 workers: each worker that ran a trial loaded digits exactly once
    assert sorted(loads.values()) in ([1, 1], [0, 1]) and sum(loads.values()) >= 1


def test_unreachable_scheduler_is_a_one_line_error():
    address = f"tcp://127.0.0.1:{_free_port()}"
    study = hp.Study(LogBowl({"lr": 1e-3}), {"lr": SPACE["lr"]}, metric="score")
    with pytest.raises(HpsearchError, match=rf"cannot reach the dask scheduler at {address}: .*dask scheduler") as info:
        study.optimize(n_trials=2, backend="dask", scheduler=address)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("address", ["foo", "tcp://host-without-port", "http://127.0.0.1:8786", ""])
def test_malformed_scheduler_address(address):
    with pytest.raises(HpsearchError, match=r"scheduler must be an address like tcp://HOST:8786"):
        with dask_backend(2, scheduler=address):
            pass


def test_scheduler_without_workers_says_how_to_start_them():
    with local_cluster(0) as empty:
        with pytest.raises(HpsearchError, match=r"has no worker after 1 s; start some with `dask worker tcp://"):
            with dask_backend(2, scheduler=empty.scheduler_address, timeout=1):
                pass


class _Unloadable:
    """Pickles fine here, fails to load anywhere: an objective whose module the cluster lacks."""

    def __reduce__(self):
        import importlib

        return (importlib.import_module, ("hpsearch_test_module_missing_on_the_cluster",))


def test_cluster_that_cannot_load_the_objective_fails_at_once(cluster):
    # joblib's dask backend would wait forever on such a task; the test task fails fast instead
    with pytest.raises(HpsearchError, match=r"cannot run hpsearch trials \(ModuleNotFoundError: No module named "
                                            r"'hpsearch_test_module_missing_on_the_cluster'\); "
                                            r"the scheduler and every worker need .* module of the objective"):
        with dask_backend(2, scheduler=cluster.scheduler_address, timeout=10, probe=_Unloadable()):
            pass
    with dask_backend(2, scheduler=cluster.scheduler_address, probe=LogBowl({"lr": 1e-3})) as kwargs:
        assert set(kwargs) == {"backend"}


def test_missing_dask_is_named_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # makes `import distributed` fail
    with pytest.raises(HpsearchError) as info:
        with dask_backend(2):
            pass
    assert str(info.value) == DASK_MISSING == ("the dask backend needs dask[distributed]: "
                                               "pip install 'hpsearch[dask]'")


def test_a_space_with_branches_gives_the_loky_table_on_dask(cluster):
    space = {"lr": hp.LogUniform(1e-6, 1e-1),
             "optimizer": hp.Branch({"sgd": {}, "adam": {"beta2": hp.LogUniform(0.9, 0.9999)}})}
    objective = LogBowl({"lr": 1e-3, "beta2": 0.999}, noise=0.1)
    dask_table, _ = _run(objective, space, "score", sampler="sobol", n_trials=8, backend="dask",
                         scheduler=cluster.scheduler_address)
    loky_table, _ = _run(objective, space, "score", sampler="sobol", n_trials=8, backend="loky")
    assert dask_table.equals(loky_table)
    assert dask_table.loc[dask_table["param_optimizer"] == "sgd", "param_beta2"].isna().all()
