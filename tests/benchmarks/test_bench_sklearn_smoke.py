"""bench_sklearn runs end to end on a tiny configuration and reports every peer and goal (figures meaningless)."""


def test_bench_sklearn_quick_reports_every_peer_and_goal(tmp_path, capsys, bench_script):
    payload = bench_script("bench_sklearn").main(["--quick", "--out", str(tmp_path / "sklearn.json")])
    assert len(payload["goals"]) == 4
    for task in ("SVC (C, gamma)", "LogisticRegression (C)"):
        figures = payload["figures"][task]
        assert set(figures["peers"]) == {"RandomizedSearchCV", "SearchCV random", "SearchCV coarse-to-fine"}
        assert all(0 < p["best_cv"] <= 1 and 0 < p["test"] <= 1 for p in figures["peers"].values())
        assert figures["overhead_n_jobs_1"]["ratio"] > 0 and figures["overhead_n_jobs_2"]["ratio"] > 0
    assert (tmp_path / "sklearn.json").stat().st_size > 0
    assert "overhead at equal work" in capsys.readouterr().out
