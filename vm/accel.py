"""Choose the guest's accelerator: KVM only where it really works, else TCG.

On our machines /dev/kvm exists but nested KVM is broken (QEMU aborts on
an MSR with `-cpu host`, or the guest hangs while decompressing); the CPU
flags then show neither vmx nor svm. We decide from that in microseconds
instead of discovering it by a hung boot.
"""

from __future__ import annotations

import os
import sys

from scxpy.vm.errors import VmError

ENV = "SCXPY_ACCEL"


def choose(notice: bool = True) -> str:
    """Return "kvm" or "tcg"; $SCXPY_ACCEL=kvm|tcg forces either."""
    forced = os.environ.get(ENV, "").strip().lower()
    if forced in ("kvm", "tcg"):
        return forced
    if forced:
        raise VmError(f"{ENV}={forced!r} is not an accelerator; use {ENV}=kvm or {ENV}=tcg, or unset it")
    reason = kvm_unusable_reason()
    if reason is None:
        return "kvm"
    if notice:
        print(f"scxpy: using TCG (software emulation): {reason}; set {ENV}=kvm to force KVM",
              file=sys.stderr)
    return "tcg"


def kvm_unusable_reason(cpuinfo: str | None = None, dev: str = "/dev/kvm") -> str | None:
    if not os.path.exists(dev):
        return f"{dev} does not exist"
    if not os.access(dev, os.R_OK | os.W_OK):
        return f"no read/write permission on {dev}"
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as f:
                cpuinfo = f.read()
        except OSError:
            cpuinfo = ""
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
            break
    if not flags & {"vmx", "svm"}:
        return (f"{dev} exists but the CPU shows neither vmx nor svm "
                "(nested virtualization is off, and KVM guests hang or abort)")
    return None
