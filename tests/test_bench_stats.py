"""bench.stats: medians, spread, ratios and the interleaved run order."""


import pytest


from scxpy.bench import stats  # noqa: E402


def test_median_odd_and_even():
    assert stats.median([3, 1, 2]) == 2
    assert stats.median([4, 1, 3, 2]) == 2.5
    assert stats.median([7]) == 7


def test_percentile_matches_numpy_linear():
    np = pytest.importorskip("numpy")
    xs = [0.91, 1.7, 0.2, 5.5, 3.3, 2.1, 9.0]
    for q in (0, 10, 25, 50, 75, 90, 99, 100):
        assert stats.percentile(xs, q) == pytest.approx(float(np.percentile(xs, q)))


def test_percentile_rejects_nonsense():
    with pytest.raises(ValueError):
        stats.percentile([], 50)
    with pytest.raises(ValueError):
        stats.percentile([1], 101)


def test_summary_spread():
    s = stats.summarize([10, 12, 11, 30, 9])
    assert (s.n, s.median, s.min, s.max) == (5, 11, 9, 30)
    assert (s.q1, s.q3) == (10, 12)
    assert s.iqr == 2
    assert s.to_json()["iqr"] == 2


def test_ratio_to_baseline():
    assert stats.ratio(1.5, 1.0) == 1.5
    assert stats.ratio(1.0, 0.0) is None


def test_paired_ratios_use_matching_rounds_only():
    c = {0: 2.0, 1: 3.0, 2: 4.0}
    base = {0: 1.0, 2: 2.0, 3: 5.0}
    assert stats.paired_ratios(c, base) == [2.0, 2.0]


def test_interleaved_order_is_abc_abc_after_warmup():
    order = stats.interleaved_order(["fair", "fifo", "peer:scx_simple"], rounds=2, warmup=1)
    assert order == [
        (-1, "fair"), (-1, "fifo"), (-1, "peer:scx_simple"),
        (0, "fair"), (0, "fifo"), (0, "peer:scx_simple"),
        (1, "fair"), (1, "fifo"), (1, "peer:scx_simple"),
    ]
    assert stats.interleaved_order(["a"], rounds=1, warmup=0) == [(0, "a")]


def test_interleaved_order_needs_a_round():
    with pytest.raises(ValueError):
        stats.interleaved_order(["a"], rounds=0)


def test_rotated_order_shifts_each_measured_round():
    order = stats.interleaved_order(["a", "b", "c"], rounds=3, warmup=1, rotate=True)
    rounds = {}
    for rnd, name in order:
        rounds.setdefault(rnd, []).append(name)
    assert rounds == {-1: ["a", "b", "c"], 0: ["a", "b", "c"], 1: ["b", "c", "a"], 2: ["c", "a", "b"]}
