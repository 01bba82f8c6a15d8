"""scxpy policies in the guest, through runtime/ (the project's libbpf loader).

Kept apart from contenders.py so that the fair baseline and the peers
never import libbpf bindings.
"""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def attached(obj_path: str, manifest: dict, sets: dict | None = None):
    """Load and attach a compiled policy (its manifest as the plan carries it, a dict), with
    the tunables `sets` (--set, --set-file) set before load;
    detach and free it on exit. The caller reads `exit_info` afterwards: a policy the
    kernel ejected shows up there as a non-clean exit."""
    from scxpy.base.manifest import Manifest
    from scxpy.runtime import Scheduler

    sched = Scheduler(obj_path, manifest=Manifest.from_dict(manifest, f"the plan's manifest of {obj_path}"))
    try:
        sched.configure(**(sets or {}))
        with sched:
            yield sched
    finally:
        sched.close()


def costs(sched) -> dict[str, dict]:
    """Counters of the policy's struct_ops programs since load (stats were on since before attach)."""
    from scxpy.runtime import prog_stats

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
    from scxpy.runtime import prog_stats

    return prog_stats.run_time_stats()
