"""Read a failed load: the C and policy lines a verifier log points at, and kfunc mismatches.

With -g, the verifier log interleaves BTF line info such as
`; if (x > 3) @ foo.bpf.c:42`. Generated C marks the policy line each
statement comes from with a comment like `/* policy.py:17 */`; the nearest
such comment at or above a C line names the policy line responsible.
A policy's raw C is compiled under #line directives naming the policy file
(its wrapper functions too: clang's BTF line info takes the file of the
function an instruction comes from), so its line info reads
`; ... @ policy.py:49`: those are the policy's own lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

LINE_INFO = re.compile(r"^;(?P<text>.*)@ (?P<file>[^\s:]+):(?P<line>\d+)\s*$", re.M)
# Anywhere inside a comment: `/* rule batch: schedulers/fifo.py:27 */`.
POLICY_COMMENT = re.compile(r"/\*(?:(?!\*/).)*?(?P<file>[\w./-]+\.py):(?P<line>\d+)")
# How far above a C line to look for the policy comment that covers it.
POLICY_LOOKBACK = 12


def referenced_lines(log: str, c_name: str, last: int = 3) -> list[tuple[str, int, str]]:
    """(file, line, source text) the log points at, in the generated C or in a policy
    file (raw C under #line), most relevant (latest) last; at most `last` of them."""
    seen: list[tuple[str, int, str]] = []
    for m in LINE_INFO.finditer(log):
        file, n, text = m.group("file"), int(m.group("line")), m.group("text").strip()
        if n == 0 or not (Path(file).name == Path(c_name).name or file.endswith(".py")):
            continue
        key = (file, n, text)
        if key in seen:
            seen.remove(key)
        seen.append(key)
    return seen[-last:]


def policy_line_for(c_lines: list[str], lineno: int) -> tuple[str, int] | None:
    """The `/* file.py:N */` comment on C line `lineno` (1-based) or the nearest one above it."""
    for i in range(lineno - 1, max(lineno - 1 - POLICY_LOOKBACK, -1), -1):
        if 0 <= i < len(c_lines):
            m = POLICY_COMMENT.search(c_lines[i])
            if m:
                return m.group("file"), int(m.group("line"))
    return None


def _read_line(path: str, lineno: int, search_dirs: list[Path]) -> str | None:
    p = Path(path)
    candidates = [p] if p.is_absolute() else [d / p for d in search_dirs] + [p]
    for cand in candidates:
        try:
            lines = cand.read_text().splitlines()
        except OSError:
            continue
        if 1 <= lineno <= len(lines):
            return lines[lineno - 1].strip()
    return None


def source_report(log: str, c_path: str | Path | None, policy_path: str | Path | None = None) -> list[str]:
    """Human-readable lines quoting the C (and policy) lines the verifier log refers to."""
    if not c_path:
        return []
    c_path = Path(c_path)
    try:
        c_lines = c_path.read_text().splitlines()
    except OSError:
        return [f"(C source {c_path} not readable)"]
    out = []
    search = [c_path.parent] + ([Path(policy_path).parent] if policy_path else [])
    for file, n, logged in referenced_lines(log, c_path.name):
        text = c_lines[n - 1].strip() if 1 <= n <= len(c_lines) else "?"
        if file.endswith(".py"):  # raw C: the policy's own line
            pfile = str(policy_path) if policy_path and Path(file).name == Path(policy_path).name else file
            ptext = _read_line(pfile, n, search)
            out.append(f"{pfile}:{n}: {ptext if ptext is not None else '(line not readable)'}  (raw C)")
            continue
        out.append(f"{c_path.name}:{n}: {text}")
        policy = policy_line_for(c_lines, n)
        if policy:
            pfile, pline = policy
            if policy_path and Path(pfile).name == Path(policy_path).name:
                pfile = str(policy_path)
            ptext = _read_line(pfile, pline, search)
            out.append(f"  from {pfile}:{pline}" + (f": {ptext}" if ptext else ""))
    return out


# --------------------------------------------------------------------------
# kfuncs the kernel cannot give the object: a kernel or toolchain mismatch
#
# libbpf's own wording (tools/lib/bpf/libbpf.c): a weak kfunc it could not
# bind is poisoned, and if a program still reaches the call the verifier log
# (as libbpf rewrites it) says it "is referenced but wasn't resolved"; a
# strong one fails before any program is loaded, with a warning.
_KFUNC_PROBLEMS = (
    ("unresolved", re.compile(r"kfunc '(?P<name>[^']+)' is referenced but wasn't resolved")),
    ("incompatible", re.compile(r"extern \(func ksym\) '(?P<name>[^']+)': func_proto \[\d+\] incompatible with")),
    ("missing", re.compile(r"extern \(func ksym\) '(?P<name>[^']+)': not found in kernel or module BTFs")),
)
# The string pahole >= 1.26 tags every kfunc with (BTF_KIND_DECL_TAG "bpf_kfunc").
KFUNC_DECL_TAG = b"bpf_kfunc"
# From 7.0 sched_ext kfuncs take implicit arguments, whose BPF-visible
# prototypes only a kernel built with pahole >= 1.26 has.
IMPLICIT_ARGS_SINCE = (7, 0)


@dataclass(frozen=True)
class KfuncProblem:
    declared: str  # as the object declares it, flavor suffix included
    what: str  # unresolved | incompatible | missing

    @property
    def name(self) -> str:
        """The kernel's name: libbpf drops the last ___flavor suffix before the lookup."""
        n = self.declared
        for i in range(len(n) - 5, 0, -1):  # the last `x___y` separator, as libbpf scans
            if n[i:i + 3] == "___" and n[i - 1] != "_" and n[i + 3] != "_":
                return n[:i]
        return n


def kfunc_problems(log: str, libbpf_text: str = "") -> list[KfuncProblem]:
    """The kfuncs libbpf or the verifier could not bind, in order, each once."""
    found: dict[str, KfuncProblem] = {}
    for what, pattern in _KFUNC_PROBLEMS:
        for m in pattern.finditer(log + "\n" + libbpf_text):
            found.setdefault(m.group("name"), KfuncProblem(m.group("name"), what))
    return list(found.values())


def btf_has_kfunc_decl_tags(btf: bytes) -> bool | None:
    """Does this raw BTF (/sys/kernel/btf/vmlinux) tag its kfuncs? None if it cannot be read."""
    import struct

    if len(btf) < 24 or btf[:2] not in (b"\x9f\xeb", b"\xeb\x9f"):
        return None
    order = "<" if btf[:2] == b"\x9f\xeb" else ">"
    _magic, _ver, _flags, hdr_len, _toff, _tlen, str_off, str_len = struct.unpack(order + "HBBIIIII", btf[:24])
    strings = btf[hdr_len + str_off: hdr_len + str_off + str_len]
    return b"\0" + KFUNC_DECL_TAG + b"\0" in strings


def kfunc_mismatch_message(obj_name: str, problems: list[KfuncProblem], release: str,
                           has_decl_tags: bool | None) -> str:
    """Name the kernel, the kfuncs and the likely cause; the policy is not what is wrong."""
    what = {
        "unresolved": "is called, but this kernel's BTF has no kfunc of that name and prototype",
        "incompatible": "has a prototype this kernel's BTF does not match (func_proto incompatible)",
        "missing": "is not in this kernel's BTF at all",
    }
    lines = [f"{obj_name} cannot load on kernel {release}: a kernel or toolchain mismatch, "
             "not a fault in the policy."]
    for p in problems:
        alias = f" (declared as {p.declared})" if p.declared != p.name else ""
        lines.append(f"  kfunc {p.name}{alias} {what[p.what]}")
    if _version_of(release) >= IMPLICIT_ARGS_SINCE and has_decl_tags is False:
        lines.append(
            f"Likely cause: kernel {release} was built with pahole older than 1.26. Its BTF has no "
            f"'{KFUNC_DECL_TAG.decode()}' declaration tags, so the kfuncs that take implicit "
            "arguments (KF_IMPLICIT_ARGS, from 7.0) lack the prototypes BPF programs call them by. "
            "Fix: rebuild that kernel with pahole >= 1.26 (`scxpy kernel --version X.Y` installs one)."
        )
    else:
        lines.append(
            f"Likely cause: kernel {release} does not offer these kfuncs under these names and "
            "prototypes. scxpy's compat header covers the kernels `scxpy kernel --help` lists; a "
            "kernel outside them, or built with another toolchain, may have renamed or changed them. "
            "Fix: run on one of those kernels (`--kernel-version X.Y`); if the call is in raw C you "
            "wrote, guard it with bpf_ksym_exists()."
        )
    return "\n".join(lines)


def _version_of(release: str) -> tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", release)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)
