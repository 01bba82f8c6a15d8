"""One measurement of a configuration: set it, run the workload once, read the figures.

GuestMeasurer does it in one warm guest (scxpy.api.Guest running
scxpy.tune.agent): live tunables are written into the attached
scheduler (a few ms; with --rebuild the policy is loaded again with the
values), the bench workload runs in the agent's already warm process,
and the policy's counters gained meanwhile become rates per second.
The host tests put a deterministic fake with the same two methods in its
place; nothing else in the tuner knows which it has.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from scxpy.base.errors import ScxpyError

WORKLOAD_TIMEOUT_S = 900.0


class TrialFailed(ScxpyError):
    """The workload failed or the kernel ejected the scheduler with this configuration."""


@dataclass
class Measurement:
    figures: dict[str, float | None]  # workload metrics + counter rates (per second)
    workload_s: float  # the workload's own time, measured in the guest
    overhead_s: float  # the rest of the measurement: setting values, the request, reading counters
    counters: dict[str, int] = field(default_factory=dict)


class GuestMeasurer:
    """Measures configurations of one compiled policy in one warm guest."""

    def __init__(self, compiled, workload: str, *, cpus: int = 2, long: bool = False, kernel=None,
                 rebuild: bool = False, progress: bool = True):
        self.compiled, self.workload, self.cpus, self.long = compiled, workload, cpus, long
        self.kernel, self.rebuild, self.progress = kernel, rebuild, progress
        self.guest = None
        self.attached_values: dict | None = None  # what the attached scheduler runs with; None: fair
        self.runs = 0

    def start(self) -> None:
        from scxpy.api import Guest

        kernel = self.kernel() if callable(self.kernel) else self.kernel  # resolved only once input is checked
        self.guest = Guest(cpus=self.cpus, kernel=kernel, stats_socket="none", progress=self.progress,
                           agent="scxpy.tune.agent")
        self.guest.start()

    def close(self) -> None:
        if self.guest is not None:
            self.guest.close()  # detaches in the guest and stops QEMU (killed if it will not stop)
            self.guest = None

    def _configure(self, values: dict | None) -> None:
        """Attach or set so that the guest runs `values` (None: the kernel's fair class)."""
        g = self.guest
        if values is None:
            if self.attached_values is not None:
                g.detach()
                self.attached_values = None
            return
        if self.attached_values is None or self.rebuild:
            g.attach(None, sets=values, compiled=self.compiled)
        elif values != self.attached_values:
            g.set(**values)
        self.attached_values = dict(values)

    def prepare(self, values: dict | None) -> None:
        """Attach (or detach) ahead of the first measurement."""
        self._configure(values)

    def measure(self, values: dict | None) -> Measurement:
        t0 = time.monotonic()
        try:
            self._configure(values)
        except ScxpyError as e:
            self.attached_values = None
            raise TrialFailed(f"could not apply {values}: {e}") from None
        self.runs += 1
        reply = self.guest.warm.request(
            {"op": "workload", "name": self.workload, "cpus": self.cpus, "long": self.long,
             "logdir": str(self.guest.scratch / "tune-logs"), "tag": f"run{self.runs}"},
            timeout=WORKLOAD_TIMEOUT_S)
        took = time.monotonic() - t0
        if reply.get("ejected"):
            self.attached_values = None  # gone: attach afresh next time
            raise TrialFailed(f"the kernel ejected the scheduler with {values}: {reply['ejected']}")
        if not reply.get("ok"):
            raise TrialFailed(reply.get("error", "the guest agent failed"))
        wall = reply["workload_s"]
        figures = dict(reply["metrics"])
        counters = reply.get("stats") or {}
        figures.update({k: v / wall for k, v in counters.items()} if wall > 0 else {})
        return Measurement(figures, wall, took - wall, counters)
