"""Test policy built to fail the starvation check: a queue served only when another is empty.

The starvation check's forking task (and its children, which inherit
its name) go to `starved`; everything else to `main`. Dispatch is strict
priority, and the check keeps `main` busy with more hogs than CPUs, so
`starved` runs only when the wait guard serves it: after max_wait, 15 s
here (the most the kernel's 30 s watchdog allows), longer than the check
measures.
"""

from scxpy import Dsq, Rule, Scheduler, ms, sec, task


class StarvesQueue(Scheduler):
    name = "starves_queue"
    max_wait = 15 * sec
    main = Dsq("fifo")
    starved = Dsq("fifo")
    rules = [
        Rule(task.comm.startswith("scxchk-forker"), queue=starved, slice=5 * ms, name="starved"),
        Rule(queue=main, slice=5 * ms, name="main"),
    ]
    dispatch = [main, starved]
