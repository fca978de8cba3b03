"""Confirmation after the search, then the test set once (the lecture's last two steps).

The best of many noisy measurements is partly luck: on the main job, validation accuracy
is measured on 360 images and moves by ±0.01 from epoch to epoch. So the top candidates
are trained again with fresh seeds at the search's highest budget, the winner is chosen by
their mean, and only that winner is evaluated on the held-out test set, once, after the
choice (``objective(..., final=True)``).

Confirmation and test runs are trials like any other: stored, resumable, parallel and the
same for any ``n_jobs``. They carry ``role = "confirm"`` / ``"test"`` and never reach the
samplers, narrowing, boundary flags, the best trial or the plots of the search.
"""
import math
from dataclasses import asdict, dataclass

import numpy as np

from hpsearch import seeding
from hpsearch.checks import positive_int
from hpsearch.records import branch_bests, top_configurations
from hpsearch.strategies import PlanDescription, Strategy

__all__ = ["Confirmation", "Confirmed", "ConfirmationReport", "confirmation_report", "welch_pvalue"]


@dataclass(frozen=True)
class Confirmation:
    """How to confirm a search's winner.

    Args:
        top: how many of the best distinct configurations to train again (positive int).
        seeds: fresh seeds per configuration (positive int; 2 or more to see a spread).
        test: evaluate the confirmed winner once on the test set (when the objective takes
            ``final=True``).
        per_branch: the name of a branch parameter (e.g. ``"optimizer"``) to confirm the best
            configuration of each of the ``top`` best branches instead of the ``top`` best
            configurations, so the winner's lead is over the runner-up *branch*; None (default).
        rungs: take the candidates in turn from the ``rungs`` highest budgets a multi-fidelity
            search reached (1, the default: the highest only; see
            :func:`~hpsearch.records.top_configurations`).
    """

    top: int = 3
    seeds: int = 5
    test: bool = True
    per_branch: str = None
    rungs: int = 1

    def __post_init__(self):
        positive_int(self.top, "confirm top")
        positive_int(self.seeds, "confirm seeds")
        positive_int(self.rungs, "confirm rungs")
        object.__setattr__(self, "test", bool(self.test))
        if self.per_branch is not None and (not isinstance(self.per_branch, str) or not self.per_branch):
            raise ValueError(f"confirm per_branch must be the name of a branch parameter, got {self.per_branch!r}")

    def to_dict(self):
        d = asdict(self)
        if d["per_branch"] is None:  # stored specs from before per_branch stay equal
            del d["per_branch"]
        if d["rungs"] == 1:  # likewise for rungs
            del d["rungs"]
        return d


class Confirmed(Strategy):
    """``strategy``'s search, then the confirmation and test rounds of ``confirmation``."""

    def __init__(self, strategy, confirmation):
        self.strategy, self.confirmation = strategy, confirmation
        self.name = strategy.name

    def spec(self):
        return {**self.strategy.spec(), "confirm": self.confirmation.to_dict()}

    def planned_stages(self, space, seed, direction):
        return self.strategy.planned_stages(space, seed, direction)

    def boundary_trials(self, records, stages, metric, direction):
        return self.strategy.boundary_trials(records, stages, metric, direction)

    def settle_flags(self, flags, records, stages, metric, direction):
        return self.strategy.settle_flags(flags, records, stages, metric, direction)

    def planned_epochs(self, planned):
        return self.strategy.planned_epochs(planned)

    def narrowing_options(self):
        return self.strategy.narrowing_options()

    def describe(self, planned):
        inner, c = self.strategy.describe(planned), self.confirmation
        budget = max((s.budget for s in planned), default=0)
        tested = "; then the winner is evaluated on the test set once" if c.test else ""
        what = f"the top {c.top}" if c.per_branch is None else \
            f"the best configuration of each of the top {c.top} {c.per_branch} branches"
        if c.per_branch is None and c.rungs > 1:
            what += f" (taken in turn from the {c.rungs} highest budgets)"
        line = (f"then confirm: {what} trained again with {c.seeds} fresh seeds at budget {budget} "
                f"({c.top * c.seeds * budget} epochs){tested}")
        return PlanDescription(inner.steps, inner.total, inner.after + (line,))

    def planned_extra_trials(self):
        c = self.confirmation
        return c.top * c.seeds + (1 if c.test else 0)

    def planned_extra_epochs(self, planned):
        """Epochs of the confirmation and test runs: each trains at the search's highest
        budget among ``planned`` (its :class:`~hpsearch.strategies.stage.Stage` plans)."""
        return self.planned_extra_trials() * max((s.budget for s in planned), default=0)

    def rounds(self, ctx):
        searched = []
        inner = self.strategy.rounds(ctx)
        requests = next(inner, None)
        while requests is not None:
            records = yield requests
            searched.extend(records)
            try:
                requests = inner.send(records)
            except StopIteration:
                requests = None
        yield from self._confirm(ctx, searched)

    def _confirm(self, ctx, searched):
        name, top = self.confirmation.per_branch, self.confirmation.top
        if name is None:
            candidates = top_configurations(searched, ctx.metric, ctx.direction, top, self.confirmation.rungs)
        else:
            candidates = branch_bests(searched, ctx.metric, ctx.direction, name)[:top]
        if not candidates:
            return
        stage = 1 + max(r["stage"] for r in searched)
        # every candidate trains at the search's highest budget (a branch's best may come from a
        # lower rung: the fresh runs then compare the branches at equal budget)
        budget = max(c["budget"] for c in candidates)
        seeds = self.confirmation.seeds
        requests = [ctx.request(stage, c["params"], budget, seed=seeding.confirm_seed(ctx.seed, rank, k),
                                role="confirm", candidate=rank, confirms=c["number"])
                    for rank, c in enumerate(candidates) for k in range(seeds)]
        records = yield requests
        report = confirmation_report(records, ctx.metric, ctx.direction)
        if not self.confirmation.test or report.winner is None or not ctx.supports_final:
            return
        winner = report.winner
        # the test model is the winner's first confirmation run, trained again with final=True
        yield [ctx.request(stage + 1, winner["params"], budget, seed=winner["seeds"][0], role="test",
                           candidate=winner["candidate"], final=True)]


