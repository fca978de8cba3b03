"""MLPObjective: the search protocol around Trainer (see ARCHITECTURE.md, "The objective protocol").

    objective = MLPObjective("digits", preprocess="standardize", hidden_dims=[100])
    metrics = objective({"lr": 3e-3, "reg": 1e-4}, budget=5, seed=123)
    metrics["val_acc"], metrics["status"]

A trial's settings are the fixed settings given to the constructor, overridden by
the sampled ``params``. Every setting of the MLP, the trainer, the optimizer and
the data can be fixed or searched (see :data:`SETTINGS` and ``valid_settings()``).
The dataset is loaded and preprocessed once per process and cached at module
level (keyed by the data settings), so sending the objective to a worker process
for every trial costs only its few settings: it never pickles the data.
"""
import json
import math
from collections import OrderedDict

import numpy as np

from models._checks import flag, int_at_least, is_int
from models.checkpoint import pack as checkpoint_pack
from models.checkpoint import unpack as checkpoint_unpack
from models.datasets import Dataset, check_source, check_split, load_dataset, source_keywords
from models.optimizers import OPTIMIZERS, make_optimizer, optimizer_keywords
from models.preprocess import make_preprocessor
from models.trainer import Trainer, check_trainer_settings

__all__ = ["MLPObjective", "SETTINGS", "LECTURE_NAMES", "optimizer_settings"]

_MLP = ("hidden_dims", "width", "depth", "activation", "init", "batchnorm", "dropout", "reg", "dtype",
        "bias_init", "maxout_k", "output_scale")
_TRAINER = ("optimizer", "lr", "batch_size", "lr_decay", "train_acc_samples")
# Every optimizer keyword except lr (a trainer setting) and adagrad's lr_decay, whose name the
# trainer's per-epoch lr_decay takes; beta1 / beta2 are scalar spellings of betas for searches.
_OPTIMIZER = tuple(dict.fromkeys(k for name in OPTIMIZERS for k in optimizer_keywords(name)
                                 if k not in ("lr", "lr_decay"))) + ("beta1", "beta2")
_DATA = ("preprocess", "n_components", "whiten_eps", "val_fraction", "test_fraction", "data_seed")

#: The settings groups an MLPObjective understands (the dataset's own options come on top).
SETTINGS = {"mlp": _MLP, "trainer": _TRAINER, "optimizer": _OPTIMIZER, "data": _DATA}

_DEFAULT_HIDDEN = [100]


def _inside(x, toward):
    """The float next to ``x`` toward ``toward``: an open end of a valid interval, as a closed limit."""
    return math.nextafter(x, toward)


#: The values each numeric setting accepts, as closed limits (lo, hi); None: no limit. Open ends of
#: the valid intervals (lr > 0, dropout < 1, ...) sit one float inside. Mirrors the validation in
#: MLP, Trainer, the optimizers and load_dataset.
SETTING_BOUNDS = {
    "lr": (0.0, None), "reg": (0.0, None), "dropout": (0.0, _inside(1.0, 0.0)),
    "width": (1, None), "depth": (0, None), "maxout_k": (2, None), "output_scale": (0.0, None),
    "batch_size": (1, None), "lr_decay": (_inside(0.0, 1.0), None), "train_acc_samples": (1, None),
    "momentum": (0.0, None), "dampening": (0.0, 1.0), "weight_decay": (0.0, None),
    "beta1": (0.0, _inside(1.0, 0.0)), "beta2": (0.0, _inside(1.0, 0.0)), "eps": (0.0, None),
    "alpha": (0.0, 1.0), "rho": (0.0, 1.0), "initial_accumulator_value": (0.0, None),
    "n_components": (1, None), "val_fraction": (_inside(0.0, 1.0), _inside(1.0, 0.0)),
    "test_fraction": (0.0, _inside(1.0, 0.0)),
}
_CHECKPOINT_FORMAT = "models.MLPObjective/1"
_CACHE_SIZE = 4
_DATA_CACHE = OrderedDict()   # data key -> Dataset, per process (least recently used dropped first)


