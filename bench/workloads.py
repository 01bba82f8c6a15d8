"""The benchmark workloads: what runs, and which figure of merit it yields.

Each workload runs under whichever scheduler is attached and returns a
dict of metrics; `primary` names the figure of merit shown in the table
and plots. Every measuring thread runs as SCHED_OTHER (cyclictest's
`--policy=other`): a SCHED_FIFO thread would be scheduled by the RT
class and never reach the sched_ext policy under test.

Sizes: the default is CI-sized (seconds per run under TCG); `long`
runs the sizes a kernel engineer would quote.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

from pathlib import Path

from scxpy.base.errors import ScxpyError
from scxpy.base.tools import require_tool

from scxpy.bench import parsers
from scxpy.bench.cgroup_shares import CgroupShares
from scxpy.bench.workload_base import Metric, RunContext, Workload  # noqa: F401  (the workloads' interface)


class WorkloadError(ScxpyError):
    """A workload tool failed or timed out in the guest."""


class UnknownWorkload(ScxpyError):
    pass


def _run(ctx: RunContext, cmd: list[str], log_name: str, while_running=None) -> str:
    """Run cmd to completion, keep its output in a log file, return it.

    The working directory is the (writable) log directory: in the guest
    the repo is read-only, and stress-ng wants a writable cwd.
    `while_running(proc)`, if given, is called once the command started.
    """
    ctx.commands.append(cmd)
    path = ctx.log(log_name)
    with open(path, "w+") as out:
        try:
            with subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ctx.logdir) as proc:
                try:
                    if while_running is not None:
                        while_running(proc)
                    proc.wait(timeout=ctx.timeout_s)
                except BaseException:
                    proc.kill()
                    raise
        except subprocess.TimeoutExpired:
            raise WorkloadError(
                f"{' '.join(cmd)} did not finish in {ctx.timeout_s:.0f} s (log: {path}); "
                "the scheduler under test may be starving it, or the size is too large for this machine"
            ) from None
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        raise WorkloadError(f"{' '.join(cmd)} exited with status {proc.returncode} (log: {path}):\n{text[-800:]}")
    return text


def _cyclictest_cmd(ctx: RunContext, threads: int, interval_us: int, duration_s: int, json_path: Path) -> list[str]:
    return [
        require_tool("cyclictest"),
        "--quiet",
        "--mlockall",
        "--policy=other",  # CFS/sched_ext class, see module docstring
        f"--threads={threads}",
        f"--interval={interval_us}",
        f"--duration={duration_s}",
        # 1-us buckets up to 1 s; the JSON lists only non-empty buckets and
        # the text dump is thrown away (it would be a million lines).
        "--histogram=1000000",
        "--histfile=/dev/null",
        f"--json={json_path}",
    ]


def _stop_after_window(probe: subprocess.Popen, duration_s: float, hogs: subprocess.Popen) -> None:
    """Stop the hogs once cyclictest's measuring window is over.

    cyclictest measures for `duration_s` from when its measuring thread
    starts (setup, such as --mlockall, can take seconds under load), then
    writes its histogram, a million lines: with the hogs still running,
    starved, that alone took a minute under TCG.
    """
    task_dir = f"/proc/{probe.pid}/task"
    started = None
    while probe.poll() is None:
        now = time.monotonic()
        if started is None:
            try:
                if len(os.listdir(task_dir)) > 1:
                    started = now
            except OSError:
                return
        elif now >= started + duration_s + 0.2:
            if hogs.poll() is None:
                hogs.send_signal(signal.SIGINT)
            return
        time.sleep(0.05)


class Hackbench(Workload):
    name = "hackbench"
    description = "hackbench (rt-tests): groups of processes passing messages over sockets; total time"
    primary = Metric("time_s", "total time", "s", "lower")
    metrics = (primary,)

    def size(self, ctx: RunContext) -> tuple[int, int]:
        # (groups, loops); each group is 40 processes.
        return (4 * ctx.cpus, 500) if ctx.long else (2, 200)

    def run(self, ctx: RunContext) -> dict[str, float]:
        groups, loops = self.size(ctx)
        cmd = [require_tool("hackbench"), "--groups", str(groups), "--loops", str(loops)]
        return parsers.parse_hackbench(_run(ctx, cmd, "hackbench.txt"))


class WakeupLatency(Workload):
    name = "latency"
    description = "cyclictest, one SCHED_OTHER thread per CPU, otherwise idle; wake-up latency percentiles"
    primary = Metric("p99_us", "p99 wake-up latency", "us", "lower")
    metrics = (
        Metric("p50_us", "p50 wake-up latency", "us", "lower"),
        primary,
        Metric("p99_9_us", "p99.9 wake-up latency", "us", "lower"),
        Metric("max_us", "max wake-up latency", "us", "lower"),
    )

    def duration(self, ctx: RunContext) -> int:
        return 30 if ctx.long else 3

    def run(self, ctx: RunContext) -> dict[str, float]:
        json_path = ctx.log("cyclictest.json")
        cmd = _cyclictest_cmd(ctx, ctx.cpus, 1000, self.duration(ctx), json_path)
        _run(ctx, cmd, "cyclictest.txt")
        return parsers.parse_cyclictest_json(json_path.read_text())


class CpuThroughput(Workload):
    name = "throughput"
    description = "stress-ng --cpu, two CPU-bound workers per CPU (oversubscribed); bogo ops/s"
    primary = Metric("bogo_ops_per_s", "CPU throughput", "bogo ops/s", "higher")
    metrics = (primary,)

    def duration(self, ctx: RunContext) -> int:
        return 30 if ctx.long else 3

    def run(self, ctx: RunContext) -> dict[str, float]:
        cmd = [
            require_tool("stress-ng"),
            "--cpu", str(2 * ctx.cpus),
            # One fixed method: the default ("all") rotates methods of very
            # different cost per bogo op, which adds noise between runs.
            "--cpu-method", "int64",
            "--timeout", f"{self.duration(ctx)}s",
            "--metrics-brief",
        ]  # fmt: skip
        return parsers.parse_stress_ng(_run(ctx, cmd, "stress-ng.txt"))


class Mixed(Workload):
    name = "mixed"
    description = (
        "an interactive task (cyclictest, one SCHED_OTHER thread waking every 2 ms) "
        "while stress-ng CPU hogs saturate every CPU; its wake-up latency, and the hogs' throughput"
    )
    primary = Metric("p99_us", "interactive p99 wake-up latency", "us", "lower")
    metrics = (
        Metric("p50_us", "interactive p50 wake-up latency", "us", "lower"),
        primary,
        Metric("p99_9_us", "interactive p99.9 wake-up latency", "us", "lower"),
        Metric("max_us", "interactive max wake-up latency", "us", "lower"),
        Metric("hog_bogo_ops_per_s", "CPU hog throughput", "bogo ops/s", "higher"),
    )
    settle_s = 0.5  # let the hogs occupy every CPU before measuring
    hogs_per_cpu = 1
    probe_interval_us = 2000

    def duration(self, ctx: RunContext) -> int:
        return 30 if ctx.long else 3

    def run(self, ctx: RunContext) -> dict[str, float]:
        duration = self.duration(ctx)
        hog_cmd = [
            require_tool("stress-ng"),
            "--cpu", str(self.hogs_per_cpu * ctx.cpus),
            "--cpu-method", "int64",
            # A generous timeout only as a safety net: we stop the hogs with
            # SIGINT as soon as the probe ends (stress-ng still reports).
            "--timeout", f"{duration + 60}s",
            "--metrics-brief",
        ]  # fmt: skip
        ctx.commands.append(hog_cmd)
        hog_log = ctx.log("hogs.txt")
        with open(hog_log, "w+") as out:
            hogs = subprocess.Popen(hog_cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ctx.logdir)
            try:
                time.sleep(self.settle_s)
                json_path = ctx.log("cyclictest.json")
                probe_cmd = _cyclictest_cmd(ctx, 1, self.probe_interval_us, duration, json_path)
                _run(ctx, probe_cmd, "cyclictest.txt",
                     while_running=lambda probe: _stop_after_window(probe, duration, hogs))
                result = parsers.parse_cyclictest_json(json_path.read_text())
            finally:
                if hogs.poll() is None:
                    hogs.send_signal(signal.SIGINT)
                try:
                    hogs.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    hogs.kill()
                    hogs.wait()
            out.seek(0)
            hog_text = out.read()
        result["hog_bogo_ops_per_s"] = parsers.parse_stress_ng(hog_text)["bogo_ops_per_s"]
        return result


class MixedHeavy(Mixed):
    """The mixed scenario with 8 CPU hogs per CPU.

    With about one hog per CPU even a policy that always runs the probe
    first cannot be told from fair under TCG: the emulator's own wake-up
    delay dominates. With 8 per CPU fair's delay grows well above that
    floor, so a latency policy can show what it does. The floor itself
    (the probe alone on an otherwise idle guest) is measured once per
    bench and reported beside this workload (floor()).
    """

    name = "mixed-heavy"
    description = (
        "the mixed scenario with 8 CPU hogs per CPU: cyclictest (one SCHED_OTHER thread waking every 2 ms) "
        "while 8 stress-ng CPU hogs per CPU run; its wake-up latency, and the hogs' throughput"
    )
    hogs_per_cpu = 8

    def duration(self, ctx: RunContext) -> int:
        return 30 if ctx.long else 10

    def floor(self, ctx: RunContext) -> dict[str, float]:
        """The probe alone, nothing else running: the emulator's floor on wake-up latency."""
        json_path = ctx.log("cyclictest.json")
        _run(ctx, _cyclictest_cmd(ctx, 1, self.probe_interval_us, self.duration(ctx), json_path), "cyclictest.txt")
        return parsers.parse_cyclictest_json(json_path.read_text())



WORKLOADS: dict[str, Workload] = {w.name: w for w in (Hackbench(), WakeupLatency(), CpuThroughput(), Mixed(),
                                                       MixedHeavy(), CgroupShares())}
DEFAULT_WORKLOADS = ("hackbench", "latency", "throughput", "mixed")


def get(name: str) -> Workload:
    try:
        return WORKLOADS[name]
    except KeyError:
        raise UnknownWorkload(
            f"unknown workload {name!r}; choose from: {', '.join(WORKLOADS)}"
        ) from None
