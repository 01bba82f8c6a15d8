"""Policy -> object: the glue between schedulers/, codegen/ and vm/.

It is a layer of its own: below everything that compiles policies (the
commands, scxpy.api, scxpy.bench) and above the folders it joins
(pyproject's import-linter layers; tests/test_layers.py checks them).

One object per policy runs on every kernel scxpy supports (6.12 through
7.x): it is always compiled against the vmlinux.h of the default guest
kernel (Debian's prebuilt 7.3, dumped from its own BTF: no kernel build
needed to compile), and CO-RE, weak kfuncs and bpf_ksym_exists() adapt
it to the kernel it loads on, whether that is a guest of another version
(--kernel-version, --kernel PATH) or the host's own. $SCXPY_VMLINUX_H
overrides the header.
"""

from __future__ import annotations

import os
from pathlib import Path


def vmlinux_h_for() -> Path:
    env = os.environ.get("SCXPY_VMLINUX_H")
    if env:
        return Path(env)
    from scxpy.vm import kernel as kmod

    # In the guest too: the default kernel is in the shared cache (the host prepared it).
    return kmod.default_kernel().vmlinux_h


def compile_policy_spec(spec, counters: bool | None = None, vmlinux_h: str | None = None):
    """Compile POLICY (stock name, .py path, or a Scheduler class already loaded);
    returns codegen's Compiled, the one object for every kernel. `counters`
    overrides the policy's setting; `vmlinux_h` the default kernel's header."""
    from scxpy import codegen
    from scxpy import schedulers

    policy = spec if isinstance(spec, type) else schedulers.policy_file(spec)
    header = vmlinux_h or str(vmlinux_h_for())
    user = user_policy_class(policy)
    if user is not None:
        return compile_user_policy(user, header)
    return codegen.compile(policy, header, counters=counters)


def render_policy_spec(spec, counters: bool | None = None) -> str:
    """The C that compile_policy_spec would compile (`scxpy show`)."""
    from scxpy import codegen
    from scxpy import schedulers

    policy = spec if isinstance(spec, type) else schedulers.policy_file(spec)
    user = user_policy_class(policy)
    if user is not None:
        from scxpy.codegen.userspace import render

        return render(user_core_spec(user))
    return codegen.render(policy, counters=counters)


def user_policy_class(policy):
    """The UserScheduler subclass `policy` is or defines (a userspace policy), else None."""
    from scxpy.runtime import userspace

    if isinstance(policy, type):
        return policy if userspace.is_user_policy(policy) else None
    path = os.fspath(policy)
    try:
        text = Path(path).read_text()
    except OSError:
        return None  # codegen says what is wrong with the path
    if "UserScheduler" not in text:  # cheap: DSL files are not imported twice
        return None
    return userspace.load_user_policy(path)


def user_core_spec(cls):
    """What the BPF half of a userspace policy needs from its class."""
    import inspect
    import sys

    from scxpy.codegen.userspace import UserCoreSpec
    from scxpy.runtime import userspace

    source = inspect.getsourcefile(cls) or sys.modules[cls.__module__].__file__ or ""
    # The class's own docstring, else its module's (inspect.getdoc would give UserScheduler's).
    own = cls.__dict__.get("__doc__")
    description = inspect.cleandoc(own) if own else (sys.modules[cls.__module__].__doc__ or "").strip()
    return UserCoreSpec(name=cls.name, description=description,
                        source=os.path.abspath(source), line=userspace.class_line(cls),
                        slice_ns=cls.slice, timeout_ms=cls.timeout // 1_000_000)


def compile_user_policy(cls, vmlinux_h: str | None = None):
    """The BPF half of a userspace policy, through codegen's templates and compile cache."""
    from scxpy.codegen.userspace import compile_user_core

    return compile_user_core(user_core_spec(cls), vmlinux_h or str(vmlinux_h_for()))
