"""`scxpy run` of a userspace policy: this process becomes the scheduler process.

The main thread turns the policy's loop (runtime/user_loop.py) instead of
sleeping while the kernel schedules; the workload, if any, runs as a child.
A policy method that raises or hangs ends the run: the scheduler is
detached first (every task back in the fair class), then the policy's own
traceback is printed, and the status is 1.
"""

from __future__ import annotations

import subprocess
import sys
import time

from scxpy.base.errors import ScxpyError


def policy_class(manifest):
    from scxpy.runtime.userspace import load_user_policy

    cls = load_user_policy(manifest.source) if manifest and manifest.source else None
    if cls is None:
        raise ScxpyError(f"{manifest.name if manifest else 'this object'} is the BPF half of a userspace policy, "
                         f"but its manifest names no policy file defining a UserScheduler "
                         f"({manifest.source if manifest else 'no manifest'}); run the policy's .py file instead")
    return cls


def run_user_here(sched, manifest, workload: list[str], t0: float) -> int:
    from scxpy.runtime.errors import SchedulerEjected
    from scxpy.runtime.scheduler import StopRequested, stop_on_signals
    from scxpy.runtime.user_loop import PolicyMethodFailed, UserLoop

    loop = UserLoop(sched, policy_class(manifest))
    failure = None
    stopped = False
    proc = None
    info = None
    with stop_on_signals():
        try:
            loop.prepare()
            sched.load()
            loop.start()
            sched.attach()
            st = sched.sysfs_state()
            print(f"scxpy: {sched.name} attached (sched_ext {st.state}, root/ops {st.ops}; userspace policy "
                  f"{loop.policy_cls.__name__}, memory {'locked' if loop.locked else 'NOT locked'}); "
                  f"enabled {1e3 * (time.monotonic() - t0):.0f} ms after start", flush=True)
            if workload:
                try:
                    proc = subprocess.Popen(workload)
                except OSError as e:
                    raise ScxpyError(f"cannot start workload {workload[0]!r}: {e.strerror}") from None
            loop.run(until=lambda: proc is not None and proc.poll() is not None)
        except PolicyMethodFailed as e:
            failure = e
        except StopRequested as stop:
            print(f"scxpy: {stop}: detaching", file=sys.stderr, flush=True)
            stopped = True
        finally:
            info = sched.detach()
            report = loop.report()
            loop.close()
    if failure is not None:
        print(f"{failure.traceback}\nscxpy: {failure}\nscxpy: {sched.name} detached: every task is back in the "
              "fair class. Fix the method and run again.", file=sys.stderr, flush=True)
    print(f"scxpy: {sched.name}: {report}", flush=True)
    if proc is not None:
        if proc.poll() is None and stopped:
            proc.terminate()
        proc.wait()
    if info is not None and info.is_error:
        raise SchedulerEjected(f"{sched.name} was ejected by the kernel: {info}", info)
    if info is not None:
        print(f"scxpy: {sched.name} exited: {info}", flush=True)
    if failure is not None:
        return 1
    if proc is not None and proc.returncode != 0:
        print(f"scxpy: workload exited with status {proc.returncode}", file=sys.stderr, flush=True)
        return proc.returncode if proc.returncode > 0 else 128 - proc.returncode
    return 0
