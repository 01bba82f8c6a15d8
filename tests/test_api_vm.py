"""The guest half of scxpy.api (scxpy/api/agent.py) in the 6.12 guest: swap, keep the
previous scheduler when the new one fails to load, run a workload, quit cleanly.

(The host half, vm/warm.py, and `scxpy dev` end to end: tests/test_dev_boot.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scxpy.runtime import sched_ext_sysfs
from scxpy.vm.warm import MARK

pytestmark = pytest.mark.vm

REPO = Path(__file__).resolve().parent.parent


class AgentProc:
    def __init__(self, socket_path: str):
        self.p = subprocess.Popen([sys.executable, "-m", "scxpy.api.agent", socket_path], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, cwd=REPO)

    def reply(self) -> dict:
        while True:
            line = self.p.stdout.readline()
            assert line, "the agent exited"
            if line.startswith(MARK):
                return json.loads(line[len(MARK):])

    def ask(self, **req) -> dict:
        self.p.stdin.write(json.dumps(req) + "\n")
        self.p.stdin.flush()
        return self.reply()


def _spec(compiled) -> dict:
    return {"obj": compiled.obj_path, "manifest": compiled.manifest.to_dict(), "c_path": compiled.c_path}


def test_agent_swaps_keeps_previous_on_failure_and_quits_clean(vmlinux_h, tmp_path):
    from scxpy import codegen
    from scxpy import schedulers

    fifo = codegen.compile(schedulers.policy_file("fifo"), str(vmlinux_h))
    inter = codegen.compile(schedulers.policy_file("interactive"), str(vmlinux_h))
    broken = tmp_path / "broken.bpf.o"
    broken.write_bytes(b"\x7fELF not really an object")
    sock = str(tmp_path / "stats.sock")
    assert sched_ext_sysfs.wait_state("disabled") == "disabled"
    a = AgentProc(sock)
    try:
        assert a.reply()["ready"] is True
        r = a.ask(op="attach", **_spec(fifo))
        assert r["ok"], r
        assert sched_ext_sysfs.read_state().ops == "fifo" and os.path.exists(sock)
        r = a.ask(op="attach", **_spec(inter))
        assert r["ok"] and r["name"] == "interactive" and "UNREG" in r["previous_exit"], r
        assert set(r["times"]) == {"transfer_s", "load_s", "detach_s", "attach_s"}
        seq = sched_ext_sysfs.read_state().enable_seq
        r = a.ask(op="attach", obj=str(broken))
        assert not r["ok"] and r["stage"] == "load" and r["kept"] == "interactive", r
        st = sched_ext_sysfs.read_state()
        assert (st.state, st.ops, st.enable_seq) == ("enabled", "interactive", seq), "the previous one was touched"
        r = a.ask(op="run", argv=["sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 0.05; done; exit 3"],
                  interval=0.2)
        assert r["ok"] and r["status"] == 3 and r["scheduler"] == "interactive" and r["ejected"] is None, r
        assert set(r["stats"]) == set(inter.manifest.stats.names)
        r = a.ask(op="quit")
        assert r["ok"] and "UNREG" in r["exit"]
        assert a.p.wait(timeout=30) == 0
    finally:
        if a.p.poll() is None:
            a.p.kill()
    assert sched_ext_sysfs.wait_state("disabled") == "disabled"
    assert not os.path.exists(sock)
