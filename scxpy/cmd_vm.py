"""`scxpy kernel` and `scxpy vm`: the 6.12 guest from the command line."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("kernel", help="build or reuse the default 6.12 kernel",
                       description="Build the default 6.12 guest kernel, or reuse the cached one.")
    p.add_argument("--print-path", action="store_true",
                   help="print only the directory holding bzImage, vmlinux, config and vmlinux.h")
    p.set_defaults(func=cmd_kernel)

    p = sub.add_parser("vm", help="run a command in the 6.12 guest",
                       usage="scxpy vm [options] -- CMD ...",
                       description="Boot the 6.12 guest, run CMD, and exit with CMD's status.")
    add_guest_options(p)
    p.add_argument("--memory", default=None, help="guest memory (default 2G)")
    p.add_argument("--scratch", metavar="DIR",
                   help="host directory the guest may write, as $SCXPY_SCRATCH (default: a temporary one)")
    p.set_defaults(func=cmd_vm, trailing="cmd", cmd=[])


def add_guest_options(p: argparse.ArgumentParser) -> None:
    """The options every command that boots the guest shares."""
    from vm.runner import DEFAULT_CPUS, DEFAULT_TIMEOUT

    p.add_argument("--kernel", metavar="PATH",
                   help="another sched_ext kernel: a build tree, or a bzImage with vmlinux beside it")
    p.add_argument("--cpus", type=int, default=DEFAULT_CPUS, help=f"guest vCPUs (default {DEFAULT_CPUS})")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"kill the guest after this many seconds, boot included (default {DEFAULT_TIMEOUT:g})")


def guest_kernel(args: argparse.Namespace):
    from vm import kernel

    return kernel.from_path(args.kernel) if args.kernel else kernel.default_kernel()


def cmd_kernel(args: argparse.Namespace) -> int:
    from vm import kernel

    k = kernel.default_kernel()
    if args.print_path:
        print(k.dir)
    else:
        print(f"kernel {k.release}\n  bzImage   {k.bzimage}\n  vmlinux   {k.vmlinux}\n"
              f"  config    {k.config}\n  vmlinux.h {k.vmlinux_h}")
    return 0


def cmd_vm(args: argparse.Namespace) -> int:
    from vm.errors import VmError
    from vm.runner import DEFAULT_MEMORY, run_in_guest

    cmd = args.cmd
    if not cmd:
        raise VmError("no command given: scxpy vm [options] -- CMD ...")
    return run_in_guest(cmd, kernel=guest_kernel(args), cpus=args.cpus,
                        memory=args.memory or DEFAULT_MEMORY, timeout=args.timeout,
                        scratch=args.scratch)
