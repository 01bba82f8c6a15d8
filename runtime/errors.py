"""Errors the runtime raises; each message names the cause and the fix."""

from __future__ import annotations

from scxpy.base.errors import ScxpyError


class LoaderError(ScxpyError):
    """Base of every runtime (loader) error."""


class LibbpfMissing(LoaderError):
    pass


class LibbpfTooOld(LoaderError):
    pass


class NotPrivileged(LoaderError):
    pass


class NoSchedExt(LoaderError):
    pass


class SchedulerAlreadyAttached(LoaderError):
    def __init__(self, message: str, attached: str | None = None):
        super().__init__(message)
        self.attached = attached


class NoStructOps(LoaderError):
    pass


class KernelLacksCallback(LoaderError):
    """The scheduler implements a sched_ext callback the running kernel does not have."""


class ObjectOpenError(LoaderError):
    pass


class SymbolNotFound(LoaderError, KeyError):
    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class ReadOnlyAfterLoad(LoaderError):
    pass


class VerifierRejected(LoaderError):
    """The kernel refused a program; carries the verifier log and the source lines it names."""

    def __init__(self, message: str, log: str, source_lines: list[str] | None = None):
        super().__init__(message)
        self.log = log
        self.source_lines = source_lines or []


class KernelMismatch(VerifierRejected):
    """The kernel lacks, or has another prototype for, a kfunc the object calls: the
    kernel's or its toolchain's fault, not the policy's. `kfuncs` names them."""

    def __init__(self, message: str, log: str, kfuncs: list[str]):
        super().__init__(message, log)
        self.kfuncs = kfuncs


class AttachError(LoaderError):
    def __init__(self, message: str, exit_info=None):
        super().__init__(message)
        self.exit_info = exit_info  # when the kernel disabled it while enabling, and said why


class SchedulerEjected(LoaderError):
    """The kernel ejected the scheduler (scx_bpf_error, watchdog stall...)."""

    exit_status = 1

    def __init__(self, message: str, exit_info=None):
        super().__init__(message)
        self.exit_info = exit_info


class RestartLimit(SchedulerEjected):
    """The kernel kept asking for restarts (CPU hotplug) faster than the runtime allows."""
