"""Optuna's samplers (TPE, CMA-ES, QMC, GP, random) behind our sampler protocol.

Optuna proposes, hpsearch runs: each stage gets a fresh in-memory Optuna study over the
stage's space, driven through Optuna's ask/tell interface. The study asks a batch of
trials, runs them with our runner (so storage, resume, boundary flags, the DataFrame and
the plots are the same whatever the sampler) and tells the results in trial order.

Reproducibility: named samplers are built with the stage's seed, so the same study seed
and the same batch size give the same trials (``n_jobs=1`` is batch size 1). Optuna's
own ``optimize(n_jobs > 1)`` is not reproducible; our batches are, because every trial of
a batch is asked before any is told.

The space maps onto Optuna's distributions once per stage:

=================  ==============================================================
``LogUniform``     ``FloatDistribution(low, high, log=True)``
``Uniform``        ``FloatDistribution(low, high)``
``IntUniform``     ``IntDistribution(low, high)``
``IntLogUniform``  ``IntDistribution(low, high, log=True)``
``Choice``         ``CategoricalDistribution``: the values themselves when they are
                   distinct str/int/float/bool/None, else their indices (lists,
                   dicts, ``[1, True]``), mapped back to the values in the params
``Fixed``          not asked; added to every params dict
``Branch``         define-by-run: the branch parameter is a ``CategoricalDistribution``
                   suggested first, then only the chosen branch's parameters
scipy.stats        ValueError: Optuna cannot sample it
=================  ==============================================================

A space with branches is asked define-by-run (``trial.suggest_*`` in space order, skipping the
branches not taken), exactly as an Optuna user writes ``if optimizer == "adam": ...``. TPE
models each parameter over the trials that have it; CMA-ES, QMC and GP model only the
parameters every trial has (Optuna's intersection search space: the shared ones such as
``lr``), and draw the branch parameter and each branch's own parameters at random.
"""
import importlib.util
import inspect
import math
import numbers
import warnings

import optuna
from optuna.trial import TrialState

from hpsearch.distributions import Choice, Fixed
from hpsearch.errors import HpsearchError
from hpsearch.samplers.optuna_convert import PLAIN, quiet_optuna, suggest, to_optuna_distribution
from hpsearch.samplers._base import BaseSampler, check_start_args, reject_scipy

__all__ = ["OptunaSampler", "make_optuna_sampler", "OPTUNA_SAMPLERS"]

# name -> (optuna.samplers class name, extra package it needs (module, pip name) or None)
OPTUNA_SAMPLERS = {
    "tpe": ("TPESampler", None),
    "cmaes": ("CmaEsSampler", ("cmaes", "cmaes")),
    "qmc": ("QMCSampler", None),
    "gp": ("GPSampler", ("torch", "torch")),
    "optuna-random": ("RandomSampler", None),
}

# Samplers that draw Choice parameters independently of the model (at random). Optuna logs a
# warning for every such parameter of every trial; we say it once per stage instead.
_INDEPENDENT_CHOICES = {"CmaEsSampler", "QMCSampler"}



def _describe(value):
    """A stable text for an option value (functions by qualified name, not by address)."""
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '?')}.{value.__qualname__}"
    if isinstance(value, optuna.samplers.BaseSampler):
        return _describe_instance(value)
    return repr(value)


def _describe_instance(sampler):
    """``TPESampler(n_startup_trials=5)``: the class and the settings we can read back.

    Optuna samplers keep their settings in ``_<argument>`` attributes; plain ones that differ
    from the constructor default are shown. The seed is not recoverable and not shown.
    """
    cls = type(sampler)
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        params = []
    try:
        with quiet_optuna():
            default = cls()  # settings as the constructor normalises them (None -> False, ...)
    except Exception:  # a sampler with required arguments (GridSampler): compare with the signature
        default = None
    parts = []
    for p in params:
        if p.name == "seed" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        value = getattr(sampler, "_" + p.name, inspect.Parameter.empty)
        if not isinstance(value, PLAIN):
            continue
        base = p.default if default is None else getattr(default, "_" + p.name, p.default)
        if base is not p.empty and type(value) is type(base) and value == base:
            continue
        parts.append(f"{p.name}={value!r}")
    return f"{cls.__name__}({', '.join(parts)})"


