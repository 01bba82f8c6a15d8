"""Does this process have what loading BPF and attaching sched_ext need?"""

from __future__ import annotations

import os

CAP_SYS_ADMIN = 21
CAP_BPF = 39


def effective_caps() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return (1 << 64) - 1 if os.geteuid() == 0 else 0


def missing_caps(need_sys_admin: bool = True) -> list[str]:
    caps = effective_caps()
    missing = []
    if not caps & (1 << CAP_BPF) and not caps & (1 << CAP_SYS_ADMIN):
        missing.append("CAP_BPF")
    if need_sys_admin and not caps & (1 << CAP_SYS_ADMIN):
        missing.append("CAP_SYS_ADMIN")
    return missing


def not_privileged_message(missing: list[str], what: str) -> str:
    who = f"uid {os.geteuid()}"
    return (
        f"{what} needs root ({' and '.join(missing)} missing; running as {who}). "
        "Run it with sudo, or as root in the guest (`scxpy run --vm ...`)."
    )
