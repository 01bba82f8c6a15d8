"""The raw-C escape hatch on the host: every refusal at the policy's file:line."""

from __future__ import annotations

import pytest

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
