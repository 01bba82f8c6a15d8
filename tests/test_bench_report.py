"""bench.report / bench.plots / bench.schema on a synthetic guest document."""

import json

import pytest


from scxpy.bench import plots, report, schema, stats  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _guest_doc():
    contenders = [{"name": "fair", "kind": "fair"},
                  {"name": "fifo", "kind": "scxpy", "obj": "/x/fifo.bpf.o", "manifest": {"name": "fifo"},
                   "ops_name": "fifo"}]
    samples = []
    hack = {"fair": [9.0, 1.0, 1.2, 0.8], "fifo": [9.0, 1.1, 1.5, 1.0]}  # first is warm-up
    lat = {"fair": [1, 100.0, 120.0, 80.0], "fifo": [1, 50.0, 40.0, 60.0]}
    for rnd in (-1, 0, 1, 2):
        for c in ("fair", "fifo"):
            samples.append({"workload": "hackbench", "contender": c, "round": rnd, "warmup": rnd < 0,
                            "metrics": {"time_s": hack[c][rnd + 1]}, "wall_s": 2.5, "commands": [["hackbench"]]})
            samples.append({"workload": "mixed", "contender": c, "round": rnd, "warmup": rnd < 0,
                            "metrics": {"p50_us": 10.0, "p99_us": lat[c][rnd + 1], "p99_9_us": float("inf"),
                                        "max_us": 500.0, "hog_bogo_ops_per_s": 1000.0},
                            "wall_s": 4, "commands": [["stress-ng"], ["cyclictest"]]})
    return {
        "schema": 1,
        "guest": {"kernel_release": "6.12.0-scxpy", "cpus": 2},
        "plan": {"contenders": contenders, "workloads": ["hackbench", "mixed"], "rounds": 3, "warmup": 1,
                 "long": False},
        "samples": samples,
        "costs": [{"contender": "fifo", "round": -1, "callbacks": {
            "enqueue": {"prog": "fifo_enqueue", "run_cnt": 1000, "run_time_ns": 450000, "mean_ns": 450.0},
            "dispatch": {"prog": "fifo_dispatch", "run_cnt": 10, "run_time_ns": 9000, "mean_ns": 900.0}}}],
        "cost_method": {"rounds": [-1]},
        "failures": [],
        "finished": True,
    }


ENV = {"accelerator": "tcg", "cpus": 2, "kernel_release": "6.12.0-scxpy", "host": {}, "scxpy": {}}
INFO = [{"name": "fair", "kind": "fair", "description": "baseline", "hash": None},
        {"name": "fifo", "kind": "scxpy", "description": "fifo", "hash": "ab" * 32}]


@pytest.fixture
def results():
    return report.build_results(_guest_doc(), ENV, INFO)


def test_schema_holds_and_json_round_trips(results):
    assert schema.problems(results) == []
    again = json.loads(json.dumps(results))
    assert schema.problems(again) == []
    assert len(again["samples"]) == 16  # every raw sample, warm-up included


def test_ratios_come_from_measured_samples(results):
    e = results["summary"]["hackbench"]["time_s"]
    # warm-up (9.0) excluded; medians 1.0 (fair) and 1.1 (fifo)
    assert e["fair"]["median"] == 1.0 and e["fair"]["n"] == 3
    assert e["fifo"]["ratio"] == pytest.approx(1.1)
    assert e["fair"]["ratio"] == 1.0
    paired = stats.paired_ratios({0: 1.1, 1: 1.5, 2: 1.0}, {0: 1.0, 1: 1.2, 2: 0.8})
    assert e["fifo"]["paired"]["median"] == pytest.approx(stats.median(paired))
    lat = results["summary"]["mixed"]["p99_us"]
    assert lat["fifo"]["ratio"] == pytest.approx(50 / 100)
    # an infinite percentile (histogram overflow) is no number to take a median of
    assert results["summary"]["mixed"]["p99_9_us"] == {}


def test_costs_and_labels(results):
    assert results["costs"]["fifo"]["enqueue"]["mean_ns"] == 450.0
    assert results["relative_only"] is True
    table = report.format_table(results)
    assert "relative" in table and "TCG" in table
    assert "fifo" in table and "enqueue" in table
    assert "1.100 -" in table  # slower hackbench than fair is marked worse
    assert "0.500 +" in table  # lower latency than fair is marked better


