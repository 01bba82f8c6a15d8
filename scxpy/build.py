"""Policy -> object for a given guest kernel: the glue between schedulers/, codegen/ and vm/.

It sits below the public API (scxpy.api) and above the folders it joins
(tests/test_layers.py checks that).

codegen compiles against a vmlinux.h; vm/ knows which kernel (and so
which vmlinux.h) a run targets. Commands that load a policy (run, bench)
and `scxpy compile` pick the vmlinux.h here, in one way:
$SCXPY_VMLINUX_H, else the given kernel's, else the default kernel's (in
the guest: the kernel it booted, named by $SCXPY_KERNEL_DIR).
"""

from __future__ import annotations

import os
from pathlib import Path


def vmlinux_h_for(kernel=None) -> Path:
    env = os.environ.get("SCXPY_VMLINUX_H")
    if env:
        return Path(env)
    if kernel is not None:
        return Path(kernel.vmlinux_h)
    from vm import kernel as kmod

    booted = os.environ.get("SCXPY_KERNEL_DIR")
    if booted:
        return kmod.from_cache_dir(Path(booted)).vmlinux_h
    return kmod.default_kernel().vmlinux_h


def compile_policy_spec(spec, kernel=None, counters: bool | None = None):
    """Compile POLICY (stock name, .py path, or a Scheduler class already loaded) for
    `kernel`; returns codegen's Compiled. `counters` overrides the policy's setting."""
    import codegen
    import schedulers

    policy = spec if isinstance(spec, type) else schedulers.policy_file(spec)
    return codegen.compile(policy, str(vmlinux_h_for(kernel)), counters=counters)
