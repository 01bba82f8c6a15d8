"""Test policy built to fail the work-conservation check: CPU 1 and up sit idle while work waits.

Each CPU runs only its own queue (no stealing), and every waking task is
sent to CPU 0 (select_cpu returns 0; the kernel overrides that only for a
task not allowed there, such as a kernel thread pinned to another CPU,
which keeps the guest alive). So runnable tasks queue up on CPU 0 while
the other CPUs, which they are allowed on, stay idle.
"""

from scxpy import Dsq, RawC, Rule, Scheduler, ms


class IdlesCpu(Scheduler):
    name = "idles_cpu"
    queue = Dsq("fifo", scope="cpu")  # steal=False: a CPU never takes another CPU's tasks
    rules = [Rule(queue=queue, slice=5 * ms)]
    raw = [RawC("select_cpu", "return 0;", at="instead")]
