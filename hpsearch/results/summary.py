"""The text report of a result: what ``run`` and ``show`` print, from plain records (no pandas)."""
import math

from hpsearch.records import branch_bests

__all__ = ["summarize", "text_table", "edge_lines", "small_study_lines"]


def fmt(value):
    """A value as the report prints it: floats with 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def text_table(headers, rows):
    """Right-aligned columns under ``headers`` (one line each), as a DataFrame prints."""
    cells = [[str(h) for h in headers]] + [[fmt(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(" ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells)


def summarize(result, top=10):
    """Counts, the best trials, the stages, the compute, the flags, the failures and the
    confirmation of a :class:`~hpsearch.results.search_result.SearchResult` (no trailing newline)."""
    counts = result.counts()
    lines = [f"study {result.name!r}: {len(result.records)} trials "
             f"({counts['ok']} ok, {counts['diverged']} diverged, {counts['failed']} failed); "
             f"{result.direction} {result.metric}"]
    lines += _best_lines(result, top)
    lines += _branch_lines(result)
    lines += _stage_lines(result)
    lines += edge_lines(result)
    lines += _failure_lines(result.records)
    lines += _confirmation_lines(result)
    return "\n".join(lines)


def _best_lines(result, top):
    if result.best_trial is None:
        return ["no trial finished ok"]
    params = ", ".join(f"{k}={fmt(v)}" for k, v in result.best_params.items())
    lines = [f"best {result.metric} = {result.best_value:.6g} (trial {result.best_trial['number']}): {params}"]
    records = result.top_records(top)
    budgets = {r.get("budget") for r in result.records}
    where = f" at the highest budget reached ({records[0]['budget']})" \
        if result.select == "highest-budget" and len(budgets) > 1 else ""
    lines.append(f"top {len(records)} trials{where}:")
    headers = ["number", "stage", result.metric] + list(result.param_names) + ["budget"]
    rows = [[r["number"], r["stage"], r["metrics"][result.metric]] + [r["params"].get(n) for n in result.param_names]
            + [r.get("budget")] for r in records]
    lines.append(text_table(headers, rows))
    return lines


def _branches(result):
    """``{branch parameter: branch names}`` of the space the result searched first (empty without)."""
    spaces = [st.space for st in result.stages if hasattr(st.space, "branches")]
    return dict(spaces[0].branches) if spaces else {}


def _branch_lines(result):
    """Each branch's best (at the highest budget that branch reached), best branch first."""
    lines = []
    for name in _branches(result):
        bests = branch_bests(result.records, result.metric, result.direction, name)
        if len(bests) < 2:
            continue
        lines.append(f"best {result.metric} per {name} (each at the highest budget it reached):")
        lines.extend(f"  {r['params'][name]}: {r['metrics'][result.metric]:.4f} (trial {r['number']}, budget "
                     f"{r['budget']})" for r in bests)
    return lines


def _branch_winner_lines(result, report):
    """Which branch won the confirmation, and by how much over the next branch's best candidate."""
    sign = -1.0 if result.direction == "maximize" else 1.0
    ranked = sorted((c for c in report.candidates if c["ok"]), key=lambda c: (sign * c["mean"], c["candidate"]))
    lines = []
    for name in _branches(result):
        first = ranked[0]["params"].get(name)
        other = next((c for c in ranked[1:] if c["params"].get(name) not in (None, first)), None)
        if first is None or other is None:
            continue
        lines.append(f"{name}: {first} won, by {abs(ranked[0]['mean'] - other['mean']):.4f} {result.metric} over "
                     f"{other['params'][name]} (means over fresh seeds)")
    return lines


def _stage_lines(result):
    records, lines = result.records, []
    if any("rung" in r for r in records):
        continued = {r["continued_from"] for r in records if r.get("continued_from") is not None}
        top = max(r["budget"] for r in records)
        per_rung = {}
        for r in records:
            if r["number"] not in continued and r["budget"] < top:
                per_rung[r["rung"]] = per_rung.get(r["rung"], 0) + 1
        configurations = sum(1 for r in records if r.get("continued_from") is None)
        # a trial that failed or diverged on its way up did not reach the budget it was given
        reached = sum(1 for r in records if r["budget"] == top and r["status"] == "ok")
        lines.append(f"{len({r.get('bracket') for r in records})} brackets, {configurations} configurations; "
                     f"stopped at rung " + ", ".join(f"{k}: {n}" for k, n in sorted(per_rung.items()))
                     + f"; {reached} reached the full budget {top}")
    elif len(result.stages) > 1:
        lines.append("stages:")
        for st in result.stages:
            lines.append(f"  {st.index}: {st.n_trials} trials x budget {st.budget}, {st.sampler}")
    if records:
        trained = sum(r.get("trial_epochs", r.get("budget") or 0) for r in records)
        saved = sum(r.get("budget") or 0 for r in records) - trained
        lines.append(f"trained {trained} epochs in all" + (f" ({saved} saved by continuing paused trials)"
                                                           if saved else ""))
    if result.checkpoint_bytes:
        lines.append(f"checkpoints: at most {result.checkpoint_bytes / 1e6:.1f} MB on disk during the run")
    return lines


