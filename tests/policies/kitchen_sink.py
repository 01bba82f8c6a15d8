"""Test policy using every DSL feature at once (not a useful scheduler)."""

from scxpy import (GLOBAL, LOCAL, SCHED_BATCH, Dsq, EarliestVtime, RawC, Rule, Scheduler,
                         Tunable, cpus, greatest, least, ms, task, us, where)


class KitchenSink(Scheduler):
    name = "kitchen_sink"
    timeout = 5000 * ms
    partial = True
    select_cpu = "idle_core"

    near = Dsq("vtime", scope="llc", steal=True, lag=5 * ms)
    mine = Dsq("vtime", scope="cpu", steal=True)
    pinned = Dsq("vtime", cpus=cpus(0), id=1000)

    base_slice = Tunable(5 * ms, min=100 * us, max=1000 * ms)
    boost = Tunable(True, live=True)
    depth_cap = Tunable(8, min=1, max=64, live=True)

    rules = [
        Rule(task.kthread & (task.nr_cpus_allowed == 1), queue=LOCAL, slice=1 * ms, preempt=True, name="pcpu_kthread"),
        Rule(task.cgroup.path == "/scxpy/pinned", queue=pinned, name="cg_exact"),
        Rule((task.cgroup.id == 1) | (task.cgroup.level > 3), queue=GLOBAL, name="cg_id"),
        Rule(task.comm == "it's \"q\"\\", queue=near, weight=task.weight * 3, name="quoted"),
        Rule(task.leader_comm.startswith("*/ #x"), queue=near, name="sneaky"),
        Rule(boost & (task.csw_rate > 100) & (task.avg_runtime < 500 * us),
             queue=mine, preempt=True, weight=greatest(task.weight, 200), name="boosted"),
        Rule((task.policy == SCHED_BATCH) | (task.uid == 1000) | (task.gid == 1000) | (task.pid < 2) | (task.tgid == 7),
             queue=mine, slice=where(task.wakeup_freq > 50, 2 * ms, 8 * ms), name="batch"),
        Rule(~(task.nice >= 0), queue=near, slice=least(base_slice * 2, 20 * ms), name="niced"),
        Rule(queue=mine, slice=greatest(base_slice / (1 + least(mine.queued, depth_cap)), 100 * us), name="default"),
    ]
    dispatch = EarliestVtime(pinned, mine, near)
    raw = [
        RawC("tick", """
            if (p->scx.slice > 50 * 1000 * 1000)
                p->scx.slice = 50 * 1000 * 1000;
        """),
    ]
