"""The `cgroup-shares` workload: does the attached scheduler honour cgroup v2 CPU control?

Four scenes, each with as many CPU hogs per cgroup as the guest has vCPUs
(so every cgroup could use the whole machine and only the scheduler
decides who gets what):

1. siblings: /scxpy-shares/{lo:100, hi:300}; expected 25 % / 75 %.
2. nested: A:100 {A1:100, A2:300}, B:100; expected, flattened through the
   hierarchy as the fair class does: A1 12.5 %, A2 37.5 %, B 50 %.
3. reweight: lo and hi both at 100, then hi is set to 300 while they run;
   how long until the new 25/75 split holds: the first moment from which
   hi's share over every one-second window, to the end of the
   observation, is within ±5 points of 75 %.
4. cpu.max: one cgroup limited to half of the machine, alone; the share
   of the machine it got. Where the kernel has no cpu.max file (no
   CONFIG_CFS_BANDWIDTH) the figure is null and the reason is logged.

A share is a cgroup's CPU time (cpu.stat usage_usec) over the CPU time of
all the cgroups of the scene, in the same window: relative, so the
emulator's speed does not enter it.
"""

from __future__ import annotations

import math
import time

from scxpy.bench import cgroups
from scxpy.bench.workload_base import Metric, RunContext, Workload

TOP = "scxpy-shares"
TOLERANCE_PTS = 5.0
WINDOW_S = 1.0  # the reweight's share is judged over windows this long
SIBLINGS = (("lo", 100), ("hi", 300))
NESTED = {"A1": 12.5, "A2": 37.5, "B": 50.0}


