"""bench_wall runs end to end on a tiny study and reports every goal (figures meaningless)."""


def test_bench_wall_quick_reports_every_goal(tmp_path, capsys, bench_script):
    payload = bench_script("bench_wall").main(["--quick", "--out", str(tmp_path / "wall.json")])
    assert set(payload["goals"]) == {"main_job_within_1.3x_work_plus_1s", "default_not_slower_than_one",
                                     "plots_at_most_1.5s", "first_trial_at_most_0.3s", "cli_at_most_0.5s"}
    figures = payload["figures"]
    assert figures["main_default"] and figures["floor"][0] > 0 and figures["first_trial"][0] > 0
    assert (tmp_path / "wall.json").stat().st_size > 0
    assert "main job, default n_jobs" in capsys.readouterr().out
