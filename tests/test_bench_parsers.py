"""bench.parsers on real output captured from hackbench, cyclictest and stress-ng (rt-tests 2.4, stress-ng 0.15)."""

import json
import math
from pathlib import Path

import pytest


from scxpy.bench import parsers  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "bench" / "testdata"


def test_hackbench():
    assert parsers.parse_hackbench((DATA / "hackbench.txt").read_text()) == {"time_s": 0.077}


def test_hackbench_without_time_line_fails_loudly():
    with pytest.raises(parsers.WorkloadOutputError, match="'Time:'"):
        parsers.parse_hackbench("Running in process mode with 2 groups\n")


def test_stress_ng_metrics_brief():
    m = parsers.parse_stress_ng((DATA / "stress-ng-metrics-brief.txt").read_text())
    assert m == {"bogo_ops": 3196.0, "bogo_ops_per_s": 1595.14, "bogo_ops_per_cpu_s": 1645.09, "real_time_s": 2.0}


def test_stress_ng_stopped_by_sigint_still_reports():
    m = parsers.parse_stress_ng((DATA / "stress-ng-sigint.txt").read_text())
    assert m["bogo_ops_per_s"] == 2786.24
    assert m["real_time_s"] == 2.01


def test_stress_ng_older_info_label():
    line = "stress-ng: info:  [42] cpu                100      1.00      1.00      0.00       100.00         100.00\n"
    assert parsers.parse_stress_ng(line)["bogo_ops"] == 100


def test_stress_ng_without_metrics_fails_loudly():
    with pytest.raises(parsers.WorkloadOutputError, match="metrics-brief"):
        parsers.parse_stress_ng("stress-ng: info:  [1] successful run completed in 2.01s\n")


def test_cyclictest_json_percentiles_and_overflows():
    text = (DATA / "cyclictest-2threads.json").read_text()
    m = parsers.parse_cyclictest_json(text)
    doc = json.loads(text)
    hist, cycles, overflows = parsers.cyclictest_histogram(doc)
    # The capture ran with -h 2000; its text dump said 1981 + 1989 samples in
    # buckets and 5 + 3 overflows; the JSON says 1986 + 1992 cycles.
    assert cycles == 1986 + 1992
    assert overflows == 8
    assert m["wakeups"] == cycles and m["overflows"] == 8
    assert m["min_us"] == 27 and m["max_us"] == 3704
    assert m["p50_us"] <= m["p99_us"] <= m["p99_9_us"]
    assert 60 < m["p50_us"] < 100  # the threads' averages were 93 and 87 us
    # p99.9 lies among the overflows (8 of 3978 > 0.1%): reported as infinite, not as 2000.
    assert math.isinf(m["p99_9_us"])


def test_histogram_percentile_exact():
    hist = {1: 50, 2: 40, 10: 9, 100: 1}
    assert parsers.histogram_percentile(hist, 100, 50) == 1
    assert parsers.histogram_percentile(hist, 100, 90) == 2
    assert parsers.histogram_percentile(hist, 100, 99) == 10
    assert parsers.histogram_percentile(hist, 100, 100) == 100


def test_cyclictest_bad_json():
    with pytest.raises(parsers.WorkloadOutputError):
        parsers.parse_cyclictest_json("# /dev/cpu_dma_latency set to 0us\n")


def test_percentiles_need_enough_wakeups():
    # 500 wake-ups: p99 is measured (needs 100), p99.9 is not (needs 1000).
    doc = {"return_code": 0, "thread": {"0": {"cycles": 500, "min": 5, "max": 90, "histogram": {"5": 400, "90": 100}}}}
    m = parsers.parse_cyclictest_json(json.dumps(doc))
    assert m["p99_us"] == 90
    assert math.isnan(m["p99_9_us"])


def test_guest_records_non_finite_as_null():
    from scxpy.bench.guest import finite_or_none

    assert finite_or_none({"a": float("nan"), "b": float("inf"), "c": 1.5, "d": 3}) == {
        "a": None, "b": None, "c": 1.5, "d": 3}
