"""`scxpy kernel` and `scxpy vm`: the guest (6.12 by default, or another Debian kernel) from the command line."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("kernel", help="build or reuse a guest kernel (default 6.12)",
                       description="Build the guest kernel from Debian's linux-source-X.Y (default "
                                   "6.12), or reuse the cached one.")
    p.add_argument("--version", dest="kernel_version", metavar="X.Y", default=None,
                   help=f"the kernel version to build: {', '.join(_versions())} (default {_default_version()})")
    p.add_argument("--print-path", action="store_true",
                   help="print only the directory holding bzImage, vmlinux, config and vmlinux.h")
    p.set_defaults(func=cmd_kernel)

    p = sub.add_parser("vm", help="run a command in the guest (6.12 by default)",
                       usage="scxpy vm [options] -- CMD ...",
                       description="Boot the guest (6.12 by default), run CMD, and exit with CMD's status.")
    add_guest_options(p)
    p.add_argument("--memory", default=None, help="guest memory (default 2G)")
    p.add_argument("--scratch", metavar="DIR",
                   help="host directory the guest may write, as $SCXPY_SCRATCH (default: a temporary one)")
    p.set_defaults(func=cmd_vm, trailing="cmd", cmd=[])


def add_guest_options(p: argparse.ArgumentParser) -> None:
    """The options every command that boots the guest shares."""
    from scxpy.vm.runner import DEFAULT_CPUS, DEFAULT_TIMEOUT

    kernel = p.add_mutually_exclusive_group()
    kernel.add_argument("--kernel", metavar="PATH",
                        help="another sched_ext kernel: a build tree, or a bzImage with vmlinux beside it")
    add_kernel_version_option(kernel)
    p.add_argument("--cpus", type=int, default=DEFAULT_CPUS, help=f"guest vCPUs (default {DEFAULT_CPUS})")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"kill the guest after this many seconds, boot included (default {DEFAULT_TIMEOUT:g})")


def add_kernel_version_option(p) -> None:
    p.add_argument("--kernel-version", metavar="X.Y", default=None,
                   help=f"boot the kernel built from Debian's linux-source-X.Y: {', '.join(_versions())} "
                        f"(default {_default_version()}; built on first use)")


def _versions() -> list[str]:
    from scxpy.vm.kernel import SOURCES

    return list(SOURCES)


def _default_version() -> str:
    from scxpy.vm.kernel import DEFAULT_VERSION

    return DEFAULT_VERSION


def guest_kernel(args: argparse.Namespace):
    from scxpy.vm import kernel

    if args.kernel:
        return kernel.from_path(args.kernel)
    return kernel.kernel(args.kernel_version)


def cmd_kernel(args: argparse.Namespace) -> int:
    from scxpy.vm import kernel

    k = kernel.kernel(args.kernel_version)
    if args.print_path:
        print(k.dir)
    else:
        print(f"kernel {k.release}\n  bzImage   {k.bzimage}\n  vmlinux   {k.vmlinux}\n"
              f"  config    {k.config}\n  vmlinux.h {k.vmlinux_h}")
    return 0


def cmd_vm(args: argparse.Namespace) -> int:
    from scxpy.vm.errors import VmError
    from scxpy.vm.runner import DEFAULT_MEMORY, run_in_guest

    cmd = args.cmd
    if not cmd:
        raise VmError("no command given: scxpy vm [options] -- CMD ...")
    return run_in_guest(cmd, kernel=guest_kernel(args), cpus=args.cpus,
                        memory=args.memory or DEFAULT_MEMORY, timeout=args.timeout,
                        scratch=args.scratch)
