"""How far a stored study got: its search trials, then its confirmation and test runs.

``hpsearch run`` says it when it resumes and ``hpsearch show`` when it reads a run: a study is
complete only when the search has run every planned trial *and* the confirmation and test
runs its spec asks for are stored (confirmation and test runs are counted as theirs, never as
search trials).
"""
from dataclasses import dataclass

from hpsearch.records import top_configurations
from hpsearch.strategies.confirmed import confirmation_report

__all__ = ["Completion", "completion"]


@dataclass(frozen=True)
class Completion:
    """Trials stored and planned, by role (``confirm_planned``/``test_planned`` are 0 without confirmation)."""

    search_done: int
    search_planned: int
    confirm_done: int = 0
    confirm_planned: int = 0
    test_done: int = 0
    test_planned: int = 0

    @property
    def stored(self):
        """Every stored trial of the study, whatever its role."""
        return self.search_done + self.confirm_done + self.test_done

    @property
    def complete(self):
        return (self.search_done >= self.search_planned and self.confirm_done >= self.confirm_planned
                and self.test_done >= self.test_planned)

    def describe(self):
        """E.g. ``83 of 83 search trials done; confirmation and test done`` (without confirmation:
        ``16 of 16 planned trials done``)."""
        if not self.confirm_planned:
            return f"{self.search_done} of {self.search_planned} planned trials done"
        text = f"{self.search_done} of {self.search_planned} search trials done"
        after = "confirmation and test" if self.test_planned else "confirmation"
        if self.confirm_done >= self.confirm_planned and self.test_done >= self.test_planned:
            return f"{text}; {after} done"
        parts = [f"confirmation {self.confirm_done} of {self.confirm_planned} runs done"]
        if self.test_planned:
            parts.append("test done" if self.test_done else "test pending")
        return f"{text}; {', '.join(parts)}"


def completion(result, spec, search_planned):
    """The :class:`Completion` of a stored study.

    Args:
        result: its :class:`~hpsearch.results.search_result.SearchResult` (read from storage).
        spec: its stored spec (``spec["confirm"]`` holds the confirmation's ``top``, ``seeds``, ``test``).
        search_planned: the search trials its strategy plans.
    """
    confirm = spec.get("confirm") if isinstance(spec, dict) else None
    done = dict(search_done=len(result.records), search_planned=int(search_planned),
                confirm_done=len(result.confirm_records), test_done=int(result.test_record is not None))
    if not isinstance(confirm, dict):
        return Completion(**done)
    seeds, top = int(confirm.get("seeds", 0)), int(confirm.get("top", 0))
    if done["search_done"] >= done["search_planned"]:
        # the candidates are the top distinct configurations the search found (maybe fewer than top)
        top = len(top_configurations(result.records, result.metric, result.direction, top,
                                     int(confirm.get("rungs", 1))))
    test = bool(confirm.get("test")) and top > 0
    if test and done["confirm_done"] >= top * seeds:
        # the test runs the confirmed winner: none when every confirmation run failed
        test = confirmation_report(result.confirm_records, result.metric, result.direction).winner is not None
    test = int(test)
    return Completion(**done, confirm_planned=top * seeds, test_planned=test)
