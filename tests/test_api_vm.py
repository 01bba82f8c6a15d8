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


def test_agent_runs_a_userspace_policy_as_a_process_of_its_own(vmlinux_h, tmp_path):
    """A userspace policy's loop needs a process of its own: the agent starts `scxpy run`
    for it, swaps it like any scheduler, and reports its end with the policy's traceback."""
    from scxpy import codegen, schedulers
    from scxpy.build import compile_policy_spec

    fifo = codegen.compile(schedulers.policy_file("fifo"), str(vmlinux_h))
    uvtime = compile_policy_spec("uvtime")
    raises = compile_policy_spec(str(REPO / "tests" / "user_policies" / "raises.py"))
    sock = str(tmp_path / "stats.sock")
    a = AgentProc(sock)
    try:
        assert a.reply()["ready"] is True
        r = a.ask(op="attach", **_spec(uvtime))
        assert r["ok"] and r["name"] == "uvtime", r
        assert sched_ext_sysfs.read_state().ops == "uvtime"
        assert os.path.exists(sock), "the policy's own process serves its counters on the agent's socket"
        r = a.ask(op="run", argv=["hackbench", "-g", "2", "-l", "100"], interval=0.5)
        assert r["ok"] and r["status"] == 0 and r["scheduler"] == "uvtime" and r["ejected"] is None, r
        r = a.ask(op="set", values={"slice": 1000000})
        assert not r["ok"] and "no live tunables" in r["error"], r
        r = a.ask(op="attach", **_spec(fifo))
        assert r["ok"] and r["name"] == "fifo" and "loop ended because" in r["previous_exit"], r
        r = a.ask(op="attach", **_spec(raises))
        if r["ok"]:  # attached before the method raised: the run sees it end
            r = a.ask(op="run", argv=["stress-ng", "--cpu", "4", "--timeout", "5s"], interval=0.5)
            why = r["ejected"]
        else:  # it raised while attaching: fifo is put back
            assert r["kept"] == "fifo", r
            why = r["error"]
        line = next(i for i, t in enumerate((REPO / "tests" / "user_policies" / "raises.py").read_text()
                                            .splitlines(), 1) if "BUG-HERE" in t)
        assert "ZeroDivisionError" in why and f'raises.py", line {line}, in dispatch' in why, why
        r = a.ask(op="quit")
        assert r["ok"]
        assert a.p.wait(timeout=60) == 0
    finally:
        if a.p.poll() is None:
            a.p.kill()
    assert sched_ext_sysfs.wait_state("disabled") == "disabled"
