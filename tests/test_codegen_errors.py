"""Bad policies: a PolicyError naming the user's file:line and the problem, nothing generated."""

from __future__ import annotations

import textwrap

import pytest

from scxpy import codegen
from scxpy import schedulers
from scxpy.codegen import PolicyError

HEADER = '''"""A test policy."""
from scxpy import *
'''


def write(tmp_path, body: str, name: str = "pol.py") -> str:
    path = tmp_path / name
    path.write_text(HEADER + textwrap.dedent(body))
    return str(path)


def line_of(path: str, needle: str) -> int:
    for i, line in enumerate(open(path).read().splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(needle)


def expect_error(path: str, needle: str, *fragments: str) -> PolicyError:
    with pytest.raises(PolicyError) as ei:
        codegen.render(path)
    err = ei.value
    assert err.loc is not None, str(err)
    assert err.loc.file.endswith(path.rsplit("/", 1)[-1])
    assert err.loc.line == line_of(path, needle), str(err)
    for frag in fragments:
        assert frag in str(err), str(err)
    # The message names the location for the user.
    assert str(err).startswith(f"{err.loc.file}:{err.loc.line}: ")
    return err


OK_TAIL = """
    q = Dsq()
    rules = [Rule(queue=q)]
"""


def test_type_error_duration_vs_int(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(task.avg_runtime < 5, queue=q),  # here
                     Rule(queue=q)]
        """)
    expect_error(p, "# here", "cannot compare duration < int", "5 * ms")


def test_type_error_and_precedence(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(task.kthread & task.pid < 5, queue=q),  # here
                     Rule(queue=q)]
        """)
    expect_error(p, "# here", "& needs bool operands", "parenthesize")


def test_python_and_is_refused(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(task.kthread and task.pid < 5, queue=q),  # here
                     Rule(queue=q)]
        """)
    expect_error(p, "# here", "no Python truth value", "&")


def test_condition_must_be_bool(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(task.pid + 1, queue=q),  # here
                     Rule(queue=q)]
        """)
    expect_error(p, "# here", "must be bool, got int")


def test_unknown_task_attribute(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(task.priority > 3, queue=q),  # here
                     Rule(queue=q)]
        """)
    expect_error(p, "# here", "task has no attribute 'priority'", "nice")


def test_unknown_setting(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            select_cpus = "llc"  # here
        """)
    expect_error(p, "# here", "unknown Scheduler setting 'select_cpus'", "select_cpu")


def test_missing_default_rule(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(task.kthread, queue=q)]  # here
        """)
    expect_error(p, "# here", "missing default rule")


def test_unreachable_rule(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q),
                     Rule(task.kthread, queue=q)]  # here
        """)
    expect_error(p, "# here", "unreachable rule")


def test_constant_true_condition_makes_later_rules_unreachable(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(task.pid == task.pid if False else True, queue=q),
                     Rule(queue=q)]  # here
        """)
    expect_error(p, "# here", "unreachable rule")


def test_queue_not_declared(tmp_path):
    p = write(tmp_path, """
        other = Dsq()
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(task.kthread, queue=other),  # here
                     Rule(queue=q)]
        """)
    expect_error(p, "# here", "not declared")


def test_queue_depth_of_undeclared_queue(tmp_path):
    p = write(tmp_path, """
        other = Dsq()
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q, slice=20 * ms / (1 + other.queued))]  # here
        """)
    expect_error(p, "# here", "not declared")


def test_queue_never_dispatched(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            a = Dsq()
            b = Dsq()
            rules = [Rule(task.kthread, queue=b),  # here
                     Rule(queue=a)]
            dispatch = [a]
        """)
    expect_error(p, "# here", "not in dispatch")


@pytest.mark.parametrize("slice_, frag", [("0 * ms", "must be positive"), ("50 * us", "below the minimum"),
                                          ("-(1 * ms)", "must be positive"), ("5", "must be a duration")])
def test_bad_slice(tmp_path, slice_, frag):
    p = write(tmp_path, f"""
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q, slice={slice_})]  # here
        """)
    expect_error(p, "# here", frag)


def test_dsq_id_clash(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            a = Dsq(id=5)
            b = Dsq(scope="cpu", id=0)  # here
            rules = [Rule(task.kthread, queue=a), Rule(queue=b)]
        """)
    expect_error(p, "# here", "clashes with queue 'a'")


def test_dsq_id_builtin_range(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            a = Dsq(id=2**63)  # here
            rules = [Rule(queue=a)]
        """)
    expect_error(p, "# here", "built-in")


def test_tunable_out_of_range(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            t = Tunable(5 * ms, min=1 * ms, max=2 * ms)  # here
            q = Dsq()
            rules = [Rule(queue=q, slice=t)]
        """)
    expect_error(p, "# here", "out of range")


def test_tunable_bound_type(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            t = Tunable(5 * ms, max=20)  # here
            q = Dsq()
            rules = [Rule(queue=q, slice=t)]
        """)
    expect_error(p, "# here", "constant duration")


def test_tunable_not_declared(tmp_path):
    p = write(tmp_path, """
        t = Tunable(5 * ms)
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q, slice=t)]  # here
        """)
    expect_error(p, "t = Tunable", "not declared")


def test_timeout_above_kernel_max(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            timeout = 31 * sec  # here
            q = Dsq()
            rules = [Rule(queue=q)]
        """)
    expect_error(p, "# here", "30000 ms")


def test_max_wait_beyond_half_the_timeout(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            timeout = 10 * sec
            max_wait = 6 * sec  # here
            q = Dsq()
            rules = [Rule(queue=q)]
        """)
    expect_error(p, "# here", "half the watchdog timeout (5000 ms)")


