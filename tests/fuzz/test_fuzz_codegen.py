"""Property-based tests of codegen: random valid policies render deterministically
and compile with clang; random invalid ones give one PolicyError at the
planted line, never a traceback.

A failure is shrunk by hypothesis to a minimal policy, written out as a .py
file whose path the failure names: `scxpy show FILE` / `scxpy compile FILE`
reruns it. The examples are the same in every run (derandomized);
SCXPY_FUZZ_SEED=N explores others, SCXPY_FUZZ_EXAMPLES=N changes how many.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings

from scxpy import codegen
from scxpy.codegen import PolicyError
from policies import SAMPLE_DIR, PolicySource, guest_sample, invalid_policies, valid_policies

EXAMPLES = int(os.environ.get("SCXPY_FUZZ_EXAMPLES", "300"))
SEED = os.environ.get("SCXPY_FUZZ_SEED")


def fuzz_settings(n: int):
    def wrap(fn):
        fn = settings(max_examples=n, deadline=None, database=None, derandomize=SEED is None,
                      suppress_health_check=list(HealthCheck), print_blob=False)(fn)
        return seed(int(SEED))(fn) if SEED is not None else fn
    return wrap


class Failures:
    """Where failing (shrunk) policies are written: one file per kind, the last
    (smallest) failing example wins, as hypothesis replays the minimal one last."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def write(self, kind: str, text: str) -> Path:
        path = self.root / f"fuzz_{kind}.py"
        path.write_text(text)
        return path


@pytest.fixture
def failures() -> Failures:
    """Kept after the run: the scratch directory shared back from the guest, else the cache."""
    from scxpy.base.cache import cache_root

    root = os.environ.get("SCXPY_SCRATCH") or cache_root()
    return Failures(Path(root) / "fuzz-failures")


def _render_twice(path: Path) -> str:
    first = codegen.render(str(path))
    second = codegen.render(str(path))  # a fresh import of the file, a fresh model
    assert first == second, "rendering the same policy twice gave different C"
    return first


@pytest.mark.clang
def test_valid_policies_render_deterministically_and_compile(vmlinux_h, failures, tmp_path, monkeypatch):
    # A cache of our own: every example is really compiled, and nothing piles up in the user's.
    monkeypatch.setenv("SCXPY_CACHE_DIR", str(tmp_path / "cache"))
    work = tmp_path / "policies"
    work.mkdir()
    counter = iter(range(10**9))
    pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1))
    pending: list[tuple[Path, object]] = []

    def check(src: PolicySource, compile_now: bool) -> None:
        path = work / f"policy_{next(counter)}.py"
        path.write_text(src.text())
        try:
            _render_twice(path)
            if compile_now:
                codegen.compile(str(path), str(vmlinux_h))
        except Exception as e:
            kept = failures.write("valid", src.text())
            raise AssertionError(f"a valid policy failed ({type(e).__name__}: {str(e)[:2000]})\n"
                                 f"minimal policy: {kept}  (rerun: scxpy compile {kept})") from e
        if not compile_now:
            pending.append((path, pool.submit(codegen.compile, str(path), str(vmlinux_h))))

    @fuzz_settings(EXAMPLES)
    @given(valid_policies())
    def render_all_compile_in_background(src):
        check(src, compile_now=False)

    @fuzz_settings(EXAMPLES)
    @given(valid_policies())
    def compile_each(src):
        check(src, compile_now=True)

    t0 = time.monotonic()
    render_all_compile_in_background()
    t_render = time.monotonic() - t0
    broken = []
    for path, fut in pending:
        try:
            fut.result()
        except Exception as e:
            broken.append((path, e))
    pool.shutdown()
    elapsed = time.monotonic() - t0
    print(f"\nfuzz: {len(pending)} valid policies rendered twice in {t_render:.1f} s and compiled "
          f"in {elapsed:.1f} s all told: {len(pending) / elapsed:.1f} examples/s "
          f"({len(broken)} failed to compile)")
    assert len(pending) >= EXAMPLES
    if broken:
        # Same examples in the same order, compiled one by one: hypothesis meets
        # the first failure again and shrinks it.
        compile_each()
        path, e = broken[0]
        pytest.fail(f"{len(broken)} fuzzed policies did not compile and the shrinking rerun did not "
                    f"reproduce it; first: {path}: {e}")


def _one_error_at_the_mark(src: PolicySource, path: Path, capsys) -> None:
    from scxpy.cli import main

    path.write_text(src.text())
    try:
        codegen.render(str(path))
    except PolicyError as e:
        err = e
    else:
        raise AssertionError(f"no error for: {src.mistake}")
    assert err.loc is not None and err.loc.line == src.mark, (src.mistake, src.mark, str(err))
    assert str(err).startswith(f"{err.loc}: "), str(err)
    assert len(str(err)) < 1500, (src.mistake, len(str(err)))
    # Through the CLI: exactly one error line, no traceback, nothing on stdout.
    capsys.readouterr()
    assert main(["show", str(path)]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "Traceback" not in out.err, out.err[:2000]
    assert out.err.count("scxpy: error:") == 1 and f":{src.mark}: " in out.err, out.err[:2000]


def test_invalid_policies_give_one_policy_error_at_the_mistake(failures, tmp_path, capsys):
    counter = iter(range(10**9))
    seen: set[str] = set()

    @fuzz_settings(EXAMPLES)
    @given(invalid_policies())
    def check(src):
        path = tmp_path / f"bad_{next(counter)}.py"
        try:
            _one_error_at_the_mark(src, path, capsys)
        except BaseException as e:
            kept = failures.write("invalid", src.text())
            raise AssertionError(f"planted mistake {src.mistake!r} at line {src.mark}: {e}\n"
                                 f"minimal policy: {kept}  (rerun: scxpy show {kept})") from None
        seen.add(src.mistake)

    t0 = time.monotonic()
    check()
    dt = time.monotonic() - t0
    print(f"\nfuzz: {EXAMPLES} invalid policies in {dt:.1f} s ({EXAMPLES / dt:.1f}/s), "
          f"{len(seen)} kinds of mistake")
    assert len(seen) >= min(30, EXAMPLES // 10), sorted(seen)


GUEST_SAMPLE = 12  # tests/fuzz/test_fuzz_vm.py loads these


@pytest.mark.clang
def test_guest_sample_compiles_on_the_host(vmlinux_h):
    """The fuzz VM test's policies, compiled here (clang under emulation in the guest
    would take a minute each); the guest only loads them, from the index written here."""
    import json

    from scxpy.base.cache import cache_root

    out = cache_root() / SAMPLE_DIR
    out.mkdir(parents=True, exist_ok=True)
    index = []
    for i, text in enumerate(guest_sample(GUEST_SAMPLE)):
        path = out / f"policy_{i}.py"
        path.write_text(text)
        c = codegen.compile(str(path), str(vmlinux_h))
        manifest = out / f"policy_{i}.json"
        c.manifest.write(manifest)
        index.append({"policy": str(path), "obj": str(c.obj_path), "c": str(c.c_path), "manifest": str(manifest)})
    (out / "index.json").write_text(json.dumps(index, indent=1))
    assert len(index) == GUEST_SAMPLE
    assert sum("raw = [" in e for e in map(lambda x: Path(x["policy"]).read_text(), index)) >= 1
