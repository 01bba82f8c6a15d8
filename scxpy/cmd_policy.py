"""`scxpy list`, `scxpy show POLICY`, `scxpy compile POLICY`: the codegen side of the CLI."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scxpy.base.cache import atomic_write


def add_counters_option(p) -> None:
    """--no-counters: compile the policy without its event counters, whatever it says."""
    p.add_argument("--no-counters", dest="counters", action="store_const", const=False, default=None,
                   help="leave the event counters out of the generated code (no cost at all; "
                        "overrides the policy's `counters` setting)")


class _SetFile(argparse.Action):
    """--set-file FILE: the file's [set] values go in front of the --set ones, so an explicit
    --set wins whichever comes first on the command line."""

    def __call__(self, parser, namespace, value, option_string=None):
        from scxpy.base.setfile import SetFileError, as_set_items

        try:
            items = as_set_items(value)
        except SetFileError as e:
            raise argparse.ArgumentError(self, str(e)) from None
        setattr(namespace, "set", items + list(getattr(namespace, "set", None) or []))


def add_set_file_option(p) -> None:
    """--set-file FILE: tunable values from a TOML file's [set] table (what `scxpy tune` writes as best.toml)."""
    p.add_argument("--set-file", action=_SetFile, metavar="FILE",
                   help="set the tunables listed under [set] in FILE (e.g. best.toml from `scxpy tune`); "
                        "--set wins over it")


def register(subparsers) -> None:
    p = subparsers.add_parser("list", help="stock policies (BPF and userspace) with one-line descriptions")
    p.set_defaults(func=cmd_list)

    p = subparsers.add_parser("show", help="print the BPF C generated for POLICY")
    p.add_argument("policy", metavar="POLICY", help="stock policy name or path to a .py policy file")
    add_counters_option(p)
    p.set_defaults(func=cmd_show)

    p = subparsers.add_parser("compile", help="compile POLICY to a BPF object; print its path")
    p.add_argument("policy", metavar="POLICY", help="stock policy name or path to a .py policy file")
    p.add_argument("-o", "--output", metavar="OUT", help="also copy the object to OUT")
    p.add_argument("--vmlinux-h", metavar="PATH",
                   help="vmlinux.h of the target kernel (default: $SCXPY_VMLINUX_H, else the default guest kernel's)")
    add_counters_option(p)
    p.set_defaults(func=cmd_compile)


def cmd_list(args) -> int:
    from scxpy import schedulers

    descs, user = schedulers.descriptions(), schedulers.userspace_descriptions()
    width = max(len(n) for n in [*descs, *user])
    for name, desc in descs.items():
        print(f"{name:<{width}}  {desc}")
    print("\nuserspace (decisions made by Python methods at run time; scxpy run NAME --vm):")
    for name, desc in user.items():
        print(f"{name:<{width}}  {desc}")
    return 0


def cmd_show(args) -> int:
    from scxpy.build import render_policy_spec

    sys.stdout.write(render_policy_spec(args.policy, counters=args.counters))
    return 0


def cmd_compile(args) -> int:
    from scxpy import codegen
    from scxpy.build import compile_policy_spec

    compiled = compile_policy_spec(args.policy, counters=args.counters, vmlinux_h=args.vmlinux_h)
    path = compiled.obj_path
    if args.output:
        # The object, with its manifest (OUT minus .bpf.o, + .json) and C (OUT minus .o, + .c)
        # beside it, where `scxpy run OUT` looks for them.
        out = args.output
        c_out = (out[:-2] if out.endswith(".o") else out) + ".c"
        for src, dst in ((compiled.c_path, c_out), (codegen.manifest_path_for(compiled.obj_path),
                                                    codegen.manifest_path_for(out)),
                         (compiled.obj_path, out)):
            atomic_write(dst, Path(src).read_bytes())
        path = out
    print(path)
    return 0
