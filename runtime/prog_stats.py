"""Cost of each BPF program, like bpftop: calls and mean run time.

The kernel counts run_cnt/run_time_ns only while someone holds the fd
returned by bpf_enable_stats(BPF_STATS_RUN_TIME) (it costs a clock read
per call), so we hold it just for the measuring window and report deltas.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass

from scxpy.runtime import btf as B
from scxpy.runtime import libbpf as L
from scxpy.runtime.errors import LoaderError


@dataclass(frozen=True)
class ProgCounters:
    run_cnt: int
    run_time_ns: int
    attach_btf_id: int


@dataclass(frozen=True)
class ProgramCost:
    program: str
    callback: str      # sched_ext_ops member for struct_ops programs, else the program name
    calls: int
    total_ns: int

    @property
    def mean_ns(self) -> float:
        return self.total_ns / self.calls if self.calls else 0.0


def counters(prog_fd: int) -> ProgCounters:
    info = L.ffi.new("struct bpf_prog_info *")
    size = L.ffi.new("__u32 *", L.ffi.sizeof("struct bpf_prog_info"))
    err = L.lib().bpf_prog_get_info_by_fd(prog_fd, info, size)
    if err < 0:
        raise LoaderError(f"bpf_prog_get_info_by_fd failed: {L.errno_name(err)}")
    return ProgCounters(int(info.run_cnt), int(info.run_time_ns), int(info.attach_btf_id))


class run_time_stats:
    """Context manager: kernel run-time accounting on while inside."""

    def __enter__(self):
        fd = L.lib().bpf_enable_stats(L.BPF_STATS_RUN_TIME)
        if fd < 0:
            raise LoaderError(f"bpf_enable_stats(BPF_STATS_RUN_TIME) failed: {L.errno_name(fd)} (needs CAP_SYS_ADMIN)")
        self.fd = fd
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


@functools.lru_cache(maxsize=None)
def _vmlinux_members(type_id: int) -> tuple[str, ...]:
    btf = L.lib().btf__load_vmlinux_btf()
    if btf == L.ffi.NULL:
        return ()
    try:
        return tuple(B.struct_member_names(btf, type_id))
    finally:
        L.lib().btf__free(btf)


def callback_name(program, attach_btf_id: int) -> str:
    """Which sched_ext_ops member a struct_ops program implements.

    libbpf records the member's index as the program's expected attach type
    and the kernel reports the ops struct's vmlinux BTF id.
    """
    if program.type == L.BPF_PROG_TYPE_STRUCT_OPS and attach_btf_id:
        members = _vmlinux_members(attach_btf_id)
        idx = program.expected_attach_type
        if 0 <= idx < len(members):
            return members[idx]
    return program.name


def measure(programs, seconds: float) -> list[ProgramCost]:
    """Run-time cost of `programs` (loaded Program objects) over a window of `seconds`."""
    programs = [p for p in programs if p.fd >= 0]
    with run_time_stats():
        before = {p.name: counters(p.fd) for p in programs}
        time.sleep(seconds)
        after = {p.name: counters(p.fd) for p in programs}
    out = []
    for p in programs:
        b, a = before[p.name], after[p.name]
        out.append(ProgramCost(p.name, callback_name(p, a.attach_btf_id), a.run_cnt - b.run_cnt, a.run_time_ns - b.run_time_ns))
    return sorted(out, key=lambda c: -c.total_ns)


def format_costs(costs: list[ProgramCost]) -> str:
    lines = [f"{'callback':<16} {'program':<28} {'calls':>10} {'mean ns':>9} {'total ms':>9}"]
    for c in costs:
        lines.append(f"{c.callback:<16} {c.program:<28} {c.calls:>10} {c.mean_ns:>9.0f} {c.total_ns / 1e6:>9.2f}")
    return "\n".join(lines)