class CgroupShares(Workload):
    name = "cgroup-shares"
    description = ("cgroup v2 CPU control: sibling weights 100/300, a nested hierarchy, a live weight "
                   "change and cpu.max 50 %, each cgroup running one CPU hog per vCPU; shares of CPU time")
    primary = Metric("siblings_err_pts", "sibling shares: largest error vs 25/75", "points", "lower")
    metrics = (
        primary,
        Metric("siblings_lo_pct", "sibling weight 100: share", "%", "higher"),
        Metric("siblings_hi_pct", "sibling weight 300: share", "%", "higher"),
        Metric("nested_err_pts", "nested leaves: largest error vs flattened expectation", "points", "lower"),
        Metric("nested_A1_pct", "nested A1 (1/8 expected): share", "%", "higher"),
        Metric("nested_A2_pct", "nested A2 (3/8 expected): share", "%", "higher"),
        Metric("nested_B_pct", "nested B (1/2 expected): share", "%", "higher"),
        Metric("reweight_s", "weight change 100->300: time until 75 % holds", "s", "lower"),
        Metric("cpumax_pct", "cpu.max 50 % of the machine: share of the machine used", "%", "higher"),
    )

    def timing(self, ctx: RunContext) -> tuple[float, float, float]:
        """(settle, measure, reweight observation) in seconds."""
        return (2.0, 10.0, 6.0) if ctx.long else (1.0, 4.0, 4.0)

    def run(self, ctx: RunContext) -> dict[str, float]:
        why = cgroups.missing_piece()
        if why:
            raise cgroups.CgroupError(f"cgroup-shares: {why}")
        log = []
        out: dict[str, float] = {}
        try:
            out.update(self._siblings(ctx, log))
            out.update(self._nested(ctx, log))
            out["reweight_s"] = self._reweight(ctx, log)
            out["cpumax_pct"] = self._cpumax(ctx, log)
        finally:
            cgroups.Cgroup(cgroups.ROOT / TOP).remove()
            ctx.log("cgroup-shares.txt").write_text("\n".join(log) + "\n")
        return out

    def _scene(self, ctx, log, leaves: dict[str, int | None], parents: dict[str, int] = {}) -> dict[str, float]:
        """Start the hogs in each leaf, wait, measure the leaves' shares; tear the scene down."""
        settle, measure, _ = self.timing(ctx)
        top = cgroups.create(TOP)
        try:
            for name, w in parents.items():
                top.child(name, w)
            groups = {name: top.child(name, w) for name, w in leaves.items()}
            with cgroups.Hogs() as hogs:
                for g in groups.values():
                    hogs.start(g, ctx.cpus)
                time.sleep(settle)
                got = cgroups.shares(list(groups.values()), measure)
            res = dict(zip(groups, got))
            log.append(f"{leaves} {parents}: " + ", ".join(f"{k} {v:.1f}%" for k, v in res.items()))
            return res
        finally:
            top.remove()

    def _siblings(self, ctx, log) -> dict[str, float]:
        s = self._scene(ctx, log, dict(SIBLINGS))
        return {"siblings_lo_pct": s["lo"], "siblings_hi_pct": s["hi"],
                "siblings_err_pts": max(abs(s["lo"] - 25.0), abs(s["hi"] - 75.0))}

    def _nested(self, ctx, log) -> dict[str, float]:
        s = self._scene(ctx, log, {"A/A1": 100, "A/A2": 300, "B": 100}, {"A": 100})
        got = {"A1": s["A/A1"], "A2": s["A/A2"], "B": s["B"]}
        out = {f"nested_{k}_pct": v for k, v in got.items()}
        out["nested_err_pts"] = max(abs(got[k] - NESTED[k]) for k in NESTED)
        return out

    def _reweight(self, ctx, log) -> float:
        settle, _, observe = self.timing(ctx)
        step = 0.1
        top = cgroups.create(TOP)
        try:
            lo, hi = top.child("lo", 100), top.child("hi", 100)
            with cgroups.Hogs() as hogs:
                hogs.start(lo, ctx.cpus)
                hogs.start(hi, ctx.cpus)
                time.sleep(settle)
                hi.set_weight(300)
                t0 = time.monotonic()
                samples = []  # (seconds since the change, lo usage, hi usage)
                while True:
                    now = time.monotonic() - t0
                    samples.append((now, lo.usage_us(), hi.usage_us()))
                    if now >= observe:
                        break
                    time.sleep(step)
        finally:
            top.remove()
        took = _holds_from(samples, WINDOW_S, 75.0)
        log.append("reweight: hi's share over the window starting at each sample (s: %): " + ", ".join(
            f"{t:.1f}: {v:.0f}" for t, v in _window_shares(samples, WINDOW_S)))
        log.append(f"reweight 100->300: 75 % holds from {took:.2f} s after the change "
                   f"(observed {observe:.0f} s, {len(samples)} samples)")
        return took

    def _cpumax(self, ctx, log) -> float:
        settle, measure, _ = self.timing(ctx)
        top = cgroups.create(TOP)
        try:
            cg = top.child("capped")
            try:
                cg.set_max(0.5 * ctx.cpus)
            except cgroups.CgroupError as e:
                log.append(f"cpu.max: not measured: {e}")
                return math.nan
            with cgroups.Hogs() as hogs:
                hogs.start(cg, ctx.cpus)
                time.sleep(settle)
                u0, t0 = cg.usage_us(), time.monotonic()
                time.sleep(measure)
                used, wall = cg.usage_us() - u0, time.monotonic() - t0
        finally:
            top.remove()
        pct = 100.0 * used / (wall * 1e6 * ctx.cpus)
        log.append(f"cpu.max 50 %: used {pct:.1f}% of {ctx.cpus} CPUs")
        return pct


def _window_shares(samples: list[tuple[float, int, int]], window_s: float) -> list[tuple[float, float]]:
    """(start, the second cgroup's share in percent) of every whole window starting at a sample."""
    out = []
    for i, (t, lo0, hi0) in enumerate(samples):
        j = next((k for k in range(i + 1, len(samples)) if samples[k][0] >= t + window_s), None)
        if j is None:
            break
        d_lo, d_hi = samples[j][1] - lo0, samples[j][2] - hi0
        if d_lo + d_hi:
            out.append((t, 100.0 * d_hi / (d_lo + d_hi)))
    return out


def _holds_from(samples: list[tuple[float, int, int]], window_s: float, target: float) -> float:
    """The first sample time from which the second cgroup's share over every window of
    `window_s` seconds (starting at that sample or any later one that has a whole window
    left) is within TOLERANCE_PTS of `target`; NaN if it never holds."""
    def share_ok(i: int) -> bool | None:
        t, lo0, hi0 = samples[i]
        j = next((k for k in range(i + 1, len(samples)) if samples[k][0] >= t + window_s), None)
        if j is None:
            return None  # no whole window left
        d_lo, d_hi = samples[j][1] - lo0, samples[j][2] - hi0
        return bool(d_lo + d_hi) and abs(100.0 * d_hi / (d_lo + d_hi) - target) <= TOLERANCE_PTS

    verdicts = [share_ok(i) for i in range(len(samples))]
    for i, v in enumerate(verdicts):
        if v and all(w is not False for w in verdicts[i:]):
            return samples[i][0]
    return math.nan
