"""runtime.stats_server against bad clients (host: the server is plain Python).

The same checks run in the guest against `scxpy run`'s own socket, with a
non-root user's connect refused (tests/test_reliability_vm.py).
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from scxpy.runtime import stats_server

sys.path.insert(0, str(Path(__file__).resolve().parent / "workloads"))
import bad_stats_clients  # noqa: E402

NAMES = ["rule.r.enqueued", "queue.q.dispatched"]


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setattr(stats_server, "SEND_TIMEOUT_S", 0.5)  # the never-reading client is dropped sooner
    path = str(tmp_path / "run" / "stats")
    reads = []

    def totals():
        reads.append(1)
        return {"rule.r.enqueued": 5, "queue.q.dispatched": 7}

    with stats_server.StatsServer(path, "p", NAMES, totals) as s:
        s.reads = reads
        yield s


@pytest.mark.parametrize("check", bad_stats_clients.CHECKS, ids=lambda c: c.__name__)
def test_bad_clients_are_answered_or_dropped_and_others_still_served(server, check, capfd):
    r = check(server.path)
    r["good_client_after"] = bad_stats_clients.good_client_answered(server.path)
    assert r["ok"] and r["good_client_after"], r
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_a_client_hanging_up_mid_reply_is_dropped_quietly(server, capfd):
    bad_stats_clients.hang_up_mid_reply(server.path, n=50)
    assert bad_stats_clients.good_client_answered(server.path)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "BrokenPipeError" not in out + err, err


def test_the_socket_is_its_owners_alone(server):
    """Mode 0600 and owned by the user running the scheduler: connect(2) needs write
    permission, so no other (non-root) user can connect (checked as nobody in the guest)."""
    st = os.stat(server.path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == stats_server.SOCKET_MODE == 0o600
    assert st.st_uid == os.getuid()
    assert not [p for p in os.listdir(os.path.dirname(server.path)) if p.endswith(".tmp")]


def test_no_request_changes_anything(server):
    """Only stats and stats_meta exist; setters of any name are unknown requests, and
    the server holds nothing but the counters' reader."""
    r = bad_stats_clients.unknown(server.path)
    assert r["ok"], r
    assert set(vars(server)) >= {"_totals_fn"} and not any(
        callable(v) and getattr(v, "__name__", "") in ("set", "configure") for v in vars(server).values())


def test_too_many_clients_are_told_and_closed(tmp_path, monkeypatch):
    monkeypatch.setattr(stats_server, "MAX_CLIENTS", 3)
    path = str(tmp_path / "stats")
    with stats_server.StatsServer(path, "p", NAMES, dict) as s:
        held = [bad_stats_clients.connect(path) for _ in range(3)]
        for h in held:  # each is being served (its thread has the slot)
            assert bad_stats_clients.ask(h, bad_stats_clients.GOOD)["errno"] == 0
        extra = bad_stats_clients.connect(path)
        assert b'"errno": 11' in extra.makefile("rb").readline()
        extra.close()
        for h in held:
            h.close()
        assert s.dropped >= 1
        assert bad_stats_clients.good_client_answered(path)
