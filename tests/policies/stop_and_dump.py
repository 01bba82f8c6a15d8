"""Tasks that were preempted (still runnable when they stopped) get a queue of
their own; a dump line per task says so. Tests task.runnable in on_stopping and
scxpy_dump(). The queues take turns (round robin): with strict priority for the
preempted, CPU hogs, always preempted, would starve every task that sleeps, the
kernel's own workers included (the sched_ext watchdog then ejects the policy)."""
from scxpy import Dsq, RawC, RoundRobin, Rule, Scheduler, TaskVar, ms, task


class StopAndDump(Scheduler):
    name = "stop_and_dump"
    preempted = TaskVar(False, doc="stopped while still runnable (preempted or yielded)")
    on_stopping = {preempted: task.runnable}
    fast = Dsq("fifo")
    rest = Dsq("fifo")
    rules = [Rule(preempted, queue=fast, slice=2 * ms), Rule(queue=rest, slice=5 * ms)]
    dispatch = RoundRobin({fast: 1, rest: 1})
    raw = [RawC("dump_task", """
        scxpy_dump("scxpy-dump-test pid %d slice %llu", p->pid, p->scx.slice);
    """)]
