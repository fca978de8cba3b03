"""A study file's ``[search]`` table -> a :class:`~hpsearch.strategies.planning.SearchPlan`, checked."""
import math

from hpsearch.checks import one_line
from hpsearch.strategies.planning import COARSE_TO_FINE, MULTI_FIDELITY, STRATEGIES, SearchPlan
from hpsearch.samplers import SAMPLERS
from hpsearch.strategies.stage import Stage

__all__ = ["read_search", "SEARCH_KEYS"]

SEARCH_KEYS = ("strategy", "n_trials", "budget", "stages", "points", "top_fraction", "margin", "move_edges",
               "min_budget", "max_budget", "eta", "total_budget", "sampler", "batch_size", "sampler_options",
               "n_jobs", "backend", "trial_timeout")
_FIDELITY = ("min_budget", "max_budget", "eta", "total_budget", "sampler")
_STAGE_KEYS = ("n_trials", "budget", "sampler", "promote")
_NARROWING = ("top_fraction", "margin", "move_edges")
_SECTION = "[search]"


def read_search(reader, table, space):
    """``(SearchPlan, n_jobs or None, backend or None, trial_timeout or None)`` of a ``[search]`` table.

    Raises:
        StudyFileError: one line naming the file and the key.
    """
    reader.check_keys(_SECTION, table, SEARCH_KEYS)
    strategy = reader.get(_SECTION, table, "strategy", "str",
                          default=COARSE_TO_FINE if "stages" in table else "random")
    if strategy not in STRATEGIES:
        raise reader.unknown(_SECTION, "strategy", strategy, STRATEGIES)
    if strategy in MULTI_FIDELITY:
        stages, fidelity = (), _fidelity(reader, table, strategy)
        samplers = [fidelity.get("sampler", "random")]
    else:
        for key in _FIDELITY:
            if key in table:
                raise reader.error(_SECTION, f"{key!r} only applies to strategies {' and '.join(MULTI_FIDELITY)} "
                                             f"(got {strategy!r})")
        stages = _stages(reader, table) if strategy == COARSE_TO_FINE else _single_stage(reader, table, strategy)
        fidelity, samplers = {}, [s.sampler for s in stages]
    try:
        plan = SearchPlan(strategy, stages, points=_points(reader, table, space, samplers),
                          narrowing=_narrowing(reader, table),
                          batch_size=reader.positive_int(_SECTION, table, "batch_size", required=False),
                          sampler_options=dict(reader.get(_SECTION, table, "sampler_options", "table", default={})),
                          fidelity=fidelity)
    except ValueError as exc:
        raise reader.error(_SECTION, one_line(exc)) from None
    _check_sampler_options(reader, plan, samplers)
    backend = _backend(reader, table)
    return plan, _n_jobs(reader, table), backend, _trial_timeout(reader, table, backend)


def _fidelity(reader, table, strategy):
    """The settings of a sha / hyperband search (checked again, together, by the strategy)."""
    for key in ("n_trials", "budget", "stages"):
        if key in table:
            raise reader.error(_SECTION, f"{key!r} does not apply to strategy {strategy!r}: it is planned from "
                                         f"min_budget, max_budget, eta and total_budget")
    fidelity = {"max_budget": reader.budget(_SECTION, table, "max_budget")}
    for key in ("min_budget", "total_budget"):
        value = (reader.budget if key == "min_budget" else reader.positive_int)(_SECTION, table, key, required=False)
        if value is not None:
            fidelity[key] = value
    eta = reader.get(_SECTION, table, "eta", "int")
    if eta is not None:
        if eta < 2:
            raise reader.error(_SECTION, f"'eta' must be an integer >= 2 (keep the best 1/eta), got {eta}")
        fidelity["eta"] = eta
    sampler = reader.get(_SECTION, table, "sampler", "str")
    if sampler is not None:
        if sampler not in SAMPLERS:
            raise reader.unknown(_SECTION, "sampler", sampler, SAMPLERS)
        fidelity["sampler"] = sampler
    return fidelity


def _stages(reader, table):
    for key in ("n_trials", "budget"):
        if key in table:
            raise reader.error(_SECTION, f"{key!r} belongs in each [[search.stages]] table with strategy "
                                         f"'coarse-to-fine'")
    stages = reader.get(_SECTION, table, "stages", "list", required=True)
    if not stages:
        raise reader.error(_SECTION, "'stages' is empty; add [[search.stages]] tables")
    plans = []
    for i, stage in enumerate(stages, 1):
        where = f"[[search.stages]] #{i}"
        if not isinstance(stage, dict):
            raise reader.error(where, f"must be a table with n_trials and budget, got {stage!r}")
        reader.check_keys(where, stage, _STAGE_KEYS)
        n = reader.positive_int(where, stage, "n_trials")
        b = reader.budget(where, stage, "budget")
        sampler = reader.get(where, stage, "sampler", "str", default="random")
        if sampler not in SAMPLERS:
            raise reader.unknown(where, "sampler", sampler, SAMPLERS)
        promote = reader.get(where, stage, "promote", "int", default=0)
        if promote:
            if promote < 0:
                raise reader.error(where, f"'promote' must be a non-negative integer, got {promote}")
            if not plans:
                raise reader.error(where, "'promote' continues trials of the stage before, and the first "
                                          "stage has none")
            if b <= plans[-1].budget:
                raise reader.error(where, f"'promote' continues trials of the stage before, so 'budget' must "
                                          f"exceed its {plans[-1].budget}, got {b}")
        plans.append(_stage(reader, where, n, b, sampler, promote))
    return plans


