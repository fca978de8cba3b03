"""hpsearch dashboard: a live, read-only view of a run folder in optuna-dashboard."""
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import hpsearch as hp
from hpsearch.integration.dashboard import READ_ONLY_REASON, ReadOnlyStorageError, RunFolderStorage, dashboard_app
from hpsearch.integration.study_view import StudyView
from hpsearch.objectives import LearningCurve, LogBowl
from hpsearch.storage.storage import Storage
from hpsearch.strategies import Hyperband

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SPACE = {"lr": hp.LogUniform(1e-5, 1e-1), "reg": hp.LogUniform(1e-6, 1e-1)}


def _env():
    return dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")


def _hyperband(db, name="hb", max_budget=9):
    study = hp.Study(LearningCurve({"lr": 1e-3, "reg": 1e-4}, noise=0.01), SPACE, metric="score", storage=db,
                     name=name)
    return study.run(Hyperband(min_budget=1, max_budget=max_budget, eta=3), seed=0)


def _shown(trial):
    """What a page shows of a trial."""
    return (trial.number, trial.state, trial.values, trial.params, trial.intermediate_values, trial.user_attrs)


def _full(db, name, curves="all"):
    with Storage(db, readonly=True) as storage:
        view = StudyView(storage, name, curves=curves)
        view.refresh()
        return [_shown(t) for t in view.trials]


def _replay(source, name, target, check):
    """Store ``source``'s study row by row into ``target`` (in the order the rows were first
    stored), calling ``check(view)`` on a live view after each row."""
    with Storage(source, readonly=True) as src:
        study_id, spec = src.find_study(name)
        stages = src.load_stages(study_id)
        rows, _ = src.trials_since(study_id)
    with Storage(target) as writer, Storage(target, readonly=True) as reader:
        new_id = writer.open_study(name, spec)
        for stage in stages:
            writer.save_stage(new_id, stage["index"], stage["space"], stage["sampler"], stage["n_trials"],
                              stage["budget"])
        view = StudyView(reader, name)
        for row in rows:
            writer.save_trial(new_id, row)
            assert view.refresh()
            check(view)
    return rows


@pytest.fixture(scope="module")
def hyperband_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hb")
    result = _hyperband(folder / "study.db")
    return folder, result


# -------------------------------------------------------------------------------------------- the mapping
def test_a_replayed_hyperband_run_never_changes_a_trial_shown_finished(hyperband_run, tmp_path):
    folder, result = hyperband_run
    shown, running_seen = {}, set()

    def check(view):
        for trial in view.trials:
            if trial.number in shown:
                assert _shown(trial) == shown[trial.number], f"trial {trial.number} changed after it was shown"
            elif trial.state.is_finished():
                shown[trial.number] = _shown(trial)
            else:
                running_seen.add(trial.number)

    rows = _replay(folder / "study.db", "hb", tmp_path / "replay.db", check)
    assert len(rows) == len(result.records)
    final = _full(folder / "study.db", "hb")
    assert [shown[t[0]] for t in final] == final   # every configuration ends finished, as a full read shows it
    # promoted configurations and undecided rungs were shown running, then decided
    promoted = {r["continued_from"] for r in result.records if r.get("continued_from") is not None}
    assert promoted and len(running_seen) > len(promoted)
    states = {t[1] for t in final}
    assert states == {TrialState.COMPLETE, TrialState.PRUNED}


def test_pruned_configurations_carry_their_last_value(hyperband_run):
    folder, result = hyperband_run
    by_number = {r["number"]: r for r in result.records}
    for number, state, values, params, curve, attrs in _full(folder / "study.db", "hb"):
        last = by_number[attrs["number"]]
        assert values == [last["metrics"]["score"]]
        assert (state == TrialState.PRUNED) == (last["budget"] < 9)
        assert max(curve) == last["budget"]


