"""The follow-up stage: a few trials that settle an edge the search left unproven.

A search often ends with an edge that looks suggestive but is not proven: the top trials lean
toward it (the shift part of the edge test of :mod:`hpsearch.diagnostics.edge_test` has a
p-value at most :attr:`FollowUp.suspect_level`) but the test does not flag it, or a study too
small to test has its best value in an edge zone (the heuristic of
:mod:`hpsearch.diagnostics.boundary`). What would settle it lies just past the edge, where no
trial went. So, per suspect edge (at most :attr:`FollowUp.max_edges`, most suggestive first),
the follow-up runs :attr:`FollowUp.trials_per_edge` trials through the best trial: its other
parameters kept, the suspect one placed one step inside the edge for half of them and one step
outside for the other half (a step is one decade on a log range, one range-width on a linear
one; each trial drawn in the outer quarter of its step, in unit / log space, clipped to the
parameter's hard bounds: far enough apart that the metric can differ, spread so that a
deterministic objective is not asked the same point twice).

The edge is **confirmed** when the trials outside score better than those inside (one-sided
Mann-Whitney U at the edge test's level): the metric keeps improving past the edge, so the
range should widen. It is **cleared** otherwise: for a basin that rises alike on both sides of
its optimum, an optimum inside the edge makes the inside trials the better ones, so a cleared
edge is the usual answer for an interior optimum near the edge. A confirmed edge becomes a flag
with ``evidence="follow-up"``; a cleared one removes the heuristic's flag on it. Follow-up
trials are ordinary trials of the study (role "search", one stage per probed edge, labelled
``follow_up = "name:edge"``): stored, resumable, their positions drawn from seeds derived from
the study seed, so the same for any ``n_jobs``.
"""
import math
from dataclasses import asdict, dataclass

import numpy as np

from hpsearch import seeding
from hpsearch.checks import positive_int
from hpsearch.diagnostics.boundary import (BoundaryFlag, EDGES, at_hard_bound, evidence_by_param, format_value,
                                           find_boundary_flags, ok_trials, tested_trials, top_indices, widened_edge)
from hpsearch.diagnostics.edge_test import EDGE_LEVEL
from hpsearch.distributions import IntUniform
from hpsearch.records import competing

__all__ = ["FollowUp", "EdgeOutcome", "LABEL", "suspect_edges", "probe_space", "probe_params", "settle",
           "follow_up_rounds", "probes_of", "follow_up_outcomes", "outcome_flags"]

#: The record key naming the edge a follow-up trial probes, ``"name:edge"``.
LABEL = "follow_up"


@dataclass(frozen=True)
class FollowUp:
    """How the follow-up stage probes suspect edges.

    Args:
        trials_per_edge: trials per suspect edge (positive int).
        max_edges: at most this many edges probed, most suggestive first (positive int).
        suspect_level: an unflagged edge toward which the top trials lean (the shift part of
            the edge test at a p-value at most this; in (0.025, 1)) is suspect; so is any edge
            the small-study heuristic flagged.
    """

    trials_per_edge: int = 10
    max_edges: int = 2
    suspect_level: float = 0.2

    def __post_init__(self):
        positive_int(self.trials_per_edge, "follow_up trials_per_edge")
        positive_int(self.max_edges, "follow_up max_edges")
        s = self.suspect_level
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not EDGE_LEVEL < s < 1:
            raise ValueError(f"follow_up suspect_level must be a number in ({EDGE_LEVEL}, 1), got {s!r}")

    def to_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class EdgeOutcome:
    """What a follow-up found at one edge.

    Attributes:
        param, edge: the probed edge.
        trials: follow-up trials run for it (ok or not).
        pvalue: the one-sided Mann-Whitney p-value of "the trials outside the edge score better
            than those inside" (1.0 with fewer than two ok trials on a side).
        confirmed: True if the metric keeps improving past the edge (``pvalue <= level``).
        top_beyond: share of the outside trials that beat every inside one.
    """

    param: str
    edge: str
    trials: int
    pvalue: float
    confirmed: bool
    top_beyond: float = 0.0

    def __str__(self):
        verdict = "confirmed: the metric keeps improving past it" if self.confirmed else \
            "cleared: the metric does not clearly improve past it"
        return (f"{self.param} {self.edge} edge: {verdict} ({self.trials} follow-up trials, "
                f"p={self.pvalue:.2g})")


