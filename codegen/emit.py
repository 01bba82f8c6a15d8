"""Policy model -> BPF C text through jinja2 (codegen/templates/).

Deterministic: the output depends only on the policy model, never on
time, hashing order or the environment.
"""

from __future__ import annotations

import os
import re

import jinja2

from scxpy.codegen import kfuncs, limits, rawc
from scxpy.codegen.errors import InternalCodegenError
from scxpy.codegen.model import Policy
from scxpy.codegen.srcloc import SrcLoc, c_comment_safe

TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")


def _comment(value) -> str:
    return c_comment_safe(str(value)) if not isinstance(value, SrcLoc) else value.c_comment_text()


def _argnames(params: str) -> str:
    names = []
    for part in params.split(","):
        m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*$", part.strip())
        if m:
            names.append(m.group(1))
    return ", ".join(names)


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["hex64"] = lambda v: f"0x{v:016x}ULL"
    env.filters["argnames"] = _argnames
    env.globals["c"] = _comment
    env.globals["limits"] = limits  # constants shared with Python, defined once
    return env


_ENV = None


def render_model(policy: Policy) -> str:
    global _ENV
    if _ENV is None:
        _ENV = _env()
    text = _ENV.get_template("policy.bpf.c.j2").render(p=policy)
    # A template line whose macro had nothing to emit is left as bare
    # indentation: drop it. Then collapse runs of blank lines left by
    # optional sections.
    text = re.sub(r"^[ \t]+\n", "", text, flags=re.M)
    text = re.sub(r"\n{3,}", "\n\n", text)
    text = rawc.restore_lines(text, policy.name)
    rawc.check_decl_clashes(text, policy.raw_part, policy.name)
    bad = kfuncs.generated_violations(text)
    if bad:
        raise InternalCodegenError("generated C calls kfuncs where the kernel forbids them "
                                   f"(a bug in scxpy): {'; '.join(bad)}")
    return text
