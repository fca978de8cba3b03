"""Coarse-to-fine: stages in order, each over the space narrowed around the last one's best.

A single stage is plain random / grid / Sobol / Optuna search, so :meth:`Study.optimize`
is coarse-to-fine with one stage. After stage k, every numeric range shrinks to the
span of stage k's top trials (or moves outward past an edge the best trials sit on),
see :func:`hpsearch.strategies.narrowing.narrow_space`. A space with branches narrows each
parameter over the trials that have it and may drop a clearly worse branch, with a warning
(:mod:`hpsearch.strategies.branch_narrowing`).
"""
import math
import warnings
from dataclasses import asdict, dataclass

from hpsearch import seeding
from hpsearch.checks import positive_int
from hpsearch.records import best_record, competing, ranked
from hpsearch.strategies.stage import Stage
from hpsearch.strategies._base import DEFAULT_BATCH, PlanDescription, Strategy

__all__ = ["CoarseToFine", "Narrowing"]


@dataclass(frozen=True)
class Narrowing:
    """How coarse-to-fine narrows the space between stages (see ``narrow_space``).

    Args:
        top_fraction: the share of a stage's ok trials that count as its top ones, in (0, 1].
        min_top: at least this many top trials (positive int).
        margin: padding on each side, as a fraction of the top trials' span (>= 0).
        move_edges: move a range outward when its best trials sit at an edge.
        follow_up: after the last stage, probe the edges it left suspect but unproven with a
            short follow-up stage (:mod:`hpsearch.strategies.follow_up`).
    """

    top_fraction: float = 0.2
    min_top: int = 3
    margin: float = 0.25
    move_edges: bool = True
    follow_up: bool = False

    def __post_init__(self):
        if isinstance(self.top_fraction, bool) or not 0 < self.top_fraction <= 1:
            raise ValueError(f"top_fraction must be in (0, 1], got {self.top_fraction!r}")
        positive_int(self.min_top, "min_top")
        if isinstance(self.margin, bool) or not (self.margin >= 0 and math.isfinite(self.margin)):
            raise ValueError(f"margin must be a number >= 0, got {self.margin!r}")
        object.__setattr__(self, "move_edges", bool(self.move_edges))
        object.__setattr__(self, "follow_up", bool(self.follow_up))

    def to_dict(self):
        d = asdict(self)
        if not self.follow_up:  # studies stored before the follow-up existed keep their identity
            del d["follow_up"]
        else:
            from hpsearch.strategies.follow_up import FollowUp

            d["follow_up"] = FollowUp().to_dict()
        return d