def test_a_replayed_coarse_to_fine_run_with_promotion_never_changes_a_finished_trial(tmp_path):
    db = tmp_path / "c2f.db"
    study = hp.Study(LearningCurve({"lr": 1e-3, "reg": 1e-4}, noise=0.01), SPACE, metric="score", storage=db,
                     name="c2f")
    result = study.coarse_to_fine([hp.Stage(8, 2, "random"), hp.Stage(4, 6, "random", promote=2)], seed=0)
    assert any(r.get("continued_from") is not None for r in result.records)
    shown = {}

    def check(view):
        for trial in view.trials:
            if trial.number in shown:
                assert _shown(trial) == shown[trial.number]
            elif trial.state.is_finished():
                shown[trial.number] = _shown(trial)

    _replay(db, "c2f", tmp_path / "replay.db", check)
    final = _full(db, "c2f")
    assert [shown[t[0]] for t in final] == final
    assert TrialState.PRUNED in {t[1] for t in final}


def test_incremental_reads_equal_a_full_read_while_another_process_writes(tmp_path):
    db = tmp_path / "live.db"
    writer = subprocess.Popen([sys.executable, str(HERE / "_halving_run.py"), str(db), "hb", "1", "0.05"],
                              env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        storage = RunFolderStorage(db)   # waits for the writer to create the study
        while not storage.get_all_studies() and time.monotonic() < deadline:
            time.sleep(0.05)
        storage.close()
        sizes = set()
        with Storage(db, readonly=True) as storage:
            view = StudyView(storage, "hb")
            while writer.poll() is None and time.monotonic() < deadline:
                view.refresh()
                sizes.add(len(view.trials))
                time.sleep(0.02)
            out, errors = writer.communicate(timeout=60)
            assert writer.returncode == 0, errors
            view.refresh()
            incremental = [_shown(t) for t in view.trials]
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert len(sizes) > 3, "the view was not refreshed while the study ran"
    assert incremental == _full(db, "hb")


def test_a_refresh_with_nothing_new_reads_nothing(hyperband_run):
    folder, _ = hyperband_run
    with Storage(folder / "study.db", readonly=True) as storage:
        view = StudyView(storage, "hb")
        assert view.refresh()
        trials = list(view.trials)
        assert not view.refresh()
        assert view.trials == trials


@pytest.mark.parametrize("curves, expected", [("none", 0), (3, 3), ("all", None)])
def test_fewer_learning_curves_for_big_studies(hyperband_run, curves, expected):
    folder, result = hyperband_run
    shown = _full(folder / "study.db", "hb", curves=curves)
    with_curves = [t for t in shown if t[4]]
    assert len(with_curves) == (len(shown) if expected is None else expected)
    if curves == 3:   # the three best configurations keep theirs
        best = sorted((t for t in shown if t[1] == TrialState.COMPLETE), key=lambda t: -t[2][0])[:3]
        assert {t[0] for t in with_curves} == {t[0] for t in best}


# -------------------------------------------------------------------------------------------- the storage
def test_the_storage_waits_for_the_run_and_follows_a_resume(tmp_path):
    folder = tmp_path / "runs" / "later"
    storage = RunFolderStorage(folder)
    try:
        assert storage.get_all_studies() == []   # before the run: no folder, no study, no error
        study = hp.Study(LogBowl({"lr": 1e-3}), {"lr": SPACE["lr"]}, metric="score", storage=folder / "study.db",
                         name="later")
        study.optimize(n_trials=3, seed=0)
        [frozen] = storage.get_all_studies()
        assert frozen.study_name == "later" and len(storage.get_all_trials(frozen._study_id)) == 3
        study.optimize(n_trials=5, seed=0)   # a resume that extends the study
        assert len(storage.get_all_trials(frozen._study_id)) == 5
        loaded = optuna.load_study(study_name="later", storage=storage)
        assert loaded.best_value == max(t.value for t in loaded.trials)
    finally:
        storage.close()


def test_a_comparison_folder_shows_one_study_per_strategy(tmp_path):
    db = tmp_path / "cmp" / "compare.db"
    for name in ("demo-random-r0", "demo-grid-r0"):
        hp.Study(LogBowl({"lr": 1e-3}), {"lr": SPACE["lr"]}, metric="score", storage=db, name=name).optimize(
            sampler=name.split("-")[1], n_trials=4, seed=0)
    storage = RunFolderStorage(tmp_path / "cmp")
    try:
        assert [s.study_name for s in storage.get_all_studies()] == ["demo-random-r0", "demo-grid-r0"]
    finally:
        storage.close()


def test_every_write_is_refused(hyperband_run):
    folder, _ = hyperband_run
    before = (folder / "study.db").read_bytes()
    storage = RunFolderStorage(folder)
    try:
        study = optuna.load_study(study_name="hb", storage=storage)
        trial_id = study.trials[0]._trial_id
        writes = [lambda: optuna.create_study(storage=storage, study_name="new"),
                  lambda: optuna.delete_study(study_name="hb", storage=storage),
                  lambda: study.set_user_attr("k", 1), lambda: storage.set_study_system_attr(1, "k", 1),
                  lambda: study.enqueue_trial({"lr": 1e-3}), lambda: study.ask(),
                  lambda: study.add_trial(study.trials[0]), lambda: storage.set_trial_user_attr(trial_id, "k", 1),
                  lambda: storage.set_trial_system_attr(trial_id, "k", 1),
                  lambda: storage.set_trial_state_values(trial_id, TrialState.FAIL),
                  lambda: storage.set_trial_intermediate_value(trial_id, 1, 0.5),
                  lambda: storage.set_trial_param(trial_id, "lr", 0.1, study.trials[0].distributions["lr"])]
        for write in writes:
            with pytest.raises(ReadOnlyStorageError, match="read-only"):
                write()
        # every route of optuna-dashboard that is not a read answers 405 with the reason
        import optuna_dashboard

        app = dashboard_app(storage)
        routes = [(r.method, r.rule) for r in optuna_dashboard.wsgi(storage).routes if r.method not in ("GET",)]
        assert len(routes) >= 10
        for method, rule in routes:
            path = rule.replace("<study_id:int>", "1").replace("<trial_id:int>", str(trial_id)) \
                .replace("<history_id>", "x").replace("<", "").replace(">", "")
            status, headers, body = _call(app, method, path, b'{"study_name": "x", "directions": ["minimize"]}')
            assert status.startswith("405"), (method, rule, status)
            assert json.loads(body)["reason"] == READ_ONLY_REASON
            assert dict(headers)["Allow"] == "GET, HEAD"
        status, _, body = _call(app, "GET", "/api/studies")
        assert status.startswith("200") and json.loads(body)["study_summaries"][0]["study_name"] == "hb"
    finally:
        storage.close()
    assert (folder / "study.db").read_bytes() == before


def _call(app, method, path, body=b""):
    from wsgiref.util import setup_testing_defaults

    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO(body),
               "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json"}
    setup_testing_defaults(environ)
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, headers

    chunks = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], chunks


