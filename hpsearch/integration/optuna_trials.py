"""The one mapping from hpsearch trial records to Optuna trials (``FrozenTrial``).

``hpsearch export`` and ``hpsearch dashboard`` both show a study through it:

- one Optuna trial per *configuration*: a trial and the rows that continued it (a multi-fidelity
  study stores one row per rung), numbered in the order their first row was stored;
- parameters with one Optuna distribution each, spanning every stage's range (coarse-to-fine
  stages search narrower ranges; a trial's stage is in its user attributes); Choice values that
  are not plain distinct scalars (lists such as ``hidden_dims``) as their JSON text
  (``"[100, 100]"``); Fixed values as a one-value categorical; a scipy.stats parameter over the
  values seen;
- states: "ok" COMPLETE, "failed" and "diverged" FAIL; a configuration stopped below the
  study's top budget by a strategy that promotes is PRUNED and, as Optuna's own pruned trials
  do, carries its last value (so it appears in the history, slice and rank plots); a
  configuration the running strategy may still continue (:mod:`hpsearch.integration.pending`)
  is RUNNING;
- the learning curve over every rung as intermediate values (epoch -> metric), for every
  configuration or only the best ones (:data:`CURVES`);
- user attributes: ``number`` (the last row's), ``rows`` (all of them), ``stage``, ``budget``,
  ``bracket``, ``rung``, ``seed``, ``status``, ``duration``, ``error`` and every other metric.
"""
import datetime
import json
import math
import numbers

from hpsearch.distributions import Choice, Fixed, IntLogUniform, IntUniform, LogUniform, Uniform, distribution_from_dict
from hpsearch.records import metric_value
from hpsearch.space import Space

__all__ = ["CURVES", "check_curves", "optuna_distributions", "stage_space", "Configurations", "trial_state",
           "frozen_trial"]

#: Which configurations carry their learning curves: ``"all"``, ``"none"``, or a positive int K
#: (the K best when they are shown finished).
CURVES = ("all", "none", "K (a positive int)")


def check_curves(curves):
    """``curves`` as ``"all"``, ``"none"`` or a positive int; ValueError naming the value otherwise."""
    if isinstance(curves, str) and curves.isdigit():
        curves = int(curves)
    if curves in ("all", "none") or (isinstance(curves, int) and not isinstance(curves, bool) and curves > 0):
        return curves
    raise ValueError(f"curves must be one of {', '.join(CURVES)}, got {curves!r}")


def _label(value):
    """The JSON text of a choice value (lists, dicts) as Optuna's CategoricalDistribution holds it."""
    return json.dumps(value, sort_keys=True)


def _plain(value):
    return value


def _categorical(values):
    from optuna.distributions import CategoricalDistribution

    from hpsearch.samplers.optuna_convert import raw_choices

    if raw_choices(values):
        return CategoricalDistribution(values), _plain
    return CategoricalDistribution([_label(v) for v in values]), _label


def _observed(values):
    """A distribution spanning the values seen (for a scipy.stats parameter, which Optuna lacks)."""
    from optuna.distributions import FloatDistribution, IntDistribution

    seen = [v for v in values if v is not None]
    if seen and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in seen):
        if all(isinstance(v, numbers.Integral) for v in seen):
            return IntDistribution(min(seen), max(seen)), int
        if all(math.isfinite(v) for v in seen):
            return FloatDistribution(float(min(seen)), float(max(seen))), float
    distinct = list({_label(v): v for v in seen}.values())
    return _categorical(distinct or [None])


def _range(dists):
    """One Optuna distribution spanning every stage's range of a numeric parameter."""
    from optuna.distributions import FloatDistribution, IntDistribution

    low, high = min(d.low for d in dists), max(d.high for d in dists)
    if isinstance(dists[0], (IntUniform, IntLogUniform)):
        return IntDistribution(low, high, log=dists[0].log), int
    return FloatDistribution(low, high, log=dists[0].log), float


def optuna_distributions(spaces, records):
    """name -> (Optuna distribution, encode), one per parameter for the whole study.

    Args:
        spaces: every stage's space (``{name: distribution}``, see :func:`stage_space`).
        records: the trial records (their parameters decide a scipy.stats parameter's range).

    Coarse-to-fine stages search narrower ranges; the union of ranges (of choices) spans them
    all, so every trial shares one distribution per parameter, which Optuna's importance and
    contour plots need.
    """
    names = list(dict.fromkeys([n for space in spaces for n in space] + [n for r in records for n in r["params"]]))
    out = {}
    for name in names:
        dists = [space[name] for space in spaces if name in space]
        kinds = {type(d) for d in dists}
        if len(kinds) == 1 and kinds <= {Uniform, LogUniform, IntUniform, IntLogUniform}:
            out[name] = _range(dists)
        elif dists and kinds <= {Choice, Fixed}:
            values = [v for d in dists for v in (d.values if isinstance(d, Choice) else [d.value])]
            out[name] = _categorical(list({_label(v): v for v in values}.values()))
        else:  # a scipy.stats parameter (Optuna has no such distribution): span the values seen
            out[name] = _observed([r["params"].get(name) for r in records if name in r["params"]])
    return out


