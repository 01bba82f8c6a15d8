"""Test policy built to fail the work-conservation check: a queue only CPU 0 serves.

The work-conservation check's tasks (`scxchk-duty`) go to a queue that
only CPU 0 dispatches from, though they are allowed on every CPU: while
they wait, the other CPUs sit idle. Everything else shares a queue every
CPU serves, so the guest itself keeps running. select_cpu keeps every
task on its previous CPU and never dispatches directly (the generated
selection would put a waking task straight onto an idle CPU, past the
queue's CPU set).
"""

from scxpy import Dsq, RawC, Rule, Scheduler, cpus, ms, task


class IdlesCpu(Scheduler):
    name = "idles_cpu"
    cpu0 = Dsq("fifo", cpus=cpus(0))
    shared = Dsq("fifo")
    rules = [
        Rule(task.comm.startswith("scxchk-duty"), queue=cpu0, slice=5 * ms, name="cpu0"),
        Rule(queue=shared, slice=5 * ms, name="shared"),
    ]
    dispatch = [cpu0, shared]
    raw = [RawC("select_cpu", "return prev_cpu;", at="instead")]
