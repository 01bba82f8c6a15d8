"""The kernel's sched_ext state in sysfs, read the same way for every contender.

A sample only counts if the scheduler we meant to measure was attached
for the whole run: we read `state`, `root/ops` and `enable_seq` before
and after each workload, so a policy the kernel ejected mid-run (which
silently falls back to the fair class) is caught instead of being
reported as the policy's result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

SYSFS = Path("/sys/kernel/sched_ext")


@dataclass(frozen=True)
class State:
    state: str  # enabled / disabled / enabling / disabling
    ops: str | None  # name of the attached scheduler
    enable_seq: int


def read(sysfs: Path | None = None) -> State:
    sysfs = sysfs or SYSFS
    state = (sysfs / "state").read_text().strip()
    try:
        ops = (sysfs / "root" / "ops").read_text().strip() or None
    except OSError:
        ops = None
    try:
        seq = int((sysfs / "enable_seq").read_text().strip())
    except (OSError, ValueError):
        seq = -1
    return State(state, ops if state == "enabled" else None, seq)


def available(sysfs: Path | None = None) -> bool:
    return ((sysfs or SYSFS) / "state").is_file()


def wait_for(pred, timeout_s: float, poll_s: float = 0.02, sysfs: Path | None = None) -> State | None:
    """Poll until pred(state) holds; return that state, or None on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        st = read(sysfs)
        if pred(st):
            return st
        if time.monotonic() >= deadline:
            return None
        time.sleep(poll_s)
