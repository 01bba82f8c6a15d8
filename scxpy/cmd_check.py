"""`scxpy check`: a policy's behaviour report card against the kernel's fair class."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from scxpy.check import catalog

    p = sub.add_parser(
        "check", help="behaviour checks of a policy, side by side with fair: a report card",
        description=(
            "Run behaviour checks of POLICY in one warm guest per kernel, each against the policy and "
            "against the kernel's fair class in alternate rounds, and print a report card: the policy's "
            "figure, fair's, the threshold, pass/fail and the 95% interval (Student's t over rounds). "
            "Exit status 1 when a check fails (a policy's `promises = {NAME: False}` turns that check's "
            "failure into 'not promised'). docs/testing-policies.md explains every check."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="checks:\n" + "\n".join(f"  {c.name:<18} {c.title}" + ("" if c.available else f" ({c.why_not})")
                                       for c in catalog.CHECKS.values()),
    )
    p.add_argument("policy", metavar="POLICY", help="stock policy name or path to a .py policy file")
    kernel = p.add_mutually_exclusive_group()
    kernel.add_argument("--kernel-version", action="append", dest="kernel_versions", metavar="X.Y", default=[],
                        help="check on this guest kernel; repeat for several (one card each; default 6.12)")
    kernel.add_argument("--kernel", metavar="PATH", help="another sched_ext kernel build tree or bzImage")
    p.add_argument("--rounds", type=int, default=3, help="rounds per side (default 3; 2 or more give intervals)")
    p.add_argument("--only", action="append", metavar="NAME", choices=list(catalog.CHECKS),
                   help="run only this check (repeatable)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the cards as JSON to FILE")
    p.add_argument("--markdown", type=Path, metavar="FILE", help="also write the cards as Markdown to FILE")
    p.add_argument("--cpus", type=int, default=2, help="guest vCPUs (default 2)")
    p.add_argument("--duration", type=float, default=3.0, help="seconds each probe measures (default 3)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    from scxpy.check import card, runner

    if args.cpus < 2:
        raise runner.CheckError(f"--cpus {args.cpus}: the checks need at least 2 vCPUs (hotplug, affinity)")
    runner.load_policy(args.policy)  # a bad policy fails before any kernel or guest
    for path in (args.json, args.markdown):
        if path is not None and not path.resolve().parent.is_dir():
            raise runner.CheckError(f"{path}: the directory {path.resolve().parent} does not exist; create it first")
    cards = []
    for k in runner.kernels_for(args.kernel_versions, args.kernel, progress=not args.quiet):
        c = runner.run_card(args.policy, kernel=k, rounds=args.rounds, only=args.only, cpus=args.cpus,
                            duration=args.duration, progress=not args.quiet)
        card.show(c)
        cards.append(c)
    if args.json:
        args.json.write_text(json.dumps({"cards": [c.to_json() for c in cards]}, indent=1, ensure_ascii=False))
    if args.markdown:
        args.markdown.write_text("\n".join(card.markdown(c) for c in cards))
    return 1 if any(c.failed for c in cards) else 0