def stage_space(space):
    """name -> distribution of a stored stage (its space as a dict or a Space).

    A stage whose space holds a scipy.stats distribution comes back from the storage in its dict
    form (the scipy object cannot be rebuilt); its other parameters are rebuilt one by one.
    """
    if not isinstance(space, dict):
        return dict(space.items())
    try:  # the whole space at once: a space with branches stores them nested
        return dict(Space.from_dict(space).items())
    except (ValueError, TypeError, KeyError):
        pass
    out = {}
    for name, d in space.items():
        try:
            out[name] = distribution_from_dict(d)
        except (ValueError, TypeError, KeyError):
            continue
    return out


class Configurations:
    """Trial rows grouped by configuration, in the order their first row was stored.

    A multi-fidelity study stores one row per rung; Optuna keeps one trial per configuration.
    :meth:`add` takes rows as they are stored (a continuation always after the row it
    continues) and returns the index of each row's configuration, so a viewer that reads new
    rows only numbers configurations exactly as a full read does.
    """

    def __init__(self):
        self.chains = []      # index -> the configuration's rows, first to last
        self._index = {}      # row number -> configuration index

    def add(self, record):
        """Place ``record`` (replacing a stored row of the same number); returns its configuration index."""
        number = record["number"]
        if number in self._index:   # a failed trial run again replaces its row
            i = self._index[number]
            chain = self.chains[i]
            chain[[r["number"] for r in chain].index(number)] = record
            return i
        parent = record.get("continued_from")
        if parent is not None and parent in self._index:
            i = self._index[parent]
            self.chains[i].append(record)
        else:
            i = len(self.chains)
            self.chains.append([record])
        self._index[number] = i
        return i

    def index_of(self, number):
        """The configuration index of the row ``number`` (None if not placed)."""
        return self._index.get(number)

    def __len__(self):
        return len(self.chains)


def trial_state(chain, metric, pending=(), top_budget=None, pruning=False):
    """``(state name, value)`` of a configuration's rows (``chain``, first to last).

    Args:
        chain: the configuration's records.
        metric: the study's metric.
        pending: numbers of trials the running strategy may still continue
            (:class:`~hpsearch.integration.pending.PendingTrials`): shown RUNNING.
        top_budget: the study's highest planned budget.
        pruning: the strategy stops configurations below ``top_budget`` (PRUNED, not COMPLETE).

    Returns:
        ``("RUNNING" | "COMPLETE" | "PRUNED" | "FAIL", float or None)``; a PRUNED configuration
        carries its last value, as Optuna's pruned trials do.
    """
    record = chain[-1]
    if record["number"] in pending:
        return "RUNNING", None
    value = metric_value(record, metric)
    if record["status"] != "ok" or value is None:
        return "FAIL", None
    if pruning and top_budget is not None and (record.get("budget") or 0) < top_budget:
        return "PRUNED", value
    return "COMPLETE", value


def _when(timestamp):
    return None if timestamp is None else datetime.datetime.fromtimestamp(float(timestamp))


def _curve(chain, metric):
    curve = {}
    for record in chain:
        for point in record.get("curve") or []:
            value = point.get(metric)
            if isinstance(value, numbers.Real) and not isinstance(value, bool) and "epoch" in point \
                    and math.isfinite(value):
                curve[int(point["epoch"])] = float(value)
    return curve


def _user_attrs(chain, metric):
    record = chain[-1]
    metrics = record.get("metrics") or {}
    attrs = {"number": record["number"], "stage": record["stage"], "budget": record.get("budget"),
             "seed": record.get("seed"), "status": record["status"], "duration": record.get("duration")}
    if len(chain) > 1:
        attrs["rows"] = [r["number"] for r in chain]
    for key in ("bracket", "rung"):
        if key in record:
            attrs[key] = record[key]
    if record.get("error"):
        attrs["error"] = record["error"]
    attrs.update((k, v) for k, v in metrics.items() if k != metric and isinstance(v, (int, float, str)))
    if record["status"] != "ok" and metric in metrics:
        attrs[metric] = metrics[metric]  # a diverged trial's NaN stays visible
    return attrs


def frozen_trial(chain, metric, encoders, state, value, number, trial_id=None, curve=True):
    """One Optuna ``FrozenTrial`` for a configuration's rows.

    Args:
        chain: the configuration's records, first to last.
        metric: the study's metric.
        encoders: :func:`optuna_distributions` of the study.
        state, value: from :func:`trial_state`.
        number: the Optuna trial number (the configuration's index).
        trial_id: the storage's trial id (default ``number``).
        curve: include the learning curve as intermediate values.
    """
    import optuna
    from optuna.trial import TrialState

    first, record = chain[0], chain[-1]
    params, distributions = {}, {}
    for name, raw in first["params"].items():
        dist, encode = encoders[name]
        params[name], distributions[name] = encode(raw), dist
    finished = state != "RUNNING"
    start = _when(first.get("start")) or datetime.datetime.fromtimestamp(0)
    end = (_when(record.get("end")) or start) if finished else None
    return optuna.trial.FrozenTrial(
        number=number, trial_id=number if trial_id is None else trial_id, state=getattr(TrialState, state),
        value=value, values=None, datetime_start=start, datetime_complete=end, params=params,
        distributions=distributions, user_attrs=_user_attrs(chain, metric), system_attrs={},
        intermediate_values=_curve(chain, metric) if curve else {})
