"""Why a scheduler exited: the `scxpy_exit` global, decoded.

The layout lives once, in include/scxpy/exit_info.h; the BPF side includes
that header and this module hands the same text to cffi's cdef.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from pathlib import Path

from cffi import FFI

# For codegen's `clang -I`: generated C does `#include <scxpy/exit_info.h>`.
INCLUDE_DIR = Path(__file__).resolve().parent / "include"
HEADER = INCLUDE_DIR / "scxpy" / "exit_info.h"
STRUCT_NAME = "struct scxpy_exit_info"


class ExitKind(enum.IntEnum):
    """enum scx_exit_kind (kernel/sched/ext.c)."""

    NONE = 0
    DONE = 1
    UNREG = 64
    UNREG_BPF = 65
    UNREG_KERN = 66
    SYSRQ = 67
    ERROR = 1024
    ERROR_BPF = 1025
    ERROR_STALL = 1026


# Exit codes the kernel sets for an exit it wants the loader to undo
# (include/linux/sched/ext.h, enum scx_exit_code): an action bit and a reason.
ECODE_ACT_RESTART = 1 << 48
ECODE_RSN_HOTPLUG = 1 << 32
_ECODE_REASONS = {ECODE_RSN_HOTPLUG: "CPU hotplug"}


def _header_cdef() -> str:
    text = HEADER.read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


_ffi = FFI()
_ffi.cdef(_header_cdef())
SIZE = _ffi.sizeof(STRUCT_NAME)


# The kernel's message for a watchdog stall names the task: "comm[pid] failed to run for 39.764s"
# (scx_watchdog / check_rq_for_timeouts in kernel/sched/ext.c, 6.12 and 7.3 alike).
_STALLED_TASK = re.compile(r"^(?P<comm>.+)\[(?P<pid>\d+)\] failed to run for ")


@dataclass(frozen=True)
class ExitInfo:
    kind: ExitKind | int
    exit_code: int
    reason: str
    msg: str
    dump: str = ""  # the kernel's debug dump; written only when it ejects the scheduler

    @property
    def kind_name(self) -> str:
        return self.kind.name if isinstance(self.kind, ExitKind) else f"UNKNOWN({int(self.kind)})"

    @property
    def exited(self) -> bool:
        """ops.exit() ran (for whatever reason)."""
        return int(self.kind) != ExitKind.NONE

    @property
    def is_error(self) -> bool:
        """The kernel ejected the scheduler (ERROR*), as opposed to an orderly unregister."""
        return int(self.kind) >= ExitKind.ERROR

    @property
    def clean(self) -> bool:
        """Detached in order: DONE or an UNREG* kind (or SYSRQ, which an operator asked for)."""
        return ExitKind.DONE <= int(self.kind) < ExitKind.ERROR

    @property
    def wants_restart(self) -> bool:
        """The kernel asks for the scheduler to be loaded again (SCX_ECODE_ACT_RESTART:
        e.g. a CPU went on- or offline and the scheduler has no cpu_online/offline)."""
        return self.exited and bool(self.exit_code & ECODE_ACT_RESTART)

    @property
    def restart_reason(self) -> str:
        reasons = [text for bit, text in _ECODE_REASONS.items() if self.exit_code & bit]
        return ", ".join(reasons) or f"exit code {self.exit_code:#x}"

    @property
    def stalled_task(self) -> tuple[str, int] | None:
        """(comm, pid) of the task a watchdog stall names; None for any other exit."""
        m = _STALLED_TASK.match(self.msg) if int(self.kind) == ExitKind.ERROR_STALL else None
        return (m["comm"], int(m["pid"])) if m else None

    def dump_about_task(self, comm: str, pid: int) -> list[str]:
        """The dump's lines about one task: its header line (" R comm[pid] +39764ms") and the
        scx state lines indented below it (dsq, vtime, slice, ops_state, cpus), without its
        stack. Empty when the dump does not show the task."""
        lines = self.dump.splitlines()
        head = re.compile(rf"^ .. {re.escape(comm)}\[{pid}\] ")
        for i, line in enumerate(lines):
            if head.match(line):
                block = [line]
                for more in lines[i + 1:]:
                    if not more.startswith("    "):  # a blank line ends the state; the stack follows
                        break
                    block.append(more)
                return block
        return []

    def __str__(self) -> str:
        parts = [self.kind_name]
        if self.exit_code:
            parts.append(f"exit_code={self.exit_code}")
        if self.reason:
            parts.append(f"reason: {self.reason}")
        text = " ".join(parts)
        if self.msg:
            text += f"\n  {self.msg}"
        return text


def decode(raw: bytes) -> ExitInfo:
    """Decode the bytes of one `struct scxpy_exit_info`."""
    if len(raw) < SIZE:
        raise ValueError(f"{STRUCT_NAME} needs {SIZE} bytes, got {len(raw)}")
    buf = _ffi.from_buffer(raw[:SIZE])
    info = _ffi.cast(STRUCT_NAME + " *", buf)
    try:
        kind = ExitKind(info.kind)
    except ValueError:
        kind = int(info.kind)
    return ExitInfo(
        kind=kind,
        exit_code=int(info.exit_code),
        reason=_ffi.string(info.reason).decode(errors="replace"),
        msg=_ffi.string(info.msg).decode(errors="replace"),
        dump=_ffi.string(info.dump).decode(errors="replace"),
    )
