"""Matching task strings against literals: task.comm, task.leader_comm and
the task's cgroup path, component by component.

String literals never reach the C text as strings: a match is rendered as
a chain of byte comparisons against integer constants, so a policy's
strings cannot inject C. A cgroup path match becomes a call to a helper
the model numbers and the templates write (CgroupMatch).
"""

from __future__ import annotations

from scxpy.codegen.errors import PolicyError, elide
from scxpy.codegen.expr import BOOL, Expr, Leaf, Not
from scxpy.codegen.srcloc import SrcLoc, caller_loc

TASK_COMM_LEN = 16  # kernel: includes the terminating NUL
CGROUP_NAME_MAX = 64  # longest cgroup path component we compare


def not_a_value_message(what: str) -> str:
    return (f"{what} is not a value: match it, e.g. "
            "task.comm == \"name\", task.comm.startswith(\"x\"), task.cgroup.path.startswith(\"/a\") "
            "or use task.cgroup.id")


def _literal_bytes(s: str, limit: int, what: str, loc: SrcLoc) -> bytes:
    if not isinstance(s, str):
        raise PolicyError(f"{what} must be matched against a str literal, got {type(s).__name__}", loc)
    data = s.encode("utf-8")
    if b"\0" in data:
        raise PolicyError(f"{what} match string contains a NUL byte, which can never match", loc)
    if len(data) > limit:
        raise PolicyError(
            f"{what} match string {elide(repr(s))} is {len(data)} bytes; the kernel keeps at most {limit}: "
            "shorten it (a prefix match, .startswith(...), is often what is meant)", loc)
    return data


def byte_match_c(buf: str, data: bytes, exact: bool) -> str:
    """C comparing buffer `buf` with literal bytes, as integers (no C string literal)."""
    terms = [f"{buf}[{i}] == 0x{b:02x}" for i, b in enumerate(data)]
    if exact:
        terms.append(f"{buf}[{len(data)}] == 0")
    return "(" + " && ".join(terms) + ")" if terms else "true"


class StringAttr:
    """A task string (comm, group leader's comm): match with ==, != or .startswith()."""

    def __init__(self, buf: str, feature: str, what: str):
        self.buf, self.feature, self.what = buf, feature, what

    @property
    def not_a_value(self) -> str:
        """lift()'s message when this is used as a value."""
        return not_a_value_message(self.what)

    def _match(self, s, exact: bool, loc: SrcLoc) -> Expr:
        data = _literal_bytes(s, TASK_COMM_LEN - 1, self.what, loc)
        return Leaf(byte_match_c(self.buf, data, exact), BOOL, frozenset({self.feature}),
                    f"{self.what} match", loc)

    def startswith(self, prefix: str) -> Expr:
        return self._match(prefix, False, caller_loc())

    def __eq__(self, s):  # type: ignore[override]
        return self._match(s, True, caller_loc())

    def __ne__(self, s):  # type: ignore[override]
        return Not(self._match(s, True, caller_loc()))

    __hash__ = object.__hash__

    def __bool__(self):
        raise PolicyError(f"{self.what} is a string: match it with == or .startswith()", caller_loc())

    def _no_order(self, other):
        raise PolicyError(f"{self.what} is a string: only ==, != and .startswith() are supported", caller_loc())

    __lt__ = __le__ = __gt__ = __ge__ = _no_order


class CgroupPath:
    """The task's cgroup (v2) path, matched component by component.

    startswith("/a/b") holds for /a/b and everything below it, not for /a/bc.
    """

    what = "task.cgroup.path"

    @property
    def not_a_value(self) -> str:
        """lift()'s message when this is used as a value."""
        return not_a_value_message(self.what)

    def _match(self, path, exact: bool, loc: SrcLoc) -> Expr:
        if not isinstance(path, str) or not path.startswith("/"):
            raise PolicyError(f"{self.what} is matched against an absolute path like '/system.slice', got {elide(repr(path))}", loc)
        parts = [p for p in path.split("/") if p]
        if len(parts) > 8:
            raise PolicyError(f"{self.what}: at most 8 path components are supported, got {len(parts)}", loc)
        comps = [_literal_bytes(p, CGROUP_NAME_MAX - 1, "cgroup path component", loc) for p in parts]
        return CgroupMatch(tuple(comps), exact, loc)

    def startswith(self, prefix: str) -> Expr:
        return self._match(prefix, False, caller_loc())

    def __eq__(self, path):  # type: ignore[override]
        return self._match(path, True, caller_loc())

    def __ne__(self, path):  # type: ignore[override]
        return Not(self._match(path, True, caller_loc()))

    __hash__ = object.__hash__


class CgroupMatch(Expr):
    """Rendered as a call to a generated helper; the model numbers these helpers."""

    def __init__(self, components: tuple[bytes, ...], exact: bool, loc: SrcLoc):
        super().__init__(BOOL, loc)
        self.components, self.exact = components, exact
        self.helper = "scxpy_cgpath_unnumbered"

    def c(self) -> str:
        return f"{self.helper}(cgrp, cglevel)"

    def features(self):
        return frozenset({"cgroup"})

    def component_checks(self) -> list[str]:
        return [byte_match_c("name", comp, True) for comp in self.components]
