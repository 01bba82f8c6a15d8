"""Test policy: a raw-C block for every callback that offers one (expert escape hatch)."""

from codegen.dsl import Dsq, RawC, Rule, Scheduler, ms


class RawAll(Scheduler):
    name = "raw_all"
    q = Dsq("vtime")
    rules = [Rule(queue=q, slice=5 * ms)]
    raw = [
        RawC("dispatch", "if (prev && cpu < 0) scx_bpf_kick_cpu(cpu, 0);"),
        RawC("runnable", "(void)enq_flags;"),
        RawC("running", "(void)p;"),
        RawC("stopping", "if (!runnable && p->scx.slice > 5 * 1000 * 1000) p->scx.slice = 0;"),
        RawC("quiescent", "(void)deq_flags;"),
        RawC("tick", "(void)p;"),
        RawC("enable", "(void)p;"),
        RawC("disable", "(void)p;"),
        RawC("set_weight", "(void)weight;"),
        RawC("set_cpumask", "(void)cpumask;"),
    ]
