"""runtime.counters / stats_server and scxpy.display: the counters as tables, JSON and
scx_stats replies (pure logic; the socket is exercised in the guest by
tests/test_stats_vm.py)."""

from __future__ import annotations

import json
import socket

import pytest

from scxpy.runtime import stats_server
from scxpy.display.stats_log import StatsLog
from scxpy.display.table import fmt_number, render_table
from scxpy.runtime.counters import Sample, interval_record, split_name

INTERACTIVE = ["rule.interactive.enqueued", "rule.interactive.direct", "rule.interactive.kicked",
               "rule.batch.enqueued", "rule.batch.direct", "rule.batch.kicked",
               "queue.fast.enqueued", "queue.fast.dispatched", "queue.batch.enqueued",
               "queue.batch.dispatched", "cpus_fallback_to_global"]


def test_names_split_into_rows_and_columns():
    assert split_name("rule.fast.enqueued") == ("rule fast", "enqueued")
    assert split_name("queue.a.b.stolen") == ("queue a.b", "stolen")
    assert split_name("cpus_fallback_to_global") == ("policy", "cpus_fallback_to_global")


def test_numbers_stay_short():
    assert [fmt_number(v) for v in (0, 7, 0.4, 812, 12345, 4_560_000, 2.5e9)] == \
        ["0", "7", "0.4", "812", "12.3k", "4.56M", "2.50G"]


def test_rates_are_per_second_between_samples():
    a = Sample({"x": 10}, t=100.0)
    b = Sample({"x": 40}, t=102.0)
    assert b.rates(a) == {"x": 15.0}
    assert b.rates(None) == {"x": 0.0}


def test_table_is_aligned_and_fits_80_columns():
    vals = {n: 123456.0 * (i % 5) for i, n in enumerate(INTERACTIVE)}
    out = render_table(vals, "interactive  3 s  (per second)", 80)
    lines = out.splitlines()
    assert max(map(len, lines)) <= 80
    header = next(line for line in lines if "enqueued" in line)
    for col in ("enqueued", "direct", "kicked", "dispatched"):
        assert col in header
    rows = {line.split()[0] + " " + line.split()[1]: line for line in lines if line.startswith(("rule", "queue"))}
    assert set(rows) == {"rule interactive", "rule batch", "queue fast", "queue batch"}
    # right-aligned numbers end in the same column as their header
    end = header.index("enqueued") + len("enqueued")
    assert rows["rule batch"][:end].endswith(fmt_number(vals["rule.batch.enqueued"]))
    assert any(line.startswith("cpus_fallback_to_global") for line in lines)


def test_wide_table_degrades_to_one_counter_per_line():
    vals = {f"queue.q.counter_number_{i}": i for i in range(12)}
    out = render_table(vals, "wide", 80)
    assert max(map(len, out.splitlines())) <= 80
    assert all(f"queue.q.counter_number_{i}" in out for i in range(12))


def test_interval_record_is_json_with_totals_and_rates():
    rec = interval_record("p", Sample({"a": 30}, t=12.0), Sample({"a": 10}, t=10.0), start=9.0)
    assert json.loads(json.dumps(rec)) == rec
    assert rec["totals"] == {"a": 30} and rec["rates"] == {"a": 10.0}
    assert rec["elapsed_s"] == 3.0 and rec["interval_s"] == 2.0


def test_stats_log_writes_one_json_line_per_interval_and_the_last_part_interval(tmp_path):
    """The last line, written at finish(), holds the run's totals (a hotplug at the very end counts)."""
    counter = iter(range(0, 1000, 10))
    path = tmp_path / "s.jsonl"
    log = StatsLog("p", lambda: {"rule.r.enqueued": next(counter)}, table_width=80, json_path=path,
                   out=open(tmp_path / "out.txt", "w"))
    log.tick()
    log.tick()
    log.finish()
    lines = path.read_text().splitlines()
    assert [json.loads(x)["totals"]["rule.r.enqueued"] for x in lines] == [10, 20, 30]
    assert "totals after" in (tmp_path / "out.txt").read_text()


