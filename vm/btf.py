"""A kernel's BTF, read with bpftool: the vmlinux.h policies compile against, and whether it has sched_ext."""

from __future__ import annotations

import subprocess
from pathlib import Path

from scxpy.base.tools import require_tool
from scxpy.vm.errors import KernelError


# bpftool (7.4 on) also writes the kernel's kfunc prototypes, unless
# BPF_NO_KFUNC_PROTOTYPES is defined. scxpy's own BPF headers declare every
# kfunc they use, under both the 6.12 and the 7.x names (weak, chosen with
# bpf_ksym_exists()), so one object loads everywhere; a 7.x kernel's
# prototypes would clash with those (e.g. __scx_bpf_dsq_insert_vtime). The
# header holds types only, as a 6.12 kernel's (whose BTF has no prototypes) does.
_TYPES_ONLY = "#ifndef BPF_NO_KFUNC_PROTOTYPES\n#define BPF_NO_KFUNC_PROTOTYPES\n#endif\n"


def write_vmlinux_h(vmlinux: Path, dest: Path) -> None:
    """`bpftool btf dump file VMLINUX format c` into `dest`: every type of that kernel, as C."""
    bpftool = require_tool("bpftool")
    with open(dest, "w") as f:
        f.write(_TYPES_ONLY)
        f.flush()
        proc = subprocess.run(
            [bpftool, "btf", "dump", "file", str(vmlinux), "format", "c"],
            stdout=f, stderr=subprocess.PIPE, text=True,
        )
    if proc.returncode != 0:
        raise KernelError(f"bpftool could not dump the BTF of {vmlinux}: {proc.stderr.strip()}")


def has_sched_ext(vmlinux: Path) -> bool:
    bpftool = require_tool("bpftool")
    proc = subprocess.run(
        [bpftool, "btf", "dump", "file", str(vmlinux), "format", "raw"],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        return False
    return "STRUCT 'sched_ext_ops'" in proc.stdout
