"""Per-callback cost of a BPF scheduler: mean ns per run of each struct_ops program.

The kernel counts run_cnt and run_time_ns for every BPF program while
kernel.bpf_stats_enabled is 1. That bookkeeping (two clock reads per
program run) slows the very programs being compared, so the guest turns
it on only for the warm-up round, whose samples never count.
"""

from __future__ import annotations

import json
import subprocess
from contextlib import ExitStack, contextmanager
from pathlib import Path

from scxpy.base.tools import require_tool

STATS_SYSCTL = Path("/proc/sys/kernel/bpf_stats_enabled")


@contextmanager
def stats_on():
    """Kernel BPF run-time accounting on while inside.

    Through the runtime's bpf_enable_stats() fd (released even if we
    crash); the sysctl is the fallback when libbpf cannot be loaded.
    """
    from scxpy.bench import runtime_adapter
    from scxpy.runtime.errors import LibbpfMissing, LibbpfTooOld

    with ExitStack() as stack:
        try:
            stack.enter_context(runtime_adapter.run_time_stats())
        except (LibbpfMissing, LibbpfTooOld):
            stack.enter_context(_sysctl_stats_on())
        yield


@contextmanager
def _sysctl_stats_on():
    previous = STATS_SYSCTL.read_text().strip()
    STATS_SYSCTL.write_text("1\n")
    try:
        yield
    finally:
        STATS_SYSCTL.write_text(previous + "\n")


def mean_ns(run_cnt: int, run_time_ns: int) -> float | None:
    return run_time_ns / run_cnt if run_cnt else None


def callback_name(prog_name: str, all_names: list[str]) -> str:
    """The sched_ext callback a struct_ops program implements, from its name.

    Schedulers name their programs `<prefix>_<callback>` (simple_enqueue,
    qmap_dispatch); the prefix is what all of one scheduler's programs
    share. Only used for display: the raw program name is kept too.
    """
    prefix = _common_prefix(all_names) if len(all_names) > 1 else ""
    cut = prefix.rfind("_") + 1 if "_" in prefix else 0
    return prog_name[cut:] or prog_name


def _common_prefix(names: list[str]) -> str:
    first, last = min(names), max(names)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def from_bpftool_json(progs: list[dict], pid: int | None) -> dict[str, dict]:
    """Costs of the struct_ops programs held by process `pid` (any, if None or unknown)."""
    mine = []
    for p in progs:
        if p.get("type") != "struct_ops":
            continue
        pids = [x.get("pid") for x in p.get("pids", [])]
        if pid is not None and pids and pid not in pids:
            continue
        mine.append(p)
    names = [p.get("name", str(p["id"])) for p in mine]
    out = {}
    for p, name in zip(mine, names):
        cnt = int(p.get("run_cnt", 0))
        t = int(p.get("run_time_ns", 0))
        out[callback_name(name, names)] = {
            "prog": name, "prog_id": p["id"], "run_cnt": cnt, "run_time_ns": t, "mean_ns": mean_ns(cnt, t),
        }
    return out


def struct_ops_costs(pid: int | None) -> dict[str, dict]:
    """Read every loaded struct_ops program's stats through bpftool."""
    proc = subprocess.run([require_tool("bpftool"), "--json", "prog", "show"], capture_output=True, text=True)
    if proc.returncode != 0:
        return {}
    return from_bpftool_json(json.loads(proc.stdout or "[]"), pid)
