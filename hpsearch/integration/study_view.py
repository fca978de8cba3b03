"""One stored study as Optuna trials, kept up to date by reading only what changed.

:class:`StudyView` follows a study while it runs (or shows a finished one): each
:meth:`~StudyView.refresh` asks SQLite whether anything was committed since the last look
(``PRAGMA data_version``, microseconds) and then reads only the rows added since
(``Storage.trials_since``), so a refresh of a 5,000-trial study costs milliseconds. The rows
become Optuna trials through the one mapping in :mod:`hpsearch.integration.optuna_trials`;
a configuration the strategy may still continue is RUNNING
(:class:`~hpsearch.integration.pending.PendingTrials`), so a trial once shown finished never
changes.
"""
from hpsearch.integration.findings import note_system_attrs, study_findings
from hpsearch.integration.optuna_trials import (Configurations, check_curves, frozen_trial, optuna_distributions,
                                                stage_space, trial_state)
from hpsearch.integration.pending import PendingTrials, may_prune, planned_top_budget
from hpsearch.records import top_records

__all__ = ["StudyView"]


class StudyView:
    """A stored study seen as Optuna trials.

    Args:
        storage: an open :class:`~hpsearch.storage.storage.Storage` (read-only is enough).
        name: the study's name.
        curves: which configurations carry learning curves: ``"all"``, ``"none"`` or K (the K
            best when shown finished; a configuration keeps what it was shown with).
        lr_range: a callable giving the stored learning-rate range check (or None), read at
            each refresh that finds changes.

    Attributes:
        trials: the Optuna ``FrozenTrial`` list, by trial number.
        user_attrs, system_attrs: the study's attributes (findings, note, metric name).
        direction: ``"maximize"`` or ``"minimize"``.
    """

    def __init__(self, storage, name, curves="all", lr_range=None):
        self._storage = storage
        self.name = name
        self.curves = check_curves(curves)
        self._lr_range = lr_range
        self.study_id, spec = storage.find_study(name)
        self.metric, self.direction = spec["metric"], spec.get("direction", "maximize")
        self._spec = spec
        self._pruning, self._top = may_prune(spec), planned_top_budget(spec)
        self._reset()

    def _reset(self):
        self._pending = PendingTrials(self._spec, self.name)
        self._configs = Configurations()
        self._row, self._version, self._failed = 0, None, 0
        self._numbers = set()        # every stored row read so far
        self._stages = None
        self._encoders = None
        self._observed = False       # a parameter Optuna has no distribution for: spans the values seen
        self._with_curve = set()     # configurations shown with their curve
        self._others = {}            # confirmation and test records by number
        self.trials = []
        self.user_attrs, self.system_attrs = {}, {}

    # ------------------------------------------------------------------ refreshing
    def refresh(self):
        """Read what was stored since the last look; returns True if anything changed."""
        storage = self._storage
        version = storage.data_version()
        if version == self._version:
            return False
        self._version = version
        records, self._row = storage.trials_since(self.study_id, self._row, curves=self.curves != "none")
        self._numbers.update(r["number"] for r in records)
        self._failed += sum(r["status"] == "failed" for r in records)
        # a study started over (--overwrite) has fewer rows; a failed trial run again replaces its
        # row in place (one failed row fewer): both are rare, and read afresh. (More rows than read
        # is a commit that landed since, read next time.)
        if storage.count_trials(self.study_id) < len(self._numbers) or \
                storage.count_trials(self.study_id, "failed") < self._failed:
            self._reset()
            self._version = version
            records, self._row = storage.trials_since(self.study_id, curves=self.curves != "none")
            self._numbers.update(r["number"] for r in records)
            self._failed = sum(r["status"] == "failed" for r in records)
        search = [r for r in records if r.get("role", "search") == "search"]
        self._others.update((r["number"], r) for r in records if r.get("role", "search") != "search")
        stages = storage.load_stages(self.study_id)
        before = set(self._pending.pending)
        changed = {self._configs.add(r) for r in search}
        self._pending.add(search)
        for number in before ^ self._pending.pending:
            index = self._configs.index_of(number)
            if index is not None:
                changed.add(index)
        if stages != self._stages or self._observed:
            # a new stage may widen a range (coarse-to-fine moving out past an edge): every trial
            # then gets the one distribution spanning them all; their values and states stay
            self._stages = stages
            spaces = [stage_space(s["space"]) for s in stages]
            rows = [r for chain in self._configs.chains for r in chain]
            encoders = optuna_distributions(spaces, rows)
            self._observed = any(all(name not in space for space in spaces) for name in encoders)
            if self._encoders is None or {k: d for k, (d, _) in encoders.items()} != \
                    {k: d for k, (d, _) in self._encoders.items()}:
                self._encoders = encoders
                changed = set(range(len(self._configs)))
        self._update(sorted(changed))
        self._findings()
        return True

    def _update(self, changed):
        trials = self.trials
        states = {i: trial_state(self._configs.chains[i], self.metric, self._pending.pending, self._top,
                                 self._pruning) for i in changed}
        self._choose_curves(states)
        for i in changed:
            state, value = states[i]
            trial = frozen_trial(self._configs.chains[i], self.metric, self._encoders, state, value, number=i,
                                 trial_id=self.trial_id(i), curve=i in self._with_curve or state == "RUNNING"
                                 and self.curves == "all")
            if i < len(trials):
                trials[i] = trial
            else:
                trials.append(trial)

    def _choose_curves(self, states):
        """Give curves to newly finished configurations that deserve one (see ``curves``); one
        shown finished keeps what it was shown with."""
        finished = [i for i, (state, _) in states.items() if state != "RUNNING"
                    and not (i < len(self.trials) and self.trials[i].state.is_finished())]
        if self.curves == "all":
            self._with_curve.update(finished)
            return
        if self.curves == "none" or not finished:
            return
        done = set(i for i, t in enumerate(self.trials) if t.state.is_finished()) | set(finished)
        chains = self._configs.chains
        # the best by the one rule every ranking uses (records.top_records), the highest budget
        # first, then the next budget down while fewer than K are chosen
        levels = {}
        for i in done:
            levels.setdefault(chains[i][-1].get("budget") or 0, []).append(chains[i][-1])
        best = set()
        for budget in sorted(levels, reverse=True):
            if len(best) >= self.curves:
                break
            best.update(self._configs.index_of(r["number"])
                        for r in top_records(levels[budget], self.metric, self.direction, self.curves - len(best)))
        self._with_curve.update(i for i in finished if i in best)

    def _findings(self):
        lr_range = self._lr_range() if self._lr_range is not None else None
        attrs, note = study_findings(self.metric, self.direction, self._storage.load_flags(self.study_id),
                                     list(self._others.values()), lr_range, self._configs.index_of)
        self.user_attrs = {**attrs, "hpsearch_study": self.name}
        self.system_attrs = {"study:metric_names": [self.metric], **note_system_attrs(note)}

    def trial_id(self, number):
        """The storage-wide id of this study's trial ``number`` (ids of different studies never collide)."""
        return self.study_id * ID_STRIDE + number


#: Trial ids are ``study id * ID_STRIDE + trial number`` (below 2**53: exact in the browser).
ID_STRIDE = 10 ** 9
