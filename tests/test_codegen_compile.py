"""The clang driver: cache hits and misses, atomic writes, errors mapped to policy lines."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest

from scxpy.base.manifest import Manifest

from scxpy import codegen
from scxpy.codegen import PolicyError, compiler
from scxpy.schedulers import policy_file

FIFO = policy_file("fifo")


pytestmark = pytest.mark.clang


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCXPY_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def write(tmp_path, body: str, name: str = "pol.py") -> str:
    path = tmp_path / name
    path.write_text('"""A test policy."""\nfrom scxpy import *\n' + textwrap.dedent(body))
    return str(path)


def test_cache_miss_then_hit(cache, vmlinux_h):
    first = codegen.compile(FIFO, str(vmlinux_h))
    assert not first.cache_hit
    assert Path(first.obj_path).is_relative_to(cache / "objects")
    t0 = time.perf_counter()
    second = codegen.compile(FIFO, str(vmlinux_h))
    warm = time.perf_counter() - t0
    assert second.cache_hit and second.obj_path == first.obj_path
    assert warm < 0.5  # the 50 ms target is measured by bench.compile_times
    # Nothing half-written left behind.
    leftovers = [p for p in cache.rglob("*") if p.name.startswith(".")]
    assert leftovers == []
    assert Manifest.read(codegen.manifest_path_for(first.obj_path)) == first.manifest


def test_different_policy_or_header_misses(cache, vmlinux_h, tmp_path):
    a = codegen.compile(FIFO, str(vmlinux_h))
    b = codegen.compile(policy_file("vtime"), str(vmlinux_h))
    assert a.obj_path != b.obj_path
    # A different vmlinux.h (same content + a comment) is another key.
    other = tmp_path / "other" / "vmlinux.h"
    other.parent.mkdir()
    other.write_text(Path(vmlinux_h).read_text() + "\n/* changed */\n")
    c = codegen.compile(FIFO, str(other))
    assert not c.cache_hit and c.obj_path != a.obj_path


def test_key_covers_clang_version_and_flags(vmlinux_h):
    clang = compiler.require_tool("clang")
    k1 = compiler.cache_key("int x;", str(vmlinux_h), clang)
    k2 = compiler.cache_key("int x;", str(vmlinux_h), clang, flags=compiler.FLAGS + ("-DX",))
    k3 = compiler.cache_key("int y;", str(vmlinux_h), clang)
    assert len({k1, k2, k3}) == 3
    assert compiler.clang_version(clang) in compiler.clang_version(clang)


def test_vmlinux_h_with_another_name(cache, vmlinux_h, tmp_path):
    renamed = tmp_path / "kernel-6.12.h"
    renamed.write_text(Path(vmlinux_h).read_text())
    out = codegen.compile(FIFO, str(renamed))
    assert Path(out.obj_path).is_file()


def test_missing_vmlinux_h(cache, tmp_path):
    with pytest.raises(PolicyError, match="vmlinux.h not found"):
        codegen.compile(FIFO, str(tmp_path / "nope.h"))


def test_raw_c_compile_error_points_at_policy_line(cache, vmlinux_h, tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            raw = [RawC("tick", '''
                p->scx.slice = 0;
                undeclared_thing += 1;  // here
            ''')]
        """)
    with pytest.raises(PolicyError) as ei:
        codegen.compile(p, str(vmlinux_h))
    lines = Path(p).read_text().splitlines()
    want = next(i for i, line in enumerate(lines, 1) if "// here" in line)
    assert ei.value.loc.line == want, str(ei.value)
    assert "undeclared_thing" in str(ei.value)
    assert "raw C" in str(ei.value) and "^" in str(ei.value)


