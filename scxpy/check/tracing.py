"""Guest side: the kernel's scheduler tracepoints (sched_switch, sched_wakeup,
sched_wakeup_new) recorded through tracefs while a check's workload runs.

Recorded with the `mono` trace clock, so that timestamps compare with
time.monotonic() in the workload. Filters keep the buffer small: only
switches and wakeups of the workload's tasks (`scxchk-*`) and switches to
or from the idle task (pid 0), which is all the analyses need. A lost
event would make every figure wrong, so a buffer overrun is an error.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from scxpy.base.errors import ScxpyError

ROOT = Path("/sys/kernel/tracing")
EVENTS = ("sched_switch", "sched_wakeup", "sched_wakeup_new")
BUFFER_KB = 16384


class TracingError(ScxpyError):
    """tracefs is missing or a recording was incomplete."""


@dataclass(frozen=True)
class Switch:
    t: float
    cpu: int
    prev_pid: int
    prev_comm: str
    prev_runnable: bool  # preempted (R / R+), still wants the CPU
    next_pid: int
    next_comm: str


@dataclass(frozen=True)
class Wakeup:
    t: float
    cpu: int
    pid: int
    comm: str
    target_cpu: int


_LINE = re.compile(r"\[(\d+)\]\s+\S+\s+(\d+\.\d+):\s+(sched_\w+):\s+(.*)$")
_FIELD = re.compile(r"(\w+)=(\S*)")


def _write(name: str, value: str) -> None:
    (ROOT / name).write_text(value)


def _mount() -> None:
    if (ROOT / "trace").exists():
        return
    ROOT.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tracefs", "nodev", str(ROOT)], capture_output=True, text=True)
    if r.returncode != 0 or not (ROOT / "trace").exists():
        raise TracingError(f"cannot mount tracefs at {ROOT} ({r.stderr.strip()}): the check needs the "
                           "kernel's sched tracepoints (CONFIG_FTRACE, CONFIG_EVENT_TRACING)")


class Recording:
    """with Recording() as rec: ...workload...; then rec.switches, rec.wakeups."""

    def __init__(self):
        self.switches: list[Switch] = []
        self.wakeups: list[Wakeup] = []

    def __enter__(self) -> "Recording":
        _mount()
        _write("tracing_on", "0")
        _write("trace", "")
        _write("buffer_size_kb", str(BUFFER_KB))
        _write("trace_clock", "mono")
        ours = f'prev_comm ~ "scxchk-*" || next_comm ~ "scxchk-*" || prev_pid == 0 || next_pid == 0'
        for ev in EVENTS:
            flt = ours if ev == "sched_switch" else 'comm ~ "scxchk-*"'
            _write(f"events/sched/{ev}/filter", flt)
            _write(f"events/sched/{ev}/enable", "1")
        _write("tracing_on", "1")
        return self

    def __exit__(self, *exc) -> None:
        _write("tracing_on", "0")
        try:
            if exc[0] is None:
                self._check_overrun()
                self._parse((ROOT / "trace").read_text(errors="replace"))
        finally:
            for ev in EVENTS:
                _write(f"events/sched/{ev}/enable", "0")
                _write(f"events/sched/{ev}/filter", "0")
            _write("trace", "")
            _write("trace_clock", "local")

    def _check_overrun(self) -> None:
        lost = 0
        for stats in (ROOT / "per_cpu").glob("cpu*/stats"):
            for line in stats.read_text().splitlines():
                if line.startswith("overrun:"):
                    lost += int(line.split()[1])
        if lost:
            raise TracingError(f"the trace buffer overran ({lost} events lost; {BUFFER_KB} KiB per CPU): "
                               "shorten the check or run it on fewer CPUs")

    def _parse(self, text: str) -> None:
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            m = _LINE.search(line)
            if not m:
                continue
            cpu, t, ev, rest = int(m[1]), float(m[2]), m[3], m[4]
            f = dict(_FIELD.findall(rest))
            if ev == "sched_switch":
                self.switches.append(Switch(t, cpu, int(f["prev_pid"]), f["prev_comm"],
                                            f.get("prev_state", "").startswith("R"),
                                            int(f["next_pid"]), f["next_comm"]))
            elif ev in ("sched_wakeup", "sched_wakeup_new"):
                self.wakeups.append(Wakeup(t, cpu, int(f["pid"]), f["comm"], int(f.get("target_cpu", cpu))))


def ours(comm: str) -> bool:
    return comm.startswith("scxchk-")


def timeline(rec: Recording) -> list:
    """Switches and wakeups in time order (a wakeup before a switch at the same instant)."""
    evs = [(w.t, 0, w) for w in rec.wakeups] + [(s.t, 1, s) for s in rec.switches]
    evs.sort(key=lambda e: (e[0], e[1]))
    return [e[2] for e in evs]


def waits(rec: Recording, start: float, end: float) -> list[tuple[int, float, float, int]]:
    """Every spell a workload task spent runnable but not running, clipped to [start, end]:
    (pid, from, to, cpu it was woken to or preempted on). A spell still open at `end` ends there."""
    since: dict[int, tuple[float, int]] = {}
    out = []
    for e in timeline(rec):
        if isinstance(e, Wakeup):
            since.setdefault(e.pid, (e.t, e.target_cpu))
            continue
        if ours(e.prev_comm) and e.prev_runnable:
            since[e.prev_pid] = (e.t, e.cpu)
        if ours(e.next_comm) and e.next_pid in since:
            t0, cpu = since.pop(e.next_pid)
            if e.t > start and t0 < end:
                out.append((e.next_pid, max(t0, start), min(e.t, end), cpu))
    for pid, (t0, cpu) in since.items():
        if t0 < end:
            out.append((pid, max(t0, start), end, cpu))
    return out


def idle_spells(rec: Recording, cpus: int, start: float, end: float) -> list[tuple[int, float, float]]:
    """(cpu, from, to): when each CPU ran its idle task, clipped to [start, end]. A CPU's
    state before its first switch is taken from that switch (idle if it left pid 0)."""
    first: dict[int, bool] = {}
    idle_since: dict[int, float] = {}
    out = []
    for s in rec.switches:
        if s.cpu not in first:
            first[s.cpu] = s.prev_pid == 0
            if s.prev_pid == 0:
                idle_since[s.cpu] = start
        if s.next_pid == 0:
            idle_since[s.cpu] = s.t
        elif s.prev_pid == 0 and s.cpu in idle_since:
            t0 = idle_since.pop(s.cpu)
            if s.t > start and t0 < end:
                out.append((s.cpu, max(t0, start), min(s.t, end)))
    for cpu, t0 in idle_since.items():
        if t0 < end:
            out.append((cpu, max(t0, start), end))
    return out


def online_cpus() -> int:
    return len(os.sched_getaffinity(0))
