"""Per-policy figures for docs/schedulers-results.md.

    .venv/bin/python tests/workloads/measure_policies.py [--cpus 4] [--out DIR]

On the host: cold compile (render + clang, private empty cache) and warm
compile (the whole codegen.compile() call on a cache hit, median of 5).
Then boots the 6.12 guest (`scxpy vm`) and runs this script's `guest`
part there: per policy, open+load and attach time (to root/ops showing
it), and each callback's mean cost from the runtime's cost view
(kernel BPF run-time stats, `Scheduler.costs()`) over 3 s of a fixed
workload: by default `hackbench -p -g 1 -f 2` in a loop (4 tasks waking each
other over pipes, forks between runs), light enough that the vCPUs are
mostly idle. Under single-threaded TCG, QEMU switches between busy vCPUs
every 100 ms; a callback interrupted by such a switch counts the other
vCPUs' time, so with every vCPU busy (`--load stress`) the means measure
the emulator more than the policy.
Prints a markdown table and writes measure_policies.json to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

POLICIES = ["fifo", "vtime", "prio", "interactive", "layered", "local"]
CALLBACKS = ["select_cpu", "enqueue", "dispatch", "running", "stopping", "runnable", "tick"]


def host_compile(policies: list[str], repeat: int = 5) -> dict:
    from scxpy.bench.compile_times import measure, private_cache
    from scxpy.build import vmlinux_h_for

    vmlinux_h = str(vmlinux_h_for())
    res = {}
    with private_cache():
        for pol in policies:
            t = measure(pol, vmlinux_h, repeat)
            res[pol] = {"cold_ms": round(t.cold_s * 1e3), "warm_ms": round(t.warm_s * 1e3, 1)}
    return res


def guest_measure(policies: list[str], seconds: float = 3.0, load_kind: str = "light") -> dict:
    from scxpy.runtime.scheduler import Scheduler
    from scxpy.build import compile_policy_spec

    ncpu = os.cpu_count() or 1
    res = {}
    for pol in policies:
        c = compile_policy_spec(pol)
        t0 = time.monotonic()
        s = Scheduler(c.obj_path, manifest=c.manifest, c_path=c.c_path)
        s.load()
        t1 = time.monotonic()
        s.attach()
        st = s.sysfs_state()
        t2 = time.monotonic()
        assert st.state == "enabled" and st.ops == pol, st
        if load_kind == "stress":
            load = [
                subprocess.Popen(["stress-ng", "--cpu", str(ncpu), "--fork", str(ncpu), "--timeout",
                                  f"{seconds + 3:.0f}s"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 cwd="/tmp"),
                subprocess.Popen(["sh", "-c", "while :; do hackbench -g 2 -l 50 >/dev/null 2>&1 || exit 1; done"]),
            ]
        else:
            load = [subprocess.Popen(["sh", "-c", "while :; do hackbench -p -g 1 -f 2 -l 200 >/dev/null 2>&1 "
                                      "|| exit 1; done"])]
        try:
            time.sleep(1)
            costs = s.costs(seconds)
        finally:
            for p in load:
                p.kill()
                p.wait()
            info = s.detach()
            s.close()
        res[pol] = {
            "load_ms": round((t1 - t0) * 1e3), "attach_ms": round((t2 - t1) * 1e3),
            "exit": info.kind_name if info else None,
            "costs": {x.callback: {"calls": x.calls, "mean_ns": round(x.mean_ns)} for x in costs if x.calls},
        }
        print(f"{pol}: {json.dumps(res[pol])}", flush=True)
    return res


def table(host: dict, guest: dict) -> str:
    cbs = [cb for cb in CALLBACKS if any(cb in g.get("costs", {}) for g in guest.values())]
    head = ["policy", "cold compile ms", "warm compile ms", "load ms", "attach ms"] + [f"{cb} ns" for cb in cbs]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for pol in POLICIES:
        h, g = host.get(pol, {}), guest.get(pol, {})
        if not h and not g:
            continue
        cells = [pol, h.get("cold_ms", ""), h.get("warm_ms", ""), g.get("load_ms", ""), g.get("attach_ms", "")]
        cells += [g.get("costs", {}).get(cb, {}).get("mean_ns", "–") for cb in cbs]
        rows.append("| " + " | ".join(str(x) for x in cells) + " |")
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", nargs="?", default="all", choices=["all", "host", "guest"])
    ap.add_argument("--policies", nargs="*", default=POLICIES)
    ap.add_argument("--cpus", type=int, default=4)
    ap.add_argument("--memory", default="4G")
    ap.add_argument("--seconds", type=float, default=3.0, help="cost window per policy")
    ap.add_argument("--load", default="light", choices=["light", "stress"],
                    help="light: hackbench over pipes, 4 tasks (vCPUs mostly idle); stress: stress-ng cpu+fork on "
                         "every CPU plus hackbench (under TCG, means then include QEMU switching vCPUs mid-callback)")
    ap.add_argument("--out", default=None, help="directory for measure_policies.json")
    args = ap.parse_args(argv)

    if args.part == "guest":
        res = guest_measure(args.policies, args.seconds, args.load)
        out = Path(args.out or os.environ.get("SCXPY_SCRATCH", "/tmp"))
        (out / "guest.json").write_text(json.dumps(res, indent=1))
        return 0

    host = host_compile(args.policies)
    print(json.dumps(host))
    if args.part == "host":
        return 0
    out = Path(args.out or tempfile.mkdtemp(prefix="scxpy-measure-"))
    out.mkdir(parents=True, exist_ok=True)
    # Objects in the user's cache for the guest (the guest compiles on a miss, slowly).
    from scxpy.build import compile_policy_spec
    for pol in args.policies:
        compile_policy_spec(pol)
    rc = subprocess.call([str(REPO / ".venv" / "bin" / "scxpy"), "vm", "--cpus", str(args.cpus), "--memory",
                          args.memory, "--timeout", "900", "--scratch", str(out), "--",
                          sys.executable, str(Path(__file__).resolve()), "guest", "--seconds", str(args.seconds), "--load", args.load,
                          "--policies", *args.policies])
    if rc != 0:
        print(f"guest part failed ({rc})", file=sys.stderr)
        return rc
    guest = json.loads((out / "guest.json").read_text())
    (out / "measure_policies.json").write_text(json.dumps({"host": host, "guest": guest}, indent=1))
    print(table(host, guest))
    print(f"\n(json: {out / 'measure_policies.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
