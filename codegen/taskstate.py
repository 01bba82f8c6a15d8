"""Per-task variables a policy declares (dsl.TaskVar) and their event updates.

The Scheduler's settings on_runnable / on_running / on_stopping /
on_quiescent are dicts {TaskVar: new value}; each runs in the sched_ext
callback of that name. A variable is kept in task storage only when some
expression of the policy (a rule, a slice, a weight, a preempt condition,
a queue key) reads it, directly or through the updates of another kept
variable; updates of variables nobody reads are dropped with them.
"""

from __future__ import annotations

from dataclasses import dataclass

from scxpy.codegen import dsl
from scxpy.codegen.errors import PolicyError
from scxpy.codegen.expr import BOOL, DURATION, INT, Const, Expr, lift
from scxpy.codegen.srcloc import SrcLoc

EVENTS = ("runnable", "running", "stopping", "quiescent")  # each one the callback it runs in
# What an event's updates may read beyond the task and its state: the callback's
# own argument (C parameter, C argument), e.g. task.runnable in on_stopping.
EVENT_ARGS = {"stopping": ("bool runnable", "runnable")}


@dataclass
class TaskVarSpec:
    name: str
    field: str  # member of struct scxpy_task_ctx
    type: str
    init: int
    updates: dict[str, str]  # event -> C of the new value (reads tctx, p, now)
    doc: str
    loc: SrcLoc
    update_locs: dict[str, SrcLoc]  # event -> the on_<event> line that writes the update


def event_updates(setting, loc: SrcLoc, event: str) -> dict[int, tuple[object, Expr, SrcLoc]]:
    """id(TaskVar) -> (TaskVar, new value, the setting's line) from one on_<event> setting,
    type-checked at its line."""
    if not isinstance(setting, dict):
        raise PolicyError(f"on_{event} is a dict {{TaskVar: new value, ...}}, got {type(setting).__name__}", loc)
    out = {}
    for var, value in setting.items():
        if not isinstance(var, dsl.TaskVar):
            raise PolicyError(f"on_{event}: the keys are TaskVars declared in the class, got {type(var).__name__}", loc)
        e = lift(value, loc)
        if e.type != var.type:
            if var.type == DURATION and e.type == INT and e.const_value() == 0:
                e = Const(0, DURATION, loc)  # a bare 0 resets a duration
            else:
                hint = "; give the integer a unit, e.g. 5 * ms" if {var.type, e.type} == {INT, DURATION} else ""
                raise PolicyError(f"on_{event}: the new value of {var.name or 'a TaskVar'} is {e.type}, but the "
                                  f"variable is {var.type} (the type of its init){hint}", loc)
        if any(f.startswith("cpu:") for f in e.features()):
            raise PolicyError(f"on_{event}: cpu.* exists only where a task is placed (a rule's condition, "
                              "slice or weight, and preempt conditions), not in TaskVar updates", loc)
        out[id(var)] = (var, e, loc)
    return out


def used_vars(roots: list[Expr], declared: list, updates: dict[str, dict]) -> list:
    """The declared TaskVars read from `roots`, or from the updates of vars read, in declaration order."""
    used: set[int] = set()
    todo = [f for e in roots for f in e.features() if f.startswith("taskvar:")]
    while todo:
        vid = int(todo.pop().split(":", 1)[1])
        if vid in used:
            continue
        used.add(vid)
        for per_event in updates.values():
            if vid in per_event:
                todo += [f for f in per_event[vid][1].features() if f.startswith("taskvar:")]
    return [v for v in declared if id(v) in used]


def build(var, updates: dict[str, dict]) -> TaskVarSpec:
    mine = {ev: per_event[id(var)][1].c() for ev, per_event in updates.items() if id(var) in per_event}
    if not mine:
        raise PolicyError(f"TaskVar {var.name!r} is read but never changes: give it a new value in "
                          "on_runnable, on_running, on_stopping or on_quiescent, or use a constant or "
                          "a Tunable", var.loc)
    if var.type not in (BOOL, INT, DURATION):
        raise PolicyError(f"a TaskVar is bool, int or duration, not {var.type}", var.loc)
    locs = {ev: per_event[id(var)][2] for ev, per_event in updates.items() if id(var) in per_event}
    return TaskVarSpec(var.name, f"var_{var.name}", var.type, int(var.init.const_value()), mine, str(var.doc),
                       var.loc, locs)