def _single_stage(reader, table, strategy):
    if "stages" in table:
        raise reader.error(_SECTION, f"'stages' needs strategy = 'coarse-to-fine' (got {strategy!r}); use "
                                     f"n_trials and budget instead")
    for key in _NARROWING:
        if key in table:
            raise reader.error(_SECTION, f"{key!r} only applies to strategy 'coarse-to-fine' (got {strategy!r})")
    n, b = reader.positive_int(_SECTION, table, "n_trials"), reader.budget(_SECTION, table, "budget")
    return [_stage(reader, _SECTION, n, b, strategy)]


def _stage(reader, where, n, b, sampler, promote=0):
    try:
        return Stage(n, b, sampler, promote=promote)
    except ValueError as exc:
        raise reader.error(where, one_line(exc).replace("Stage n_trials", "'n_trials'")) from None


def _narrowing(reader, table):
    options = {}
    top = reader.get(_SECTION, table, "top_fraction", "float")
    if top is not None:
        if not 0 < top <= 1:
            raise reader.error(_SECTION, f"'top_fraction' must be in (0, 1], got {top}")
        options["top_fraction"] = float(top)
    margin = reader.get(_SECTION, table, "margin", "float")
    if margin is not None:
        if not (margin >= 0 and math.isfinite(margin)):
            raise reader.error(_SECTION, f"'margin' must be a number >= 0, got {margin}")
        options["margin"] = float(margin)
    move = reader.get(_SECTION, table, "move_edges", "bool")
    if move is not None:
        options["move_edges"] = move
    return options


def _points(reader, table, space, samplers_used):
    if "points" not in table:
        return None
    if "grid" not in samplers_used:
        raise reader.error(_SECTION, "'points' only applies to the grid sampler, which this study does not use")
    value = table["points"]
    numeric = [n for n, d in space.items() if d.ordered]
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise reader.error(_SECTION, f"'points' must be a positive integer, got {value}")
        return {n: value for n in numeric}
    if not isinstance(value, dict):
        raise reader.error(_SECTION, f"'points' must be an integer or a table {{ param = k }}, got {value!r}")
    for name, k in value.items():
        if name not in space:
            raise reader.unknown(f"{_SECTION} 'points':", "parameter", name, numeric)
        if name not in numeric:
            raise reader.error(_SECTION, f"'points' {name!r} is not a numeric range")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise reader.error(_SECTION, f"'points' {name!r} must be a positive integer, got {k!r}")
    return dict(value)


def _check_sampler_options(reader, plan, samplers):
    """Build every sampler that takes the options, so a bad one fails now, listing the valid ones."""
    if not plan.sampler_options:
        return
    takers = sorted(set(samplers) - {"random", "grid"})
    if not takers:
        raise reader.error(f"{_SECTION} 'sampler_options'", "apply to Sobol's and Optuna's samplers, which "
                                                            "this study does not use (grid takes 'points')")
    for name in takers:
        try:
            plan.sampler(name)
        except ValueError as exc:
            raise reader.error(f"{_SECTION} 'sampler_options'", one_line(exc)) from None


def _n_jobs(reader, table):
    n_jobs = reader.get(_SECTION, table, "n_jobs", "int")
    if n_jobs is not None and (n_jobs == 0 or n_jobs < -1):
        raise reader.error(_SECTION, f"'n_jobs' must be a positive integer or -1 (all cores), got {n_jobs}")
    return n_jobs


def _backend(reader, table):
    from hpsearch.execution.backends import BACKENDS

    backend = reader.get(_SECTION, table, "backend", "str")
    if backend is not None and backend not in BACKENDS:
        raise reader.unknown(_SECTION, "backend", backend, tuple(BACKENDS))
    return backend


def _trial_timeout(reader, table, backend):
    """``trial_timeout``: seconds one objective call may take (a positive number), or None."""
    from hpsearch.execution.backends import check_trial_timeout

    value = reader.get(_SECTION, table, "trial_timeout", "float")
    if value is None:
        return None
    try:
        return check_trial_timeout(value, backend or "loky")
    except ValueError as exc:  # "trial_timeout must be ...": the key as the file spells it
        raise reader.error(_SECTION, f"'trial_timeout'{one_line(exc).removeprefix('trial_timeout')}") from None