def _jsonable(value):
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _hidden_dims(value):
    if is_int(value):
        value = [value]
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"hidden_dims must be a list of positive integers, got {value!r}")
    dims = list(value)
    if any(not is_int(h) or h < 1 for h in dims):
        raise ValueError(f"hidden_dims must be a list of positive integers, got {value!r}")
    return [int(h) for h in dims]


#: The lecture's names of hyperparameters that torch spells otherwise, per optimizer.
LECTURE_NAMES = {"rmsprop": ("rho",), "adam": ("beta1", "beta2"), "radam": ("beta1", "beta2")}


def optimizer_settings(optimizer):
    """The optimizer settings that belong to ``optimizer``: its torch keywords (but lr, a
    trainer setting, and adagrad's lr_decay, whose name the trainer's per-epoch decay takes) and
    the lecture's names (RMSProp's ``rho``, Adam's ``beta1`` / ``beta2``)."""
    own = [k for k in optimizer_keywords(optimizer) if k not in ("lr", "lr_decay")]
    return own + [k for k in LECTURE_NAMES.get(optimizer, ()) if k not in own]


def _check_belongs(optimizer, settings):
    """ValueError for an optimizer setting in ``settings`` that ``optimizer`` does not take.

    Checked on what a trial chooses: its own params when it picks the optimizer (a fixed default
    such as ``momentum = 0.9`` may serve only some of a study's optimizers), everything when the
    optimizer is fixed.
    """
    belongs = optimizer_settings(optimizer)
    for name in settings:
        if name in _OPTIMIZER and name not in belongs:
            raise ValueError(f"{name}={settings[name]!r} does not belong to optimizer {optimizer!r}, which takes "
                             f"{', '.join(belongs)}; search it only where the optimizer takes it (a Branch)")


