"""The guest half of `scxpy tune`: scxpy.api's agent, plus one request that runs a bench workload.

    python -m scxpy.tune.agent          # started by the tuner's Guest, never by hand

    {"op": "workload", "name": W, "cpus": N, "long": bool, "logdir": DIR, "tag": T}
        run bench workload W under what is attached; reply with its figures,
        the attached scheduler's counters gained meanwhile, the workload's own
        time and, if the kernel ejected the scheduler, the reason.

Why in the agent's own process: under TCG a fresh Python takes 1 s to start
and 3-4 s to import the workloads, far more than a trial may add to the
workload's own time. Here the import is paid once, at boot.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

from scxpy.api.agent import Agent, main
from scxpy.base.errors import ScxpyError
from scxpy.bench import workloads


class TuneAgent(Agent):
    def handle(self, req: dict) -> dict:
        if req.get("op") == "workload":
            return self.workload(req)
        return super().handle(req)

    def workload(self, req: dict) -> dict:
        logdir = Path(req["logdir"])
        logdir.mkdir(parents=True, exist_ok=True)
        ctx = workloads.RunContext(cpus=int(req["cpus"]), long=bool(req.get("long")), logdir=logdir,
                                   tag=str(req["tag"]))
        s = self.current
        before = s.stats() if s is not None else {}
        t0 = time.monotonic()
        try:
            metrics = workloads.get(req["name"]).run(ctx)
        except ScxpyError as e:
            return {"ok": False, "error": str(e), "ejected": self._ejected()}
        took = time.monotonic() - t0
        after = s.stats() if s is not None else {}
        return {
            "ok": True, "scheduler": s.name if s is not None else None, "workload_s": took,
            # Strict JSON: a percentile not measured (NaN) or beyond the histogram (inf) is null.
            "metrics": {k: (v if math.isfinite(v) else None) for k, v in metrics.items()},
            "stats": {k: v - before.get(k, 0) for k, v in after.items()},
            "ejected": self._ejected(),
        }


if __name__ == "__main__":
    sys.exit(main(agent_class=TuneAgent))
