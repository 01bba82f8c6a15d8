"""PolicyError: a mistake in a policy file, reported at the user's line."""

from __future__ import annotations

from base.errors import ScxpyError

from codegen.srcloc import SrcLoc, source_line


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