class MLPObjective:
    """The NumPy MLP as a search objective: ``objective(params, budget, seed, report=None) -> dict``.

    Args:
        dataset: a name in ``DATASETS`` (digits, spiral, blobs), a .npz / .csv path or a CIFAR-10
            folder, loaded lazily once per process; or a :class:`~models.datasets.Dataset`, which
            is then pickled with the objective (fine for small data, costly for large).
        **fixed_settings: settings shared by every trial (sampled params override them):

            - MLP: ``hidden_dims`` (default [100]), or ``width`` and ``depth`` (hidden_dims =
              [width] * depth; depth defaults to the length of the fixed hidden_dims, width to its
              first size), ``activation``, ``init``, ``batchnorm``, ``dropout``, ``reg``, ``dtype``,
              ``bias_init``, ``maxout_k``, ``output_scale``;
            - trainer: ``optimizer`` (default adam), ``lr`` (default: the optimizer's), ``batch_size``,
              ``lr_decay`` (per epoch), ``train_acc_samples``;
            - optimizer keywords (torch names): ``momentum``, ``dampening``, ``nesterov``,
              ``weight_decay``, ``betas`` (or scalars ``beta1`` / ``beta2``), ``eps``, ``alpha``, ``rho``,
              ``centered``, ``amsgrad``, ``initial_accumulator_value``, ``decoupled_weight_decay``;
              the lecture's names work too: ``momentum`` for momentum and Nesterov, ``rho`` for
              RMSProp (torch's ``alpha``) and Adadelta, ``beta1`` / ``beta2`` for Adam and RAdam
              (:func:`optimizer_settings`). A trial's params that its optimizer does not take are a
              ValueError (search them in that optimizer's branch, :class:`hpsearch.Branch`); a fixed
              one is a default for the optimizers that take it, and an error only when the
              optimizer is fixed too;
            - data: ``preprocess``, ``n_components``, ``whiten_eps``, ``val_fraction``,
              ``test_fraction``, ``data_seed`` (the split seed, default 0: the same split for every
              trial), and the dataset's options (e.g. spiral ``n_classes``); ``n_components`` is
              ignored unless preprocess is pca or whiten, ``whiten_eps`` unless it is whiten.

    Raises:
        ValueError: an unknown setting (with the closest valid name) or an invalid value, at
            construction for the fixed settings.
    """

    # hpsearch's objective protocol, declared as plain attributes (models never imports hpsearch):
    # calls continue from the "checkpoint" they return, and final=True adds test metrics
    supports_checkpoint = True
    supports_final = True

    def __init__(self, dataset="digits", **fixed_settings):
        if isinstance(dataset, Dataset):
            self._source_options = ()
        else:
            check_source(dataset)
            self._source_options = tuple(source_keywords(dataset))
        self.dataset = dataset
        self.fixed = dict(fixed_settings)
        self._data = None   # (key, Dataset) of the last trial in this process; never pickled
        self._check_names(self.fixed, "setting")
        self.validate({})

    # ------------------------------------------------------------------ settings
    def valid_settings(self):
        """Every setting name this objective accepts, in groups' order."""
        names = list(_MLP) + list(_TRAINER) + list(_OPTIMIZER)
        if not isinstance(self.dataset, Dataset):
            names += list(_DATA) + list(self._source_options)
        return names

    def _check_names(self, settings, where):
        valid = self.valid_settings()
        for name in settings:
            if name == "epochs":
                raise ValueError("unknown setting 'epochs': the number of epochs is the trial's budget "
                                 "(the study's budget), not a setting")
            if name not in valid:
                import difflib   # only for the error message: a worker's imports stay light

                close = difflib.get_close_matches(str(name), valid, n=1, cutoff=0.6)
                if close:
                    raise ValueError(f"unknown {where} {name!r}; did you mean {close[0]!r}?")
                raise ValueError(f"unknown {where} {name!r}; expected one of {', '.join(valid)}")

    def _resolve(self, params):
        """(mlp kwargs, hidden_dims, trainer kwargs, data settings) for fixed settings + params."""
        self._check_names(params, "setting")
        s = {**self.fixed, **params}

        if "hidden_dims" in params and ("width" in params or "depth" in params):
            raise ValueError("give either hidden_dims or width/depth as parameters, not both")
        base = _hidden_dims(s.get("hidden_dims", _DEFAULT_HIDDEN))
        if ("width" in s or "depth" in s) and not ("hidden_dims" in params):
            width = int_at_least("width", s["width"], 1) if "width" in s else (base[0] if base else _DEFAULT_HIDDEN[0])
            depth = int_at_least("depth", s["depth"], 0) if "depth" in s else max(len(base), 1)
            hidden = [width] * depth
        else:
            hidden = base
        mlp = {k: s[k] for k in _MLP if k in s and k not in ("hidden_dims", "width", "depth")}

        optimizer = s.get("optimizer", "adam")
        if not isinstance(optimizer, str) or optimizer not in OPTIMIZERS:
            make_optimizer(optimizer)   # raises "unknown optimizer ..."
        accepted = optimizer_keywords(optimizer)
        _check_belongs(optimizer, params if "optimizer" in params or "optimizer" not in self.fixed else s)
        opt = {k: s[k] for k in _OPTIMIZER if k in s and k in accepted}
        if "alpha" in accepted and "rho" in s:   # RMSProp's decay rate: the lecture's rho, torch's alpha
            if "alpha" in s:
                raise ValueError("give either rho or alpha for rmsprop (the same decay rate), not both")
            opt["alpha"] = s["rho"]
        if "betas" in accepted and ("beta1" in s or "beta2" in s):
            if "betas" in s:
                raise ValueError("give either betas or beta1/beta2, not both")
            default = OPTIMIZERS[optimizer]().betas
            opt["betas"] = (s.get("beta1", default[0]), s.get("beta2", default[1]))
        trainer = {k: s[k] for k in _TRAINER if k in s}
        trainer.update(opt)
        data = {k: s[k] for k in _DATA + self._source_options if k in s}
        # like optimizer keywords, preprocessing options only apply where they mean something
        # (a study may search preprocess in {standardize, pca} together with n_components)
        preprocess = data.get("preprocess", "none")
        if preprocess not in ("pca", "whiten"):
            data.pop("n_components", None)
        if preprocess != "whiten":
            data.pop("whiten_eps", None)
        data["dtype"] = mlp.get("dtype", "float32")
        return mlp, hidden, trainer, data

    def configuration(self, params=None):
        """What a trial with ``params`` builds, as the protocol call would, without training.

        Returns:
            dict with ``hidden_dims`` (list of int), ``mlp`` (the other MLP keywords),
            ``trainer`` (optimizer, lr, batch_size, lr_decay and the optimizer's keywords that
            apply) and ``data`` (load_dataset options, ``data_seed`` and ``dtype``).

        Raises:
            ValueError: an unknown setting (with a suggestion) or an inconsistent one, named.
        """
        mlp, hidden, trainer, data = self._resolve(dict(params or {}))
        return {"hidden_dims": list(hidden), "mlp": dict(mlp), "trainer": dict(trainer), "data": dict(data)}

    def load_data(self, params=None):
        """The dataset a trial with ``params`` trains on (loaded once per process, then cached)."""
        return self._load(self._resolve(dict(params or {}))[3])

    def validate(self, params):
        """Check a params dict (merged over the fixed settings) without training.

        Raises:
            ValueError: an unknown setting (with a suggestion) or an invalid value, naming it.
        """
        from models.mlp import MLP

        mlp, hidden, trainer, data = self._resolve(params)
        # the MLP validates its own settings; tiny layers keep this cheap for any hidden_dims
        MLP(1, [1] * len(hidden), 2, **mlp)
        trainer = dict(trainer)
        optimizer = trainer.pop("optimizer", "adam")
        check_trainer_settings(1, trainer.pop("batch_size", 128), trainer.pop("lr_decay", 1.0),
                               trainer.pop("train_acc_samples", 1000))
        make_optimizer(optimizer, **trainer)
        if not isinstance(self.dataset, Dataset):
            check_split(data.get("val_fraction", 0.2), data.get("test_fraction", 0.2))
            preprocess = data.get("preprocess", "none")
            options = {"n_components": data.get("n_components")}
            if preprocess == "whiten" and "whiten_eps" in data:
                options["eps"] = data["whiten_eps"]
            make_preprocessor(preprocess, **options)
            int_at_least("data_seed", data.get("data_seed", 0), 0)
            check_source(self.dataset, **{k: data[k] for k in self._source_options if k in data})

    def setting_bounds(self):
        """``{setting: (lo, hi)}``: the values each numeric setting accepts (None: unbounded).

        The search applies these as hard bounds, so coarse-to-fine never moves a range to
        values every trial would fail on (a width of 0, a dropout of 1).
        """
        return dict(SETTING_BOUNDS)

    def metric_names(self):
        """The metrics a call returns (``test_acc`` and ``test_loss`` only with ``final=True``)."""
        return ("val_acc", "best_val_acc", "train_acc", "loss", "epochs")

    def get_params(self):
        """The fixed settings and the dataset, as a JSON-able dict (stored with a study)."""
        dataset = repr(self.dataset) if isinstance(self.dataset, Dataset) else str(self.dataset)
        return {"dataset": dataset, **_jsonable(self.fixed)}

    # ------------------------------------------------------------------ data
    def _load(self, data):
        if isinstance(self.dataset, Dataset):
            return self.dataset
        key = (str(self.dataset), tuple(sorted((k, repr(v)) for k, v in data.items())))
        if self._data is not None and self._data[0] == key:
            return self._data[1]
        dataset = _DATA_CACHE.get(key)
        if dataset is None:
            options = dict(data)
            seed = options.pop("data_seed", 0)
            dataset = load_dataset(self.dataset, seed=seed, **options)
            _DATA_CACHE[key] = dataset
            while len(_DATA_CACHE) > _CACHE_SIZE:
                _DATA_CACHE.popitem(last=False)
        else:
            _DATA_CACHE.move_to_end(key)
        self._data = (key, dataset)
        return dataset

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_data"] = None   # the data is reloaded (once) in the receiving process
        return state

    # ------------------------------------------------------------------ the protocol
    def __call__(self, params, budget, seed, report=None, checkpoint=None, final=False):
        """Train one MLP for ``budget`` epochs with ``params`` over the fixed settings.

        Args:
            params: sampled settings (plain values) keyed by setting name.
            budget: number of epochs (positive int).
            seed: non-negative int; the model's initialisation and dropout and the trainer's
                shuffles are drawn from independent streams derived from it (SeedSequence).
            report: optional ``report(epoch, metrics)`` called after every epoch (1-based; a
                continued run reports only its new epochs, numbered on).
            checkpoint: None (train from scratch) or the ``"checkpoint"`` bytes this objective
                returned for the same params and seed at a smaller budget: train on from there.
                The result equals one uninterrupted run to ``budget`` bit for bit.
            final: True only for the study's one final evaluation of its chosen configuration:
                after training, also measure ``test_acc`` and ``test_loss`` on the test split.
                Otherwise the test split is never read.

        Returns:
            ``{"val_acc": last epoch's validation accuracy, "best_val_acc" (over all epochs),
            "train_acc": last epoch's, "loss": mean loss of the last epoch, "epochs": epochs
            completed, "status": "ok" | "diverged", "checkpoint": bytes | None}`` (accuracies
            are NaN when no epoch completed; the checkpoint holds the state after ``budget``
            epochs, None when the run diverged). With ``final=True`` also ``"test_acc"`` and
            ``"test_loss"`` (the evaluation-mode loss: cross-entropy plus the L2 penalty, as
            ``loss``), NaN when the run diverged.

        Raises:
            ValueError: unknown setting or invalid value (the runner records the trial as failed);
                a checkpoint for other params or seed, for as many epochs as ``budget`` or more,
                or damaged; ``final=True`` on data without a test split.
        """
        budget = int_at_least("budget", budget, 1)
        seed = int_at_least("seed", seed, 0)
        mlp, hidden, trainer_settings, data = self._resolve(params)
        saved = None if checkpoint is None else self._check_checkpoint(checkpoint, params, seed, budget)
        final = flag("final", final)
        dataset = self._load(data)
        if final and len(dataset.y_test) == 0:
            raise ValueError(f"final=True needs a test split, and {dataset.name!r} has none "
                             f"(test_fraction={data.get('test_fraction', 0.2)})")
        trainer = _trainer(dataset, hidden, mlp, trainer_settings, budget, seed, report, saved)
        model = trainer.model
        hist = trainer.train()
        per_epoch = math.ceil(len(dataset.X_train) / min(trainer.batch_size, len(dataset.X_train)))
        metrics = _metrics(hist, per_epoch, saved["metrics"] if saved else {})
        if final:
            ok = metrics["status"] == "ok"
            metrics["test_acc"] = model.accuracy(dataset.X_test, dataset.y_test) if ok else math.nan
            metrics["test_loss"] = float(model.loss(dataset.X_test, dataset.y_test, train=False)) if ok else math.nan
        metrics["checkpoint"] = None if metrics["status"] != "ok" else checkpoint_pack({
            "format": _CHECKPOINT_FORMAT, "objective": _plain(self.get_params()), "params": _plain(params),
            "seed": seed, "epochs": budget, "metrics": {k: metrics[k] for k in ("val_acc", "train_acc")},
            "model": model.state_dict(), "trainer": trainer.state_dict()})
        return metrics

    def _check_checkpoint(self, checkpoint, params, seed, budget):
        """The unpacked checkpoint, once it is known to be this objective's for ``params`` and
        ``seed`` at fewer epochs than ``budget``; else ValueError naming the problem."""
        saved = checkpoint_unpack(checkpoint)
        if saved.get("format") != _CHECKPOINT_FORMAT:
            raise ValueError(f"checkpoint is not an MLPObjective checkpoint (format {saved.get('format')!r})")
        if saved.get("objective") != _plain(self.get_params()):
            raise ValueError(f"checkpoint was made by another objective: {saved.get('objective')!r}, "
                             f"this one is {_plain(self.get_params())!r}")
        mine, theirs = _plain(params), saved.get("params")
        if mine != theirs:
            theirs = theirs if isinstance(theirs, dict) else {}
            differ = [k for k in sorted(set(mine) | set(theirs)) if mine.get(k, ...) != theirs.get(k, ...)]
            raise ValueError(f"checkpoint was made for other params (differing: {', '.join(differ)}): "
                             f"{saved.get('params')!r}, not {mine!r}")
        if saved.get("seed") != seed:
            raise ValueError(f"checkpoint was made with seed {saved.get('seed')!r}, not {seed}")
        epochs = saved.get("epochs")
        if not is_int(epochs) or not 1 <= epochs < budget:
            raise ValueError(f"checkpoint holds {epochs!r} epochs: it can only continue to a larger budget "
                             f"than that, got budget {budget}")
        if not isinstance(saved.get("metrics"), dict) or not {"model", "trainer"} <= set(saved):
            raise ValueError("checkpoint is incomplete (no metrics, model or trainer state)")
        return saved

    def __repr__(self):
        args = ", ".join([repr(self.get_params()["dataset"])] + [f"{k}={v!r}" for k, v in self.fixed.items()])
        return f"MLPObjective({args})"


