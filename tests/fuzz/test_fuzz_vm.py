"""Fuzzed policies, VM tier: a fixed sample loads in the guest and schedules stress-ng.

The SAMPLE policies (policies.guest_sample(): the same every run) are drawn
and compiled on the host by tests/fuzz/test_fuzz_codegen.py::
test_guest_sample_compiles_on_the_host, which writes their objects' index to
the cache; here each object is only loaded (clang under emulation would take
a minute a policy), attached, runs 5 s of stress-ng (started as SCHED_EXT, so
policies with partial=True schedule it too) and must still be attached
afterwards, having placed tasks, and detach cleanly. A failure names the
policy file: `scxpy run --vm FILE -- stress-ng ...` reruns it.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from policies import SAMPLE_DIR
from scxpy.runtime import sched_ext_sysfs
from scxpy.runtime.exit_info import ExitKind

pytestmark = pytest.mark.vm

SAMPLE = 12
RUN_SECONDS = 5
NCPUS = os.cpu_count() or 1
SCHED_EXT = 7


def _as_sched_ext():
    os.sched_setscheduler(0, SCHED_EXT, os.sched_param(0))


@pytest.mark.timeout(SAMPLE * 60 + 120)
def test_fuzzed_policies_schedule_stress_ng():
    from scxpy.base.cache import cache_root
    from scxpy.base.manifest import Manifest
    from scxpy.runtime.scheduler import Scheduler

    index_path = cache_root() / SAMPLE_DIR / "index.json"
    assert index_path.exists(), (f"no {index_path}: the host tier compiles the guest sample first "
                                 "(pytest tests/fuzz/test_fuzz_codegen.py -k guest_sample)")
    index = json.loads(index_path.read_text())
    assert len(index) >= SAMPLE, index_path
    ran, start = [], time.monotonic()
    for entry in index[:SAMPLE]:
        sched = Scheduler(entry["obj"], manifest=Manifest.read(entry["manifest"]), c_path=entry["c"],
                          policy_path=entry["policy"])
        try:
            sched.attach()
            stress = subprocess.run(
                ["stress-ng", "--cpu", str(NCPUS), "--switch", "1", "--fork", "1", "--timeout",
                 f"{RUN_SECONDS}s", "--temp-path", "/tmp", "--quiet"],
                preexec_fn=_as_sched_ext, capture_output=True, text=True, timeout=RUN_SECONDS + 60)
            info = sched.exit_info
            placed = sum(v for k, v in sched.stats().items() if k.startswith("rule."))
        finally:
            final = sched.detach()
            sched.close()
        rerun = (f"policy: {entry['policy']}  (rerun: scxpy run --vm {entry['policy']} -- "
                 f"stress-ng --cpu {NCPUS} --timeout {RUN_SECONDS}s)")
        assert stress.returncode == 0, f"stress-ng exited {stress.returncode}: {stress.stderr[-1000:]}\n{rerun}"
        assert info is not None and info.kind is ExitKind.NONE, f"ejected: {info}\n{rerun}"
        assert final is not None and final.kind is ExitKind.UNREG, f"detach: {final}\n{rerun}"
        assert placed > 0, f"no rule placed a task\n{rerun}"
        assert sched_ext_sysfs.wait_state("disabled") == "disabled"
        ran.append((Path(entry["policy"]).name, placed))
    print(f"\nfuzz in the guest: {len(ran)} policies (compiled on the host) ran {RUN_SECONDS} s of stress-ng "
          f"each in {time.monotonic() - start:.0f} s; tasks placed: {[n for _, n in ran]}")
    assert len(ran) >= SAMPLE
