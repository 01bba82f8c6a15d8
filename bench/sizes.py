"""Static size of each sched_ext callback, beside the kernel's example schedulers.

    python -m scxpy.bench.sizes [--kernel PATH] [--cpus N] [--json OUT]

Compiles `fifo` and `vtime` with their counters on and off, builds their
peers (the kernel's `scx_simple -f` and `scx_simple`), boots one guest,
attaches each contender for a moment and reads from `bpftool prog show`
the size of each of its struct_ops programs after the verifier
(`bytes_xlated`: what the kernel runs, with the branches the verifier
proved dead removed). Prints one table per pair.

The sizes depend only on the object, the peer and the kernel, never on
timing, so CI checks them (tests/test_bench_sizes.py). Target (issue 10):
with the counters off, each callback is at most 1.25x its peer's, or at
most 32 B (4 instructions) larger than the peer's where that is tiny.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from scxpy.base.errors import ScxpyError
from scxpy.base.tools import require_tool

from scxpy.bench import contenders, cost, peers

PAIRS = (("fifo", "peer:scx_simple-f"), ("vtime", "peer:scx_simple"))
RATIO_TARGET = 1.25
SLACK_BYTES = 32  # 4 BPF instructions


class SizesError(ScxpyError):
    """The sizes could not be measured."""


def within_target(ours: int | None, peer: int | None) -> bool:
    """A callback the peer lacks has no target; one the peer has, ours must be close to."""
    if ours is None or peer is None:
        return ours is None or peer is None
    return ours <= RATIO_TARGET * peer or ours <= peer + SLACK_BYTES


# --- host side ------------------------------------------------------------------


def plan(kernel, progress=None) -> list[dict]:
    """Contenders for the guest: each policy with counters on and off, then its peer."""
    from scxpy.build import compile_policy_spec

    peer_dir = peers.peers_dir(kernel, progress)
    out = []
    for policy, peer in PAIRS:
        for counters in (True, False):
            compiled = compile_policy_spec(policy, counters=counters)
            out.append({"name": label(policy, counters), "kind": "scxpy", "obj": str(compiled.obj_path),
                        "manifest": compiled.manifest.to_dict(), "ops_name": compiled.manifest.name})
        binary, args = peers.binary(peer_dir, peer)
        out.append({"name": peer, "kind": "peer", "binary": str(binary), "args": list(args),
                    "ops_name": peers.spec(peer).ops_name})
    return out


def label(policy: str, counters: bool) -> str:
    return policy if counters else f"{policy} (counters off)"


def run(kernel=None, cpus: int = 2, progress: bool = True) -> dict[str, dict[str, int]]:
    """{contender: {callback: bytes_xlated}} measured in one guest boot."""
    from scxpy.vm import kernel as vm_kernel
    from scxpy.vm.progress import Progress
    from scxpy.vm.runner import run_in_guest

    prog = Progress("sizes", enabled=progress)
    if kernel is None:
        kernel = vm_kernel.default_kernel(progress=progress)
    elif isinstance(kernel, (str, Path)):
        kernel = vm_kernel.from_path(kernel)
    prog.phase("compiling fifo and vtime (counters on and off), building the peers")
    entries = plan(kernel, prog)
    with tempfile.TemporaryDirectory(prefix="scxpy-sizes-") as d:
        plan_path, out_path = Path(d) / "plan.json", Path(d) / "sizes.json"
        plan_path.write_text(json.dumps(entries))
        prog.phase(f"booting one {cpus}-vCPU guest to attach {len(entries)} schedulers in turn")
        status = run_in_guest([sys.executable, "-m", "scxpy.bench.sizes", "--guest", str(plan_path), str(out_path)],
                              kernel=kernel, cpus=cpus, timeout=600, scratch=d, cwd=d)
        if not out_path.is_file():
            raise SizesError(f"the guest exited with status {status} and measured no sizes")
        sizes = json.loads(out_path.read_text())
    if status != 0:
        raise SizesError(f"the guest exited with status {status}: {sizes.get('error', 'no reason given')}")
    return sizes["sizes"]


def table(sizes: dict[str, dict[str, int]]) -> str:
    """One table per pair: bytes per callback, counters on and off, the peer, the ratio and the target."""
    lines = []
    for policy, peer in PAIRS:
        on, off, ref = sizes.get(label(policy, True), {}), sizes.get(label(policy, False), {}), sizes.get(peer, {})
        head = ("callback", policy, "counters off", peer.removeprefix(peers.PREFIX), "off/peer", "target")
        lines.append(f"{head[0]:<12}{head[1]:>10}{head[2]:>14}{head[3]:>16}{head[4]:>10}  {head[5]}")
        for cb in sorted(set(on) | set(off) | set(ref)):
            a, b, c = on.get(cb), off.get(cb), ref.get(cb)
            ratio = f"{b / c:.2f}" if b is not None and c else "-"
            verdict = "-" if b is None or c is None else ("met" if within_target(b, c) else "MISSED")
            lines.append(f"{cb:<12}{_b(a):>10}{_b(b):>14}{_b(c):>16}{ratio:>10}  {verdict}")
        lines.append("")
    lines.append(f"bytes_xlated per callback (bpftool prog show); target: counters off <= {RATIO_TARGET}x "
                 f"the peer's, or <= {SLACK_BYTES} B larger")
    return "\n".join(lines)


def _b(v: int | None) -> str:
    return "-" if v is None else f"{v} B"


# --- guest side -----------------------------------------------------------------


def xlated_sizes(pid: int | None) -> dict[str, int]:
    """bytes_xlated of each struct_ops program `pid` holds, by callback name."""
    proc = subprocess.run([require_tool("bpftool"), "--json", "prog", "show"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SizesError(f"bpftool prog show failed: {proc.stderr.strip()[-500:]}")
    progs = [p for p in json.loads(proc.stdout or "[]") if p.get("type") == "struct_ops"]
    mine = [p for p in progs if pid is None or not p.get("pids") or pid in [x.get("pid") for x in p["pids"]]]
    names = [p.get("name", str(p["id"])) for p in mine]
    return {cost.callback_name(n, names): int(p["bytes_xlated"]) for p, n in zip(mine, names)}


def guest_main(plan_path: Path, out_path: Path) -> int:
    entries = json.loads(plan_path.read_text())
    sizes: dict[str, dict[str, int]] = {}
    doc: dict = {"sizes": sizes}
    status = 0
    try:
        for i, c in enumerate(entries):
            with contenders.attach(c, out_path.parent, f"sizes{i}") as att:
                sizes[c["name"]] = xlated_sizes(att.pid)
    except Exception as e:  # recorded for the host, which turns it into one message
        doc["error"] = f"{type(e).__name__}: {e}"
        status = 1
    out_path.write_text(json.dumps(doc, indent=1))
    return status


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m scxpy.bench.sizes", description=__doc__.split("\n\n")[0])
    ap.add_argument("--kernel", metavar="PATH", help="a sched_ext kernel build tree (default: the 6.12 kernel)")
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--json", type=Path, metavar="OUT", help="also write the sizes as JSON")
    ap.add_argument("--guest", nargs=2, type=Path, metavar=("PLAN", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.guest:
        return guest_main(*args.guest)
    try:
        sizes = run(args.kernel, args.cpus)
    except ScxpyError as e:
        print(f"scxpy: {e}", file=sys.stderr)
        return 1
    print(table(sizes))
    if args.json:
        args.json.write_text(json.dumps(sizes, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
