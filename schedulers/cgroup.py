"""Cgroup shares: CPU time divided by cgroup v2 cpu.weight through the hierarchy, as the fair class does.

The policy a container host runs: systemd slices, Docker and Kubernetes
express CPU shares as cgroup weights (CPUWeight=, --cpu-shares, requests),
and under this policy they hold. Every runnable task waits in one queue
ordered by virtual time. Its virtual time advances by run time divided by
its share of the machine: its weight among the runnable tasks of its
cgroup, times its cgroup's cpu.weight among the siblings that have work,
and so on up to the root (the hierarchy flattened into one number, as the
kernel's scx_flatcg does). A cgroup whose tasks all sleep takes no share,
so the busy ones divide the machine. cpu.idle (Linux 6.19+) makes a cgroup
weigh the least there is. cpu.max (Linux 6.17+) caps a cgroup: once it has
used its quota in a period, its tasks wait until the next one (what they
ran past it, up to a tick, is owed to that one). 6.12 does not pass cpu.max
to sched_ext; the runtime says so at attach.
Without cgroups it is the vtime policy. Use it where cgroup weights must
mean what they mean under the fair class; for a single desktop user,
vtime or interactive serve as well.
Peer: the kernel's scx_flatcg.
"""

from scxpy import Dsq, Rule, Scheduler, ms


class Cgroup(Scheduler):
    name = "cgroup"
    queue = Dsq("vtime", lag=20 * ms, share="cgroup")
    rules = [Rule(queue=queue, slice=20 * ms)]
