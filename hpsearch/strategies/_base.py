"""The strategy protocol: strategies propose rounds of trials; the run loop runs them.

A strategy is a generator of rounds. It yields a list of :class:`TrialRequest` (one
round), receives the finished records of that round (plain dicts, in the same order),
and yields the next round, until it returns. Every decision it takes depends only on
those records, never on timing, so the same seed gives the same trials whatever runs
them; a resumed study replays the same rounds, getting the stored records back at once.

The run loop hands the generator a context (:class:`RunContext`) through which the
strategy numbers its trials, records its stages and learns what the objective supports.
"""
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

__all__ = ["Strategy", "TrialRequest", "RunContext", "PlanDescription", "DEFAULT_BATCH"]

#: Trials asked at a time from an adaptive sampler (Optuna's TPE, ...) unless the study says
#: otherwise. Fixed, not n_jobs: the proposals must not depend on how many workers run them.
DEFAULT_BATCH = 4


@dataclass(frozen=True)
class TrialRequest:
    """One trial to run: what the run loop needs, and the labels its row carries.

    Attributes:
        number: the trial number across the whole study (0, 1, ... in proposal order).
        stage: the stage (round group) it belongs to.
        params: the parameter values (plain Python types).
        budget: the budget the trial reaches (epochs for the MLP).
        seed: the seed handed to the objective.
        continue_from: number of the stored trial whose checkpoint this one continues
            (same params and seed, smaller budget), or None to train from scratch.
        keep_checkpoint: a later round may continue this trial: keep its checkpoint.
        final: the final evaluation: call the objective with ``final=True`` (test metrics).
        labels: extra plain values for the trial's row (e.g. ``bracket``, ``rung``).
    """

    number: int
    stage: int
    params: dict
    budget: int
    seed: int
    continue_from: int = None
    keep_checkpoint: bool = False
    labels: dict = field(default_factory=dict)
    final: bool = False


class RunContext(ABC):
    """What a strategy sees of the run: the study's settings and a few services."""

    space = None        # the study's Space (hard bounds applied)
    metric = None
    direction = None
    seed = None         # the study seed
    name = None         # the study name
    supports_final = False   # the objective takes final=True (held-out test metrics)

    @abstractmethod
    def begin_stage(self, stage):
        """Record ``stage`` (a :class:`~hpsearch.strategies.stage.Stage` with index and space set) before
        its trials run; a resumed study checks it against the stored one."""

    @abstractmethod
    def request(self, stage, params, budget, continue_from=None, seed=None, keep_checkpoint=False, final=False,
                number=None, **labels):
        """A :class:`TrialRequest` with the next trial number (or ``number``, one of a block from
        :meth:`reserve`) and (unless given) its own seed."""

    @abstractmethod
    def reserve(self, n):
        """Reserve the next ``n`` trial numbers (for a lane that runs side by side with others);
        returns the first. Later :meth:`request` calls number after the block."""

    def lane(self, first):
        """A context whose :meth:`request` numbers trials ``first, first + 1, ...`` (a lane's block
        from :meth:`reserve`), so a lane's numbers never depend on when its rounds run."""
        return _LaneContext(self, first)

    @abstractmethod
    def release(self, numbers):
        """The checkpoints of trials ``numbers`` will not be continued: they may be deleted."""


@dataclass(frozen=True)
class PlanDescription:
    """What ``--dry-run`` (and a run's header) prints of a strategy's plan.

    Attributes:
        steps: one line per stage or bracket.
        total: the plan's size, e.g. ``"16 trials, 24 epochs"`` (the CLI adds the workers).
        after: lines for what runs after the search (the confirmation).
    """

    steps: tuple
    total: str
    after: tuple = ()


