"""Latency first: short-running, frequently waking tasks jump the queue.

Each task's average run time per run and wakeup rate are tracked. Tasks that
run briefly and wake often (editors, shells, UI and audio threads, RPC
handlers) go to a FIFO queue served first, with short slices, and preempt a
running task when no CPU is idle. Everything else (CPU hogs, builds) shares
a weighted vtime queue with long slices for throughput. Both thresholds are
live tunables. For desktops and latency-sensitive services next to batch work.
Batch work waits while the fast queue has tasks, but never past the wait
guard's bound (max_wait, 10 s): a flood of tasks that look interactive (pipe
ping-pong, yield loops) cannot starve it into the kernel's watchdog.
A new process has no history yet (its start-up, exec and loading, counts as one
long run), so its first few wakeups are queued as batch work: measured on 7.3
under two hogs, the first 3-5 wakeups of a fresh periodic task came 17-20 ms
late (one batch slice), later ones within a few ms.
"""

from scxpy import Dsq, Rule, Scheduler, Tunable, ms, task, us


class Interactive(Scheduler):
    name = "interactive"
    fast = Dsq("fifo")
    batch = Dsq("vtime")

    max_runtime = Tunable(2 * ms, min=50 * us, max=100 * ms, live=True,
                          doc="average run time per run below which a task counts as interactive")
    min_wakeups = Tunable(10, min=0, max=100_000, live=True,
                          doc="wakeups per second above which a task counts as interactive")

    rules = [
        Rule((task.avg_runtime < max_runtime) & (task.wakeup_freq >= min_wakeups),
             queue=fast, slice=2 * ms, preempt=True, name="interactive"),
        Rule(queue=batch, slice=20 * ms, name="batch"),
    ]
    dispatch = [fast, batch]
    select_cpu = "prev_idle"
