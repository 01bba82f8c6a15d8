"""`scxpy kernel` and `scxpy vm`: the guest (Debian's prebuilt 7.3 by default, or another kernel) from the command line."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("kernel", help="fetch, build or reuse a guest kernel; list what is on offer",
                       description="Make a guest kernel ready (Debian's prebuilt image of a series, "
                                   "fetched and trimmed; or a source build), reuse the cached one, and "
                                   "list every kernel on offer.")
    version = p.add_mutually_exclusive_group()
    version.add_argument("--version", dest="kernel_version", metavar="X.Y", default=None,
                         help=f"the kernel: {', '.join(_versions())} (default {_default_version()}); "
                              "Debian's prebuilt image where it has one, else a source build")
    version.add_argument("--build", metavar="X.Y", default=None,
                         help=f"build this version from Debian's linux-source-X.Y: {', '.join(_sources())}")
    version.add_argument("--list", action="store_true", help="only list the kernels on offer (no fetch, no build)")
    p.add_argument("--print-path", action="store_true",
                   help="print only the directory holding the kernel, its vmlinux, config and vmlinux.h")
    p.set_defaults(func=cmd_kernel)

    p = sub.add_parser("vm", help="run a command in the guest (Debian's prebuilt 7.3 by default)",
                       usage="scxpy vm [options] -- CMD ...",
                       description="Boot the guest (Debian's prebuilt 7.3 by default), run CMD, and exit "
                                   "with CMD's status.")
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
                   help=f"the guest kernel: {', '.join(_versions())} (default {_default_version()}): "
                        "Debian's prebuilt image, fetched on first use; 6.12 is built from source")


def _versions() -> list[str]:
    from scxpy.vm.kernel import versions

    return versions()


def _sources() -> list[str]:
    from scxpy.vm.source_build import SOURCES

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

    if not args.list:
        k = kernel.built(args.build) if args.build else kernel.kernel(args.kernel_version)
        if args.print_path:
            print(k.dir)
            return 0
        print(f"kernel {k.release}\n  image     {k.bzimage}\n  vmlinux   {k.vmlinux}\n"
              f"  config    {k.config}\n  vmlinux.h {k.vmlinux_h}\n")
    print("kernels on offer (--kernel-version X.Y; --build X.Y for a source build):")
    for version, how, state, size in kernel.offers():
        default = " (default)" if version == kernel.DEFAULT_VERSION and "prebuilt" in how else ""
        mb = f"{size / 1e6:6.0f} MB" if size is not None else "        "
        print(f"  {version:5} {how + default:34} {mb}  {state}")
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
