"""scxpy's Python API: policies attached in a 6.12 guest from a script or a notebook.

    import scxpy

    with scxpy.Guest(cpus=4) as g:                       # boots once (~10-15 s under TCG)
        r = g.run("fifo", ["stress-ng", "--cpu", "4", "--timeout", "5s"])
        print(r.status, r.wall_s, r.stats)               # counters gained during the workload
        g.attach("my_policy.py")                         # swap: detach fifo, attach the new one
        r2 = g.run(None, ["hackbench"])                  # None: under what is attached
        print(g.stats())                                 # totals since attach

A policy is a stock name, a policy .py file or a Scheduler subclass; it is
compiled here (on the host) for the guest's kernel, and loaded in the
guest. The guest stays up until close() (or the `with` block ends);
Ctrl-C, an exception or the end of the program stop it as well, and no
QEMU is left behind. `scxpy dev` is built on this.

Errors: a policy the code generator refuses raises scxpy.PolicyError
(at the policy's file:line); one the kernel refuses raises LoadFailed with
the loader's message (verifier log and policy lines); in both cases the
scheduler attached before stays attached.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field

from scxpy.base.errors import ScxpyError

__all__ = ["Guest", "RunResult", "Swap", "LoadFailed", "compile_policy"]


class LoadFailed(ScxpyError):
    """The guest's kernel refused the policy (load or attach). `.kept` names the scheduler
    still attached: the previous one, or None if there was none (or it could not be put back)."""

    def __init__(self, message: str, kept: str | None):
        super().__init__(message)
        self.kept = kept


@dataclass
class Swap:
    """What Guest.attach() did: `name` is attached now, the one before it (if any)
    detached; what each step cost (seconds) and how the previous one exited."""

    name: str
    compile_s: float
    transfer_s: float
    load_s: float
    detach_s: float
    attach_s: float
    cache_hit: bool = False
    previous_exit: str | None = None


@dataclass
class RunResult:
    """A workload's run under a scheduler.

    `stats` holds each counter's increase during the workload, `totals`
    the counters since attach, `intervals` one record per interval
    ({"elapsed_s", "interval_s", "totals", "rates"}), `ejected` the
    kernel's exit reason if the scheduler was ejected meanwhile.
    """

    scheduler: str | None
    status: int
    wall_s: float
    stats: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    intervals: list[dict] = field(default_factory=list)
    ejected: str | None = None
    cancelled: str | None = None
    output: str | None = None

    def rates(self) -> dict[str, float]:
        """Each counter's mean rate per second over the workload."""
        return {k: v / self.wall_s for k, v in self.stats.items()} if self.wall_s > 0 else {}


def compile_policy(policy, counters: bool | None = None):
    """Compile a policy (stock name, .py path or Scheduler subclass): a Compiled with
    obj_path, c_path and manifest, one object for every guest kernel (and a sched_ext
    host). counters=False leaves the event counters out, whatever the policy says."""
    from scxpy.build import compile_policy_spec

    return compile_policy_spec(policy, counters=counters)


