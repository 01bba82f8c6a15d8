"""Benchmark: boots in a row per kernel, failures, and boot-to-command times.

    python -m scxpy.vm.bench_boots [--boots 50] [--kernel-version 7.3 --kernel-version 6.12]

Each round boots every kernel once, in turn (so a busy host weighs on all
of them alike), running `true`: the time is from the start of the boot
to the command's exit, as `scxpy vm -- true` takes it less Python's own
start. A failure is any boot that did not bring `true`'s status 0 back
(a boot failure, a hang, a timeout). Prints each boot, then per kernel:
failures, median, 95% interval of the median, min and max, and the load
average before and after (other guests on the host slow TCG down).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import time


def median_interval(xs: list[float]) -> tuple[float, float]:
    """A distribution-free 95% interval of the median (order statistics, normal approximation)."""
    s = sorted(xs)
    n = len(s)
    if n < 6:
        return s[0], s[-1]
    half = 1.96 * (n ** 0.5) / 2
    lo, hi = int(n / 2 - half), int(n / 2 + half)
    return s[max(lo, 0)], s[min(hi, n - 1)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--boots", type=int, default=50)
    ap.add_argument("--kernel-version", action="append", dest="versions", metavar="X.Y")
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=300)
    args = ap.parse_args()

    from scxpy.vm import accel, kernel
    from scxpy.vm.runner import run_in_guest

    versions = args.versions or ["7.3", "6.12"]
    kernels = {v: kernel.kernel(v) for v in versions}
    times: dict[str, list[float]] = {v: [] for v in versions}
    failures: dict[str, list[str]] = {v: [] for v in versions}
    load_before = os.getloadavg()
    print(f"accelerator {accel.choose(notice=False)}, {args.cpus} vCPUs, {args.boots} rounds; "
          f"load average {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}", flush=True)
    for i in range(args.boots):
        for v in versions:
            t = time.monotonic()
            quiet = io.StringIO()
            try:
                with contextlib.redirect_stderr(quiet):
                    status = run_in_guest(["true"], kernel=kernels[v], cpus=args.cpus, timeout=args.timeout)
                what = "ok" if status == 0 else f"exit status {status}"
            except Exception as e:  # noqa: BLE001 -- every failure is counted and shown
                what = f"{type(e).__name__}: {str(e).splitlines()[0]}"
            took = time.monotonic() - t
            if what == "ok":
                times[v].append(took)
            else:
                failures[v].append(f"round {i + 1}: {what}")
            print(f"  round {i + 1:3} {v:5} {took:6.2f} s  {what}  (load {os.getloadavg()[0]:.2f})", flush=True)
    load_after = os.getloadavg()
    print(f"\n{'kernel':28} {'boots':>5} {'failed':>6} {'median':>7} {'95% interval':>15} {'min':>6} {'max':>6}")
    for v in versions:
        xs = times[v]
        if xs:
            lo, hi = median_interval(xs)
            print(f"{kernels[v].release:28} {len(xs) + len(failures[v]):5} {len(failures[v]):6} "
                  f"{statistics.median(xs):6.2f}s {lo:6.2f}-{hi:6.2f} s {min(xs):5.2f}s {max(xs):5.2f}s")
        else:
            print(f"{kernels[v].release:28} {len(failures[v]):5} {len(failures[v]):6} (no successful boot)")
        for f in failures[v]:
            print(f"    {f}")
    print(f"load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f} (1/5/15 min)")
    return 0 if not any(failures.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
