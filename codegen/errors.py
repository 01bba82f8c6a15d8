"""PolicyError: a mistake in a policy file, reported at the user's line."""

from __future__ import annotations

from base.errors import ScxpyError

from codegen.srcloc import SrcLoc, source_line


class PolicyError(ScxpyError):
    """A policy the code generator refuses, naming the policy's file:line and the problem.

    Nothing is generated when one is raised.
    """

    def __init__(self, message: str, loc: SrcLoc | None = None):
        self.loc = loc
        self.problem = message
        text = f"{loc}: {message}" if loc else message
        line = source_line(loc) if loc and loc.line > 0 else None
        if line is not None and line.strip():
            # Show the offending policy line, like a compiler would.
            text += f"\n  {loc.line} | {line.strip()}"
        super().__init__(text)


class InternalCodegenError(ScxpyError):
    """clang rejected C that codegen generated itself: a bug in scxpy, not in the policy."""

    exit_status = 3