def test_bad_name(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            name = 'a"b'  # here
            q = Dsq()
            rules = [Rule(queue=q)]
        """)
    expect_error(p, "# here", "name")


def test_weight_on_fifo_queue(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q, weight=200)]  # here
        """)
    expect_error(p, "# here", "order='vtime'")


def test_earliest_vtime_needs_vtime_queues(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            a = Dsq("vtime")
            b = Dsq()
            rules = [Rule(task.kthread, queue=a), Rule(queue=b)]
            dispatch = EarliestVtime(a, b)  # here
        """)
    expect_error(p, "# here", "FIFO")


def test_steal_needs_per_cpu_scope(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            a = Dsq(steal=True)  # here
            rules = [Rule(queue=a)]
        """)
    expect_error(p, "# here", "scope='cpu'")


@pytest.mark.parametrize("lit, frag", [
    ('"a\\0b"', "NUL"),
    ('"x" * 16', "at most 15"),
    ('"é" * 8', "at most 15"),  # 16 bytes in UTF-8
])
def test_bad_comm_strings(tmp_path, lit, frag):
    p = write(tmp_path, f"""
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(task.comm == {lit}, queue=q),  # here
                     Rule(queue=q)]
        """)
    expect_error(p, "# here", frag)


def test_cgroup_path_must_be_absolute(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(task.cgroup.path.startswith("system.slice"), queue=q),  # here
                     Rule(queue=q)]
        """)
    expect_error(p, "# here", "absolute path")


def test_raw_c_kfunc_in_wrong_callback(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            raw = [RawC("tick", '''
                bool idle;
                scx_bpf_select_cpu_dfl(p, 0, 0, &idle);  // here
            ''')]
        """)
    expect_error(p, "// here", "scx_bpf_select_cpu_dfl() is not allowed in ops.tick()", "select_cpu")


def test_raw_c_consume_outside_dispatch(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            raw = [RawC("running", '''
                scxpy_dsq_move_to_local(0);  // here
            ''')]
        """)
    expect_error(p, "// here", "scxpy_dsq_move_to_local() is not allowed in ops.running()")


def test_raw_c_unknown_callback(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            raw = [RawC("enqeue", "return;")]  # here
        """)
    expect_error(p, "# here", "choose one of")


def test_exception_in_policy_module(tmp_path):
    p = write(tmp_path, """
        x = 1 / 0  # here
        """)
    expect_error(p, "# here", "ZeroDivisionError")


def test_syntax_error(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler)  # here
            pass
        """)
    expect_error(p, "# here", "syntax error")


def test_not_exactly_one_scheduler(tmp_path):
    p = write(tmp_path, """
        class A(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
        class B(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
        """)
    with pytest.raises(PolicyError, match="exactly one Scheduler subclass") as ei:
        codegen.load_policy_file(p)
    # The error points at the second class and says what to do.
    err = ei.value
    assert err.loc is not None and err.loc.line == line_of(p, "class B(Scheduler)"), str(err)
    assert str(err).startswith(f"{err.loc.file}:{err.loc.line}: ")
    assert f"A (line {line_of(p, 'class A(')}), B (line {err.loc.line})" in str(err)
    assert "keep one" in str(err)
    p2 = write(tmp_path, "x = 1\n", "none.py")
    with pytest.raises(PolicyError, match="defines none"):
        codegen.load_policy_file(p2)


def test_missing_file_and_unknown_stock(tmp_path):
    with pytest.raises(PolicyError, match="does not exist"):
        codegen.render(str(tmp_path / "nope.py"))
    with pytest.raises(PolicyError, match="unknown policy 'nope'.*stock policy"):
        schedulers.policy_file("nope")
    with pytest.raises(PolicyError, match="not a path to a policy file"):
        codegen.render("nope")


def test_floats_refused(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq("vtime")
            rules = [Rule(queue=q, weight=task.weight * 1.5)]  # here
        """)
    expect_error(p, "# here", "floating point")


def test_policy_error_is_scxpy_error():
    from scxpy.base.errors import ScxpyError

    assert issubclass(PolicyError, ScxpyError)


def test_error_shows_the_policy_line(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(task.nice > 1 * ms, queue=q), Rule(queue=q)]
        """)
    err = expect_error(p, "task.nice > 1 * ms", "cannot compare int > duration")
    assert str(err).splitlines()[1].strip() == f"{err.loc.line} | rules = [Rule(task.nice > 1 * ms, queue=q), Rule(queue=q)]"


def test_rule_cpus_points_to_queue_cpus(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q, cpus=cpus(0))]  # here
        """)
    expect_error(p, "# here", "Dsq(..., cpus=cpus(...))")


def test_huge_comm_literal_gives_a_short_message(tmp_path, capsys):
    """A 200 KB literal: the message names the line, elides the literal, stays short."""
    from scxpy.cli import main

    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(task.comm == "%s", queue=q),  # here
                     Rule(queue=q)]
        """ % ("x" * 200_000))
    err = expect_error(p, "# here", "at most 15", "more characters", "shorten it")
    assert len(str(err)) < 600, len(str(err))
    assert main(["show", p]) == 2
    out = capsys.readouterr()
    assert len(out.err) < 700 and "Traceback" not in out.err and out.out == ""


def test_cpu_set_of_a_tunable_must_be_constant(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            n = Tunable(2)
            q = Dsq(cpus=cpus(n))  # here
            rules = [Rule(queue=q)]
        """)
    err = expect_error(p, "# here", "CPU sets must be constants", "not a Tunable", "cpus(0, range(2, 4))")
    assert "0..511" not in str(err)
