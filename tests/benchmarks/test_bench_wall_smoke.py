"""bench_wall runs end to end on a tiny study and reports every goal (figures meaningless)."""
from pathlib import Path

import pytest


def test_bench_wall_quick_reports_every_goal(tmp_path, capsys, bench_script):
    payload = bench_script("bench_wall").main(["--quick", "--out", str(tmp_path / "wall.json")])
    assert set(payload["goals"]) == {"main_job_within_1.3x_work_over_cores_plus_1s", "default_not_slower_than_one",
                                     "rerun_of_a_finished_study_under_1s", "plot_command_under_1.5s",
                                     "plots_at_most_1.5s", "first_trial_at_most_0.3s", "cli_at_most_0.5s"}
    figures = payload["figures"]
    assert figures["main_default"] and figures["floor"][0] > 0 and figures["first_trial"][0] > 0
    assert figures["rerun"][0] > 0 and figures["plot_command"][0] > 0
    # the figure: wall / (summed durations of every trial / cores + 1 s), printed as such
    cores = bench_script("bench_wall").cores()
    assert figures["ratio_default"][0] == figures["main_default"][0] / (figures["work_default"][0] / cores + 1.0)
    assert (tmp_path / "wall.json").stat().st_size > 0
    out = capsys.readouterr().out
    assert "main job, default n_jobs" in out and f"main job wall / (summed trial durations / {cores} cores + 1 s) = " in out



def test_bench_wall_never_replaces_its_committed_figures_by_default(bench_script, monkeypatch, tmp_path):
    # the committed bench_wall.json holds a quiet machine's figures: a run writes a new file beside it
    module = bench_script("bench_wall")
    chosen = []

    def stop(args, repeats, scratch):   # where the figures would go; nothing is measured
        chosen.append(Path(args.out))
        raise KeyboardInterrupt
    monkeypatch.setattr(module, "measure", stop)
    for argv in ([], ["--out", str(tmp_path / "bench_wall.json")]):
        with pytest.raises(KeyboardInterrupt):
            module.main(argv)
    fresh, asked = chosen
    assert fresh.parent.name == "results" and fresh.name.startswith("bench_wall-") and not fresh.exists()
    assert asked == tmp_path / "bench_wall.json"
