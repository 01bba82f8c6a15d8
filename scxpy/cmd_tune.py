"""`scxpy tune`: search a policy's live tunables for the best figure on a bench workload."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from scxpy.bench import workloads
    from scxpy.tune.heartbeat import DEFAULT_INTERVAL_S, GRACE_BEATS

    p = sub.add_parser(
        "tune", help="search a policy's tunables for the best figure on a workload, with honest statistics",
        description=(
            "Search POLICY's live tunables (optuna's TPE sampler, seeded) for the best OBJECTIVE on a "
            "bench workload, in one warm guest. The default configuration's noise is measured first; "
            "the best is then compared with the default and with fair in interleaved rounds (ratio of "
            "medians, bootstrap 95% interval, Mann-Whitney p). Writes OUT/trials.jsonl, OUT/best.toml "
            "(apply it with --set-file), OUT/tune.png and the optuna study (OUT/study.db)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=("objectives: any figure of the workload, e.g.\n"
                + "\n".join(f"  {w.name:<11} " + ", ".join(m.key for m in w.metrics)
                            for w in workloads.WORKLOADS.values())
                + "\nor any counter of the policy (its rate per second), e.g. rule.critical.enqueued.\n"
                  "NAME:max / NAME:min set the direction (default: the workload's own; counters: min).\n\n"
                  "more workers (each with its own guest, on any machine that reaches the storage):\n"
                  "  scxpy tune deadline -w mixed-heavy --objective p99_us --storage postgresql://HOST/db\n"
                  "  scxpy tune --join deadline-mixed-heavy --storage postgresql://HOST/db   # elsewhere"),
    )
    p.add_argument("policy", nargs="?", metavar="POLICY", help="stock name or .py file (not with --join)")
    p.add_argument("--workload", "-w", metavar="W", choices=list(workloads.WORKLOADS),
                   help="the bench workload each trial runs")
    p.add_argument("--objective", action="append", dest="objectives", metavar="METRIC",
                   help="what to optimise; twice or more for a Pareto front")
    p.add_argument("--maximize", action="store_true",
                   help="maximise the objectives that do not say :min/:max (default: each figure's own direction)")
    p.add_argument("--param", action="append", dest="params", metavar="NAME=LO..HI",
                   help="search NAME over LO..HI (repeatable; default: every live tunable over its own min..max; "
                        "durations take units: 100us..5ms)")
    p.add_argument("--constraint", action="append", dest="constraints", metavar="EXPR",
                   help="reject trials that break it, e.g. 'hog_bogo_ops_per_s >= 0.95*default' (repeatable)")
    p.add_argument("--trials", type=int, default=20, help="trials in all, over every worker (default 20)")
    p.add_argument("--budget", metavar="DURATION",
                   help="start no trial after this long (e.g. 20m); the rest wait for --resume")
    p.add_argument("--seed", type=int, default=0, help="the sampler's seed (default 0)")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="output directory (default tune-POLICY-WORKLOAD)")
    p.add_argument("--resume", action="store_true", help="go on with the interrupted tune in --out")
    p.add_argument("--storage", metavar="URL",
                   help="an optuna storage instead of OUT/study.db: sqlite:///PATH, postgresql://..., "
                        "mysql://..., or journal:PATH (a journal file on a shared file system)")
    p.add_argument("--join", metavar="STUDY", help="run one more worker of the study STUDY in --storage")
    p.add_argument("--heartbeat", type=int, default=DEFAULT_INTERVAL_S, metavar="SECONDS",
                   help=f"how often a worker tells an RDB storage that its trial is alive (default "
                        f"{DEFAULT_INTERVAL_S}); a trial silent for {GRACE_BEATS} beats (its worker died) is failed "
                        "and run again by another worker. "
                        "Set when the study is made; joining workers take it from the study")
    p.add_argument("--study-name", metavar="NAME", help="the study's name (default POLICY-WORKLOAD)")
    p.add_argument("--rebuild", action="store_true",
                   help="also search tunables set before load: reload the policy with each trial's values")
    p.add_argument("--noise-repeats", type=int, default=5, help="runs of the default before the search (>= 5)")
    p.add_argument("--max-repeats", type=int, default=3,
                   help="at most this many runs per trial, as the default's noise requires (default 3)")
    p.add_argument("--min-effect", type=float, default=0.05,
                   help="the relative change a trial's repeats must resolve (default 0.05)")
    p.add_argument("--final-rounds", type=int, default=10,
                   help="interleaved rounds of best, default and fair at the end (>= 10)")
    p.add_argument("--long", action="store_true", help="full-size workloads")
    p.add_argument("--cpus", type=int, default=2, help="guest vCPUs (default 2)")
    from scxpy.cmd_vm import add_kernel_version_option

    kernel = p.add_mutually_exclusive_group()
    kernel.add_argument("--kernel", metavar="PATH", help="another sched_ext kernel: a build tree, or a bzImage")
    add_kernel_version_option(kernel)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_tune)


def cmd_tune(args: argparse.Namespace) -> int:
    from scxpy.cmd_vm import guest_kernel
    from scxpy.tune.errors import TuneError
    from scxpy.tune.run import tune

    if args.join and args.policy:
        raise TuneError("--join takes the policy and everything else from the study: give no POLICY")
    if not args.join and not args.resume and not args.objectives:
        raise TuneError("give --objective METRIC (see `scxpy tune --help` for the workloads' figures)")
    result = tune(args.policy, args.workload, args.objectives, maximize=args.maximize, params=args.params,
                  constraints=args.constraints, trials=args.trials, budget=args.budget, seed=args.seed,
                  out=args.out, resume=args.resume, storage=args.storage, join=args.join,
                  study_name=args.study_name, rebuild=args.rebuild, noise_repeats=args.noise_repeats,
                  max_repeats=args.max_repeats, min_effect=args.min_effect, final_rounds=args.final_rounds,
                  heartbeat_s=args.heartbeat, cpus=args.cpus, long=args.long, kernel=lambda: guest_kernel(args), progress=not args.quiet)
    return 130 if result.interrupted else 0
