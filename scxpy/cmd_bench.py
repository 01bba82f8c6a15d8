"""`scxpy bench`: policies side by side with fair and the kernel's example schedulers."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from scxpy.bench import peers, workloads

    p = sub.add_parser(
        "bench", help="benchmark policies side by side in one guest boot per kernel",
        description=(
            "Benchmark POLICY ... against the kernel's fair scheduler (always included) in one guest "
            "boot, interleaving contenders round by round. POLICY is a stock name, a .py file, or a "
            "peer from the kernel's examples: " + ", ".join(peers.PREFIX + n for n in peers.PEERS) + "."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="workloads:\n" + "\n".join(f"  {w.name:<11} {w.description}" for w in workloads.WORKLOADS.values()),
    )
    p.add_argument("policies", nargs="+", metavar="POLICY")
    p.add_argument("--workload", "-w", action="append", dest="workloads", metavar="W",
                   choices=list(workloads.WORKLOADS),
                   help=f"workload to run (repeatable; default: all of {', '.join(workloads.DEFAULT_WORKLOADS)})")
    p.add_argument("--rounds", type=int, default=3, help="measured rounds per contender (default 3)")
    p.add_argument("--warmup", type=int, default=1,
                   help="warm-up rounds, never counted; per-callback costs are measured in the last (default 1)")
    p.add_argument("--long", action="store_true", help="full-size workloads instead of the CI-sized default")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="keep results.json, one PNG per workload and the run logs in DIR")
    p.add_argument("--rotate", action="store_true",
                   help="start each measured round one contender later (A B C, B C A, ...) instead of A B C every round")
    p.add_argument("--no-cost", dest="cost", action="store_false",
                   help="skip measuring per-callback BPF cost")
    kernel = p.add_mutually_exclusive_group()
    kernel.add_argument("--kernel", metavar="PATH", help="another sched_ext kernel build tree (default: the 6.12 kernel)")
    kernel.add_argument("--kernel-version", action="append", dest="kernel_versions", metavar="X.Y",
                        help="benchmark on the kernel built from Debian's linux-source-X.Y; repeat it to "
                             "compare kernels: one guest boot each, then every contender's ratios per kernel "
                             "(default 6.12)")
    p.add_argument("--cpus", type=int, default=2, help="guest vCPUs (default 2)")
    p.add_argument("--timeout", type=float, default=None,
                   help="kill the guest after this many seconds (default: estimated from the plan)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="set a tunable of every scxpy policy benchmarked (durations take ns/us/ms/s suffixes)")
    from scxpy.cmd_policy import add_counters_option, add_set_file_option

    add_set_file_option(p)
    add_counters_option(p)
    p.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    from scxpy.bench import host, workloads
    from scxpy.cmd_run import parse_sets

    opts = host.Options(
        policies=args.policies,
        workloads=args.workloads or list(workloads.DEFAULT_WORKLOADS),
        rounds=args.rounds, warmup=args.warmup, long=args.long, out=args.out,
        cpus=args.cpus, timeout=args.timeout, kernel=args.kernel, kernel_versions=args.kernel_versions or [],
        cost=args.cost, rotate=args.rotate, progress=not args.quiet, counters=args.counters,
        sets=parse_sets(args.set),
    )
    return host.run(opts)
