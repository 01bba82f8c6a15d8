"""Mistakes new users made with DSL v2 (issue 20, item 5): each gets one short error
(at most 15 lines) at the line that holds the mistake, naming the cause and the fix."""

from __future__ import annotations

import pytest

from scxpy import codegen
from scxpy.codegen import PolicyError
from test_codegen_errors import expect_error, line_of, write

MAX_LINES = 15


def short(err: PolicyError) -> str:
    text = str(err)
    assert len(text.splitlines()) <= MAX_LINES, text
    return text


def test_rawdecl_redeclaring_a_generated_global(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq("vtime")
            rules = [Rule(queue=q)]
            raw = [RawDecl('''
                static u64 mine;
                static u64 vtime_now = 0;  // here
            ''')]
        """)
    short(expect_error(p, "// here", "RawDecl declares 'vtime_now'", "already defines", "Rename yours"))


def test_rawdecl_redeclaring_a_tunables_global(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            short = Tunable(5 * ms, live=True)
            q = Dsq()
            rules = [Rule(task.avg_runtime < short, queue=q), Rule(queue=q)]
            raw = [RawDecl('''
                u64 tun_short;  // here
            ''')]
        """)
    short(expect_error(p, "// here", "'tun_short'", "the tunable 'short'"))


def test_rawdecl_own_names_and_uses_of_generated_ones_pass(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            short = Tunable(5 * ms, live=True)
            q = Dsq()
            rules = [Rule(task.avg_runtime < short, queue=q), Rule(queue=q)]
            raw = [RawDecl('''
                static bool flags[SCXPY_MAX_CPUS];
                struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1);
                         __type(key, u32); __type(value, u64); } my_map SEC(".maps");
                static __always_inline u64 twice(s32 cpu) { return tun_short * 2 + cpu; }
            ''')]
        """)
    assert "my_map" in codegen.render(p)


def test_or_binding_tighter_than_equality_says_to_parenthesize(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(task.leader_comm == "pipewire" | (task.leader_comm == "wireplumber"), queue=q),  # here
                     Rule(queue=q)]
        """)
    text = short(expect_error(p, "# here", "binds tighter than ==", "parenthesize each comparison"))
    assert "only allowed as the argument" not in text


def test_tunable_in_a_cpu_range(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            first_little = Tunable(4)
            q = Dsq()
            rules = [Rule(queue=q, cpus=cpus(range(first_little, 8))),  # here
                     Rule(queue=q)]
        """)
    text = short(expect_error(p, "# here", "a Tunable", "take constants", "cpus(range(4, 8))"))
    assert "TypeError" not in text


def test_preempt_error_points_at_the_preempt_line(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(task.nice < 0,
                          queue=q,
                          preempt=task.avg_runtime),  # here
                     Rule(queue=q)]
        """)
    short(expect_error(p, "# here", "preempt must be True, False or a bool condition", "got duration"))


def test_cpu_in_taskvar_update_lists_only_true_places(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            n = TaskVar(False)
            on_running = {n: cpu.idle}  # here
            q = Dsq()
            rules = [Rule(n, queue=q), Rule(queue=q)]
        """)
    text = short(expect_error(p, "# here", "not in TaskVar updates", "slice or weight", "preempt conditions"))
    assert "queue keys" not in text


def test_cpu_really_works_where_the_message_says(tmp_path):
    """The places the cpu.* message lists all accept it (and queue keys do not)."""
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq("vtime")
            rules = [Rule(cpu.idle, queue=q, slice=where(cpu.idle, 5 * ms, 1 * ms),
                          weight=where(cpu.curr.runtime > 1 * ms, 50, 100), preempt=~cpu.idle),
                     Rule(queue=q)]
        """)
    codegen.render(p)
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq("vtime", key=task.vtime + where(cpu.idle, 1 * ms, 2 * ms))  # here
            rules = [Rule(queue=q)]
        """, "keyed.py")
    expect_error(p, "# here", "a queue key cannot read cpu.*")


@pytest.mark.parametrize("call,lacking,fix", [
    ("scx_bpf_dispatch_from_dsq(SCXPY_DSQ_ITER, p, SCX_DSQ_LOCAL, 0)", "6.15 and later", "scxpy_dsq_move()"),
    ("scx_bpf_consume(0)", "6.15 and later", "scxpy_dsq_move_to_local()"),
    ("scx_bpf_dsq_move_to_local(0)", "6.12", "scxpy_dsq_move_to_local()"),
    ("scx_bpf_cpu_rq(0)", "7.3", "bpf_ksym_exists(scx_bpf_cpu_rq)"),
])
def test_kfunc_some_kernel_lacks_is_refused_when_compiling(tmp_path, call, lacking, fix):
    p = write(tmp_path, f"""
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            raw = [RawC("dispatch", '''
                struct task_struct *p;
                bpf_for_each(scx_dsq, p, 0, 0) {{
                    {call};  // here
                    break;
                }}
            ''', at="before")]
        """)
    short(expect_error(p, "// here", "does not exist on " + lacking, fix))


def test_kfunc_guarded_by_ksym_exists_passes(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            raw = [RawC("dispatch", '''
                if (bpf_ksym_exists(scx_bpf_cpu_rq) && scx_bpf_cpu_rq(cpu))
                    scxpy_dsq_move_to_local(0);
            ''', at="before")]
        """)
    codegen.render(p)


@pytest.mark.clang
def test_rawtimer_returning_a_value_is_told_it_is_void(tmp_path, vmlinux_h, monkeypatch):
    monkeypatch.setenv("SCXPY_CACHE_DIR", str(tmp_path / "cache"))
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            raw = [RawTimer("t", "u32 x = 1;\\n if (x) return 1;", every=1 * ms)]  # here
        """)
    with pytest.raises(PolicyError) as ei:
        codegen.compile(p, str(vmlinux_h))
    text = short(ei.value)
    assert ei.value.loc.line == line_of(p, "# here"), text
    assert "a RawTimer body (here 't') is a void function" in text and "return;" in text
    assert "(C text from this line:)" not in text and "| C line:  if (x) return 1;" in text


def test_taskvar_update_comment_cites_the_on_line(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            n = TaskVar(0)  # declared

            on_running = {n: n + 1}  # running
            on_quiescent = {n: 0}  # quiescent
            q = Dsq()
            rules = [Rule(n > 1, queue=q), Rule(queue=q)]
        """)
    c = codegen.render(p)
    name = p.rsplit("/", 1)[-1]
    lines = [ln for ln in c.splitlines() if "s64 new_n =" in ln]
    assert len(lines) == 2, lines
    assert lines[0].endswith(f"{name}:{line_of(p, '# running')} */"), lines
    assert lines[1].endswith(f"{name}:{line_of(p, '# quiescent')} */"), lines