class OptunaSampler(BaseSampler):
    """One of Optuna's samplers as an hpsearch sampler (adaptive: asked in batches, told results).

    Args:
        sampler: a name (``"tpe"``, ``"cmaes"``, ``"qmc"``, ``"gp"``, ``"optuna-random"``),
            built anew for each stage with the stage's seed; or an ``optuna.samplers.BaseSampler``
            instance, used as given (its own seed, if any, decides its draws, and its state
            carries over from stage to stage).
        **options: keyword arguments of the named Optuna sampler's constructor, e.g.
            ``OptunaSampler("tpe", n_startup_trials=5, multivariate=True)``; not with an
            instance. ``seed`` comes from the study.

    Raises:
        ValueError: an unknown name or option, options with an instance, or option values the
            Optuna sampler rejects.
        HpsearchError: the sampler needs a package that is not installed (``cmaes`` for CMA-ES,
            ``torch`` for GP), with the pip command.
    """

    is_adaptive = True

    def __init__(self, sampler="tpe", **options):
        if isinstance(sampler, str):
            if sampler not in OPTUNA_SAMPLERS:
                raise ValueError(f"unknown sampler {sampler!r}; expected one of {', '.join(OPTUNA_SAMPLERS)}")
            self.name, self.instance = sampler, None
            self._cls = getattr(optuna.samplers, OPTUNA_SAMPLERS[sampler][0])
            self.options = self._check_options(dict(options))
            self._kwargs = dict(self.options)
            if self._cls.__name__ in _INDEPENDENT_CHOICES:
                self._kwargs.setdefault("warn_independent_sampling", False)  # we warn once per stage instead
            self._build(seed=0)  # option values are checked by Optuna's constructor, now
        elif isinstance(sampler, optuna.samplers.BaseSampler):
            if options:
                raise ValueError(f"sampler options {sorted(options)} only apply to sampler names, not to "
                                 f"the Optuna sampler instance {_describe_instance(sampler)}")
            self.name, self.instance, self._cls, self.options = None, sampler, type(sampler), {}
        else:
            raise ValueError(f"OptunaSampler needs a name ({', '.join(OPTUNA_SAMPLERS)}) or an "
                             f"optuna.samplers.BaseSampler instance, got {sampler!r}")
        self._study = None

    def _check_options(self, options):
        valid = [p for p in inspect.signature(self._cls).parameters if p != "seed"]
        if "seed" in options:
            raise ValueError(f"sampler {self.name!r} takes its seed from the study (seed= of optimize or "
                             f"coarse_to_fine), not from sampler option seed={options['seed']!r}")
        for key in options:
            if key not in valid:
                raise ValueError(f"unknown option {key!r} for sampler {self.name!r}; expected one of "
                                 f"{', '.join(valid)}")
        need = OPTUNA_SAMPLERS[self.name][1]
        if need is not None and importlib.util.find_spec(need[0]) is None:
            raise HpsearchError(f"sampler {self.name!r} needs the {need[0]} package: pip install {need[1]}")
        return options

    def _build(self, seed):
        with quiet_optuna():
            try:
                return self._cls(seed=seed, **self._kwargs)
            except (TypeError, ValueError) as exc:
                shown = ", ".join(f"{k}={_describe(v)}" for k, v in self.options.items())
                raise ValueError(f"sampler {self.name!r} rejects options {shown}: {exc}") from None

    # -- the protocol ------------------------------------------------------------------
    def start(self, space, n_trials, seed, direction):
        """Begin a stage: a new in-memory Optuna study over ``space`` (see :class:`BaseSampler`).

        Returns ``n_trials``. Raises ValueError for a scipy.stats parameter.
        """
        space, n_trials, seed = check_start_args(space, n_trials, seed, direction)
        reject_scipy(space, self.name or self._cls.__name__)
        self._space = space
        self._encoded = {}
        for name in space.dims:
            self._encoded[name] = to_optuna_distribution(name, space[name])
        self._distributions = {name: d for name, (d, _) in self._encoded.items()}
        sampler = self.instance if self.instance is not None else self._build(seed)
        with quiet_optuna():
            self._study = optuna.create_study(direction=direction, sampler=sampler)
        self._n_trials, self._next = n_trials, 0
        self._asked = {}  # stage index -> optuna Trial not told yet
        choices = [n for n in space.dims if isinstance(space[n], Choice)]
        if choices and self._cls.__name__ in _INDEPENDENT_CHOICES:
            # CMA-ES and QMC model only the parameters every trial has (Optuna's intersection
            # search space); a branch's own parameters are drawn at random like the Choices
            branched = [n for n in space.dims if n in space.conditions]
            also = f" and the branches' parameters {', '.join(branched)}" if branched else ""
            warnings.warn(f"the {self.name or self._cls.__name__} sampler draws Choice parameters "
                          f"{', '.join(choices)}{also} at random, independently of its model", UserWarning,
                          stacklevel=2)
        return n_trials

    def ask(self, n):
        """The next ``n`` params dicts (fewer once the stage's ``n_trials`` are used up).

        Every trial of the batch is asked before any is told, so Optuna sees them as running
        (TPE's constant liar keeps a batch from piling onto one point).

        Raises:
            RuntimeError: ``start`` has not been called.
            ValueError: ``n`` is not a non-negative int.
        """
        if self._study is None:
            raise RuntimeError("OptunaSampler.ask() called before start()")
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"ask needs a non-negative integer n, got n={n!r}")
        n = min(int(n), self._n_trials - self._next)
        out = []
        with quiet_optuna():
            for _ in range(n):
                if self._space.is_conditional:
                    trial = self._study.ask()
                    params = self._ask_by_run(trial)
                else:
                    trial = self._study.ask(self._distributions)
                    params = self._decode(trial.params)
                self._asked[self._next] = trial
                self._next += 1
                out.append(params)
        return out

    def _ask_by_run(self, trial):
        """Define-by-run, as an Optuna user writes ``if optimizer == "adam": suggest beta1``: in
        space order, only the parameters of the branches taken so far."""
        params = {}
        for name, dist in self._space.items():
            if not self._space.is_active(name, params):
                continue
            if isinstance(dist, Fixed):
                params[name] = dist.value
            else:
                optuna_dist, decode = self._encoded[name]
                params[name] = decode(suggest(trial, name, optuna_dist))
        return params

    def _decode(self, optuna_params):
        params = {}
        for name, dist in self._space.items():
            if isinstance(dist, Fixed):
                params[name] = dist.value
            else:
                params[name] = self._encoded[name][1](optuna_params[name])
        return params

    def tell(self, index, params, value):
        """Tell Optuna how trial ``index`` (0-based in the stage) went.

        ``value`` None (a failed or diverged trial) or non-finite marks it FAIL, so model-based
        samplers ignore it.

        Raises:
            ValueError: ``index`` was not asked in this stage, or was told already.
        """
        trial = self._asked.pop(index, None)
        if trial is None:
            state = "was already told" if isinstance(index, int) and 0 <= index < self._next else "was not asked"
            raise ValueError(f"tell(index={index!r}): trial {index!r} of this stage {state}; "
                             f"{self._next} trials asked so far")
        with quiet_optuna():
            if value is None or not math.isfinite(value):
                self._study.tell(trial, state=TrialState.FAIL)
            else:
                self._study.tell(trial, float(value))

    @property
    def optuna_study(self):
        """The current stage's in-memory ``optuna.Study`` (None before ``start``), for inspection."""
        return self._study

    def __repr__(self):
        if self.instance is not None:
            return f"OptunaSampler({_describe_instance(self.instance)})"
        shown = "".join(f", {k}={_describe(v)}" for k, v in self.options.items())
        return f"OptunaSampler({self.name!r}{shown})"


def make_optuna_sampler(name, **options):
    """The sampler registered under ``name`` (``tpe``, ``cmaes``, ``qmc``, ``gp``, ``optuna-random``).

    ``options`` go to the Optuna sampler's constructor; see :class:`OptunaSampler`.
    """
    return OptunaSampler(name, **options)
