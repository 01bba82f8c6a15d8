"""Point a verifier rejection back at the C source and the policy lines.

With -g, the verifier log interleaves BTF line info such as
`; if (x > 3) @ foo.bpf.c:42`. Generated C marks the policy line each
statement comes from with a comment like `/* policy.py:17 */`; the nearest
such comment at or above a C line names the policy line responsible.
"""

from __future__ import annotations

import re
from pathlib import Path

LINE_INFO = re.compile(r"^;.*@ (?P<file>[^\s:]+):(?P<line>\d+)\s*$", re.M)
# Anywhere inside a comment: `/* rule batch: schedulers/fifo.py:27 */`.
POLICY_COMMENT = re.compile(r"/\*(?:(?!\*/).)*?(?P<file>[\w./-]+\.py):(?P<line>\d+)")
# How far above a C line to look for the policy comment that covers it.
POLICY_LOOKBACK = 12


def referenced_c_lines(log: str, c_name: str | None = None, last: int = 3) -> list[int]:
    """C line numbers the log points at, most relevant (latest) last; at most `last` of them."""
    seen: list[int] = []
    for m in LINE_INFO.finditer(log):
        if c_name and Path(m.group("file")).name != Path(c_name).name:
            continue
        n = int(m.group("line"))
        if n == 0:  # compiler-generated code with no source line
            continue
        if n in seen:
            seen.remove(n)
        seen.append(n)
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
    for n in referenced_c_lines(log, c_path.name):
        text = c_lines[n - 1].strip() if 1 <= n <= len(c_lines) else "?"
        out.append(f"{c_path.name}:{n}: {text}")
        policy = policy_line_for(c_lines, n)
        if policy:
            pfile, pline = policy
            if policy_path and Path(pfile).name == Path(policy_path).name:
                pfile = str(policy_path)
            ptext = _read_line(pfile, pline, search)
            out.append(f"  from {pfile}:{pline}" + (f": {ptext}" if ptext else ""))
    return out
