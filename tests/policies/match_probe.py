"""Test policy: one queue per kind of match, so per-rule counters show which matches fire."""

from scxpy import Dsq, Rule, Scheduler, ms, task


class MatchProbe(Scheduler):
    name = "match_probe"
    q = Dsq()
    rules = [
        Rule(task.cgroup.path.startswith("/scxprobe/a"), queue=q, name="cg_prefix"),
        Rule(task.cgroup.path == "/scxprobe", queue=q, name="cg_exact"),
        Rule(task.comm == "probe-exact", queue=q, name="comm_exact"),
        Rule(task.leader_comm.startswith("probe-lead"), queue=q, name="leader_prefix"),
        Rule((task.uid == 4242) & ~task.kthread, queue=q, name="uid"),
        Rule(task.kthread, queue=q, name="kthread"),
        Rule(queue=q, slice=5 * ms, name="other"),
    ]
