"""bench_dashboard runs end to end in its --quick configuration and reports the refresh and export
figures the README quotes (figures meaningless at 300 trials)."""
import json
import math


def test_bench_dashboard_quick_reports_refresh_and_export(tmp_path, capsys, bench_script):
    out = tmp_path / "dashboard.json"
    payload = bench_script("bench_dashboard").main(["--quick", "--out", str(out)])
    data = json.loads(out.read_text())
    assert data["benchmark"] == "bench_dashboard" and data["quick"] is True and data["n_trials"] == 300
    for key in ("full", "idle", "new", "batched", "per_trial"):
        assert math.isfinite(payload["median_seconds"][key]) and payload["median_seconds"][key] > 0
    assert set(payload["export_100k_seconds"]) == {"batched", "per_trial"}
    printed = capsys.readouterr().out
    assert "| refresh, nothing new" in printed and "| export, batched" in printed
