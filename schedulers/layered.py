"""Layers: rules you edit put tasks into classes, each with its own treatment.

Each class (layer) has a queue, a time slice, a vtime weight, a share of the
CPU (round-robin weight, i.e. priority) and optionally a set of CPUs. Tasks
are classified by command name, cgroup and user; the first matching rule
wins. Edit the rules below to describe your machine: for example keep
system services snappy, confine batch jobs to some CPUs, and share the
rest fairly. For consolidated servers running known workloads side by side.
"""

from scxpy import MAX_CPUS, Dsq, RoundRobin, Rule, Scheduler, cpus, ms, task


class Layered(Scheduler):
    name = "layered"

    system = Dsq("fifo")                        # kernel threads and system services
    interactive = Dsq("vtime")                  # shells and editors
    normal = Dsq("vtime")                       # everything else
    batch = Dsq("vtime", cpus=cpus(range(1, MAX_CPUS)))  # batch jobs: never on CPU 0

    rules = [
        Rule(task.kthread, queue=system, slice=5 * ms, name="kthreads"),
        Rule(task.cgroup.path.startswith("/system.slice"), queue=system, slice=5 * ms, name="services"),
        Rule(task.leader_comm.startswith("bash") | task.comm.startswith("vim"),
             queue=interactive, slice=3 * ms, weight=task.weight * 2, preempt=True, name="shells"),
        Rule(task.comm.startswith("stress-ng") | task.comm.startswith("make") | (task.uid >= 60000),
             queue=batch, slice=40 * ms, weight=task.weight / 2, name="batch"),
        Rule(queue=normal, slice=10 * ms, name="normal"),
    ]
    dispatch = RoundRobin({system: 8, interactive: 4, normal: 2, batch: 1})
