"""Fuzzed policies, VM tier: a fixed sample loads in the guest and schedules stress-ng.

Each of SAMPLE policies drawn (always the same ones) by
policies.valid_policies(guest=True) is compiled, attached, runs 5 s of
stress-ng (started as SCHED_EXT, so policies with partial=True schedule
it too) and must still be attached afterwards, having placed tasks, and
detach cleanly. A failure is shrunk (within a time budget: each try is a
5 s run) and the smallest failing policy written to
$SCXPY_SCRATCH/fuzz-failures/fuzz_guest.py.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings

from policies import valid_policies
from scxpy.runtime import sched_ext_sysfs
from scxpy.runtime.exit_info import ExitKind

pytestmark = pytest.mark.vm

SAMPLE = 12
RUN_SECONDS = 5
SHRINK_BUDGET_S = 300
NCPUS = os.cpu_count() or 1
SCHED_EXT = 7


def _as_sched_ext():
    os.sched_setscheduler(0, SCHED_EXT, os.sched_param(0))


@pytest.mark.timeout(SAMPLE * 60 + SHRINK_BUDGET_S + 120)
def test_fuzzed_policies_schedule_stress_ng(vmlinux_h, tmp_path):
    from scxpy import codegen
    from scxpy.runtime.scheduler import Scheduler

    out_dir = Path(os.environ.get("SCXPY_SCRATCH") or tmp_path) / "fuzz-failures"
    out_dir.mkdir(parents=True, exist_ok=True)
    calls, ran, start = [0], [], time.monotonic()

    @settings(max_examples=SAMPLE, deadline=None, database=None, derandomize=True, print_blob=False,
              phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))
    @given(valid_policies(guest=True))
    def run_one(src):
        calls[0] += 1
        if calls[0] > SAMPLE:  # a shrinking step: each costs a run, so within a budget
            assume(time.monotonic() - start < SAMPLE * 30 + SHRINK_BUDGET_S)
        path = tmp_path / f"policy_{calls[0]}.py"
        path.write_text(src.text())
        try:
            c = codegen.compile(str(path), str(vmlinux_h))
            sched = Scheduler(c.obj_path, manifest=c.manifest, c_path=c.c_path)
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
            assert stress.returncode == 0, f"stress-ng exited {stress.returncode}: {stress.stderr[-1000:]}"
            assert info is not None and info.kind is ExitKind.NONE, f"ejected: {info}"
            assert final is not None and final.kind is ExitKind.UNREG, f"detach: {final}"
            assert placed > 0, "no rule placed a task"
            assert sched_ext_sysfs.wait_state("disabled") == "disabled"
        except BaseException as e:
            kept = out_dir / "fuzz_guest.py"
            kept.write_text(src.text())
            raise AssertionError(f"{e}\nminimal policy: {kept}  (rerun: scxpy run --vm {kept} -- "
                                 f"stress-ng --cpu {NCPUS} --timeout {RUN_SECONDS}s)") from None
        ran.append((path.name, placed))

    run_one()
    print(f"\nfuzz in the guest: {len(ran)} policies ran {RUN_SECONDS} s of stress-ng each "
          f"in {time.monotonic() - start:.0f} s; tasks placed: {[n for _, n in ran]}")
    assert len(ran) >= SAMPLE
