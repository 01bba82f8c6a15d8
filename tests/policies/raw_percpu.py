"""Test policy: raw C with per-CPU state of its own and no hotplug hook.

A FIFO queue; raw C counts each CPU's task starts in a per-CPU array. scxpy
cannot know whether such state survives a CPU going away, so the policy gets
no cpu_online/cpu_offline: the kernel exits it at each CPU hotplug, asking
for a restart, and `scxpy run` attaches it again (the restart path)."""

from scxpy import Dsq, RawC, RawDecl, Rule, Scheduler, ms


class RawPerCpu(Scheduler):
    name = "raw_percpu"
    q = Dsq("fifo")
    rules = [Rule(queue=q, slice=5 * ms)]
    raw = [
        RawDecl("static u64 starts[SCXPY_MAX_CPUS];	/* task starts per CPU */"),
        RawC("running", "starts[scxpy_cpu_idx(bpf_get_smp_processor_id())]++;"),
    ]