def edge_lines(result, fits_per_trial=None):
    """What the report says about the edges of the searched ranges: the small-study line, the
    boundary flags, the follow-up's outcomes and cost (``fits_per_trial``: the fits one trial
    makes, e.g. a scikit-learn search's folds, to say the cost in fits too)."""
    lines = small_study_lines(result)
    if result.boundary:
        lines.append("boundary flags (the good trials crowd toward the edge of a range; widen it):")
        lines.extend(f"  {flag}" for flag in result.boundary)
    return lines + _follow_up_lines(result, fits_per_trial)


def small_study_lines(result):
    """One line when the trials the edge test reads are too few for it (the heuristic's flags,
    if any, say which edges the old rule would warn about), else none."""
    from hpsearch.diagnostics.boundary import MIN_TEST_TRIALS, edge_of, tested_trials
    from hpsearch.records import best_record
    from hpsearch.strategies.follow_up import LABEL

    search = [r for r in result.records if not r.get(LABEL)]
    # successive halving and Hyperband read the budget level where the most trials compete
    space, ok = tested_trials(search, result.stages, result.metric, result.direction,
                              by_budget=any(r.get("rung") is not None for r in search))
    if space is None or not any(d.ordered for d in space.values()) or len(ok) >= MIN_TEST_TRIALS:
        return []
    best = best_record(search, result.metric, result.direction)["params"]
    ordered = [name for name, dist in space.items() if dist.ordered and name in best]
    heuristic = [f for f in result.boundary if f.evidence == "heuristic"]
    if heuristic:
        said = "; the heuristic flags below only say where the best value sits"
    elif not any(edge_of(space[name], best[name]) for name in ordered):
        said = "; no best value sits in the outer 5% of its range"
    else:  # a best value in an edge zone whose flag a test or the follow-up decided (or a hard bound)
        said = ""
    where = [f"{name} at {space[name].to_unit(best[name]):.0%}" for name in ordered]
    where = " and ".join([", ".join(where[:-1]), where[-1]] if len(where) > 1 else where)
    return [f"{len(ok)} trials: too few to test edges (the edge test needs about {MIN_TEST_TRIALS})" + said
            + (f"; the best trial has {where} of {'its range' if ' and ' not in where else 'their ranges'} "
               f"(log scale for log ranges)" if where else "")]


def _follow_up_lines(result, fits_per_trial=None):
    """What the follow-up stage found, and the trials it cost."""
    from hpsearch.strategies.follow_up import LABEL, follow_up_outcomes

    _, outcomes = follow_up_outcomes(result.records, result.stages, result.metric, result.direction)
    if not outcomes:
        return []
    cost = sum(1 for r in result.records if r.get(LABEL))
    fits = f" = {cost * fits_per_trial} fits" if fits_per_trial else ""
    lines = [f"follow-up ({cost} extra trials{fits}, one decade or one range-width either side of each suspect "
             f"edge):"]
    return lines + [f"  {o}" for o in outcomes]


def _failure_lines(records):
    failed = [r for r in records if r["status"] == "failed"]
    if not failed:
        return []
    by_error = {}
    for r in failed:
        by_error.setdefault(r["error"], []).append(r["number"])
    lines = [f"failures ({len(failed)} trials):"]
    for error, numbers in sorted(by_error.items(), key=lambda item: (-len(item[1]), item[1][0])):
        shown = ", ".join(map(str, numbers[:5])) + (", ..." if len(numbers) > 5 else "")
        lines.append(f"  {len(numbers)} x {error} (trial{'s' if len(numbers) > 1 else ''} {shown})")
    return lines


def _confirmation_lines(result):
    report = result.confirmation
    if report is None:
        return []
    runs = result.confirm_records
    per_branch = [n for n in _branches(result) if len(report.candidates) > 1 and
                  len({repr(c["params"].get(n)) for c in report.candidates}) == len(report.candidates)]
    what = f"the best configuration of each of the top {len(report.candidates)} {per_branch[0]} branches" \
        if per_branch else f"the top {len(report.candidates)} configurations"
    lines = [f"confirmed: {what} trained again with "
             f"{len(runs) // max(1, len(report.candidates))} fresh seeds at budget {runs[0]['budget']}:"]
    headers = ["candidate", "trial", "mean", "std", "runs"] + list(result.param_names)
    rows = [[c["candidate"], c["confirms"], c["mean"], c["std"], c["ok"]] + [c["params"].get(n) for n in result.param_names]
            for c in report.candidates]
    lines.append(text_table(headers, rows))
    if report.winner is None:
        return lines + ["no confirmation run finished ok"]
    w = report.winner
    spread = "" if math.isnan(w["std"]) else f" ± {w['std']:.4f}"
    lines.append(f"winner: candidate {w['candidate']} (trial {w['confirms']}), {result.metric} {w['mean']:.4f}{spread} "
                 f"over {w['ok']} seeds")
    if report.within_noise is not None:
        p = "" if report.pvalue is None else f", Welch's t-test p = {report.pvalue:.2g}"
        lines.append(f"  its lead over the runner-up is {'within' if report.within_noise else 'beyond'} noise{p}")
        lines += _branch_winner_lines(result, report)
    if result.test_metrics:
        lines.append(_test_line(result.test_metrics))
    return lines


def _test_line(test_metrics):
    metrics = dict(test_metrics)
    first = metrics.pop("test_acc", None)
    rest = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
    if first is None:
        return f"test result of the chosen configuration (never used for selection): {rest}"
    return f"test accuracy of the chosen configuration (never used for selection): {first:.4f}" + \
        (f" ({rest})" if rest else "")
