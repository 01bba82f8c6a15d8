"""clang driver and content-addressed object cache.

The cache key covers everything that affects the compiled unit: the C
text, the files that travel with the object (the manifest), every header
the C can include (ours, runtime's exit_info.h, vmlinux.h), clang's
version string and the flags. The unit is one `base.cache.Cache` entry,
`<root>/objects/<key>/` holding NAME.bpf.c, NAME.bpf.o and NAME.json,
published whole: a reader never sees an object without its manifest, nor
a manifest from another build.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import subprocess

from scxpy.base.cache import Cache, file_digest
from scxpy.base.tools import ToolMissing, require_tool

from scxpy.codegen.errors import InternalCodegenError, PolicyError, RawCompileError
from scxpy.codegen.srcloc import SrcLoc, c_line_file

INCLUDE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "include")
# The runtime's exit_info.h (it reads the struct back): found where scxpy.runtime
# is, installed or in a checkout, without importing it (codegen sits beside it).
RUNTIME_INCLUDE_DIR = os.path.join(importlib.util.find_spec("scxpy.runtime").submodule_search_locations[0],
                                   "include")
FLAGS = ("-target", "bpf", "-O2", "-g", "-D__TARGET_ARCH_x86", "-Wno-unused-function",
         "-Wno-compare-distinct-pointer-types")

OBJECTS = Cache("objects")
_FAILED = Cache("failed-c")  # C that clang rejected, kept for the bug report
_CLANG_VERSION = Cache("clang-version")
_VMLINUX = Cache("vmlinux")


@functools.lru_cache(maxsize=8)
def clang_version(clang: str) -> str:
    """`clang --version`, remembered on disk per binary (path, size, mtime):
    starting clang costs seconds where its libraries come over 9p (the guest),
    and a cache hit should not pay that."""
    real = os.path.realpath(clang)
    st = os.stat(real)
    key = _CLANG_VERSION.key(real, str(st.st_size), str(st.st_mtime_ns))
    hit = _CLANG_VERSION.get(key, "version")
    if hit:
        return (hit / "version").read_text()
    out = subprocess.run([clang, "--version"], capture_output=True, text=True, check=False)
    version = out.stdout.strip()
    if out.returncode == 0 and version:
        with _CLANG_VERSION.writing(key) as stage:
            (stage / "version").write_text(version)
    return version


MIN_CLANG = 16


def _check_clang_version(clang: str) -> None:
    m = re.search(r"clang version (\d+)", clang_version(clang))
    if m and int(m.group(1)) < MIN_CLANG:
        raise ToolMissing(f"{clang} is clang {m.group(1)}; sched_ext BPF needs clang >= {MIN_CLANG}. "
                          "Install clang-16 (scripts/setup.sh does) or set SCXPY_CLANG to a newer one.")


def _header_files() -> list[str]:
    out = []
    for d in (INCLUDE_DIR, RUNTIME_INCLUDE_DIR):
        for root, _, files in os.walk(d):
            out += [os.path.join(root, f) for f in files if f.endswith(".h")]
    return sorted(out)


def cache_key(c_text: str, vmlinux_h: str, clang: str, flags=FLAGS, files: dict[str, str] | None = None) -> str:
    """The key of a compiled unit: the C, the `files` stored with the object, headers, clang, flags."""
    parts = ["c", c_text, "clang", clang_version(clang), "flags", *flags]
    for name, text in sorted((files or {}).items()):
        parts += ["file", name, text]
    for path in _header_files():
        parts += ["hdr", os.path.relpath(path, os.path.dirname(INCLUDE_DIR)), file_digest(path)]
    parts += ["vmlinux.h", file_digest(vmlinux_h)]
    return OBJECTS.key(*parts)


def compile_c(c_text: str, vmlinux_h: str, *, name: str = "policy", raw_files: list[str] = (),
              files: dict[str, str] | None = None) -> tuple[str, str, bool]:
    """Compile C text to a cached object NAME.bpf.o, stored with NAME.bpf.c and the given
    `files` (name -> text; part of the key). Returns (obj_path, c_path, cache_hit).

    raw_files: policy files that raw C in `c_text` names in #line directives;
    clang errors there are the policy's (a PolicyError at its lines).
    """
    if not os.path.isfile(vmlinux_h):
        raise PolicyError(f"vmlinux.h not found at {vmlinux_h}; pass --vmlinux-h PATH or set SCXPY_VMLINUX_H "
                          "(`scxpy kernel` builds the kernel and its vmlinux.h)")
    clang = require_tool("clang")
    _check_clang_version(clang)
    key = cache_key(c_text, vmlinux_h, clang, files=files)
    obj_name, c_name = f"{name}.bpf.o", f"{name}.bpf.c"

    def build(stage):
        (stage / c_name).write_text(c_text)
        for fname, text in (files or {}).items():
            (stage / fname).write_text(text)
        cmd = [clang, *FLAGS, "-I", INCLUDE_DIR, "-I", RUNTIME_INCLUDE_DIR,
               "-I", _vmlinux_dir(vmlinux_h), "-c", c_name, "-o", obj_name]
        # Run in the entry so that diagnostics name the file by its short name.
        res = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=stage)
        if res.returncode != 0:
            with _FAILED.writing(key) as kept:
                (kept / c_name).write_text(c_text)
            raise _compile_error(res.stderr, str(_FAILED.path(key) / c_name), raw_files)

    d, hit = OBJECTS.get_or_build(key, build, obj_name, c_name, *(files or {}))
    return str(d / obj_name), str(d / c_name), hit


def _vmlinux_dir(vmlinux_h: str) -> str:
    """A directory holding only `vmlinux.h` (a symlink to the given file, whatever its name),
    so `-I` adds nothing else from the file's directory. Keyed by path and content."""
    target = os.path.abspath(vmlinux_h)

    def link(stage):
        os.symlink(target, stage / "vmlinux.h")

    d, _ = _VMLINUX.get_or_build(_VMLINUX.key(target, file_digest(vmlinux_h)), link, "vmlinux.h")
    return str(d)


_DIAG = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+): (?P<kind>fatal error|error|warning): (?P<msg>.*)$",
                   re.M)


def _compile_error(stderr: str, c_path: str, raw_files) -> Exception:
    """Errors inside raw C (reported via #line at the policy file) are the user's, every one
    of them (capped); others are ours."""
    raw_files = {c_line_file(f): f for f in raw_files}
    user, ours = [], []
    lines = stderr.splitlines()
    for i, line in enumerate(lines):
        m = _DIAG.match(line)
        if not m or m.group("kind") == "warning":
            continue
        if m.group("file") in raw_files:
            # clang follows a diagnostic with the source line it means (here: the raw C).
            snippet = lines[i + 1] if i + 1 < len(lines) and not _DIAG.match(lines[i + 1]) else ""
            user.append((SrcLoc(raw_files[m.group("file")], int(m.group("line"))), int(m.group("col")),
                         m.group("msg"), snippet))
        else:
            ours.append(m.group(0))
    if user:
        return RawCompileError(user, generated_errors=len(ours))
    first = ours[0] if ours else stderr.strip()[:500]
    hint = ("\nthe policy has raw C: if it declares a name scxpy also uses (scxpy_*, DSQ_*, tun_*), "
            "rename it" if raw_files else "")
    return InternalCodegenError(
        f"clang rejected C generated by scxpy (a bug in scxpy, not in your policy): {first}\n"
        f"generated C: {c_path}\nplease report it with the policy file{hint}")
