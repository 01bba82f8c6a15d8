"""Measure, inside the guest, what the runtime costs (figures for the report).

    scxpy vm --cpus 2 -- python tests/runtime_fixtures/measure_attach.py [OBJ [MANIFEST]]

Prints open/load/attach times from a cached object to sched_ext `enabled`
(best and median of several rounds) and the mean cost per callback while a
busy workload runs. Default object: the minimal fixture scheduler.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent))

from scxpy.base.manifest import Manifest  # noqa: E402
from scxpy.runtime.prog_stats import format_costs  # noqa: E402
from scxpy.runtime.scheduler import Scheduler  # noqa: E402
from scxpy.runtime.sched_ext_sysfs import read_state  # noqa: E402

ROUNDS = 5


def main() -> None:
    if len(sys.argv) > 1:
        obj = Path(sys.argv[1])
        manifest = Manifest.read(sys.argv[2]) if len(sys.argv) > 2 else None
    else:
        from build import compile_fixture
        from scxpy.vm.kernel import from_cache_dir

        vmlinux_h = from_cache_dir(Path(os.environ["SCXPY_KERNEL_DIR"])).vmlinux_h
        obj, manifest = compile_fixture("minimal_sched", vmlinux_h=vmlinux_h), None
    rows = []
    for _ in range(ROUNDS):
        t0 = time.monotonic()
        s = Scheduler(obj, manifest=manifest)
        t1 = time.monotonic()
        s.load()
        t2 = time.monotonic()
        s.attach()
        assert read_state().state == "enabled"
        t3 = time.monotonic()
        s.detach()
        t4 = time.monotonic()
        s.close()
        rows.append((t1 - t0, t2 - t1, t3 - t2, t3 - t0, t4 - t3))
    names = ("open", "load", "attach", "object->enabled", "detach")
    for i, name in enumerate(names):
        vals = [r[i] * 1e3 for r in rows]
        print(f"{name:<16} best {min(vals):7.1f} ms   median {statistics.median(vals):7.1f} ms")
    with Scheduler(obj, manifest=manifest) as s:
        work = [subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(0.0005)"]),
                subprocess.Popen(["sh", "-c", "while :; do :; done"])]
        try:
            time.sleep(0.5)
            costs = s.costs(3.0)
        finally:
            for w in work:
                w.kill()
                w.wait()
    print(f"per-callback cost over 3 s ({os.cpu_count()} vCPUs, sleeper + spinner):")
    print(format_costs(costs))


if __name__ == "__main__":
    main()
