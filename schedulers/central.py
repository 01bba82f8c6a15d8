"""One CPU makes every scheduling decision; the others just run what it gives them.

Waking tasks are steered to the central CPU (the one the kernel runs
ops.init on) and wait in one FIFO queue. A CPU that runs out of work asks the
central CPU, which moves the oldest task that may run there straight onto
that CPU's run queue. Tasks on the other CPUs run with an infinite slice,
so those CPUs need no scheduler tick (tickless, on a kernel booted with
nohz_full); a timer on the central CPU preempts a task that has run longer
than `slice` while others wait. Per-CPU kernel threads skip the queue and
preempt, so the timer's own helpers are never starved. When the central
CPU goes offline, another online CPU takes over its role. Good when the other
CPUs should be disturbed as little as possible (latency-sensitive or
HPC-style work on isolated CPUs); the central CPU is a bottleneck for
wakeup-heavy loads on many CPUs.
Peer: the kernel's scx_central.

Written with the DSL (queues, rules, tunables) and the raw-C escape hatch
(select_cpu, dispatch, running/stopping, a timer), which it exercises.
"""

from scxpy import LOCAL, Dsq, RawC, RawDecl, RawTimer, Rule, Scheduler, Tunable, ms, task


class Central(Scheduler):
    name = "central"

    queue = Dsq("fifo")
    slice = Tunable(20 * ms, min=1 * ms, max=1000 * ms,
                    doc="how long a task runs before it is preempted when others wait")

    rules = [
        # Per-CPU kernel threads (ksoftirqd runs the timer's softirq work): first, at once.
        Rule(task.kthread & (task.nr_cpus_allowed == 1), queue=LOCAL, slice=slice, preempt=True),
        Rule(queue=queue, slice=slice),
    ]

    raw = [
        RawDecl("""
            /* Filled by the CPUs, read by the central one (indexed by CPU id). */
            static bool want_task[SCXPY_MAX_CPUS];  /* ran out of work, waits for one */
            static u64 started_at[SCXPY_MAX_CPUS];  /* when its current task started; 0: idle */
            static s32 central_cpu;                 /* the CPU that ran ops.init */
            static u32 timer_round;                 /* preempt timer runs so far */

            /* Move the oldest queued task that may run on `cpu` onto its run queue. */
            static __always_inline bool give_task(s32 cpu)
            {
                struct task_struct *p;

                bpf_for_each(scx_dsq, p, DSQ_queue(0), 0) {
                    if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
                        continue;
                    /* Tickless: the timer, not the tick, ends this task's turn. */
                    scxpy_dsq_move_set_slice(SCXPY_DSQ_ITER, SCX_SLICE_INF);
                    if (scxpy_dsq_move(SCXPY_DSQ_ITER, p, SCX_DSQ_LOCAL_ON | cpu, 0)) {
                        scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
                        return true;
                    }
                }
                return false;
            }

            /* Any online CPU but `leaving`, to take over the central role (`leaving` if none). */
            static __always_inline s32 next_central(s32 leaving)
            {
                const struct cpumask *online = scx_bpf_get_online_cpumask();
                s32 i, next = leaving;

                bpf_for(i, 0, scx_bpf_nr_cpu_ids()) {
                    if (i != leaving && bpf_cpumask_test_cpu(i, online)) {
                        next = i;
                        break;
                    }
                }
                scx_bpf_put_cpumask(online);
                return next;
            }
        """),
        RawC("init", "central_cpu = bpf_get_smp_processor_id();"),
        # CPU hotplug: a CPU going offline asks for nothing more; if it was the
        # central one, another takes over (so the scheduler stays attached).
        RawC("cpu_offline", """
            want_task[scxpy_cpu_idx(cpu)] = false;
            started_at[scxpy_cpu_idx(cpu)] = 0;
            if (cpu == central_cpu)
                central_cpu = next_central(cpu);
        """),
        # Wake-ups go to the central CPU's run queue: the others are not disturbed.
        RawC("select_cpu", "return central_cpu;", at="instead"),
        RawC("dispatch", """
            s32 i;

            if (cpu != central_cpu) {
                /* Out of work: ask the central CPU, which hands us a task. */
                want_task[scxpy_cpu_idx(cpu)] = true;
                scx_bpf_kick_cpu(central_cpu, SCX_KICK_PREEMPT);
                return;
            }
            bpf_for(i, 0, scx_bpf_nr_cpu_ids()) {
                if (!scx_bpf_dsq_nr_queued(DSQ_queue(0)))
                    break;  /* nothing waits; the next enqueue wakes an idle CPU */
                if (i == central_cpu || !want_task[scxpy_cpu_idx(i)])
                    continue;
                /* Else nothing queued may run there (CPU affinity): the others may still get one. */
                if (give_task(i))
                    want_task[scxpy_cpu_idx(i)] = false;
            }
            /* Then a task for the central CPU itself, with a finite slice. */
            scxpy_dsq_move_to_local(DSQ_queue(0));
        """, at="instead"),
        RawC("running", "started_at[scxpy_cpu_idx(scx_bpf_task_cpu(p))] = bpf_ktime_get_ns() | 1;"),
        RawC("stopping", "started_at[scxpy_cpu_idx(scx_bpf_task_cpu(p))] = 0;"),
        RawTimer("preempt", """
            u32 nr = scx_bpf_nr_cpu_ids(), i;
            u64 now = bpf_ktime_get_ns();
            s32 waiting = scx_bpf_dsq_nr_queued(DSQ_queue(0));

            /* A CPU going down runs no more kicks: their irq_work would never run. */
            if (!scxpy_this_cpu_online())
                return;

            /*
             * Preempt CPUs whose task has had its slice, as many as tasks wait,
             * starting one CPU further each time: a task that may only run on
             * one CPU gets it in turn.
             */
            timer_round++;
            bpf_for(i, 0, nr) {
                s32 cpu = (timer_round + i) % nr;
                u64 started = started_at[scxpy_cpu_idx(cpu)];

                if (waiting <= 0)
                    break;
                if (cpu == central_cpu || !started || now - started < tun_slice)
                    continue;
                scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);
                waiting--;
            }
        """, every=1 * ms),
    ]
