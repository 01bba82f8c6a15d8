"""Test policy built to fail the starvation check: a queue served only when another is empty.

The starvation check's forking task (and its children, which inherit
its name) go to `starved`; everything else to `main`. Dispatch is strict
priority, and the check keeps `main` busy with more hogs than CPUs, so
`starved` never runs until the watchdog (5 s here) ejects the policy.
"""

from scxpy import Dsq, Rule, Scheduler, ms, task


class StarvesQueue(Scheduler):
    name = "starves_queue"
    timeout = 5000 * ms
    main = Dsq("fifo")
    starved = Dsq("fifo")
    rules = [
        Rule(task.comm.startswith("scxchk-forker"), queue=starved, slice=5 * ms, name="starved"),
        Rule(queue=main, slice=5 * ms, name="main"),
    ]
    dispatch = [main, starved]