def test_raw_c_that_compiles(cache, vmlinux_h, tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            raw = [RawC("dispatch", '''
                scxpy_dsq_move_to_local(DSQ_q(cpu));
            '''), RawC("set_weight", "(void)weight;")]
        """)
    out = codegen.compile(p, str(vmlinux_h))
    assert Path(out.obj_path).is_file()


def test_concurrent_compiles_agree(cache, vmlinux_h):
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        outs = list(ex.map(lambda _: codegen.compile(policy_file("prio"), str(vmlinux_h)).obj_path, range(4)))
    assert len(set(outs)) == 1 and os.path.isfile(outs[0])


def test_old_clang_refused(tmp_path, monkeypatch):
    fake = tmp_path / "clang"
    fake.write_text("#!/bin/sh\necho 'Debian clang version 14.0.6'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("SCXPY_CLANG", str(fake))
    compiler.clang_version.cache_clear()
    with pytest.raises(compiler.ToolMissing, match="needs clang >= 16"):
        compiler._check_clang_version(compiler.require_tool("clang"))


def _line(path, needle):
    return next(i for i, line in enumerate(Path(path).read_text().splitlines(), 1) if needle in line)


def test_raw_c_errors_in_a_constant_defined_elsewhere_in_the_file(cache, vmlinux_h, tmp_path):
    p = write(tmp_path, """
        TICK = '''
            p->scx.slice = 0;
            nope_one = 1;  // first
            p->scx.slice += nope_two;  // second
        '''

        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            raw = [RawC("tick", TICK)]
        """)
    with pytest.raises(PolicyError) as ei:
        codegen.compile(p, str(vmlinux_h))
    err = ei.value
    assert [e[0].line for e in err.errors] == [_line(p, "// first"), _line(p, "// second")], str(err)
    text = str(err)
    lines = Path(p).read_text().splitlines()
    for needle, ident in (("// first", "nope_one"), ("// second", "nope_two")):
        n = _line(p, needle)
        col = lines[n - 1].index(ident) + 1
        assert f"pol.py:{n}:{col}: error: use of undeclared identifier '{ident}'" in text, text
    # Each error shows its policy line and a caret under the column.
    assert "nope_one = 1;  // first\n" in text and "\n  " in text and "^" in text


def test_raw_c_error_in_a_constant_from_another_module(cache, vmlinux_h, tmp_path, monkeypatch):
    (tmp_path / "hatch_rawlib.py").write_text('"""C kept elsewhere."""\n\nDISPATCH_C = """\n'
                                             '    scxpy_dsq_move_to_local(DSQ_q(cpu));\n'
                                             '    broken_here();\n"""\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    p = write(tmp_path, """
        from hatch_rawlib import DISPATCH_C

        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            raw = [RawC("dispatch", DISPATCH_C)]
        """)
    with pytest.raises(PolicyError) as ei:
        codegen.compile(p, str(vmlinux_h))
    assert ei.value.loc.file.endswith("hatch_rawlib.py") and ei.value.loc.line == 5, str(ei.value)
    assert "broken_here" in str(ei.value)


def test_raw_c_error_in_text_built_at_run_time(cache, vmlinux_h, tmp_path):
    p = write(tmp_path, """
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            raw = [RawC("tick", "(void)p;\\n" + "x_undefined++;")]  # here
        """)
    with pytest.raises(PolicyError) as ei:
        codegen.compile(p, str(vmlinux_h))
    assert ei.value.loc.line == _line(p, "# here"), str(ei.value)
    assert "| C line: x_undefined++;" in str(ei.value) and "# here" in str(ei.value)


def test_raw_c_many_errors_are_capped(cache, vmlinux_h, tmp_path):
    body = "\n".join(f"                undefined_{i} = {i};" for i in range(15))
    p = write(tmp_path, f"""
        class S(Scheduler):
            q = Dsq()
            rules = [Rule(queue=q)]
            raw = [RawC("tick", '''
{body}
            ''')]
        """)
    with pytest.raises(PolicyError) as ei:
        codegen.compile(p, str(vmlinux_h))
    text = str(ei.value)
    assert len(ei.value.errors) >= 15 and text.count(": error: ") == 10, text
    assert "more errors (fix these first)" in text
