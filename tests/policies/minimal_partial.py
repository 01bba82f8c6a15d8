"""Test policy: the smallest partial-switch scheduler, everything to the built-in global queue."""

from scxpy import GLOBAL, Rule, Scheduler, sec


class MinimalPartial(Scheduler):
    partial = True
    timeout = 30 * sec
    rules = [Rule(queue=GLOBAL)]
    dispatch = []
