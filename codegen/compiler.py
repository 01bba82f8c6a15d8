"""clang driver and content-addressed object cache.

The cache key covers everything that affects the object: the C text,
every header it can include (ours, runtime's exit_info.h, vmlinux.h),
clang's version string and the flags. Objects are written to a temp
file and renamed into place, so a concurrent reader never sees half an
object. Cache root: base.cache.cache_root(); objects in
<root>/objects/<key[:2]>/<key>.bpf.o.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import subprocess
import tempfile

from base.cache import cache_root, file_digest as _digest
from base.tools import ToolMissing, require_tool

from codegen.errors import InternalCodegenError, PolicyError, RawCompileError
from codegen.srcloc import SrcLoc, c_line_file

INCLUDE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "include")
RUNTIME_INCLUDE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                   "runtime", "include")
FLAGS = ("-target", "bpf", "-O2", "-g", "-D__TARGET_ARCH_x86", "-Wno-unused-function",
         "-Wno-compare-distinct-pointer-types")


def objects_dir() -> str:
    return os.path.join(cache_root(), "objects")


@functools.lru_cache(maxsize=8)
def clang_version(clang: str) -> str:
    """`clang --version`, remembered on disk per binary (path, size, mtime):
    starting clang costs seconds where its libraries come over 9p (the guest),
    and a cache hit should not pay that."""
    real = os.path.realpath(clang)
    st = os.stat(real)
    ident = hashlib.sha256(f"{real}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:24]
    memo = os.path.join(cache_root(), "clang-version", ident)
    try:
        with open(memo) as f:
            return f.read()
    except OSError:
        pass
    out = subprocess.run([clang, "--version"], capture_output=True, text=True, check=False)
    version = out.stdout.strip()
    if out.returncode == 0 and version:
        os.makedirs(os.path.dirname(memo), exist_ok=True)
        _atomic_write(memo, version.encode())
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


def cache_key(c_text: str, vmlinux_h: str, clang: str, flags=FLAGS) -> str:
    h = hashlib.sha256()
    h.update(b"scxpy-object-v1\0")
    h.update(c_text.encode())
    h.update(b"\0clang\0" + clang_version(clang).encode())
    h.update(b"\0flags\0" + "\0".join(flags).encode())
    for path in _header_files():
        h.update(b"\0hdr\0" + os.path.relpath(path, os.path.dirname(INCLUDE_DIR)).encode() + _digest(path).encode())
    h.update(b"\0vmlinux.h\0" + _digest(vmlinux_h).encode())
    return h.hexdigest()


def compile_c(c_text: str, vmlinux_h: str, *, name: str = "policy", raw_files: list[str] = ()) -> tuple[str, str, bool]:
    """Compile C text to a cached object. Returns (obj_path, c_path, cache_hit).

    raw_files: policy files that raw C in `c_text` names in #line directives;
    clang errors there are the policy's (a PolicyError at its lines).
    """
    if not os.path.isfile(vmlinux_h):
        raise PolicyError(f"vmlinux.h not found at {vmlinux_h}; pass --vmlinux-h PATH or set SCXPY_VMLINUX_H "
                          "(`scxpy kernel` builds the kernel and its vmlinux.h)")
    clang = require_tool("clang")
    _check_clang_version(clang)
    key = cache_key(c_text, vmlinux_h, clang)
    d = os.path.join(objects_dir(), key[:2])
    obj = os.path.join(d, f"{key}.bpf.o")
    c_path = os.path.join(d, f"{key}.bpf.c")
    if os.path.isfile(obj) and os.path.isfile(c_path):
        return obj, c_path, True
    os.makedirs(d, exist_ok=True)
    _atomic_write(c_path, c_text.encode())
    fd, tmp_obj = tempfile.mkstemp(dir=d, prefix=f".{name}.", suffix=".o.tmp")
    os.close(fd)
    cmd = [clang, *FLAGS, "-I", INCLUDE_DIR, "-I", RUNTIME_INCLUDE_DIR,
           "-I", _vmlinux_dir(vmlinux_h), "-c", c_path, "-o", tmp_obj]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        if os.path.exists(tmp_obj):  # clang removes its output on failure
            os.unlink(tmp_obj)
        raise _compile_error(res.stderr, c_path, raw_files)
    os.replace(tmp_obj, obj)
    return obj, c_path, False


def _vmlinux_dir(vmlinux_h: str) -> str:
    """A directory holding only `vmlinux.h` (a symlink to the given file, whatever its name),
    so `-I` adds nothing else from the file's directory. Keyed by content."""
    d = os.path.join(cache_root(), "vmlinux", _digest(vmlinux_h)[:32])
    link = os.path.join(d, "vmlinux.h")
    target = os.path.abspath(vmlinux_h)
    if os.path.realpath(link) != os.path.realpath(target):
        os.makedirs(d, exist_ok=True)
        tmp = f"{link}.tmp{os.getpid()}.{os.urandom(4).hex()}"
        os.symlink(target, tmp)
        os.replace(tmp, link)
    return d


def _atomic_write(path: str, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


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