class CoarseToFine(Strategy):
    """Run ``stages`` in order, each in the space narrowed around the previous stage's best trials.

    Args:
        stages: a list of :class:`~hpsearch.strategies.stage.Stage` plans (or one Stage).
        narrowing: a :class:`Narrowing` (default settings when None).
        batch_size: trials asked at a time from an adaptive sampler (default
            :data:`DEFAULT_BATCH`); part of the study's identity, since it shapes the proposals.

    Raises:
        ValueError: an empty or malformed stage list, or a bad batch size.
    """

    name = "coarse-to-fine"

    def __init__(self, stages, narrowing=None, batch_size=None):
        if isinstance(stages, Stage):
            stages = [stages]
        stages = list(stages)
        if not stages:
            raise ValueError("stages must hold at least one Stage, got an empty list")
        for i, stage in enumerate(stages):
            if not isinstance(stage, Stage):
                raise ValueError(f"stages[{i}] must be a Stage(n_trials, budget, sampler), got {stage!r}")
            if stage.promote and i == 0:
                raise ValueError("stages[0] cannot promote: no stage runs before it")
            if stage.promote and stage.budget <= stages[i - 1].budget:
                raise ValueError(f"stages[{i}] promotes trials of stage {i - 1}, so its budget must exceed "
                                 f"{stages[i - 1].budget}, got {stage.budget}")
        from hpsearch.samplers import get_sampler

        self.stages = stages
        self.samplers = [get_sampler(stage.sampler) for stage in stages]
        self.narrowing = narrowing if narrowing is not None else Narrowing()
        self.batch_size = DEFAULT_BATCH if batch_size is None else positive_int(batch_size, "batch_size")

    def __repr__(self):
        return f"CoarseToFine({len(self.stages)} stages, {self.narrowing}, batch_size={self.batch_size})"

    def spec(self):
        # keyed by stage index (not a list) so a changed setting is reported as e.g.
        # "stages.1.n_trials: 20 -> 30" by the storage's spec comparison
        stage_specs = {}
        for k, (stage, sampler) in enumerate(zip(self.stages, self.samplers)):
            entry = {"n_trials": stage.n_trials, "budget": stage.budget, "sampler": repr(sampler)}
            if stage.promote:
                entry["promote"] = stage.promote
            if _adaptive(sampler):
                entry["batch_size"] = self.batch_size  # the proposals depend on it
            stage_specs[str(k)] = entry
        return {"stages": stage_specs, "narrowing": self.narrowing.to_dict()}

    def total_epochs(self):
        """Epochs the stages train as asked (a grid may run fewer trials); continued trials count
        only the epochs they add."""
        total = sum(s.epochs for s in self.stages)
        return total + sum(s.promote * (s.budget - prev.budget) for prev, s in zip(self.stages, self.stages[1:]))

    def planned_epochs(self, planned):
        return self.total_epochs()

    def narrowing_options(self):
        return self.narrowing

    def describe(self, planned):
        steps = []
        for stage, asked, sampler in zip(planned, self.stages, self.samplers):
            extra = "" if stage.n_trials == asked.n_trials else f" (its largest grid; {asked.n_trials} asked)"
            steps.append(f"  stage {stage.index}: {stage.n_trials} trials{extra} x {stage.budget} epochs, {sampler!r}")
            shares = getattr(sampler, "branch_shares", None)   # a sampler's optional extra, not the strategy's
            if stage.index == 0 and getattr(stage.space, "is_conditional", False) and callable(shares):
                # a grid over branches: an equal share of the budget per combination of branches
                steps.append("    grid per branch (an equal share each): " + ", ".join(
                    f"{', '.join(f'{k}={v}' for k, v in choice.items())}: {n}"
                    for choice, n in shares(stage.space, asked.n_trials)))
        return PlanDescription(tuple(steps), f"{sum(s.n_trials for s in planned)} trials, "
                                             f"{sum(s.epochs for s in planned)} epochs")

    def planned_stages(self, space, seed, direction):
        planned = []
        for k, (stage, sampler) in enumerate(zip(self.stages, self.samplers)):
            # adaptive samplers propose n_trials by protocol (and starting them is not free);
            # later stages search a narrowed space, so a grid's size there is an upper bound
            n = stage.n_trials if _adaptive(sampler) else \
                int(sampler.start(space, stage.n_trials, seeding.sampler_seed(seed, k), direction))
            planned.append(stage.ran(k, space, repr(sampler), n + self._promoted_count(k, planned)))
        return planned

    def _promoted_count(self, k, planned):
        """How many trials stage ``k`` continues (at most the previous stage's count)."""
        return min(self.stages[k].promote, planned[k - 1].n_trials) if k and self.stages[k].promote else 0

    def rounds(self, ctx):
        space, records, searched, ran = ctx.space, [], [], []
        for k, (stage, sampler) in enumerate(zip(self.stages, self.samplers)):
            n = int(sampler.start(space, stage.n_trials, seeding.sampler_seed(ctx.seed, k), ctx.direction))
            promoted = self._best(ctx, records, stage.promote)
            ran.append(stage.ran(k, space, repr(sampler), n + len(promoted)))
            ctx.begin_stage(ran[-1])
            keep = k + 1 < len(self.stages) and self.stages[k + 1].promote > 0
            continued = []
            if promoted:
                continued = yield [ctx.request(k, r["params"], stage.budget, continue_from=r["number"], seed=r["seed"],
                                               keep_checkpoint=keep) for r in promoted]
            ctx.release([r["number"] for r in records])  # the previous stage's checkpoints are spent
            fresh = yield from self._stage_rounds(ctx, k, stage.budget, sampler, n, keep)
            records = continued + fresh
            searched += records
            if k + 1 < len(self.stages):
                space = self._next_space(ctx, k, space, records)
        if self.narrowing.follow_up:
            yield from self._follow_up(ctx, searched, ran)

    def _follow_up(self, ctx, searched, ran):
        """The follow-up stage after the last one (see :mod:`hpsearch.strategies.follow_up`)."""
        from hpsearch.strategies.follow_up import FollowUp, follow_up_rounds

        space, ok = self.boundary_trials(searched, ran, ctx.metric, ctx.direction)
        if space is None or not ok:
            return
        budget = self.stages[-1].budget
        yield from follow_up_rounds(ctx, len(self.stages), space, [r["params"] for r in ok],
                                    [r["metrics"][ctx.metric] for r in ok], budget, FollowUp(),
                                    lambda i, sp, n: Stage(n, budget).ran(i, sp, "random (follow-up)", n))

    def boundary_trials(self, records, stages, metric, direction):
        from hpsearch.strategies.follow_up import LABEL

        return super().boundary_trials([r for r in records if not r.get(LABEL)], stages, metric, direction)

    def settle_flags(self, flags, records, stages, metric, direction):
        """``flags`` settled by the follow-up's outcomes (unchanged without a follow-up)."""
        from hpsearch.strategies.follow_up import follow_up_outcomes, outcome_flags

        space, outcomes = follow_up_outcomes(records, stages, metric, direction)
        if not outcomes:
            return flags
        return outcome_flags(flags, outcomes, space, best_record(records, metric, direction)["params"])

    @staticmethod
    def _best(ctx, records, m):
        """The best ``m`` ok records (ties by trial number)."""
        return ranked(competing(records, ctx.metric), ctx.metric, ctx.direction)[:m]

    def _stage_rounds(self, ctx, k, budget, sampler, n, keep):
        """Ask, run and (for adaptive samplers) tell the stage's ``n`` new trials; returns their records."""
        adaptive = _adaptive(sampler)
        size = self.batch_size if adaptive else n
        records = []
        for first in range(0, n, size):
            m = min(size, n - first)
            proposals = list(sampler.ask(m))
            if len(proposals) != m:
                raise RuntimeError(f"sampler {sampler!r} returned {len(proposals)} proposals for ask({m})")
            done = yield [ctx.request(k, params, budget, keep_checkpoint=keep) for params in proposals]
            if adaptive:
                for i, (params, record) in enumerate(zip(proposals, done)):
                    value = record["metrics"][ctx.metric] if record["status"] == "ok" else None
                    sampler.tell(first + i, params, value)
            records.extend(done)
        return records

    def _next_space(self, ctx, k, space, records):
        from hpsearch.strategies.narrowing import narrow_space

        ok = [r for r in records if r["status"] == "ok"]
        if not ok:
            warnings.warn(f"stage {k} of study {ctx.name!r} has no ok trial; stage {k + 1} searches the "
                          f"same space", RuntimeWarning, stacklevel=2)
            return space
        n = self.narrowing
        options = dict(top_fraction=n.top_fraction, min_top=n.min_top, margin=n.margin, move_edges=n.move_edges)
        params, values = [r["params"] for r in ok], [r["metrics"][ctx.metric] for r in ok]
        if not space.is_conditional:
            return narrow_space(space, params, values, ctx.direction, **options)
        from hpsearch.strategies.branch_narrowing import narrow_branches

        narrowed, dropped = narrow_branches(space, params, values, ctx.direction, **options)
        for name, worse in dropped.items():
            shown = ", ".join(f"{name}={b!r} (p={p:.1g})" for b, p in worse)
            warnings.warn(f"study {ctx.name!r}: stage {k + 1} drops {shown}: none of stage {k}'s top trials took "
                          f"it and its trials scored worse than the other branches' (one-sided Mann-Whitney test)",
                          UserWarning, stacklevel=2)
        return narrowed


def _adaptive(sampler):
    from hpsearch.samplers import is_adaptive

    return is_adaptive(sampler)
