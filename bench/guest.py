"""The guest side of `scxpy bench`: run every contender, interleaved, and record raw samples.

Run as `python -m scxpy.bench.guest PLAN.json` inside the 6.12 guest (as root).
For each round (warm-up rounds first), each contender in turn is
attached, runs every workload, and is detached: A B C, A B C, ... so
that slow drift of the (emulated) machine hits every contender alike.
Everything is written to the plan's output directory, which the host
shares with the guest: samples.json (rewritten after every sample, so a
crash keeps what was measured), progress.json, and one log per run.
No statistics here; the host computes them from the raw samples.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import sys
import time
import traceback
from pathlib import Path

from scxpy.base.cache import atomic_write
from scxpy.bench import contenders, cost, sched_ext_state, workloads

SCHEMA_VERSION = 1


def finite_or_none(metrics: dict) -> dict:
    """Strict JSON has no NaN/inf: a percentile not measured (NaN) or beyond
    the histogram (inf, counted in "overflows") is recorded as null."""
    return {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in metrics.items()}


def _write_json_atomic(path: Path, doc) -> None:
    atomic_write(path, json.dumps(doc, indent=1, allow_nan=False).encode())


def guest_environment() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "kernel_release": platform.release(),
        "kernel_version": platform.version(),
        "cpus": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "python": platform.python_version(),
    }


class Recorder:
    """samples.json and progress.json, rewritten as results arrive."""

    def __init__(self, outdir: Path, plan: dict, total_steps: int):
        self.outdir = outdir
        self.doc = {
            "schema": SCHEMA_VERSION,
            "guest": guest_environment(),
            "plan": plan,
            "samples": [],
            "costs": [],
            "policy_counters": [],
            "failures": [],
            "finished": False,
        }
        self.total = total_steps
        self.done = 0
        self.started = time.monotonic()
        self.flush()

    def flush(self) -> None:
        _write_json_atomic(self.outdir / "samples.json", self.doc)

    def progress(self, current: str) -> None:
        _write_json_atomic(self.outdir / "progress.json", {
            "done": self.done, "total": self.total, "current": current,
            "elapsed_s": round(time.monotonic() - self.started, 1),
            "failures": len(self.doc["failures"]),
        })

    def step_done(self) -> None:
        self.done += 1


def run(plan: dict, outdir: Path) -> int:
    if not sched_ext_state.available():
        print("bench: this kernel has no /sys/kernel/sched_ext; run inside the scxpy guest", file=sys.stderr)
        return 2
    logdir = outdir / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    by_name = {c["name"]: c for c in plan["contenders"]}
    wls = [workloads.get(w) for w in plan["workloads"]]
    order = [(rnd, name) for rnd, name in plan["order"]]  # decided on the host (bench.stats.interleaved_order)
    rec = Recorder(outdir, plan, len(order) * len(wls))
    cpus = rec.doc["guest"]["cpus"]
    # Costs come from the warm-up round (stats on perturb what they
    # measure); with no warm-up, from the measured rounds, flagged so.
    cost_rounds = {-1} if plan["warmup"] > 0 else set(range(plan["rounds"]))
    rec.doc["cost_method"] = {
        "source": "kernel BPF run-time stats (bpf_enable_stats): run_cnt, run_time_ns per struct_ops program",
        "rounds": sorted(cost_rounds),
        "perturbs_samples": plan["warmup"] == 0,
    }
    measure_cost = plan.get("cost", True)
    _measure_floors(rec, wls, cpus, plan, logdir)

    for rnd, name in order:
        c = by_name[name]
        want_stats = measure_cost and rnd in cost_rounds and c["kind"] != "fair"
        try:
            _run_contender(rec, c, rnd, wls, cpus, plan, logdir, want_stats)
        except Exception as e:
            if not getattr(e, "bench_recorded", False):
                rec.doc["failures"].append(_failure(name, rnd, None, e))
            # This contender's remaining workloads in this round are skipped; count them done.
            rec.done = max(rec.done, (order.index((rnd, name)) + 1) * len(wls))
            rec.flush()
    rec.doc["finished"] = True
    rec.flush()
    rec.progress("finished")
    return 0


def _measure_floors(rec: Recorder, wls, cpus: int, plan: dict, logdir: Path) -> None:
    """Once per bench, before any scheduler is attached: each workload's floor
    (e.g. the probe alone on an idle guest), reported beside its results."""
    floors = rec.doc.setdefault("floors", {})
    for w in wls:
        if not hasattr(w, "floor"):
            continue
        rec.progress(f"emulator floor: {w.name}")
        ctx = workloads.RunContext(cpus=cpus, long=plan["long"], logdir=logdir, tag=f"floor.{w.name}",
                                   timeout_s=plan.get("workload_timeout_s", 900))
        try:
            floors[w.name] = {"metrics": finite_or_none(w.floor(ctx)), "commands": ctx.commands,
                              "scheduler": "the kernel's default (no sched_ext scheduler attached)"}
        except Exception as e:  # a missing floor must not cost the bench
            floors[w.name] = {"error": str(e)}
        rec.flush()


def _run_contender(rec: Recorder, c: dict, rnd: int, wls, cpus: int, plan: dict, logdir: Path,
                   want_stats: bool) -> None:
    """Attach contender c, run every workload under it, read its costs, detach."""
    name = c["name"]
    tag = f"r{rnd}.{_safe(name)}"
    with contextlib.ExitStack() as stack:
        if want_stats:
            stack.enter_context(cost.stats_on())
        att = stack.enter_context(contenders.attach(c, logdir, tag))
        for w in wls:
            rec.progress(f"{'warm-up' if rnd < 0 else f'round {rnd + 1}'}: {name}: {w.name}")
            ctx = workloads.RunContext(cpus=cpus, long=plan["long"], logdir=logdir, tag=f"{tag}.{w.name}",
                                       timeout_s=plan.get("workload_timeout_s", 900))
            t0 = time.monotonic()
            try:
                att.check()
                metrics = w.run(ctx)
                att.check()
            except Exception as e:  # one failed run must not lose the others
                rec.doc["failures"].append(_failure(name, rnd, w.name, e))
                e.bench_recorded = True
                rec.step_done()
                rec.flush()
                if isinstance(e, contenders.ContenderError):
                    raise  # ejected: the remaining workloads would measure fair
                continue
            rec.doc["samples"].append({
                "workload": w.name, "contender": name, "round": rnd, "warmup": rnd < 0,
                "metrics": finite_or_none(metrics), "wall_s": round(time.monotonic() - t0, 3),
                "commands": ctx.commands,
            })
            rec.step_done()
            rec.flush()
        if want_stats:
            callbacks = att.cost_reader() if att.cost_reader else cost.struct_ops_costs(att.pid)
            rec.doc["costs"].append({"contender": name, "round": rnd, "callbacks": callbacks})
        if att.counters_reader is not None:
            # The policy's own counters over this round (rules matched, queue traffic):
            # what explains a surprising figure.
            try:
                rec.doc["policy_counters"].append({"contender": name, "round": rnd, "counters": att.counters_reader()})
            except Exception as e:  # never lose the round's samples over a diagnostic
                rec.doc["policy_counters"].append({"contender": name, "round": rnd, "error": str(e)})
            rec.flush()


def _failure(contender: str, rnd: int, workload: str | None, e: BaseException) -> dict:
    return {
        "contender": contender, "round": rnd, "workload": workload,
        "error": f"{type(e).__name__}: {e}",
        "traceback": None if hasattr(e, "exit_status") else traceback.format_exc(limit=8),
    }


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m scxpy.bench.guest PLAN.json", file=sys.stderr)
        return 2
    plan_path = Path(argv[0])
    plan = json.loads(plan_path.read_text())
    return run(plan, Path(plan.get("outdir") or plan_path.parent))


if __name__ == "__main__":
    sys.exit(main())
