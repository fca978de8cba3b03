"""Coarse-to-fine on a space with branches: each parameter narrowed over the trials that have it,
and a branch that is clearly worse than the others dropped.

:func:`narrow_space` (``narrowing.py``) reads one flat space; here it runs once per context of
the space (:meth:`Space.trials_by_context`: the parameters outside the branches over every trial,
each branch's own parameters over that branch's trials), so one branch's range can move out past
an edge while another's shrinks, and a parameter is never narrowed by trials that did not have it.

The branch parameter itself is not narrowed like a Choice (keeping only what the top trials
used would drop a branch on the luck of a few trials). A branch is dropped only when it is
clearly worse: none of the top trials took it, and a one-sided Mann-Whitney test says its trials
score worse than the other branches' at ``level`` (1%). The caller says so.
"""
import math

from hpsearch.diagnostics.boundary import top_indices
from hpsearch.distributions import Choice
from hpsearch.strategies.narrowing import narrow_space

__all__ = ["narrow_branches", "clearly_worse_branches", "DROP_LEVEL"]

#: The p-value at or below which a branch without top trials is dropped.
DROP_LEVEL = 0.01


def clearly_worse_branches(space, name, params, values, direction, top_fraction=0.2, min_top=3, level=DROP_LEVEL):
    """The branches of branch parameter ``name`` that are clearly worse than the others.

    Args:
        space: the searched :class:`~hpsearch.space.Space`; name: one of its ``branches``.
        params, values: the trials (values None/NaN for trials without a finite metric).
        direction: "minimize" or "maximize".
        top_fraction, min_top: which trials are the top ones (as for narrowing).
        level: the Mann-Whitney p-value at or below which a branch counts as worse.

    Returns:
        list of ``(branch, pvalue)`` in branch order: branches none of the top trials took whose
        trials score worse than the other branches' trials (one-sided test, p <= ``level``).
    """
    from scipy.stats import mannwhitneyu  # scipy.stats is slow to import

    rows = [(p, float(v)) for p, v in zip(params, values)
            if v is not None and math.isfinite(float(v)) and space.is_active(name, p)]
    if not rows:
        return []
    sign = 1.0 if direction == "maximize" else -1.0
    top = {rows[i][0][name] for i in top_indices([v for _, v in rows], direction, top_fraction, min_top)}
    out = []
    for branch in space.branches[name]:
        inside = [sign * v for p, v in rows if p[name] == branch]
        others = [sign * v for p, v in rows if p[name] != branch]
        if branch in top or len(inside) < 2 or len(others) < 2:
            continue
        pvalue = float(mannwhitneyu(inside, others, alternative="less").pvalue)
        if pvalue <= level:
            out.append((branch, pvalue))
    return out


def narrow_branches(space, params, values, direction, top_fraction=0.2, min_top=3, level=DROP_LEVEL,
                    **options):
    """The next coarse-to-fine space of a space with branches.

    Args:
        space, params, values, direction, top_fraction, min_top: as for :func:`narrow_space`.
        level: see :func:`clearly_worse_branches`.
        **options: the other keywords of :func:`narrow_space` (margin, move_edges, ...).

    Returns:
        ``(space, dropped)``: the narrowed space, and ``{branch parameter: [(branch, pvalue)]}``
        for the branches it dropped (with their parameters).
    """
    new = {}
    for names, sub, ps, vs in space.trials_by_context(params, values):
        if not ps:  # a branch no trial took: nothing to narrow from
            continue
        narrowed = narrow_space(sub, ps, vs, direction, top_fraction=top_fraction, min_top=min_top, **options)
        new.update((n, narrowed[n]) for n in names if n not in space.branches)
    dropped = {}
    for name, branches in space.branches.items():
        worse = clearly_worse_branches(space, name, params, values, direction, top_fraction, min_top, level)
        if worse:
            gone = {b for b, _ in worse}
            new[name] = Choice([b for b in branches if b not in gone])
            dropped[name] = worse
    return space.replace(new), dropped
