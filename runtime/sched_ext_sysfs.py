"""What the kernel says about sched_ext: /sys/kernel/sched_ext.

state: "prepping", "enabling", "enabled", "disabling" or "disabled"; root/ops: the attached scheduler's name; enable_seq: how
many times a scheduler has been enabled since boot.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from scxpy.runtime.errors import NoSchedExt, SchedulerAlreadyAttached

SYSFS = Path(os.environ.get("SCXPY_SCHED_EXT_SYSFS", "/sys/kernel/sched_ext"))


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def available() -> bool:
    return SYSFS.is_dir()


@dataclass(frozen=True)
class SchedExtState:
    state: str            # prepping / enabling / enabled / disabling / disabled
    ops: str | None       # name of the attached scheduler, if any
    enable_seq: int | None

    @property
    def enabled(self) -> bool:
        return self.state == "enabled"


def read_state() -> SchedExtState:
    require_sched_ext()
    seq = _read(SYSFS / "enable_seq")
    return SchedExtState(
        state=_read(SYSFS / "state") or "unknown",
        ops=_read(SYSFS / "root" / "ops") or None,
        enable_seq=int(seq) if seq and seq.isdigit() else None,
    )


def wait_state(want: str, timeout: float = 10.0, poll: float = 0.05) -> str:
    """Poll until the state is `want` or `timeout` passes; return the last state read."""
    deadline = time.monotonic() + timeout
    while True:
        st = read_state().state
        if st == want or time.monotonic() > deadline:
            return st
        time.sleep(poll)


def require_sched_ext() -> None:
    if not available():
        raise NoSchedExt(
            f"this kernel ({os.uname().release}) has no sched_ext ({SYSFS} is absent; "
            "it needs CONFIG_SCHED_CLASS_EXT, Linux 6.12+). Run the scheduler in the 6.12 guest "
            "instead: `scxpy run --vm POLICY -- WORKLOAD`."
        )


def require_no_scheduler() -> None:
    """Fail clearly if another sched_ext scheduler is already attached."""
    st = read_state()
    if st.state != "disabled":
        who = st.ops or "an unnamed scheduler"
        raise SchedulerAlreadyAttached(
            f"another sched_ext scheduler is already attached: {who!r} (state {st.state}). "
            "Only one can run at a time: stop it first (end its loader, e.g. Ctrl-C in its terminal, "
            "or SysRq-S to eject it), then retry.",
            attached=st.ops,
        )
