"""Test policy: preemption that looks at the CPU it would take (not a useful scheduler).

Three queues in strict priority. The probe (`wakelat`) preempts only a CPU
running a task of a lower-priority queue: a nice < 0 task (queue `top`) is
never preempted by it, a nice >= 0 one (queue `low`) is. The VM tier checks
that (tests/test_schedulers_vm.py); the other CPU-aware terms are here so
that they load and run too.
"""

from scxpy import Dsq, Rule, Scheduler, cpu, greatest, ms, nr_idle, task, us


class TargetedPreempt(Scheduler):
    name = "targeted_preempt"
    top = Dsq("fifo")
    mid = Dsq("fifo")
    low = Dsq("vtime")

    rules = [
        Rule(task.comm == "wakelat", queue=mid, slice=1 * ms, name="probe",
             preempt=(cpu.curr.queue < mid) & (cpu.curr.runtime > 0 * us)),
        Rule(task.nice < 0, queue=top, slice=20 * ms, name="high"),
        # An idle target or more idle CPUs than one: short slices (exercises cpu.idle and nr_idle).
        Rule(cpu.idle | (nr_idle > 1), queue=low, slice=greatest(5 * ms, 1 * ms * nr_idle), name="spare"),
        Rule(queue=low, slice=20 * ms, name="low"),
    ]
    dispatch = [top, mid, low]