def test_a_symlinked_database_is_refused(tmp_path, hyperband_run):
    folder, _ = hyperband_run
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "study.db").symlink_to(folder / "study.db")
    storage = RunFolderStorage(planted)
    with pytest.raises(hp.HpsearchError, match="symbolic link"):
        storage.get_all_studies()


# -------------------------------------------------------------------------------------------- findings
def test_findings_are_study_attributes_and_a_markdown_note(tmp_path):
    folder = tmp_path / "run"
    db = folder / "study.db"
    hp.Study(LogBowl({"lr": 1e-3}), {"lr": SPACE["lr"]}, metric="score", storage=db, name="f").optimize(
        n_trials=4, seed=0)
    flag = {"param": "lr", "edge": "high", "value": 0.09, "low": 1e-5, "high": 0.1,
            "suggestion": "lr: best trials at the high edge (0.09); widen to [1e-05, 1]", "top_share": 0.8,
            "pvalue": 1e-4, "evidence": "strong"}
    with Storage(db) as storage:
        study_id, _ = storage.find_study("f")
        storage.save_flags(study_id, [flag])
        for number, (candidate, value) in enumerate([(0, 0.9), (0, 0.92), (1, 0.8), (1, 0.82)], start=4):
            storage.save_trial(study_id, {"number": number, "stage": 1, "status": "ok", "params": {"lr": 1e-3},
                                          "metrics": {"score": value}, "role": "confirm", "candidate": candidate,
                                          "confirms": candidate})
        storage.save_trial(study_id, {"number": 8, "stage": 2, "status": "ok", "params": {"lr": 1e-3},
                                      "metrics": {"score": 0.9, "test_acc": 0.875}, "role": "test"})
    (folder / "lr_range.json").write_text(json.dumps({"good": [1e-4, 0.03], "best_lr": 0.003,
                                                      "suggested": [3e-4, 0.01],
                                                      "advice": {"line": 'lr = { type = "loguniform" }',
                                                                 "coverage": 0.5, "warnings": []}}))
    storage = RunFolderStorage(folder)
    try:
        [study] = storage.get_all_studies()
        attrs = study.user_attrs
        assert attrs["edge_flags"] == ["lr: best trials at the high edge (0.09); widen to [1e-05, 1] "
                                       "[evidence: strong, p=0.0001]"]
        assert attrs["confirmed_winner"] == 0 and attrs["test_metrics"] == {"test_acc": 0.875}
        assert attrs["lr_range"]["good"] == [1e-4, 0.03]
        assert len(storage.get_all_trials(study._study_id)) == 4   # confirmation and test runs are not trials
        from optuna_dashboard._note import get_note_from_system_attrs

        note = get_note_from_system_attrs(storage.get_study_system_attrs(study._study_id), None)["body"]
        assert "```" not in note   # readable Markdown, not a code block that clips
        assert "- **lr** (high edge)" in note and "| 0 | #0 (hpsearch 0) | 2 of 2 | 0.91 |" in note
        assert "test_acc: **0.875**" in note and "good zone: 0.0001 to 0.03" in note
    finally:
        storage.close()


