"""Test policy: raw C in every sched_ext callback the kernel offers, before, after or
instead of scxpy's part (the expert escape hatch), calling kfuncs of the helper
header. Each body is harmless; the guest test checks that it all loads (the
kernel's BTF accepts every prototype used), schedules a workload and detaches
cleanly."""

from scxpy import Dsq, RawC, RawDecl, Rule, Scheduler, ms


class RawAll(Scheduler):
    name = "raw_all"
    q = Dsq("vtime")
    rules = [Rule(queue=q, slice=5 * ms)]
    raw = [
        RawDecl("""
            /* A writable cpumask made and dropped again: the cpumask kfuncs load. */
            static __always_inline u32 one_cpu_weight(u32 cpu)
            {
                struct bpf_cpumask *m = bpf_cpumask_create();
                u32 n;

                if (!m)
                    return 0;
                bpf_cpumask_set_cpu(cpu, m);
                n = bpf_cpumask_weight(scxpy_mask(m));
                bpf_cpumask_release(m);
                return n;
            }
        """),
        RawC("select_cpu", "if (wake_flags & 0) return prev_cpu;", at="before"),
        RawC("enqueue", "if (enq_flags & SCX_ENQ_WAKEUP) scx_bpf_dsq_nr_queued(DSQ_q(0));", at="after"),
        RawC("dequeue", "(void)deq_flags;"),
        RawC("dispatch", "if (prev && cpu < 0) scx_bpf_kick_cpu(cpu, 0);"),
        RawC("tick", "if (scxpy_cpu_is_idle(scx_bpf_task_cpu(p))) (void)p;", at="before"),
        RawC("runnable", "(void)enq_flags;"),
        RawC("running", "if (scx_bpf_task_running(p)) (void)p;", at="before"),
        RawC("stopping", "if (!runnable && p->scx.slice > 5 * 1000 * 1000) p->scx.slice = 0;"),
        RawC("quiescent", "(void)deq_flags;"),
        RawC("yield", "(void)from; (void)to;"),
        RawC("core_sched_before", "return a->scx.dsq_vtime < b->scx.dsq_vtime;"),
        RawC("set_weight", "(void)weight;"),
        RawC("set_cpumask", "(void)cpumask;"),
        RawC("update_idle", "if (idle && scxpy_nr_idle_cpus() > SCXPY_MAX_CPUS) scxpy_error(\"cpu %d\", cpu);"),
        RawC("cpu_acquire", "(void)args;"),
        RawC("cpu_release", "scx_bpf_reenqueue_local();"),
        RawC("init_task", "if (!p) return -SCXPY_EINVAL;", at="before"),
        RawC("exit_task", """
            struct task_struct *t = bpf_task_from_pid(p->pid);

            if (t)
                bpf_task_release(t);
        """),
        RawC("enable", "(void)p;", at="before"),
        RawC("disable", "(void)p;", at="instead"),
        RawC("dump", "(void)dctx;"),
        RawC("dump_cpu", "(void)idle;"),
        RawC("dump_task", "(void)p;"),
        RawC("cgroup_init", "(void)args;"),
        RawC("cgroup_exit", "(void)cgrp;"),
        RawC("cgroup_prep_move", "(void)from;"),
        RawC("cgroup_move", "(void)to;"),
        RawC("cgroup_cancel_move", "(void)from;"),
        RawC("cgroup_set_weight", "(void)weight;"),
        RawC("cpu_online", """
            const struct cpumask *online = scx_bpf_get_online_cpumask();

            if (bpf_cpumask_test_cpu(cpu, online))
                scx_bpf_kick_cpu(cpu, 0);
            scx_bpf_put_cpumask(online);
        """),
        RawC("cpu_offline", "(void)cpu;"),
        RawC("init", """
            if (one_cpu_weight(0) != 1)
                return -SCXPY_EINVAL;
            return scx_bpf_create_dsq(1 << 20, -1);
        """, at="after"),
        RawC("exit", "(void)ei;", at="before"),
    ]
