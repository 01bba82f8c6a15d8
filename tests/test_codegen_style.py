"""The generated C reads like the kernel's example schedulers: short functions,
and templates that only format what the model decided."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scxpy import codegen, schedulers

TEMPLATES = Path(codegen.__file__).resolve().parent / "templates"
MAX_FUNCTION_LINES = 25


def functions(c_text: str) -> list[tuple[str, int]]:
    """(name, lines) of each function definition, from its signature to its closing brace."""
    lines = c_text.splitlines()
    out, i = [], 1
    while i < len(lines):
        if lines[i] == "{":
            end = lines.index("}", i)
            m = re.search(r"(\w+)\s*\((?:(\w+)[,)])?", lines[i - 1])
            name = m.group(2) if m and m.group(1).startswith("BPF_STRUCT_OPS") else (m.group(1) if m else lines[i - 1])
            out.append((name, end - i + 2))
            i = end
        i += 1
    return out


def test_functions_are_counted():
    c = "static int f(void)\n{\n\treturn 0;\n}\n\nvoid BPF_STRUCT_OPS(scxpy_op_x, int a)\n{\n}\n"
    assert functions(c) == [("f", 4), ("scxpy_op_x", 3)]


@pytest.mark.parametrize("counters", [True, False], ids=["counters", "no-counters"])
@pytest.mark.parametrize("policy", sorted(schedulers.stock()))
def test_stock_functions_are_short(policy, counters):
    """The policy's own raw C (scxpy_raw_*) is the author's, not generated, and not counted."""
    c = codegen.render(schedulers.policy_file(policy), counters=counters)
    found = functions(c)
    assert len(found) > 5
    long = [(n, k) for n, k in found if k > MAX_FUNCTION_LINES and not n.startswith("scxpy_raw_")]
    assert long == [], f"{policy}: generated functions over {MAX_FUNCTION_LINES} lines: {long}"


# What a template may not test: raw feature strings, and decisions the model makes.
DECISIONS = [r"p\.features", r"p\.metrics", r"dispatch_kind\s*==", r"cb\.name\s*==", r"q\.steal\b.*\bor\b",
             r"\bor q\.steal", r"builtin_targets", r"raw_part\.timers"]


@pytest.mark.parametrize("template", sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.j2")))
def test_templates_only_format(template):
    text = (TEMPLATES / template).read_text()
    tags = re.findall(r"\{%.*?%\}|\{\{.*?\}\}", text, re.S)
    bad = [t for t in tags for d in DECISIONS if re.search(d, t)]
    assert bad == [], f"{template} decides what the model should: {bad}"


def test_one_dispatch_template_per_algorithm():
    for kind in ("priority", "round_robin", "earliest_vtime"):
        assert (TEMPLATES / "callbacks" / f"dispatch_{kind}.c.j2").exists()
    assert not (TEMPLATES / "callbacks" / "dispatch.c.j2").exists()
