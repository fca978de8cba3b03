"""Trial records: the plain dicts every layer passes around, and the one rule for which compete.

A record is ``{"number", "stage", "status", "params", "metrics", "budget", "seed", ...}``
(ARCHITECTURE.md, "Trial records"). A record *competes* when its status is ``"ok"`` and its
metric is a finite number; among competing records, the best is the one whose metric is best
in the study's direction, the lower trial number winning ties. Every module that ranks trials
(the result, the strategies, the confirmation, the edge test) asks this module, so the rule
has one home.
"""
import math

__all__ = ["ROLES", "SELECTIONS", "metric_value", "competing", "at_highest_budget", "rank_key", "ranked",
           "check_selection",
           "best_record", "top_records", "top_configurations", "branch_bests"]

#: The roles of a study's trials: the search's own, the confirmation runs, the test run.
ROLES = ("search", "confirm", "test")
#: How the best trial is chosen: among the ok trials at the highest budget any ok trial reached
#: (a 3-epoch trial is not compared with a 40-epoch one), or among all ok trials.
SELECTIONS = ("highest-budget", "all")


def metric_value(record, metric):
    """``record``'s ``metric`` as a float when the record competes (ok, finite), else None."""
    if record["status"] != "ok":
        return None
    value = record["metrics"].get(metric)
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def competing(records, metric):
    """The records that compete: status ``"ok"`` and a finite ``metric``, in the given order."""
    return [r for r in records if metric_value(r, metric) is not None]


def at_highest_budget(records):
    """The records at the highest budget among ``records`` (all of them when none has a budget)."""
    if not records:
        return []
    top = max(r.get("budget") or 0 for r in records)
    return [r for r in records if (r.get("budget") or 0) == top]


def rank_key(record, metric, direction):
    """Sort key, best first: competing records by metric in ``direction``, then the rest; ties
    by trial number."""
    value = metric_value(record, metric)
    if value is None:
        return (True, 0.0, record["number"])
    return (False, -value if direction == "maximize" else value, record["number"])


def ranked(records, metric, direction):
    """``records`` best first (see :func:`rank_key`); records that do not compete come last."""
    return sorted(records, key=lambda r: rank_key(r, metric, direction))


def check_selection(select):
    """``select`` if it is one of :data:`SELECTIONS`, else ValueError."""
    if select not in SELECTIONS:
        raise ValueError(f"select must be one of {', '.join(SELECTIONS)}, got {select!r}")
    return select


def _selected(records, metric, select):
    check_selection(select)
    pool = competing(records, metric)
    return at_highest_budget(pool) if select == "highest-budget" else pool


def top_records(records, metric, direction, n, select="highest-budget"):
    """The ``n`` best competing records (best first).

    ``select="highest-budget"`` (the default) compares only the records at the highest budget any
    competing record reached; ``"all"`` compares every competing record.
    """
    return ranked(_selected(records, metric, select), metric, direction)[:n]


def best_record(records, metric, direction, select="highest-budget"):
    """The best competing record (see :func:`top_records`), or None."""
    best = top_records(records, metric, direction, 1, select)
    return best[0] if best else None


def top_configurations(records, metric, direction, top, rungs=1):
    """The best ``top`` competing records, one per distinct configuration: those at the highest
    budget, or with ``rungs`` > 1 taken in turn from the ``rungs`` highest budgets reached (the
    best at the highest, the best at the next, ..., then the second best at each), so that a
    configuration stopped one rung short can compete for the confirmation."""
    pool = competing(records, metric)
    budgets = sorted({r.get("budget") or 0 for r in pool}, reverse=True)[:max(1, int(rungs))]
    queues = [ranked([r for r in pool if (r.get("budget") or 0) == b], metric, direction) for b in budgets]
    chosen, seen = [], set()
    for position in range(max((len(q) for q in queues), default=0)):
        for queue in queues:
            if position >= len(queue):
                continue
            key = repr(sorted(queue[position]["params"].items()))
            if key not in seen:
                seen.add(key)
                chosen.append(queue[position])
                if len(chosen) == top:
                    return chosen
    return chosen


def branch_bests(records, metric, direction, name):
    """The best competing record of each value of branch parameter ``name``, best branch first.

    Each branch's best is taken at the highest budget *that branch* reached (a branch stopped at
    a low rung still has a best); branches are ordered by that budget (higher first), then by
    their best's rank. Records without ``name`` (it was not active) take no part.
    """
    by_branch = {}
    for record in competing(records, metric):
        if name in record["params"]:
            by_branch.setdefault(record["params"][name], []).append(record)
    bests = [best_record(group, metric, direction) for group in by_branch.values()]
    return sorted(bests, key=lambda r: (-(r.get("budget") or 0), rank_key(r, metric, direction)))