@dataclass
class ConfirmationReport:
    """The confirmation runs summarised.

    Attributes:
        candidates: one dict per candidate, in search rank order: ``candidate`` (rank),
            ``confirms`` (its search trial), ``params``, ``values`` (per seed), ``seeds``,
            ``mean``, ``std`` (NaN with one value), ``ok`` (runs that finished ok).
        winner: the candidate with the best mean (ties: the better search rank), or None.
        within_noise: the winner's lead over the runner-up is within noise (Welch's t-test,
            p >= 0.05, or fewer than two runs each); None with one candidate.
        pvalue: that test's p-value (None when it cannot be computed).
    """

    candidates: list
    winner: dict = None
    within_noise: bool = None
    pvalue: float = None


def confirmation_report(records, metric, direction):
    """A :class:`ConfirmationReport` of ``records`` (the study's ``role="confirm"`` trials)."""
    groups = {}
    for r in sorted(records, key=lambda r: r["number"]):
        if r.get("role") == "confirm":
            groups.setdefault(r["candidate"], []).append(r)
    candidates = []
    for rank in sorted(groups):
        runs = groups[rank]
        values = [r["metrics"].get(metric, math.nan) if r["status"] == "ok" else math.nan for r in runs]
        finite = [v for v in values if math.isfinite(v)]
        candidates.append({"candidate": rank, "confirms": runs[0].get("confirms"), "params": dict(runs[0]["params"]),
                           "values": values, "seeds": [r["seed"] for r in runs], "ok": len(finite),
                           "mean": float(np.mean(finite)) if finite else math.nan,
                           "std": float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan})
    scored = [c for c in candidates if c["ok"]]
    if not scored:
        return ConfirmationReport(candidates)
    sign = -1.0 if direction == "maximize" else 1.0
    ranked = sorted(scored, key=lambda c: (sign * c["mean"], c["candidate"]))
    report = ConfirmationReport(candidates, winner=ranked[0])
    if len(ranked) > 1:
        report.pvalue, report.within_noise = _lead_test(ranked[0], ranked[1])
    return report


def _lead_test(first, second):
    a = [v for v in first["values"] if math.isfinite(v)]
    b = [v for v in second["values"] if math.isfinite(v)]
    if len(a) < 2 or len(b) < 2:
        return None, True
    if np.std(a) == 0 and np.std(b) == 0:
        return (0.0, False) if np.mean(a) != np.mean(b) else (1.0, True)
    p = welch_pvalue(a, b)
    return p, not p < 0.05


def welch_pvalue(a, b):
    """Two-sided p-value of Welch's t-test of samples ``a`` and ``b`` (two or more values each,
    not both constant): ``scipy.stats.ttest_ind(a, b, equal_var=False).pvalue``, computed here from
    the regularised incomplete beta function (``2 * P(T_df > |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2)``)
    because importing scipy's statistics costs a re-run of a finished study most of its second."""
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    t = (np.mean(a) - np.mean(b)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return float(_betainc(df / 2, 0.5, df / (df + t * t)))


def _betainc(a, b, x):
    """The regularised incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1 (a continued
    fraction, Numerical Recipes' ``betai``; relative error below 1e-12)."""
    if x <= 0.0 or x >= 1.0:
        return 0.0 if x <= 0.0 else 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def _beta_fraction(a, b, x, tiny=1e-300, eps=1e-15):
    """The continued fraction of the incomplete beta function (modified Lentz's method)."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h
