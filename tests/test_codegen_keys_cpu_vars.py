"""Ordering keys, the target-CPU view (cpu.*, nr_idle, conditional preempt) and TaskVars:
each mistake is a PolicyError at the policy's file:line; the model resolves what it can statically."""

from __future__ import annotations

import pytest

from scxpy import codegen
from tests.test_codegen_errors import expect_error, write

OK_RULES = """
    rules = [Rule(queue=q)]
"""


@pytest.mark.parametrize("body,needle,fragments", [
    # ordering keys
    ("""
     class S(Scheduler):
         q = Dsq("fifo", key=task.vtime)  # here
         rules = [Rule(queue=q)]
     """, "# here", ["key= orders a vtime queue"]),
    ("""
     class S(Scheduler):
         q = Dsq("vtime", key=task.weight)  # here
         rules = [Rule(queue=q)]
     """, "# here", ["a queue key is a virtual time", "got int"]),
    ("""
     class S(Scheduler):
         q2 = Dsq("vtime")
         q = Dsq("vtime", key=where(task.comm == "x", task.vtime, q2.clock))  # here
         rules = [Rule(task.nice > 0, queue=q), Rule(queue=q2)]
     """, "# here", ["a queue key cannot match task names", "comm"]),
    ("""
     class S(Scheduler):
         q = Dsq("fifo")
         rules = [Rule(task.vtime > 5 * ms, queue=q),  # here
                  Rule(queue=q)]
     """, "# here", ["task.vtime needs an order='vtime' queue"]),
    ("""
     class S(Scheduler):
         q = Dsq("fifo")
         v = Dsq("vtime")
         rules = [Rule(q.clock > 5 * ms, queue=q),  # here
                  Rule(queue=v)]
     """, "# here", ["clock of a queue that is not a declared order='vtime' queue"]),
    # preempt conditions and the target CPU
    ("""
     class S(Scheduler):
         q = Dsq()
         rules = [Rule(queue=q, preempt=nr_idle)]  # here
     """, "# here", ["preempt must be True, False or a bool condition", "got int"]),
    ("""
     class S(Scheduler):
         q = Dsq()
         rules = [Rule(queue=q, preempt=cpu.curr.rule == "nope")]  # here
     """, "# here", ["no rule named 'nope'", "'0'"]),
    ("""
     class S(Scheduler):
         a, b = Dsq(), Dsq()
         rules = [Rule(task.nice > 0, queue=a, preempt=cpu.curr.queue < b),  # here
                  Rule(queue=b)]
         dispatch = RoundRobin({a: 1, b: 2})
     """, "# here", ["strict-priority dispatch", "== / !="]),
    ("""
     class S(Scheduler):
         q = Dsq()
         rules = [Rule(queue=q, preempt=cpu.curr.queue == 5)]  # here
     """, "# here", ["compared with a queue (a Dsq), got int"]),
    ("""
     class S(Scheduler):
         q = Dsq()
         rules = [Rule(queue=q, preempt=cpu.curr.rule < "0")]  # here
     """, "# here", ["cpu.curr.rule supports == !=, not <"]),
    ("""
     class S(Scheduler):
         q = Dsq()
         rules = [Rule(queue=q, preempt=cpu.busy)]  # here
     """, "# here", ["cpu has no attribute 'busy'", "idle"]),
    ("""
     class S(Scheduler):
         q = Dsq()
         rules = [Rule(queue=q, preempt=cpu.curr.nice > 0)]  # here
     """, "# here", ["cpu.curr has no attribute 'nice'"]),
    ("""
     class S(Scheduler):
         q = Dsq()
         rules = [Rule(queue=q, preempt=cpu.curr.queue)]  # here
     """, "# here", ["cpu.curr.queue is not a value: compare it"]),
    # task variables
    ("""
     class S(Scheduler):
         n = TaskVar(task.pid)  # here
         q = Dsq()
         rules = [Rule(queue=q)]
     """, "# here", ["init must be a constant"]),
    ("""
     class S(Scheduler):
         n = TaskVar(0 * ms, on_stopping=5 * ms)  # here
         q = Dsq()
         rules = [Rule(queue=q)]
     """, "# here", ["TaskVar takes no on_stopping=", "on_stopping = {var: new value}"]),
    ("""
     class S(Scheduler):
         n = TaskVar(0 * ms)
         on_stopping = {n: 1}  # here
         q = Dsq()
         rules = [Rule(n > 1 * ms, queue=q), Rule(queue=q)]
     """, "# here", ["new value of n is int, but the variable is duration", "5 * ms"]),
    ("""
     class S(Scheduler):
         n = TaskVar(0)
         on_stopping = {"n": 1}  # here
         q = Dsq()
         rules = [Rule(n > 1, queue=q), Rule(queue=q)]
     """, "# here", ["keys are TaskVars", "got str"]),
    ("""
     class S(Scheduler):
         n = TaskVar(False)
         on_running = {n: cpu.idle}  # here
         q = Dsq()
         rules = [Rule(n, queue=q), Rule(queue=q)]
     """, "# here", ["cpu.* exists only where a task is placed"]),
    ("""
     class S(Scheduler):
         n = TaskVar(0)  # here
         q = Dsq()
         rules = [Rule(n > 1, queue=q), Rule(queue=q)]
     """, "# here", ["'n' is read but never changes"]),
    ("""
     class S(Scheduler):
         n = TaskVar(0)
         on_running = [n]  # here
         q = Dsq()
         rules = [Rule(queue=q)]
     """, "# here", ["on_running is a dict"]),
    ("""
     stray = TaskVar(0)
     class S(Scheduler):
         q = Dsq()
         rules = [Rule(stray > 1, queue=q),  # here
                  Rule(queue=q)]
     """, "# here", ["TaskVar made at line 4 is used but not declared"]),
    ("""
     class S(Scheduler):
         n = TaskVar(0)
         on_quiescent = {n: n + 1}
         on_runing = {n: 0}  # here
         q = Dsq()
         rules = [Rule(n > 1, queue=q), Rule(queue=q)]
     """, "# here", ["did you mean 'on_running'"]),
])
def test_error_at_policy_line(tmp_path, body, needle, fragments):
    expect_error(write(tmp_path, body), needle, *fragments)


