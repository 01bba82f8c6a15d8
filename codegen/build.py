"""A Scheduler class to the model the templates render: validate it (every
user mistake is caught there), then plan the generated code on the result."""

from __future__ import annotations

from scxpy.codegen.model import Policy
from scxpy.codegen.plan import plan
from scxpy.codegen.validate import validate


def build(cls, counters: bool | None = None) -> Policy:
    """The planned model of a Scheduler subclass; `counters` (the compile flag)
    overrides the policy's own `counters` setting when not None."""
    pol = validate(cls, counters)
    plan(pol)
    return pol