def _plain(value):
    """``value`` as JSON would give it back (tuples become lists, NumPy scalars Python ones)."""
    return json.loads(json.dumps(_jsonable(value)))


def _metrics(hist, per_epoch, before):
    """The protocol's metrics from a Trainer history; ``before``: val_acc and train_acc of the
    last epoch of the run this one continues (used when no epoch completes here)."""
    done = len(hist["val_acc"])   # epochs completed in this call
    last = hist["loss"][done * per_epoch:] if hist["status"] != "ok" else hist["loss"][-per_epoch:]
    return {
        "val_acc": hist["val_acc"][-1] if done else before.get("val_acc", math.nan),
        "best_val_acc": hist["best_val_acc"],
        "train_acc": hist["train_acc"][-1] if done else before.get("train_acc", math.nan),
        "loss": math.fsum(last) / len(last) if last else math.nan,
        "epochs": hist["epochs_run"],
        "status": hist["status"],
    }


def _trainer(dataset, hidden, mlp, trainer_settings, budget, seed, report, saved):
    """The trial's Trainer (its model as ``.model``), for the epochs still to train: model and
    trainer draw from independent streams of ``seed``; ``saved`` (a checked checkpoint) or None."""
    from models.mlp import MLP

    model_seq, trainer_seq = np.random.SeedSequence(seed).spawn(2)
    model = MLP(dataset.input_dim, hidden, dataset.num_classes, seed=int(model_seq.generate_state(1)[0]), **mlp)
    done = saved["epochs"] if saved else 0
    trainer = Trainer(model, dataset, epochs=budget - done, seed=int(trainer_seq.generate_state(1)[0]),
                      report=report, **trainer_settings)
    if saved:
        try:
            model.load_state_dict(saved["model"])
            trainer.load_state_dict(saved["trainer"])
        except ValueError as exc:
            raise ValueError(f"checkpoint does not fit this trial: {exc}") from None
    return trainer
