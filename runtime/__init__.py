"""scxpy's runtime: load and run sched_ext schedulers through libbpf (cffi).

Public API:
    Scheduler          a sched_ext BPF object: configure, load, attach, wait, detach
    BpfObject          any BPF object: open, .rodata config, load, globals, maps
    ExitInfo, ExitKind why a scheduler exited (the scxpy_exit global)
    INCLUDE_DIR        -I directory holding <scxpy/exit_info.h> for BPF C
    read_state()       /sys/kernel/sched_ext: state, root/ops, enable_seq
    stop_on_signals    SIGINT/SIGTERM -> StopRequested, for a clean detach
"""

from scxpy.runtime.exit_info import INCLUDE_DIR, ExitInfo, ExitKind
from scxpy.runtime.errors import (
    AttachError, KernelMismatch, LibbpfMissing, LibbpfTooOld, LoaderError, NoSchedExt, NoStructOps, NotPrivileged,
    ReadOnlyAfterLoad, SchedulerAlreadyAttached, SchedulerEjected, SymbolNotFound, VerifierRejected,
)
from scxpy.runtime.sched_ext_sysfs import SchedExtState, read_state

__all__ = [
    "INCLUDE_DIR", "ExitInfo", "ExitKind", "SchedExtState", "read_state",
    "Scheduler", "BpfObject", "StopRequested", "stop_on_signals",
    "AttachError", "KernelMismatch", "LibbpfMissing", "LibbpfTooOld", "LoaderError", "NoSchedExt", "NoStructOps",
    "NotPrivileged", "ReadOnlyAfterLoad", "SchedulerAlreadyAttached", "SchedulerEjected",
    "SymbolNotFound", "VerifierRejected",
]


def __getattr__(name):
    # Loading libbpf is deferred until a loader class is used, so importing
    # runtime (e.g. codegen for INCLUDE_DIR) works without libbpf installed.
    if name == "BpfObject":
        from scxpy.runtime.bpf_object import BpfObject

        return BpfObject
    if name in ("Scheduler", "StopRequested", "stop_on_signals"):
        from scxpy.runtime import scheduler

        return getattr(scheduler, name)
    raise AttributeError(name)
