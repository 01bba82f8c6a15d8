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


def run_user_here(sched, manifest, workload: list[str], t0: float, *, stats_log=None, stats_server=None,
                  every: float = 1.0) -> int:
    """Load, attach and turn the policy's loop until the workload ends (or a signal, or the
    scheduler's end). stats_log, stats_server: factories called once the object is loaded
    (a StatsLog ticked every `every` s between turns, the scx_stats server), or None."""
    from scxpy.runtime.errors import SchedulerEjected
    from scxpy.runtime.scheduler import StopRequested, stop_on_signals
    from scxpy.runtime.user_loop import PolicyMethodFailed, UserLoop

    loop = UserLoop(sched, policy_class(manifest))
    failure = None
    stopped = False
    proc = None
    info = None
    log = server = None
    next_tick = 0.0

    def until() -> bool:
        nonlocal next_tick
        if log is not None and time.monotonic() >= next_tick:
            log.tick()
            next_tick = time.monotonic() + every
        return proc is not None and proc.poll() is not None

    with stop_on_signals():
        try:
            loop.prepare()
            sched.load()
            loop.start()
            log = stats_log() if stats_log else None
            if log is not None:
                _draw_once_now()
                next_tick = time.monotonic() + every
            server = stats_server() if stats_server else None
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
            loop.run(until=until)
            while _restarted(sched, loop):
                loop.run(until=until)
        except PolicyMethodFailed as e:
            failure = e
        except StopRequested as stop:
            print(f"scxpy: {stop}: detaching", file=sys.stderr, flush=True)
            stopped = True
        finally:
            try:
                if server is not None:
                    server.stop()
                if log is not None:
                    log.finish()
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
    if sched.restarts:
        print(f"scxpy: {sched.restarts_summary()}", flush=True)
    if failure is not None:
        return 1
    if proc is not None and proc.returncode != 0:
        print(f"scxpy: workload exited with status {proc.returncode}", file=sys.stderr, flush=True)
        return proc.returncode if proc.returncode > 0 else 128 - proc.returncode
    return 0


def _restarted(sched, loop) -> bool:
    """The kernel exited the scheduler asking for a restart (a CPU went on- or offline):
    attach it again, as `scxpy run` does for every policy; the loop goes on with the same
    rings and the policy's state (the kernel enqueues every task again, so decisions on
    tasks from before are ignored by it)."""
    info = sched.wait(timeout=0)
    if info is None or not info.wants_restart:
        return False
    loop.before_restart()
    if not sched.restart_if_asked(info):
        return False
    print(f"scxpy: {sched.restart_note(info)}", flush=True)
    return True


def _draw_once_now() -> None:
    # The stats table is drawn between turns, once attached. Drawing it once now, unseen,
    # imports what drawing needs: an import reads files, which the scheduler process must
    # not wait for while tasks wait for it (docs/userspace-tutorial.md, the page-fault deadlock).
    from scxpy.display.table import render_table

    render_table({"warm-up": 0.0}, "warm-up", 80)
