"""PolicyError: a mistake in a policy file, reported at the user's line."""

from __future__ import annotations

import re

from scxpy.base.errors import ScxpyError

from scxpy.codegen.srcloc import SrcLoc, source_line


SHOWN_LINE_MAX = 200  # a policy line longer than this is shown cut in the middle
MESSAGE_MAX = 1000


def elide(text: str, limit: int = 40) -> str:
    """`text` cut in the middle to about `limit` characters: a 200 KB literal
    must not turn an error message into 200 KB of stderr."""
    if len(text) <= limit:
        return text
    keep = max(limit - 20, 8) // 2
    return f"{text[:keep]}...({len(text) - 2 * keep} more characters)...{text[-keep:]}"


class PolicyError(ScxpyError):
    """A policy the code generator refuses, naming the policy's file:line and the problem.

    Nothing is generated when one is raised.
    """

    def __init__(self, message: str, loc: SrcLoc | None = None):
        self.loc = loc
        message = elide(message, MESSAGE_MAX)  # whatever a message quotes, it stays readable
        self.problem = message
        text = f"{loc}: {message}" if loc else message
        line = source_line(loc) if loc and loc.line > 0 else None
        if line is not None and line.strip():
            # Show the offending policy line, like a compiler would.
            text += f"\n  {loc.line} | {elide(line.strip(), SHOWN_LINE_MAX)}"
        super().__init__(text)


class InternalCodegenError(ScxpyError):
    """clang rejected C that codegen generated itself: a bug in scxpy, not in the policy."""

    exit_status = 3


_VOID_TIMER = re.compile(r"void function 'scxpy_raw_timer_(\w+)' should not return a value.*")


def _plain(msg: str) -> str:
    """clang's words about the wrapper scxpy puts around raw C, said in the policy's terms."""
    return _VOID_TIMER.sub(r"a RawTimer body (here '\1') is a void function: end it with `return;` "
                           r"(no value), or fall off the end", msg)


class RawCompileError(PolicyError):
    """clang rejected a policy's raw C: every error, each at its policy file:line:col
    with the line and a caret (the first SHOWN_ERRORS of them)."""

    SHOWN_ERRORS = 10

    def __init__(self, errors: list[tuple[SrcLoc, int, str, str]], generated_errors: int = 0):
        # errors: (policy loc, clang's column, message, the C line clang quoted)
        self.loc, _, first, _ = errors[0]
        self.problem = f"in raw C: {first}"
        self.errors = errors
        parts = [f"clang rejected the policy's raw C ({len(errors)} error{'s' if len(errors) > 1 else ''}):"]
        for loc, col, msg, c_line in errors[:self.SHOWN_ERRORS]:
            msg = _plain(msg)
            parts.append(f"{loc}:{col}: error: {elide(msg, 300)}")
            line = source_line(loc)
            pad = " " * len(str(loc.line))
            lead = len(c_line) - len(c_line.lstrip())
            if line is not None and c_line.strip() and line[lead:len(c_line.rstrip())] == c_line.strip():
                shown = line  # the C sits in the policy line at the columns clang counts
                parts.append(f"  {loc.line} | {elide(shown.expandtabs(1), SHOWN_LINE_MAX)}")
            else:
                # The C was computed at run time or written with escaped newlines:
                # show the C line clang means (the column is within it).
                if line is not None:
                    parts.append(f"  {loc.line} | {elide(line.expandtabs(1), SHOWN_LINE_MAX)}")
                shown = c_line
                lead = f"  {pad} | C line: "
                parts.append(f"{lead}{elide(shown.expandtabs(1), SHOWN_LINE_MAX)}")
                if len(shown) <= SHOWN_LINE_MAX:
                    parts.append(f"  {pad} | {' ' * (len('C line: ') + max(col - 1, 0))}^")
                continue
            if len(shown) <= SHOWN_LINE_MAX:
                parts.append(f"  {pad} | {' ' * max(col - 1, 0)}^")
        if len(errors) > self.SHOWN_ERRORS:
            parts.append(f"... and {len(errors) - self.SHOWN_ERRORS} more errors (fix these first)")
        if generated_errors:
            parts.append(f"({generated_errors} more in the generated C around it, most likely caused by these)")
        ScxpyError.__init__(self, "\n".join(parts))
