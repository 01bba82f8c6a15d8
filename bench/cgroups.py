"""Guest-side cgroup v2 helpers for the benchmarks and VM tests.

Create cgroups with the cpu controller enabled down to them, set
`cpu.weight`, `cpu.max` and `cpu.idle`, start CPU hogs inside a cgroup,
read how much CPU a cgroup used (`cpu.stat` usage_usec), and remove
cgroups again. Everything is plain file I/O on the cgroup2 mount
(the guest mounts it at /sys/fs/cgroup); each failure says which file
and what to fix, never a bare OSError.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from scxpy.base.errors import ScxpyError

ROOT = Path("/sys/fs/cgroup")
# A pure CPU loop: no system calls, so every cycle counts as CPU time of its cgroup.
HOG_CMD = ("/bin/sh", "-c", "while :; do :; done")


class CgroupError(ScxpyError):
    """A cgroup could not be created, configured or used."""


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as e:
        raise CgroupError(f"writing {value!r} to {path} failed: {e.strerror or e}") from None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as e:
        raise CgroupError(f"reading {path} failed: {e.strerror or e}") from None


def missing_piece(root: Path = ROOT) -> str | None:
    """What keeps cgroup CPU control from working here, in one line; None when nothing does."""
    if not (root / "cgroup.controllers").is_file():
        return f"no cgroup v2 hierarchy at {root} (mount -t cgroup2 none {root})"
    if "cpu" not in _read(root / "cgroup.controllers").split():
        return (f"the cpu controller is not available in {root}/cgroup.controllers "
                "(kernel built without CONFIG_CGROUP_SCHED, or it is bound to a cgroup v1 hierarchy)")
    return None


@dataclass
class Cgroup:
    """One cgroup below the cgroup2 root, cpu controller enabled in its parent."""

    path: Path

    @property
    def name(self) -> str:
        return "/" + str(self.path.relative_to(ROOT)) if self.path.is_relative_to(ROOT) else str(self.path)

    def child(self, name: str, weight: int | None = None) -> "Cgroup":
        return create(self.path / name, weight)

    def set_weight(self, weight: int) -> None:
        if not 1 <= weight <= 10000:
            raise CgroupError(f"cpu.weight {weight} is outside 1..10000")
        _write(self.path / "cpu.weight", str(weight))

    def weight(self) -> int:
        return int(_read(self.path / "cpu.weight"))

    def set_max(self, fraction_of_cpus: float | None, period_us: int = 100_000) -> None:
        """cpu.max: at most this many CPUs' worth (0.5 = half of one CPU); None: no limit."""
        f = self.path / "cpu.max"
        if not f.exists():
            raise CgroupError(f"{f} does not exist: the kernel has no CPU bandwidth control "
                              "(CONFIG_CFS_BANDWIDTH is not set)")
        _write(f, f"max {period_us}" if fraction_of_cpus is None
               else f"{max(1000, int(fraction_of_cpus * period_us))} {period_us}")

    def set_idle(self, idle: bool) -> None:
        f = self.path / "cpu.idle"
        if not f.exists():
            raise CgroupError(f"{f} does not exist: this kernel has no cpu.idle (FAIR_GROUP_SCHED)")
        _write(f, "1" if idle else "0")

    def move(self, pid: int) -> None:
        """Move a process (all its threads) into this cgroup."""
        _write(self.path / "cgroup.procs", str(pid))

    def pids(self) -> list[int]:
        return [int(x) for x in _read(self.path / "cgroup.procs").split()]

    def usage_us(self) -> int:
        """CPU time used by this cgroup and its descendants so far (cpu.stat usage_usec)."""
        for line in _read(self.path / "cpu.stat").splitlines():
            k, _, v = line.partition(" ")
            if k == "usage_usec":
                return int(v)
        raise CgroupError(f"{self.path}/cpu.stat has no usage_usec line")

    def remove(self, timeout_s: float = 10.0) -> None:
        """Kill what runs inside (children first) and remove the cgroup."""
        if not self.path.exists():
            return
        for sub in sorted((p for p in self.path.iterdir() if p.is_dir()), reverse=True):
            Cgroup(sub).remove(timeout_s)
        kill = self.path / "cgroup.kill"
        deadline = time.monotonic() + timeout_s
        while True:
            pids = self.pids()
            if not pids:
                break
            if kill.exists():
                _write(kill, "1")
            else:
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            if time.monotonic() > deadline:
                raise CgroupError(f"{self.path} still holds processes {pids} after {timeout_s:.0f} s")
            time.sleep(0.05)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError as e:  # EBUSY until the killed tasks are reaped
                if time.monotonic() > deadline:
                    raise CgroupError(f"removing {self.path} failed: {e.strerror or e}") from None
                time.sleep(0.05)


def _enable_cpu(parent: Path) -> None:
    """Give parent's children their own cpu controller (cgroup.subtree_control)."""
    ctl = parent / "cgroup.subtree_control"
    if "cpu" not in _read(ctl).split():
        _write(ctl, "+cpu")


def create(path: Path | str, weight: int | None = None) -> Cgroup:
    """Create the cgroup at `path` (absolute, or relative to the cgroup2 root), cpu enabled on the way."""
    path = Path(path)
    if not path.is_absolute():
        path = ROOT / path
    why = missing_piece()
    if why:
        raise CgroupError(why)
    parts = path.relative_to(ROOT).parts
    cur = ROOT
    for part in parts:
        _enable_cpu(cur)
        cur = cur / part
        try:
            cur.mkdir(exist_ok=True)
        except OSError as e:
            raise CgroupError(f"creating {cur} failed: {e.strerror or e}") from None
    cg = Cgroup(path)
    if weight is not None:
        cg.set_weight(weight)
    return cg


@dataclass
class Hogs:
    """CPU-bound processes, each started inside its cgroup before it runs a cycle."""

    procs: list[subprocess.Popen] = field(default_factory=list)

    def start(self, cg: Cgroup, n: int) -> None:
        procs_file = str(cg.path / "cgroup.procs")

        def join() -> None:  # runs in the child before exec: it never runs outside cg
            with open(procs_file, "w") as f:
                f.write("0")

        for _ in range(n):
            self.procs.append(subprocess.Popen(HOG_CMD, preexec_fn=join, stdin=subprocess.DEVNULL,
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            p.wait()
        self.procs.clear()

    def __enter__(self) -> "Hogs":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def shares(cgroups: list[Cgroup], seconds: float) -> list[float]:
    """Each cgroup's share (percent) of the CPU time all of them used over the next `seconds`."""
    before = [c.usage_us() for c in cgroups]
    time.sleep(seconds)
    used = [c.usage_us() - b for c, b in zip(cgroups, before)]
    total = sum(used)
    return [100.0 * u / total if total else 0.0 for u in used]
