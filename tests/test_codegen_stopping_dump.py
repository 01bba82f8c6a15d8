"""Issue 20, item 7: on_stopping reads whether the task is still runnable
(task.runnable), and dump callbacks print through scxpy_dump()."""

from __future__ import annotations

from pathlib import Path

import pytest

from scxpy import codegen
from test_codegen_errors import expect_error, write

POLICY = Path(__file__).resolve().parent / "policies" / "stop_and_dump.py"


def test_runnable_reaches_the_stopping_update():
    c = codegen.render(str(POLICY))
    assert "taskvars_on_stopping(struct task_struct *p, struct scxpy_task_ctx *tctx, bool runnable)" in c
    assert "taskvars_on_stopping(p, tctx, runnable);" in c
    assert "s64 new_preempted = runnable;" in c


@pytest.mark.parametrize("body", [
    "on_running = {n: task.runnable}  # here",
    "rules = [Rule(task.runnable, queue=q), Rule(queue=q)]  # here",
])
def test_runnable_elsewhere_is_refused(tmp_path, body):
    p = write(tmp_path, f"""
        class S(Scheduler):
            n = TaskVar(False)
            on_stopping = {{n: task.runnable}}
            q = Dsq()
            {body}
            {"rules = [Rule(n, queue=q), Rule(queue=q)]" if "rules" not in body else ""}
        """)
    expect_error(p, "# here", "task.runnable is only known in on_stopping", "record it there in a TaskVar")


def test_dump_outside_dump_callbacks_is_refused(tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            raw = [RawC("tick", '''
                scxpy_dump("x %d", p->pid);  // here
            ''')]
        """)
    expect_error(p, "// here", "scxpy_dump() is not allowed in ops.tick()", "ops.dump_task()")


@pytest.mark.clang
def test_stop_and_dump_compiles(tmp_path, vmlinux_h, monkeypatch):
    monkeypatch.setenv("SCXPY_CACHE_DIR", str(tmp_path / "cache"))
    codegen.compile(str(POLICY), str(vmlinux_h))
