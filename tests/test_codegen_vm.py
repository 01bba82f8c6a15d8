"""Generated code in the 6.12 guest (VM tier): matches fire, test policies survive load.

Run inside the guest:
    scxpy vm --cpus 2 --timeout 900 -- \\
        /work/main/.venv/bin/python -m pytest -m vm -p no:cacheprovider tests/test_codegen_vm.py

test_matches: a policy with one rule per kind of match (cgroup path prefix
and exact, comm, group leader's comm, uid, kthread) runs workloads built to
hit exactly one rule each; the per-rule counters show every rule fired and
that near misses (cgroup /scxprobe2 against "/scxprobe") did not.
test_feature_policies: the feature-heavy test policies in tests/policies
attach, run 10 s of stress-ng with affinity changes, place its tasks by
their rules and detach with UNREG (raw_all: raw C in every callback the
kernel offers).
test_raw_state: a policy's own map, global and BPF timer work: the timer
ends the scheduler with a message quoting both counts.
test_counters_off_loads_and_schedules: fifo and vtime compiled without
their counters load, schedule a workload and detach cleanly.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
POLICIES = REPO / "tests" / "policies"
CG = Path("/sys/fs/cgroup")

pytestmark = pytest.mark.vm


def _compile(path: Path):
    from scxpy import codegen
    from scxpy.build import vmlinux_h_for

    return codegen.compile(str(path), str(vmlinux_h_for()))


class Attached:
    def __init__(self, compiled):
        from scxpy.runtime.scheduler import Scheduler

        self.sched = Scheduler(compiled.obj_path, manifest=compiled.manifest, c_path=compiled.c_path)

    def __enter__(self):
        self.sched.load()
        self.sched.attach()
        return self.sched

    def __exit__(self, *exc):
        self.exit = self.sched.detach()
        self.sched.close()


SCHED_EXT = 7


def _as_sched_ext():
    # A partial (partial=True) policy schedules only SCHED_EXT tasks; children inherit it.
    os.sched_setscheduler(0, SCHED_EXT, os.sched_param(0))


def _run(script: str, timeout: float = 120) -> None:
    res = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=timeout, cwd="/tmp",
                         preexec_fn=_as_sched_ext)
    assert res.returncode == 0, (script, res.stdout, res.stderr)


@pytest.fixture
def probe_cgroups():
    dirs = [CG / "scxprobe" / "a" / "b", CG / "scxprobe2"]
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    yield
    for d in (CG / "scxprobe" / "a" / "b", CG / "scxprobe" / "a", CG / "scxprobe", CG / "scxprobe2"):
        try:
            d.rmdir()
        except OSError:
            pass


def _spawn(argv: list[str], cgroup: str | None = None) -> subprocess.Popen:
    def enter_cgroup():
        if cgroup:
            (CG / cgroup / "cgroup.procs").write_text(str(os.getpid()))

    return subprocess.Popen(argv, preexec_fn=enter_cgroup, cwd="/tmp")


def _perl(name: str, loops: int = 3_000_000) -> list[str]:
    # Assigning $0 sets the thread's comm (prctl) on Linux.
    return ["perl", "-e", f"$0=q({name}); $x=0; for (1..{loops}) {{ $x++ }}"]


def test_matches(probe_cgroups):
    from scxpy.runtime.exit_info import ExitKind

    a = Attached(_compile(POLICIES / "match_probe.py"))
    with a as sched:
        time.sleep(0.5)
        before = sched.stats()
        procs = [
            _spawn(_perl("w1"), "scxprobe/a/b"),          # cg_prefix
            _spawn(_perl("w2"), "scxprobe"),              # cg_exact
            _spawn(_perl("probe-exact"), "scxprobe2"),    # not a cgroup match: comm_exact
            _spawn(["perl", "-e", "$0=q(probe-leader); for (1..2) { fork or do { $0=q(kid); "
                    "$x=0; for (1..3000000) { $x++ } exit } } wait for 1..2"]),  # leader_prefix
            _spawn(["setpriv", "--reuid", "4242", "--regid", "4242", "--clear-groups", *_perl("w5")]),  # uid
        ]
        for p in procs:
            assert p.wait(timeout=120) == 0, p.args
        after = sched.stats()
    got = {k: after[k] - before[k] for k in after}
    print(got)
    for rule in ("cg_prefix", "cg_exact", "comm_exact", "leader_prefix", "uid", "kthread", "other"):
        assert got[f"rule.{rule}.enqueued"] + got[f"rule.{rule}.direct"] > 0, (rule, got)
    assert got["queue.q.dispatched"] > 0
    assert a.exit.kind == ExitKind.UNREG, a.exit


@pytest.mark.parametrize("name", ["kitchen_sink", "restricted_rr", "minimal_partial", "raw_all",
                                  "task_state", "targeted_preempt"])
def test_feature_policies(name):
    compiled = _compile(POLICIES / f"{name}.py")
    a = Attached(compiled)
    with a as s:
        assert Path("/sys/kernel/sched_ext/root/ops").read_text().strip() == compiled.manifest.name
        _run("stress-ng --aggressive --cpu 2 --fork 2 --affinity 1 --timeout 10s --quiet --temp-path /tmp",
             timeout=180)
        assert Path("/sys/kernel/sched_ext/state").read_text().strip() == "enabled"
        placed = {k: v for k, v in s.stats().items() if k.startswith("rule.") and v}
    assert a.exit.kind == 64, a.exit  # UNREG: detached by us, not ejected
    assert sum(placed.values()) > 100, placed  # it did schedule the workload


def test_raw_state():
    import re

    from scxpy.runtime import sched_ext_sysfs
    from scxpy.runtime.exit_info import ExitKind

    compiled = _compile(POLICIES / "raw_state.py")
    a = Attached(compiled)
    with a:
        _run("stress-ng --cpu 2 --timeout 2s --quiet --temp-path /tmp", timeout=120)
        # 50 ticks of 10 ms: the timer ejects the scheduler on purpose.
        assert sched_ext_sysfs.wait_state("disabled", timeout=30) == "disabled"
    assert a.exit.kind == ExitKind.ERROR_BPF, a.exit
    m = re.search(r"raw_state: (\d+) timer ticks, (\d+) runs", a.exit.msg)
    assert m and int(m.group(1)) == 50 and int(m.group(2)) > 0, a.exit
    # The generated ops.exit keeps the kernel's debug dump too (scx_dump_state's CPU section).
    assert "\nCPU states\n----------\n" in a.exit.dump, a.exit.dump[:2000]


@pytest.mark.parametrize("name", ["fifo", "vtime"])
def test_counters_off_loads_and_schedules(name):
    """Compiled without counters (--no-counters): the object has none, and the policy still
    runs a workload's tasks and detaches cleanly."""
    from scxpy import codegen
    from scxpy import schedulers
    from scxpy.build import vmlinux_h_for

    compiled = codegen.compile(schedulers.policy_file(name), str(vmlinux_h_for()), counters=False)
    assert compiled.manifest.stats is None
    a = Attached(compiled)
    with a as sched:
        assert "scxpy_stats" not in sched.obj.globals and sched.stats() == {}
        worker = subprocess.Popen(["sh", "-c", "while :; do :; done"], cwd="/tmp")
        try:
            time.sleep(0.5)
            sched_line = next(line for line in Path(f"/proc/{worker.pid}/sched").read_text().splitlines()
                              if line.startswith("ext.enabled"))
            assert sched_line.split(":")[1].strip() == "1", sched_line
            _run("stress-ng --cpu 2 --fork 2 --timeout 3s --quiet --temp-path /tmp", timeout=120)
        finally:
            worker.kill()
            worker.wait()
        assert Path("/sys/kernel/sched_ext/state").read_text().strip() == "enabled"
    assert a.exit.kind == 64, a.exit  # UNREG: detached by us, not ejected