class Guest:
    """A 6.12 guest booted once and kept, with scxpy's agent in it.

    cpus, memory: the guest's size. kernel: a vm.kernel.KernelArtifacts,
    a path to a kernel build (as `--kernel`), or None for the default.
    timeout: seconds after which the guest is killed whatever it does
    (None: no limit). stats_socket: where the agent serves the attached
    scheduler's counters (scx_stats protocol; default the scx tools'
    path, "none" for no socket). scratch/cwd: a host directory the guest
    may write (default: a temporary one), and the workloads' directory.
    agent: the module the guest runs to serve requests (a layer above may
    extend scxpy.api.agent with requests of its own, as scxpy.tune does).
    """

    def __init__(self, cpus: int = 2, memory: str = "2G", kernel=None, *, timeout: float | None = None,
                 stats_socket: str | None = None, scratch=None, cwd=None, progress: bool = True,
                 agent: str = "scxpy.api.agent"):
        from scxpy.vm import kernel as vm_kernel
        from scxpy.vm.warm import WarmGuest

        if kernel is None:
            kernel = vm_kernel.default_kernel(progress=progress)
        elif isinstance(kernel, (str, os.PathLike)):
            kernel = vm_kernel.from_path(kernel)
        self.kernel = kernel
        cmd = [sys.executable, "-m", agent] + ([stats_socket] if stats_socket else [])
        self.warm = WarmGuest(cmd, kernel=kernel, cpus=cpus, memory=memory, lifetime=timeout,
                              scratch=scratch, cwd=cwd, progress=progress)
        self.attached: Swap | None = None  # the last swap: what is attached now

    # -- life --------------------------------------------------------------------

    def start(self) -> "Guest":
        if not self.warm.alive:
            self.warm.start()
        return self

    def close(self) -> None:
        """Detach whatever is attached and stop the guest."""
        self.warm.close()
        self.attached = None

    def __enter__(self) -> "Guest":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def boot_s(self) -> float | None:
        return self.warm.boot_s

    @property
    def scratch(self):
        """The host directory the guest may write ($SCXPY_SCRATCH in the guest)."""
        return self.warm.scratch

    def _ask(self, msg: dict, timeout: float | None = 120.0) -> dict:
        self.start()
        return self.warm.request(msg, timeout=timeout)

    # -- schedulers ----------------------------------------------------------------

    def attach(self, policy, *, sets: dict | None = None, compiled=None) -> Swap:
        """Compile `policy` (unless `compiled` is given) and swap it in: the previous one is
        detached only once the new one has loaded. Raises PolicyError or LoadFailed,
        leaving the previous scheduler attached."""
        t0 = time.monotonic()
        c = compiled if compiled is not None else compile_policy(policy)
        compile_s = time.monotonic() - t0
        reply = self._ask({"op": "attach", "obj": str(c.obj_path), "manifest": c.manifest.to_dict(),
                           "c_path": str(c.c_path) if c.c_path else None, "sets": dict(sets or {})})
        if not reply.get("ok"):
            kept = reply.get("kept")
            if self.attached is not None and kept != self.attached.name:
                self.attached = None
            raise LoadFailed(reply.get("error", "the guest agent failed"), kept)
        t = reply["times"]
        self.attached = Swap(reply["name"], compile_s, t["transfer_s"], t["load_s"], t["detach_s"],
                                 t["attach_s"], bool(getattr(c, "cache_hit", False)), reply.get("previous_exit"))
        return self.attached

    def detach(self) -> str | None:
        """Detach the current scheduler; returns the kernel's exit reason (None if none was attached)."""
        reply = self._ask({"op": "detach"})
        self.attached = None
        return reply.get("exit")

    def set(self, **values) -> None:
        """Set live tunables of the attached scheduler (a few ms: no reload, no reattach).
        A tunable that is not live, unknown or out of its range raises ScxpyError."""
        reply = self._ask({"op": "set", "values": values})
        if not reply.get("ok"):
            raise ScxpyError(reply.get("error", "the guest agent failed"))

    def stats(self) -> dict[str, int]:
        """The attached scheduler's counter totals since attach."""
        reply = self._ask({"op": "stats"})
        return reply["totals"]

    # -- workloads -----------------------------------------------------------------

    def run(self, policy, workload: list[str], *, sets: dict | None = None, interval: float = 1.0,
            timeout: float | None = None, capture: bool = False, on_interval=None) -> RunResult:
        """Run `workload` (argv) in the guest under `policy` (attached first unless None:
        then under whatever is attached, or the kernel's fair class). The workload's
        output goes to our stderr, or into RunResult.output with capture=True.
        `on_interval(record)` is called as each interval's counters arrive."""
        if policy is not None:
            self.attach(policy, sets=sets)
        if not workload:
            raise ScxpyError("no workload given: pass its command line as a list, e.g. ['hackbench']")
        msg = {"op": "run", "argv": list(workload), "interval": interval, "timeout": timeout,
               "capture": capture, "stream": on_interval is not None}
        self.warm.on_event = (lambda m: on_interval(m["record"])) if on_interval is not None else None
        try:
            reply = self._ask(msg, timeout=None)
        except KeyboardInterrupt:
            # Stop the workload but keep the guest (and the scheduler): its reply
            # to the run is read here, so the next request gets its own.
            try:
                self.warm.send({"op": "cancel"})
                self.warm.next_reply(30)
            except ScxpyError:
                pass
            raise
        finally:
            self.warm.on_event = None
        if not reply.get("ok"):
            raise ScxpyError(reply.get("error", "the guest agent failed"))
        return RunResult(reply["scheduler"], reply["status"], reply["wall_s"], reply["stats"], reply["totals"],
                         reply["intervals"], reply.get("ejected"), reply.get("cancelled"), reply.get("output"))

    def exec(self, argv: list[str], timeout: float | None = None) -> int:
        """Run a command in the guest (its output to ours) and return its exit status."""
        reply = self._ask({"op": "run", "argv": list(argv), "timeout": timeout}, timeout=None)
        if not reply.get("ok"):
            raise ScxpyError(reply.get("error", "the guest agent failed"))
        return reply["status"]
