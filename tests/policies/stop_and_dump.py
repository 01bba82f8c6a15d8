"""Tasks that were preempted (still runnable when they stopped) go first; a dump
line per task says so. Tests task.runnable in on_stopping and scxpy_dump()."""
from scxpy import Dsq, RawC, Rule, Scheduler, TaskVar, ms, task


class StopAndDump(Scheduler):
    name = "stop_and_dump"
    preempted = TaskVar(False, doc="stopped while still runnable (preempted or yielded)")
    on_stopping = {preempted: task.runnable}
    fast = Dsq("fifo")
    rest = Dsq("fifo")
    rules = [Rule(preempted, queue=fast, slice=2 * ms), Rule(queue=rest, slice=5 * ms)]
    dispatch = [fast, rest]
    raw = [RawC("dump_task", """
        scxpy_dump("scxpy-dump-test pid %d slice %llu", p->pid, p->scx.slice);
    """)]
