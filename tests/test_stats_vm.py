"""Stats in the 6.12 guest: `scxpy run --stats --stats-json` and the scx_stats socket.

(`--plot` is drawn on the host: tests/test_stats_view.py; matplotlib's first
start builds a font cache, which takes minutes under TCG.)

The socket is read by a client written here from the protocol's
description (DESIGN.md, "scx_stats protocol"), not from scxpy's server:
connect, one JSON request per line, one JSON reply per line.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scxpy.runtime import sched_ext_sysfs

pytestmark = pytest.mark.vm

REPO = Path(__file__).resolve().parent.parent
SOCKET = "/var/run/scx/root/stats"  # where the scx tools look, and scxpy's default


class ScxStatsClient:
    def __init__(self, path: str):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.f = self.sock.makefile("rw")

    def request(self, req: str, args: dict | None = None):
        msg = {"req": req} if args is None else {"req": req, "args": args}
        self.f.write(json.dumps(msg) + "\n")
        self.f.flush()
        reply = json.loads(self.f.readline())
        assert reply["errno"] == 0, reply
        return reply["args"]["resp"]

    def close(self):
        self.sock.close()


def metrics(meta: dict, resp: dict) -> dict[str, float]:
    """What a generic relay makes of it: every number the metadata describes, by path."""
    top = next(name for name, s in meta.items() if s.get("top") == "true")
    out = {}

    def walk(sname, values, path):
        for fname, field in meta[sname]["fields"].items():
            if field.get("datum") in ("u64", "i64", "float"):
                out[f"{path}{meta[sname]['user']['_om_prefix']}{fname}"] = values[fname]
            elif "dict" in field:
                for key, sub in values.get(fname, {}).items():
                    walk(field["dict"]["datum"]["struct"], sub, f"{path}{key}/")

    walk(top, resp, "")
    return out


@pytest.fixture(scope="module")
def fifo(vmlinux_h):
    from scxpy import codegen
    from scxpy import schedulers

    return codegen.compile(schedulers.policy_file("fifo"), str(vmlinux_h))


def test_stats_table_json_and_scx_stats_socket(fifo, tmp_path):
    assert sched_ext_sysfs.wait_state("disabled") == "disabled"
    json_path = tmp_path / "stats.jsonl"
    p = subprocess.Popen(
        [sys.executable, "-m", "scxpy", "run", fifo.obj_path, "--stats", "0.5", "--stats-json", str(json_path), "--", "stress-ng", "--cpu", str(2 * (os.cpu_count() or 1)), "--timeout", "4s",
         "--temp-path", "/tmp", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        deadline = time.monotonic() + 180  # loading verifies the object: slow under a loaded TCG host
        while not os.path.exists(SOCKET):
            assert p.poll() is None and time.monotonic() < deadline, p.communicate()
            time.sleep(0.1)
        client = ScxStatsClient(SOCKET)
        meta = client.request("stats_meta")
        first = metrics(meta, client.request("stats", {"target": "top"}))
        time.sleep(1.5)
        second = metrics(meta, client.request("stats", {"target": "top"}))
        client.close()
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    # every counter of the manifest is a metric, and they count up
    assert len(first) == len(fifo.manifest.stats.names) and set(first) == set(second)
    assert all(second[k] >= first[k] for k in first) and sum(second.values()) > sum(first.values())
    assert not os.path.exists(SOCKET), "the socket outlived the scheduler"
    # the table and the JSON lines
    assert "enqueued" in out and "per second" in out and "totals after" in out
    table = [line for line in out.splitlines() if line.startswith(("rule ", "queue ", " "))]
    assert table and max(map(len, table)) <= 80
    recs = [json.loads(line) for line in json_path.read_text().splitlines()]
    assert recs and set(recs[-1]["totals"]) == set(fifo.manifest.stats.names)
