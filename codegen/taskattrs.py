"""What a policy can read about the task being scheduled: `task.<name>`.

TASK_ATTRS is the table of numeric attributes (the C each renders to, its
type, the per-task state it needs, a line of documentation); the string
attributes and the cgroup are matched (strmatch.py). The fuzzer
(tests/fuzz/policies.py) draws from these tables, so an attribute added
here is fuzzed without further work.
"""

from __future__ import annotations

from scxpy.codegen.errors import PolicyError
from scxpy.codegen.expr import BOOL, DURATION, INT, Expr, Leaf
from scxpy.codegen.srcloc import caller_loc
from scxpy.codegen.strmatch import CgroupPath, StringAttr, not_a_value_message


class Cgroup:
    """`task.cgroup`: its path (matched), id and depth."""

    path = CgroupPath()
    not_a_value = not_a_value_message("task.cgroup")

    @property
    def id(self) -> Expr:
        return Leaf("cgid", INT, frozenset({"cgroup"}), "task.cgroup.id", caller_loc())

    @property
    def level(self) -> Expr:
        return Leaf("((s64)cglevel)", INT, frozenset({"cgroup"}), "task.cgroup.level", caller_loc())


# name -> (C, type, features, doc)
TASK_ATTRS: dict[str, tuple[str, str, frozenset[str], str]] = {
    "pid": ("((s64)p->pid)", INT, frozenset(), "thread id"),
    "tgid": ("((s64)p->tgid)", INT, frozenset(), "process id"),
    "uid": ("((s64)scxpy_task_uid(p))", INT, frozenset(), "real user id"),
    "gid": ("((s64)scxpy_task_gid(p))", INT, frozenset(), "real group id"),
    "nice": ("((s64)p->static_prio - 120)", INT, frozenset(), "nice value, -20..19"),
    "weight": ("((s64)p->scx.weight)", INT, frozenset(), "sched_ext weight (100 at nice 0)"),
    "policy": ("((s64)p->policy)", INT, frozenset(), "scheduling policy (SCHED_NORMAL, ...)"),
    "kthread": ("((p->flags & SCXPY_PF_KTHREAD) != 0)", BOOL, frozenset(), "kernel thread"),
    "nr_cpus_allowed": ("((s64)p->nr_cpus_allowed)", INT, frozenset(), "number of CPUs it may run on"),
    "vtime": ("((s64)task_vtime(p, tctx))", DURATION, frozenset({"vtime"}),
              "virtual time (needs an order='vtime' queue)"),
    "avg_runtime": ("(tctx ? (s64)tctx->avg_runtime : 0)", DURATION,
                    frozenset({"metric:avg_runtime"}), "average run time per run (tracked)"),
    "wakeup_freq": ("(tctx ? (s64)scxpy_rate_hz(tctx->wake_interval, tctx->last_wake) : 0)", INT,
                    frozenset({"metric:wakeup_freq"}), "wakeups per second (tracked)"),
    "csw_rate": ("(tctx ? (s64)scxpy_rate_hz(tctx->csw_interval, tctx->last_csw) : 0)", INT,
                 frozenset({"metric:csw_rate"}), "voluntary context switches per second (tracked)"),
}

STRING_ATTRS = {
    "comm": StringAttr("comm", "comm", "task.comm"),
    "leader_comm": StringAttr("lcomm", "leader_comm", "task.leader_comm"),
}


# Known only in one event's TaskVar updates (the callback's own argument), so
# not in TASK_ATTRS (the fuzzer draws rule conditions from there).
STOPPING_RUNNABLE = "stopping:runnable"


class Task:
    """`task`: the task being scheduled. Attribute access builds expressions."""

    cgroup = Cgroup()

    def __getattr__(self, name: str):
        if name == "runnable":  # ops.stopping's `runnable`: preempted or yielded, not going to sleep
            return Leaf("runnable", BOOL, frozenset({STOPPING_RUNNABLE}), "task.runnable", caller_loc())
        if name in STRING_ATTRS:
            return STRING_ATTRS[name]
        if name in TASK_ATTRS:
            c_text, t, needs, doc = TASK_ATTRS[name]
            return Leaf(c_text, t, needs, f"task.{name}", caller_loc())
        known = ", ".join(sorted([*TASK_ATTRS, *STRING_ATTRS, "cgroup", "runnable (in on_stopping)"]))
        raise PolicyError(f"task has no attribute {name!r}; known: {known}", caller_loc())


task = Task()

# Scheduling policies, for comparisons with task.policy (include/uapi/linux/sched.h).
SCHED_NORMAL, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_IDLE, SCHED_DEADLINE, SCHED_EXT = 0, 1, 2, 3, 5, 6, 7
