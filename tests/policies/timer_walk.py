"""A timer that walks the shared queue every millisecond and moves its head task to that task's CPU.

Tests RawTimer bodies that iterate a DSQ (bpf_for_each(scx_dsq, ...)) and move
tasks from it: they run in the RCU read section scxpy opens around every timer
body (6.12's verifier refuses a DSQ iterator in a timer callback without one).
"""
from scxpy import Dsq, RawDecl, RawTimer, Rule, Scheduler, ms


class TimerWalk(Scheduler):
    name = "timer_walk"
    queue = Dsq("fifo")
    rules = [Rule(queue=queue, slice=5 * ms)]
    raw = [
        RawDecl("""
            u64 timer_runs;   /* read by the test through the object's .bss */
            u64 timer_moved;
        """),
        RawTimer("walk", """
            struct task_struct *p;

            timer_runs++;
            /* The head task goes to its last CPU's local queue, busy or not: a
             * task waits here whenever the hogs outnumber the CPUs, so each
             * tick that finds one moves it (an idle CPU would be a rare race,
             * CPUs pull from this queue themselves as soon as they idle). */
            bpf_for_each(scx_dsq, p, DSQ_queue(0), 0) {
                s32 cpu = scx_bpf_task_cpu(p);

                if (scxpy_dsq_move(SCXPY_DSQ_ITER, p, SCX_DSQ_LOCAL_ON | cpu, 0)) {
                    scx_bpf_kick_cpu(cpu, 0);
                    timer_moved++;
                }
                break;
            }
        """, every=1 * ms),
    ]