def test_kfunc_context_of_expressions_is_checked_statically(tmp_path):
    """An expression is checked in every callback it is evaluated in: a rule condition runs in
    select_cpu, enqueue and dispatch, where moving a task to the local queue is refused."""
    p = write(tmp_path, """
        from scxpy.codegen.expr import BOOL, Leaf
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(Leaf("scx_bpf_dsq_move_to_local(0)", BOOL), queue=q),  # here
                     Rule(queue=q)]
        """)
    expect_error(p, "# here", "scx_bpf_dsq_move_to_local() is not allowed in ops.select_cpu()",
                 "eject the scheduler")
    p = write(tmp_path, """
        from scxpy.codegen.expr import INT, Leaf
        class S(Scheduler):
            n = TaskVar(0)
            on_running = {n: Leaf("((s64)scx_bpf_dsq_insert_nr_slots())", INT)}  # here
            q = Dsq()
            rules = [Rule(n > 0, queue=q), Rule(queue=q)]
        """, "b.py")
    expect_error(p, "# here", "on_running", "not allowed in ops.running()")


def test_curr_comparisons_resolve_to_rule_masks(tmp_path):
    from scxpy.codegen.build import build
    from scxpy.codegen.cpuview import CurrMatch

    p = write(tmp_path, """
        class S(Scheduler):
            fast, mid, slow = Dsq(), Dsq(), Dsq()
            rules = [Rule(task.nice < 0, queue=fast, name="hi"),
                     Rule(task.nice == 0, queue=LOCAL, name="loc"),
                     Rule(task.nice < 10, queue=mid, name="mid"),
                     Rule(queue=slow, name="lo")]
            dispatch = [fast, mid, slow]
        """)
    cls = codegen.resolve(p)
    nodes = {}
    exprs = {"lt_mid": cpu.curr.queue < cls.mid if (cpu := __import__("scxpy").cpu) else None}
    exprs["ge_mid"] = cpu.curr.queue >= cls.mid
    exprs["eq_local"] = cpu.curr.queue == __import__("scxpy").LOCAL
    exprs["ne_hi"] = cpu.curr.rule != "hi"
    exprs["eq_rule_obj"] = cpu.curr.rule == cls.rules[2]
    cls.rules[0].preempt = exprs["lt_mid"]
    for k, e in exprs.items():
        cls.rules[0].preempt = cls.rules[0].preempt | e if k != "lt_mid" else e
    build(cls)
    for k, e in exprs.items():
        nodes[k] = (e.mask, e.none)
    # ranks: LOCAL 0, GLOBAL 1, fast 2, mid 3, slow 4; rule i has bit i
    assert nodes["lt_mid"] == (0b1000, True)       # only slow's rule; a CPU running none of ours too
    assert nodes["ge_mid"] == (0b0111, False)      # fast, LOCAL, mid
    assert nodes["eq_local"] == (0b0010, False)
    assert nodes["ne_hi"] == (0b1110, True)
    assert nodes["eq_rule_obj"] == (0b0100, False)
    assert all(isinstance(e, CurrMatch) for e in exprs.values())


def test_unread_taskvars_cost_nothing(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            used = TaskVar(0 * ms)
            helper = TaskVar(0 * ms)
            unused = TaskVar(0)
            on_running = {helper: now, unused: unused + 1}
            on_stopping = {used: used + (now - helper)}
            on_runnable = {used: 0}
            q = Dsq()
            rules = [Rule(used > 1 * ms, queue=q), Rule(queue=q)]
        """)
    m = codegen.build_model(p)
    assert [v.name for v in m.taskvars] == ["used", "helper"]   # helper: read by used's update
    assert m.taskvars[0].updates.keys() == {"stopping", "runnable"}
    c = codegen.render(p)
    assert "tctx->var_unused" not in c and "tctx->var_used" in c and "tctx->var_helper" in c
    p2 = write(tmp_path, """
        class S(Scheduler):
            unused = TaskVar(0)
            on_running = {unused: unused + 1}
            q = Dsq()
            rules = [Rule(queue=q)]
        """, "p2.py")
    m2 = codegen.build_model(p2)
    assert m2.taskvars == [] and not m2.task_ctx