def _step(dist):
    """One decade (log ranges) or one range-width (linear), in unit space."""
    if dist.log:
        lo, hi = dist.low, dist.high
        if isinstance(dist, IntUniform):
            lo, hi = lo - 0.5, hi + 0.5
        return 1.0 / math.log10(hi / lo)
    return 1.0


def suspect_edges(space, params, values, direction, settings, level=EDGE_LEVEL):
    """The edges to probe, most suggestive first: ``[(name, edge), ...]``.

    Args:
        space, params, values, direction: the search's trials, as for
            :func:`~hpsearch.diagnostics.boundary.find_boundary_flags`.
        settings: a :class:`FollowUp`.
        level: the edge test's level (an edge at or below it is already proven).

    Only a parameter the best trial has is probed (the probes move it in the best trial's
    params): in a space with branches, one of another branch is not.
    """
    params, values = ok_trials(params, values, direction)
    if not values:
        return []
    best = params[top_indices(values, direction)[0]]
    flags = find_boundary_flags(space, params, values, direction, level=level)
    proven = {(f.param, f.edge) for f in flags if f.evidence in ("strong", "moderate")}
    candidates = [(0.0, f.param, f.edge) for f in flags if f.evidence == "heuristic"]
    for name, evidence in evidence_by_param(space, params, values, direction).items():
        for edge in EDGES:
            ev = evidence[edge]
            # the top trials lean toward the edge (the shift part); the trend part is the one
            # that lacks trials near the edge, which is what the follow-up supplies
            if ev.pvalue > level and ev.shift <= settings.suspect_level and (name, edge) not in proven \
                    and not at_hard_bound(space[name], edge):
                candidates.append((ev.pvalue, name, edge))
    seen, out = set(), []
    for _, name, edge in sorted(candidates, key=lambda c: (c[0], list(space).index(c[1]), c[2])):
        if (name, edge) in seen or (name, edge) in proven or name not in best:
            continue
        seen.add((name, edge))
        out.append((name, edge))
    return out[:settings.max_edges]


def probe_space(space, name, edge):
    """``space`` with ``name``'s range replaced by one step on either side of ``edge`` (what the
    follow-up stage of that edge samples, as its stage records)."""
    dist = space[name]
    s = _step(dist)
    centre = 1.0 if edge == "high" else 0.0
    low, high = dist.from_unit(centre - s), dist.from_unit(centre + s)
    if not low < high:
        return space
    return space.replace({name: dist.with_range(low, high)})


def probe_params(space, best, name, edge, n, seed):
    """``n`` follow-up parameter dicts for one edge: ``best`` with ``name`` one step inside the
    edge (the first ``n // 2``) or outside it (the rest), each drawn in the outer quarter of its
    step in unit space (``seed``: an int)."""
    dist = space[name]
    s = _step(dist)
    rng = np.random.default_rng(seed)
    inward = -1.0 if edge == "high" else 1.0
    centre = 1.0 if edge == "high" else 0.0
    out = []
    for i in range(n):
        side = inward if i < n // 2 else -inward
        u = centre + side * s * (0.75 + 0.25 * float(rng.random()))
        out.append({**best, name: dist.from_unit(u)})
    return out


def follow_up_rounds(ctx, first_stage, space, params, values, budget, settings, stage_factory):
    """The follow-up round (a generator, one round): probes the suspect edges of the trials
    ``params``/``values`` searched over ``space``; returns the follow-up records.

    ``stage_factory(index, space, n)`` gives the :class:`~hpsearch.strategies.stage.Stage` to
    record for the probe of one edge (stage ``first_stage``, ``first_stage + 1``, ...).
    """
    ok_params, ok_values = ok_trials(params, values, ctx.direction)
    if not ok_values:
        return []
    best = ok_params[top_indices(ok_values, ctx.direction)[0]]
    requests = []
    for i, (name, edge) in enumerate(suspect_edges(space, params, values, ctx.direction, settings)):
        probed = probe_space(space, name, edge)
        if probed is space:
            continue
        stage, n = first_stage + i, settings.trials_per_edge
        ctx.begin_stage(stage_factory(stage, probed, n))
        requests += [ctx.request(stage, p, budget, **{LABEL: f"{name}:{edge}"})
                     for p in probe_params(space, best, name, edge, n, seeding.sampler_seed(ctx.seed, stage))]
    if not requests:
        return []
    return (yield requests)


