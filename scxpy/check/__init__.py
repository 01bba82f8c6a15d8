"""Behaviour checks of a policy against the kernel's fair class: `scxpy check` and the pytest plugin.

Guest side (runs inside the guest, under the scheduler being checked):
tasks.py (the workload's tasks), tracing.py (sched tracepoints through
tracefs), probes.py (one measurement per check), guest.py (the entry).
Host side: catalog.py (what each check measures and its threshold),
intervals.py (statistics), runner.py (rounds in a warm guest), card.py
(the report card).
"""
