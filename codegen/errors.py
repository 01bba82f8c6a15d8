"""PolicyError: a mistake in a policy file, reported at the user's line."""

from __future__ import annotations

from scxpy.errors import ScxpyError

from codegen.srcloc import SrcLoc


class PolicyError(ScxpyError):
    """A policy the code generator refuses, naming the policy's file:line and the problem.

    Nothing is generated when one is raised.
    """

    def __init__(self, message: str, loc: SrcLoc | None = None):
        self.loc = loc
        self.problem = message
        super().__init__(f"{loc}: {message}" if loc else message)


class InternalCodegenError(ScxpyError):
    """clang rejected C that codegen generated itself: a bug in scxpy, not in the policy."""

    exit_status = 3