def test_plots_are_valid_pngs(results, tmp_path):
    import matplotlib.image

    paths = plots.plot_all(results, tmp_path)
    assert [p.name for p in paths] == ["hackbench.png", "mixed.png"]
    for p in paths:
        assert p.read_bytes()[:8] == PNG_SIGNATURE
        img = matplotlib.image.imread(p)
        assert img.shape[0] > 100 and img.shape[1] > 100


def test_schema_catches_missing_fields(results):
    del results["samples"][0]["metrics"]
    results["contenders"][1]["hash"] = None
    msgs = schema.problems(results)
    assert any("metrics" in m for m in msgs)
    assert any("no hash" in m for m in msgs)


def test_pairwise_ratios(results):
    pw = results["pairwise"]["hackbench"]
    assert pw["fifo"]["fair"] == pytest.approx(1.1)
    assert pw["fair"]["fifo"] == pytest.approx(1 / 1.1)
    paired = results["pairwise_paired"]["hackbench"]["fifo"]["fair"]
    assert paired["n"] == 3
    assert paired["median"] == pytest.approx(stats.median([1.1 / 1.0, 1.5 / 1.2, 1.0 / 0.8]))


def test_floor_is_reported_beside_its_workload():
    doc = _guest_doc()
    doc["floors"] = {"mixed": {"metrics": {"p50_us": 61.0, "p99_us": 410.0, "hog_bogo_ops_per_s": None},
                               "commands": [["cyclictest"]]}}
    table = report.format_table(report.build_results(doc, ENV, INFO))
    mixed = table[table.index("== mixed"):]
    assert "emulator floor" in mixed and "p50 61.0 us, p99 410 us" in mixed
    assert "emulator floor" not in table[:table.index("== mixed")]


def test_mixed_heavy_is_mixed_with_eight_hogs_per_cpu():
    from scxpy.bench import workloads

    w = workloads.get("mixed-heavy")
    ctx = workloads.RunContext(cpus=2, long=False, logdir=None, tag="t")
    assert w.hogs_per_cpu * ctx.cpus == 16 and w.duration(ctx) == 10 and w.probe_interval_us == 2000
    assert [m.key for m in w.metrics] == [m.key for m in workloads.get("mixed").metrics]
    assert hasattr(w, "floor") and not hasattr(workloads.get("mixed"), "floor")


def test_hogs_stop_when_the_probe_window_ends():
    """The hogs get SIGINT `duration` after the probe's measuring thread appears,
    not when the probe exits (cyclictest's histogram dump would run starved)."""
    import subprocess
    import sys
    import time

    from scxpy.bench import workloads

    probe = subprocess.Popen([sys.executable, "-c", "import threading, time; time.sleep(0.3); "
                              "t = threading.Thread(target=time.sleep, args=(1,)); t.start(); t.join(); "
                              "time.sleep(5)"])
    hogs = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        t0 = time.monotonic()
        workloads._stop_after_window(probe, 1.0, hogs)
        hogs.wait(timeout=10)
        took = time.monotonic() - t0
        probe_running = probe.poll() is None
    finally:
        probe.kill()
        hogs.kill()
    assert hogs.returncode != 0, "the hogs were not interrupted"
    assert probe_running, "the hogs should stop while the probe still writes its results"
    assert 1.2 <= took < 4, took


def test_across_kernels_puts_each_kernels_ratios_side_by_side():
    def results(release: str, fifo_vs_simple: float) -> dict:
        return {"environment": {"kernel_release": release},
                "workloads": [{"name": "hackbench", "primary": "time_s",
                               "metrics": [{"key": "time_s", "better": "lower"}]}],
                "contenders": [{"name": "fair", "kind": "fair"}, {"name": "fifo", "kind": "scxpy"},
                               {"name": "peer:scx_simple", "kind": "peer"}],
                "pairwise": {"hackbench": {"fifo": {"fair": 0.9, "peer:scx_simple": fifo_vs_simple},
                                           "peer:scx_simple": {"fair": 0.8}}}}

    text = report.format_across_kernels([results("6.12.117-scxpy-a", 1.25), results("7.3.4-scxpy-b", 0.75)])
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in text.splitlines() if line.startswith("    ")}
    assert "6.12.117-scxpy-a" in text and "7.3.4-scxpy-b" in text
    assert rows[("fifo", "peer:scx_simple")] == ["1.25", "0.75"]
    assert rows[("fifo", "fair")] == ["0.9", "0.9"]
    assert rows[("peer:scx_simple", "fair")] == ["0.8", "0.8"]
    assert ("fair", "fair") not in rows
