"""The raw-C escape hatch on the host: every refusal at the policy's file:line."""

from __future__ import annotations

import pytest

from scxpy.schedulers import policy_file
from test_codegen_errors import expect_error, write


@pytest.mark.parametrize("hook,needle,fragments", [
    ('RawC("init", "(void)0;", at="instead")  # here', "# here", ["cannot replace scxpy's init", "at='after'"]),
    ('RawC("exit", "(void)ei;", at="instead")  # here', "# here", ["cannot replace scxpy's exit"]),
    ('RawC("select_cpu", "return 0;", at="after")  # here', "# here", ["at='before'", "decides"]),
    ('RawC("tick", "(void)p;", at="around")  # here', "# here", ["choose one of before, after, instead"]),
    ('RawC("enqeue", "(void)p;")  # here', "# here", ["choose one of select_cpu, enqueue"]),
    ('RawC("tick", 42)  # here', "# here", ["must be a str of C"]),
    ('RawC("tick", "  ")  # here', "# here", ["is empty"]),
    ('RawTimer("bad name", "(void)0;", every=1 * ms)  # here', "# here", ["C identifier"]),
    ('RawTimer("t", "(void)0;", every=10 * us)  # here', "# here", ["at least 100 * us"]),
    ('RawTimer("t", "(void)0;", every=5)  # here', "# here", ["constant duration"]),
])
def test_refused_hooks(tmp_path, hook, needle, fragments):
    p = write(tmp_path, f"""
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            raw = [
                {hook}
            ]
        """)
    expect_error(p, needle, *fragments)


def test_two_blocks_for_one_callback(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            raw = [RawC("tick", "(void)p;"),
                   RawC("tick", "(void)p;")]  # here
        """)
    expect_error(p, "# here", "two RawC blocks for tick", "merge them")


def test_enqueue_hook_may_not_insert_unless_instead(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            raw = [RawC("enqueue", '''
                if (enq_flags)
                    scxpy_dsq_insert(p, SCX_DSQ_GLOBAL, 1000000, enq_flags);  // here
            ''', at="before")]
        """)
    expect_error(p, "// here", "already does", "at='instead'")


def test_directive_refused_at_its_line(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            raw = [RawDecl('''
                static u64 counter;
                #define X 1  // here
            ''')]
        """)
    expect_error(p, "// here", "preprocessor directives")


def test_kfunc_in_a_declared_function_reported_inside_it(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            raw = [
                RawDecl('''
                    static __always_inline void pull(void)
                    {
                        scxpy_dsq_move_to_local(DSQ_q(0));  // here
                    }
                '''),
                RawC("tick", "pull();"),
            ]
        """)
    expect_error(p, "// here", "scxpy_dsq_move_to_local() is not allowed in ops.tick()", "called from pull()")


def test_timer_may_not_insert(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            raw = [RawTimer("t", '''
                scx_bpf_kick_cpu(0, 0);
                scxpy_dsq_insert(0, DSQ_q(0), 1, 0);  // here
            ''', every=1 * ms)]
        """)
    expect_error(p, "// here", "not allowed in a BPF timer callback")


def test_violation_in_a_constant_defined_elsewhere(tmp_path):
    p = write(tmp_path, """
        RUNNING = '''
            (void)p;
            scx_bpf_reenqueue_local();  // here
        '''

        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            raw = [RawC("running", RUNNING)]
        """)
    expect_error(p, "// here", "scx_bpf_reenqueue_local() is not allowed in ops.running() (only in ops.cpu_release())")


def _op(c: str, name: str) -> str:
    start = c.index(f"BPF_STRUCT_OPS(scxpy_op_{name}") if f"BPF_STRUCT_OPS(scxpy_op_{name}" in c \
        else c.index(f"BPF_STRUCT_OPS_SLEEPABLE(scxpy_op_{name}")
    return c[start:c.index("\n}\n", start)]


def test_positions_render_as_documented(tmp_path):
    from scxpy import codegen

    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            raw = [
                RawC("select_cpu", "if (prev_cpu == 0) return 0;", at="before"),
                RawC("enqueue", "scx_bpf_kick_cpu(0, 0);", at="after"),
                RawC("dispatch", "scxpy_dsq_move_to_local(DSQ_q(cpu));", at="instead"),
                RawC("init", "return 0;", at="before"),
                RawC("update_idle", "(void)idle;"),
                RawTimer("t", "scx_bpf_kick_cpu(0, 0);", every=5 * ms),
            ]
        """)
    c = codegen.render(p)
    sel = _op(c, "select_cpu")
    assert sel.index("scxpy_raw_select_cpu(") < sel.index("scxpy_gen_select_cpu(") and "if (cpu >= 0)" in sel
    enq = _op(c, "enqueue")
    assert enq.index("scxpy_gen_enqueue(") < enq.index("scxpy_raw_enqueue(")
    disp = _op(c, "dispatch")
    assert "scxpy_raw_dispatch(cpu, prev)" in disp and "scxpy_gen_dispatch" not in c
    init = _op(c, "init")
    assert init.index("scxpy_raw_init()") < init.index("scxpy_gen_init()") < init.index("scxpy_start_timers()")
    assert "bpf_timer_start(timer, 5000000ULL, BPF_F_TIMER_CPU_PIN)" in c
    # Hooking update_idle keeps the kernel's idle tracking that select_cpu uses.
    assert ".flags\t\t= SCX_OPS_KEEP_BUILTIN_IDLE," in c
    assert "#include <scxpy/helpers.bpf.h>" in c
    # After each raw block, line numbers point back at the generated file.
    lines = c.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("#line") and line.endswith('"s.bpf.c"'):
            assert line == f'#line {i + 2} "s.bpf.c"'
    assert sum(line.endswith('"s.bpf.c"') for line in lines) == 6


def test_no_raw_no_helper_header():
    from scxpy import codegen

    assert "helpers.bpf.h" not in codegen.render(policy_file("fifo"))


def test_statements_in_declared_functions_are_not_functions(tmp_path):
    # `if (...) {` inside a RawDecl function is no function of its own: an `if` in
    # a hook must not be taken for a call into it.
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            raw = [
                RawDecl('''
                    static __always_inline void pull(s32 cpu)
                    {
                        if (cpu >= 0) {
                            scxpy_dsq_move_to_local(DSQ_q(cpu));
                        }
                    }
                '''),
                RawC("dispatch", "pull(cpu);"),
                RawC("tick", "if (p) (void)p;"),
            ]
        """)
    from scxpy import codegen

    assert "scxpy_raw_tick" in codegen.render(p)
