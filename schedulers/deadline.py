"""Earliest deadline first: tasks that sleep often and run briefly go ahead of CPU hogs.

Every task has a virtual time, which advances by its run time divided by its
weight (nice 0 = 100), as in `vtime`. Its deadline is that virtual time plus
the run time it has used since it last slept, scaled by its weight and
divided by how latency-critical it looks; one queue runs the earliest
deadline first. A task that wakes often and runs briefly (an interactive
thread, an audio or network handler, a timer loop) has a deadline close to
its virtual time, so it runs ahead of tasks that have run long without
sleeping (builds, batch jobs, CPU hogs), whose deadlines recede the longer
they run; by at most 200 ms of virtual time, so no task, however low its
weight, waits for seconds. A sleeper keeps at most 20 ms of credit, so it
cannot monopolise a CPU, and weights work as in `vtime`. Latency-critical tasks
get 5 ms slices, the others 10 ms.

How latency-critical a task looks comes from its behaviour only: how often
it wakes up and how long it runs each time. A latency-critical task that
wakes when no CPU is idle preempts the CPU it would run on, but only when
that CPU runs a task that is not latency-critical and has run for at least
`min_run`: latency-critical tasks never preempt one another, so message-
passing loads do not thrash, and every task gets a minimum run.

General purpose: desktops and servers where interactive work shares the
CPUs with batch work. Ideas from scx_bpfland and scx_lavd; code of its own.
"""

from scxpy import Dsq, Rule, Scheduler, TaskVar, Tunable, cpu, least, ms, now, task, us


class Deadline(Scheduler):
    name = "deadline"
    select_cpu = "prev_idle"

    # Run time since the task last slept: grown by each stint on a CPU, reset
    # when it goes to sleep. A new task starts as if it had run long (it has
    # shown no sleeping yet), so a stream of new tasks cannot push aside
    # the ones already running.
    started = TaskVar(0 * ms, doc="when it last started running")
    awake = TaskVar(200 * ms, doc="run time since it last slept")
    on_running = {started: now}
    on_stopping = {awake: awake + (now - started)}
    on_quiescent = {awake: 0}

    crit_wakeups = Tunable(50, min=1, max=100_000, live=True,
                           doc="wakeups per second from which a briefly running task is latency-critical")
    crit_runtime = Tunable(1 * ms, min=10 * us, max=100 * ms, live=True,
                           doc="average run time per run below which a frequently waking task is latency-critical")
    min_run = Tunable(500 * us, min=0 * us, max=10_000 * ms, live=True,
                      doc="how long a task runs before a latency-critical wakeup may preempt it")

    # Latency criticality: 1 for a task that rarely wakes, up to 21 at 1000
    # wakeups per second; it divides the run time the deadline adds.
    LATENCY_WEIGHT = 1 + least(task.wakeup_freq, 1000) / 50
    # Run time since sleeping counts up to this: more than the spread of the
    # virtual times of tasks taking turns, so a sleeper's deadline comes
    # before any of theirs.
    MAX_AWAKE = 200 * ms  # = awake's initial value

    # The deadline is at most MAX_AWAKE past the virtual time, whatever the
    # weight: scaled by 100 / weight alone, a nice-19 task (weight 1) that had
    # not slept since attach got a deadline 20 s out and starved (37.7 s for
    # khugepaged under torture on 7.3, ejected by the watchdog).
    AHEAD = least(least(awake, MAX_AWAKE) * 100 / task.weight / LATENCY_WEIGHT, MAX_AWAKE)
    queue = Dsq("vtime", lag=20 * ms, key=task.vtime + AHEAD)

    rules = [
        Rule((task.wakeup_freq >= crit_wakeups) & (task.avg_runtime < crit_runtime),
             queue=queue, slice=5 * ms, name="critical",
             preempt=(cpu.curr.rule != "critical") & (cpu.curr.runtime >= min_run)),
        Rule(queue=queue, slice=10 * ms, name="normal"),
    ]
