"""Test policy: TaskVars on every event, keys on per-CPU and shared queues, the clock (not a useful scheduler)."""

from scxpy import Dsq, Rule, Scheduler, TaskVar, least, ms, now, task


class TaskState(Scheduler):
    name = "task_state"

    stamp = TaskVar(0 * ms)               # when it last started running
    ran = TaskVar(0 * ms)                 # run time since it last woke up
    sleeps = TaskVar(0)                   # how often it went to sleep
    asleep = TaskVar(True)                # not runnable now
    on_runnable = {ran: 0, asleep: False}
    on_running = {stamp: now}
    on_stopping = {ran: ran + (now - stamp)}
    on_quiescent = {sleeps: sleeps + 1, asleep: True}

    near = Dsq("vtime", scope="cpu", key=task.vtime + least(ran, 10 * ms) / (1 + least(sleeps, 9)))
    far = Dsq("vtime", key=task.vtime + 5 * ms)

    rules = [
        Rule((sleeps > 10) & ~asleep, queue=near, slice=3 * ms, name="sleeper"),
        Rule(task.vtime > far.clock + 50 * ms, queue=far, slice=10 * ms, name="ahead"),
        Rule(queue=far, slice=20 * ms, name="rest"),
    ]
    dispatch = [near, far]
