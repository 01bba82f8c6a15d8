"""scxpy policies in the guest, through runtime/ (the project's libbpf loader).

Kept apart from contenders.py so that the fair baseline and the peers
never import libbpf bindings.
"""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def attached(obj_path: str, manifest: dict):
    """Load and attach a compiled policy; detach and free it on exit.

    A policy the kernel ejected shows up as a non-clean exit info on
    detach; contenders.Attached.check() has normally caught it already.
    """
    from runtime import Scheduler

    from bench.contenders import ContenderError

    sched = Scheduler(obj_path, manifest=manifest)
    try:
        with sched:
            yield sched
        info = sched.exit_info
        if info is not None and info.is_error:
            raise ContenderError(f"{sched.name}: the kernel ejected the scheduler: {info}")
    finally:
        sched.close()


def costs(sched) -> dict[str, dict]:
    """Counters of the policy's struct_ops programs since load (stats were on since before attach)."""
    from runtime import prog_stats

    out = {}
    for p in sched.obj.programs.values():
        if p.fd < 0:
            continue
        c = prog_stats.counters(p.fd)
        cb = prog_stats.callback_name(p, c.attach_btf_id)
        out[cb] = {
            "prog": p.name, "run_cnt": c.run_cnt, "run_time_ns": c.run_time_ns,
            "mean_ns": c.run_time_ns / c.run_cnt if c.run_cnt else None,
        }
    return out


def run_time_stats():
    """Kernel BPF run-time accounting on while inside (held through a bpf_enable_stats fd)."""
    from runtime import prog_stats

    return prog_stats.run_time_stats()