def test_plot_draws_a_png(tmp_path):
    from scxpy.display.plot import plot

    recs = [interval_record("p", Sample({n: i * 10 for n in INTERACTIVE}, t=float(i)),
                            Sample({n: 0 for n in INTERACTIVE}, t=0.0), 0.0) for i in range(1, 4)]
    plot(recs, tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- scx_stats ------------------------------------------------------------------


def test_stats_meta_has_the_protocol_shape():
    meta = stats_server.stats_meta("interactive", INTERACTIVE)
    tops = [name for name, s in meta.items() if s.get("top") == "true"]
    assert tops == ["scxpy"]
    for name, s in meta.items():
        assert s["name"] == name and isinstance(s["desc"], str)
        assert set(s["user"]) == {"_om_prefix", "_om_label"}
        for f in s["fields"].values():
            assert ("datum" in f) != ("dict" in f)
            if "datum" in f:
                assert f["datum"] in ("u64", "i64", "float", "string")
            else:
                assert f["dict"]["key"] == "string" and f["dict"]["datum"]["struct"] in meta
    top = meta["scxpy"]["fields"]
    assert top["rules"]["dict"]["datum"]["struct"] == "scxpy_rule"
    assert top["cpus_fallback_to_global"]["datum"] == "u64"
    assert set(meta["scxpy_queue"]["fields"]) == {"enqueued", "dispatched"}
    assert meta["scxpy_rule"]["user"]["_om_label"] == "rule"


def test_stats_reply_follows_stats_meta():
    totals = {n: i for i, n in enumerate(INTERACTIVE)}
    ans = stats_server.reply('{"req":"stats","args":{"target":"top"}}', "interactive", INTERACTIVE,
                             lambda: totals)
    assert ans["errno"] == 0
    resp = ans["args"]["resp"]
    assert resp["scheduler"] == "interactive"
    assert resp["rules"]["batch"]["kicked"] == totals["rule.batch.kicked"]
    assert resp["queues"]["fast"]["dispatched"] == totals["queue.fast.dispatched"]
    assert resp["cpus_fallback_to_global"] == totals["cpus_fallback_to_global"]


@pytest.mark.parametrize("line, err", [("not json", "EINVAL"), ('{"req":"frobnicate"}', "EINVAL"),
                                       ('{"req":"stats","args":{"target":"nope"}}', "ENOENT")])
def test_bad_requests_get_an_errno_not_a_crash(line, err):
    import errno

    ans = stats_server.reply(line, "p", [], dict)
    assert ans["errno"] == getattr(errno, err) and isinstance(ans["args"]["resp"], str)


def test_server_answers_on_a_unix_socket(tmp_path):
    path = str(tmp_path / "stats")
    with stats_server.StatsServer(path, "p", ["rule.r.enqueued"], lambda: {"rule.r.enqueued": 5}):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(path)
            f = s.makefile("rw")
            f.write('{"req":"stats_meta"}\n{"req":"stats","args":{"target":"top"}}\n')
            f.flush()
            meta = json.loads(f.readline())
            stats = json.loads(f.readline())
    assert meta["errno"] == 0 and "scxpy_rule" in meta["args"]["resp"]
    assert stats["args"]["resp"]["rules"] == {"r": {"enqueued": 5}}


def test_compare_puts_versions_side_by_side():
    from scxpy.display.table import render_compare

    out = render_compare({"a": 100.0, "gone": 1.0}, {"a": 150.0, "new": 2.0}, ("v1", "v2"), "t", 80)
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[3:] if line.strip()}
    assert rows["a"] == ["100", "150", "+50%"]
    assert rows["new"] == ["-", "2"] and rows["gone"] == ["1", "-"]
    first = render_compare(None, {"a": 3.0}, ("", "v1"), "t", 80)
    assert "change" not in first and "v1" in first


def test_every_stock_policy_fits_80_columns_with_large_rates():
    from scxpy import codegen
    from scxpy import schedulers

    for name, path in schedulers.stock().items():
        names = codegen.build_model(path).manifest().stats.names
        out = render_table({n: 987654.0 for n in names}, f"{name}  12 s  (per second)", 80)
        assert max(map(len, out.splitlines())) <= 80, (name, out)
        assert "enqueued" in out.splitlines()[1], f"{name} fell back to one counter per line:\n{out}"