# -------------------------------------------------------------------------------------------- the command
def _start_dashboard(folder, *extra):
    proc = subprocess.Popen([sys.executable, "-m", "hpsearch", "dashboard", str(folder), "--port", "0", *extra],
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if "http://" not in line:
        proc.kill()
        raise AssertionError(f"no address printed: {line!r} {proc.stderr.read()}")
    url = line.split("at ", 1)[1].split()[0]
    return proc, url.rsplit("/dashboard", 1)[0], line


def _stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_the_command_binds_loopback_says_where_and_waits_for_the_run(tmp_path):
    import urllib.request

    folder = tmp_path / "runs" / "soon"
    proc, base, line = _start_dashboard(folder)
    try:
        assert base.startswith("http://127.0.0.1:") and "read-only" in line
        assert "waiting for" in proc.stdout.readline()
        assert json.load(urllib.request.urlopen(base + "/api/studies", timeout=30))["study_summaries"] == []
        hp.Study(LogBowl({"lr": 1e-3}), {"lr": SPACE["lr"]}, metric="score", storage=folder / "study.db",
                 name="soon").optimize(n_trials=2, seed=0)
        studies = json.load(urllib.request.urlopen(base + "/api/studies", timeout=30))["study_summaries"]
        assert [s["study_name"] for s in studies] == ["soon"]
        request = urllib.request.Request(base + "/api/studies/1", method="DELETE")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 405 and "read-only" in json.load(refused.value)["reason"]
    finally:
        _stop(proc)
    assert (folder / "study.db").exists()


def test_the_command_refuses_a_bad_curves_value_in_one_line(run_cli, tmp_path):
    code, _, err = run_cli("dashboard", str(tmp_path), "--curves", "some")
    assert code == 2 and "curves must be one of all, none, K (a positive int), got 'some'" in err


# -------------------------------------------------------------------------------------------- a real browser
CHROMIUM = next((p for p in ("chromium", "chromium-browser") if __import__("shutil").which(p)), None)


def _above_nine(fd):
    import fcntl

    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class _DevTools:
    """Headless Chromium driven through its DevTools protocol on a pipe (``--remote-debugging-pipe``:
    JSON messages ended by a NUL byte, commands on fd 3, answers on fd 4): no websocket library,
    no network port of its own."""

    def __init__(self, profile):
        # the ends Chromium gets, moved above 9 so that bash's 3<& and 4>& cannot clobber them
        to_chrome, self._write = os.pipe()
        self._read, from_chrome = os.pipe()
        to_chrome, from_chrome = _above_nine(to_chrome), _above_nine(from_chrome)
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"]
        self.proc = subprocess.Popen(["bash", "-c", f'exec "$@" 3<&{to_chrome} 4>&{from_chrome}', "bash", CHROMIUM,
                                      *flags],
                                     pass_fds=(to_chrome, from_chrome), stdout=subprocess.DEVNULL,
                                     stderr=open(f"{profile}.log", "w"))
        os.close(to_chrome)
        os.close(from_chrome)
        self._buffer, self._next = b"", 0

    def send(self, method, session=None, timeout=60, **params):
        """Send one command; returns its result (events in between are skipped)."""
        import select

        self._next += 1
        message = {"id": self._next, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                answer = json.loads(raw)
                if answer.get("id") == self._next:
                    assert "error" not in answer, answer
                    return answer["result"]
            ready, _, _ = select.select([self._read], [], [], 1.0)
            if ready:
                chunk = os.read(self._read, 1 << 16)
                assert chunk, "chromium closed its DevTools pipe"
                self._buffer += chunk
        raise AssertionError(f"chromium did not answer {method} within {timeout} s")

    def evaluate(self, session, expression):
        return self.send("Runtime.evaluate", session, expression=expression, returnByValue=True)["result"].get("value")

    def close(self):
        try:
            if self.proc.poll() is None:
                self.send("Browser.close", timeout=10)
        except (AssertionError, OSError):
            pass
        finally:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            os.close(self._write)
            os.close(self._read)


def _wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout} s")


@pytest.mark.skipif(CHROMIUM is None, reason="needs headless Chromium (apt-get install chromium; .ci/run installs it)")
def test_a_trial_finished_after_the_page_loaded_appears_without_a_reload(tmp_path):
    folder = tmp_path / "runs" / "live"
    study = hp.Study(LogBowl({"lr": 1e-3}), {"lr": SPACE["lr"]}, metric="score", storage=folder / "study.db",
                     name="live")
    study.optimize(n_trials=3, seed=0)
    dashboard, base, _ = _start_dashboard(folder)
    browser = _DevTools(tmp_path / "profile")
    try:
        target = browser.send("Target.createTarget", url=f"{base}/dashboard/studies/1/trials")["targetId"]
        session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        text = "document.body ? document.body.innerText : ''"
        _wait_for(lambda: "Trial 2" in browser.evaluate(session, text), 120, "the page did not show trials 0-2")
        assert "Trial 3" not in browser.evaluate(session, text)
        browser.evaluate(session, "window.hpsearchLoaded = 'same page'")   # a reload would forget it
        study.optimize(n_trials=5, seed=0)   # two more trials finish after the page loaded
        _wait_for(lambda: "Trial 4" in browser.evaluate(session, text), 120, "the new trial did not appear")
        assert browser.evaluate(session, "window.hpsearchLoaded") == "same page"
    finally:
        browser.close()
        _stop(dashboard)
    assert browser.proc.returncode is not None and dashboard.returncode is not None