class _LaneContext(RunContext):
    """A :class:`RunContext` seen by one lane: the same study, its own block of trial numbers."""

    def __init__(self, ctx, first):
        self._ctx, self._next = ctx, first
        self.space, self.metric, self.direction = ctx.space, ctx.metric, ctx.direction
        self.seed, self.name, self.supports_final = ctx.seed, ctx.name, ctx.supports_final

    def begin_stage(self, stage):
        self._ctx.begin_stage(stage)

    def request(self, stage, params, budget, continue_from=None, seed=None, keep_checkpoint=False, final=False,
                number=None, **labels):
        if number is None:
            number, self._next = self._next, self._next + 1
        return self._ctx.request(stage, params, budget, continue_from=continue_from, seed=seed,
                                 keep_checkpoint=keep_checkpoint, final=final, number=number, **labels)

    def reserve(self, n):
        raise RuntimeError("a lane cannot reserve trial numbers: when it runs depends on timing, so the "
                           "numbers would too; reserve every lane's block before yielding SideBySide")

    def release(self, numbers):
        self._ctx.release(numbers)


class Strategy(ABC):
    """Base of every search strategy (see the module docstring for the protocol).

    Besides :meth:`spec`, :meth:`rounds` and :meth:`planned_stages`, a strategy answers what
    the run loop and the CLI ask of every strategy alike; the defaults here fit a strategy
    whose planned stages are its whole cost and that narrows nothing.
    """

    name = None   # the strategy's name in the registry (``planning.STRATEGIES``)

    @abstractmethod
    def spec(self):
        """JSON-able settings that identify the search (stored with the study, checked on resume)."""

    @abstractmethod
    def rounds(self, ctx):
        """The generator of rounds: yields lists of :class:`TrialRequest`, receives their records."""

    def settle_flags(self, flags, records, stages, metric, direction):
        """The edge flags as the strategy's own evidence leaves them: unchanged by default; a
        coarse-to-fine run with a follow-up stage confirms or clears its suspect edges here."""
        return flags

    def boundary_trials(self, records, stages, metric, direction):
        """``(space, ok records)`` the edge test reads: by default the stage holding the best
        trial, over that stage's space (coarse-to-fine narrows the space stage by stage); the rule
        is :func:`~hpsearch.diagnostics.boundary.tested_trials`."""
        from hpsearch.diagnostics.boundary import tested_trials

        return tested_trials(records, stages, metric, direction)

    @abstractmethod
    def planned_stages(self, space, seed, direction):
        """The stages this strategy will run, as :class:`~hpsearch.strategies.stage.Stage` plans (for
        ``--dry-run`` and accounting); counts of later stages may be upper bounds."""

    def planned(self, space, seed, direction):
        """:meth:`planned_stages`, computed once per strategy and arguments (a grid's size is
        found by starting its sampler: the CLI's header and the run loop share one answer)."""
        last = self.__dict__.get("_planned_last")
        if last is None or last[:3] != (space, seed, direction):
            last = (space, seed, direction, tuple(self.planned_stages(space, seed, direction)))
            self.__dict__["_planned_last"] = last
        return list(last[3])

    def planned_epochs(self, planned):
        """Epochs the search trains, given its ``planned`` stages (continued trials count only
        the epochs they add)."""
        return sum(s.epochs for s in planned)

    def planned_extra_trials(self):
        """Trials run after the search (confirmation, test), besides the ``planned`` stages."""
        return 0

    def planned_extra_epochs(self, planned):
        """Epochs of the trials of :meth:`planned_extra_trials`."""
        return 0

    def narrowing_options(self):
        """The :class:`~hpsearch.strategies.Narrowing` whose ``top_fraction`` and ``min_top`` the
        edge test shares, or None (the edge test's defaults)."""
        return None

    def describe(self, planned):
        """A :class:`PlanDescription` of ``planned`` (from :meth:`planned_stages`) for ``--dry-run``."""
        steps = tuple(f"  stage {s.index}: {s.n_trials} trials x {s.budget} epochs, {s.sampler}" for s in planned)
        return PlanDescription(steps, f"{sum(s.n_trials for s in planned)} trials, "
                                      f"{self.planned_epochs(planned)} epochs")
