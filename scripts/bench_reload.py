"""Save-to-attached time of `scxpy dev`, the median of 10 saves, and its split.

    .venv/bin/python scripts/bench_reload.py [--saves 10] [--cpus 2] [--policy fifo]

Boots one warm guest (scxpy.api.Guest), attaches a copy of a stock policy,
then saves it N times, each with a different slice (so each save is a real
compile, never a cache hit), and goes through the same steps as `scxpy
dev`: the file watch wakes up, the policy is compiled on the host, the
guest reads the object (transfer), loads it (verifier), detaches the
previous scheduler and attaches the new one. Prints each save and the
medians. Also measures the host<->guest channel: a request's round trip
over the agent's virtio-serial stdin/stdout, beside a file ping-pong
through the shared scratch directory (9p) polled every 5 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scxpy.api import Guest  # noqa: E402
from scxpy.cmd_dev import WATCH_STEP_MS, Compiler, _mtime, policy_file  # noqa: E402
from scxpy.vm import kernel as vm_kernel  # noqa: E402

FILE_PING = r"""
import os, sys, time
d = sys.argv[1]
while True:
    names = [n for n in os.listdir(d) if n.startswith("req-")]
    for n in names:
        if n == "req-quit":
            sys.exit(0)
        os.replace(os.path.join(d, n), os.path.join(d, "resp-" + n[4:]))
    time.sleep(0.005)
"""


def channel_figures(g: Guest, n: int = 20) -> tuple[float, float]:
    """Median round trip (ms): the agent's virtio-serial channel, and files in the shared scratch dir."""
    serial = []
    for _ in range(n):
        t = time.monotonic()
        g.warm.request({"op": "ping"}, timeout=30)
        serial.append(time.monotonic() - t)
    d = Path(g.scratch) / "ping"
    d.mkdir()
    # The guest's file loop runs as a workload; the run request returns when it quits.
    runner = threading.Thread(target=g.exec, args=([sys.executable, "-c", FILE_PING, str(d)],))
    runner.start()
    files = []
    try:
        for i in range(n):
            t = time.monotonic()
            (d / f".tmp-{i}").write_text("x")
            os.replace(d / f".tmp-{i}", d / f"req-{i}")
            while not (d / f"resp-{i}").exists():
                time.sleep(0.005)
            files.append(time.monotonic() - t)
    finally:
        (d / "req-quit").write_text("")
        runner.join(timeout=60)
    return 1e3 * statistics.median(serial), 1e3 * statistics.median(files)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--saves", type=int, default=10)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--policy", default="fifo", help="stock policy to copy and edit (default fifo)")
    args = ap.parse_args()

    src = policy_file(args.policy).read_text()
    if "20 * ms" not in src:
        print(f"{args.policy}: needs a `20 * ms` slice to vary", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="scxpy-bench-reload-"))
    path = work / f"{args.policy}_copy.py"
    path.write_text(src)
    kernel = vm_kernel.default_kernel()
    compiler = Compiler(path)
    from watchfiles import watch

    rows = []
    t_boot = time.monotonic()
    try:
        with Guest(cpus=args.cpus, kernel=kernel, stats_socket="none") as g:
            boot = time.monotonic() - t_boot
            g.attach(None, compiled=compiler.compile())
            rtt_serial, rtt_files = channel_figures(g)
            stop = threading.Event()
            watcher = watch(str(work), watch_filter=lambda _, p: Path(p) == path, debounce=WATCH_STEP_MS,
                            step=WATCH_STEP_MS, rust_timeout=200, yield_on_timeout=True, stop_event=stop)
            for i in range(args.saves):
                time.sleep(0.3)  # a developer does not save twice in one watch step
                path.write_text(src.replace("20 * ms", f"{21 + i} * ms"))  # the save
                saved = _mtime(path)
                for _ in watcher:
                    if compiler.changed():
                        break
                woke = time.time()
                t0 = time.monotonic()
                compiled = compiler.compile()
                compile_s = time.monotonic() - t0
                a = g.attach(None, compiled=compiled)
                done = time.time()
                rows.append({"total": done - saved, "watch": woke - saved, "compile": compile_s,
                             "transfer": a.transfer_s, "load": a.load_s, "detach": a.detach_s,
                             "attach": a.attach_s, "cache_hit": compiled.cache_hit})
                r = rows[-1]
                print(f"save {i + 1:2d}: {r['total']:.2f} s  (watch {r['watch']:.2f}, compile {r['compile']:.2f}, "
                      f"transfer {r['transfer']:.2f}, load {r['load']:.2f}, detach {r['detach']:.2f}, "
                      f"attach {r['attach']:.2f}){'  cache hit!' if r['cache_hit'] else ''}", flush=True)
            stop.set()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != "cache_hit"}
    rest = med["total"] - sum(med[k] for k in ("watch", "compile", "transfer", "load", "detach", "attach"))
    print(f"\nguest boot to agent ready: {boot:.1f} s ({args.cpus} vCPUs)")
    print(f"channel round trip (median of 20): virtio-serial {rtt_serial:.1f} ms, files in 9p scratch {rtt_files:.1f} ms")
    print(f"save -> attached, median of {len(rows)}: {med['total']:.2f} s (target <= 3 s)")
    for k in ("watch", "compile", "transfer", "load", "detach", "attach"):
        print(f"  {k:<9} {med[k]:.3f} s")
    print(f"  {'other':<9} {rest:.3f} s  (requests, host bookkeeping; medians do not add up exactly)")
    return 0 if med["total"] <= 3.0 else 1


if __name__ == "__main__":
    sys.exit(main())