def settle(space, records, metric, direction, level=EDGE_LEVEL):
    """The outcome of each edge the follow-up ``records`` probed.

    Args:
        space: the searched space (the stage the flags read): where each edge lies.
        records: the follow-up trials (with their :data:`LABEL`).
        metric, direction: the study's.
        level: the level of the one-sided test "outside scores better than inside".

    Returns:
        list of :class:`EdgeOutcome`, in the order the edges were probed.
    """
    sign = 1.0 if direction == "maximize" else -1.0
    out = []
    for (name, edge), n in probes_of(records).items():
        dist = space[name]
        inside, outside = [], []
        for r in competing([r for r in records if r.get(LABEL) == f"{name}:{edge}"], metric):
            beyond = r["params"][name] > dist.high if edge == "high" else r["params"][name] < dist.low
            (outside if beyond else inside).append(sign * r["metrics"][metric])
        pvalue = 1.0
        if len(inside) >= 2 and len(outside) >= 2 and len(set(inside + outside)) > 1:
            from scipy import stats  # slow to import: only when a follow-up is tested
            pvalue = float(stats.mannwhitneyu(outside, inside, alternative="greater").pvalue)
            pvalue = pvalue if math.isfinite(pvalue) else 1.0
        better = sum(1 for v in outside if v > max(inside)) / len(outside) if inside and outside else 0.0
        out.append(EdgeOutcome(name, edge, n, pvalue, pvalue <= level, better))
    return out


def probes_of(records):
    """``{(name, edge): trials}`` of the follow-up records, in the order they were probed."""
    probes = {}
    for r in records:
        label = r.get(LABEL)
        if label:
            name, edge = label.rsplit(":", 1)
            probes[(name, edge)] = probes.get((name, edge), 0) + 1
    return probes


def outcome_flags(flags, outcomes, space, best_params):
    """``flags`` settled by ``outcomes``: a confirmed edge gains a ``"follow-up"`` flag (unless a
    tested flag already holds it), a cleared one loses the heuristic's flag on it."""
    settled = {(o.param, o.edge): o for o in outcomes}
    kept = [f for f in flags if not ((f.param, f.edge) in settled and f.evidence == "heuristic")]
    have = {(f.param, f.edge) for f in kept}
    for o in outcomes:
        if not o.confirmed or (o.param, o.edge) in have:
            continue
        dist = space[o.param]
        fmt = lambda x: format_value(dist, x)  # noqa: E731
        target, hit = widened_edge(dist, o.edge)
        value = best_params.get(o.param, dist.high if o.edge == "high" else dist.low)
        suggestion = (f"{o.param}: {o.trials} follow-up trials {'a decade' if dist.log else 'a range-width'} either "
                      f"side of the {o.edge} edge of [{fmt(dist.low)}, {fmt(dist.high)}] confirm that the metric "
                      f"keeps improving past it (those outside score better; best {fmt(value)}); widen {'below' if o.edge == 'low' else 'above'}, "
                      f"e.g. to {fmt(target)}{' (its hard bound)' if hit else ''}")
        kept.append(BoundaryFlag(param=o.param, edge=o.edge, value=value, low=dist.low, high=dist.high,
                                 suggestion=suggestion, top_share=o.top_beyond, pvalue=o.pvalue,
                                 evidence="follow-up"))
    order = {name: i for i, name in enumerate(space)}
    return sorted(kept, key=lambda f: (order.get(f.param, len(order)), EDGES.index(f.edge)))


def follow_up_outcomes(records, stages, metric, direction, level=EDGE_LEVEL):
    """``(space, outcomes)`` of a study's follow-up: the space the flags read (the stage holding
    the best search trial) and an :class:`EdgeOutcome` per probed edge; ``(None, [])`` without
    a follow-up.

    Args:
        records: the study's search records, follow-up trials (with their :data:`LABEL`) included.
        stages: the study's stages as they ran (with their spaces).
        metric, direction: the study's.
    """
    follow = [r for r in records if r.get(LABEL)]
    space, _ = tested_trials([r for r in records if not r.get(LABEL)], stages, metric, direction)
    if not follow or space is None:
        return None, []
    return space, settle(space, follow, metric, direction, level)
