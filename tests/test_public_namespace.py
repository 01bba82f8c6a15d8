"""The public namespace: `from scxpy import ...` is all a policy, script or doc needs.

Every name in scxpy.__all__ resolves and is documented in docs/dsl-reference.md
("The public namespace"), and the user docs import nothing else.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import scxpy

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "docs" / "dsl-reference.md"
USER_DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def documented_names() -> set[str]:
    text = REFERENCE.read_text()
    section = text[text.index("## The public namespace"):]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {m for row in rows for m in re.findall(r"`([A-Za-z_]\w*)", row)}


def test_every_public_name_resolves():
    for name in scxpy.__all__:
        assert getattr(scxpy, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        scxpy.nosuch  # noqa: B018


def test_every_public_name_is_documented_and_only_those():
    public, documented = set(scxpy.__all__), documented_names()
    assert public - documented == set(), (
        f"{sorted(public - documented)} are in scxpy.__all__ but not in docs/dsl-reference.md's "
        "'The public namespace' table: add a row for each")
    assert documented - public == set(), f"the table lists {sorted(documented - public)}, which scxpy lacks"


# scxpy's modules and the repo folders they come from; any other import (the
# standard library, numpy) is the example's own business.
OURS = r"(scxpy|codegen|runtime|vm|base|bench|schedulers)\b"
# What a doc may import of ours: the namespace, and the pytest plugin's helpers
# (pytest loads that module by its entry point; docs/testing-policies.md).
ALLOWED = r"(from scxpy import |import scxpy$|from scxpy\.pytest_plugin import )"


def test_user_docs_import_only_from_scxpy():
    wrong = []
    for doc in USER_DOCS:
        for n, line in enumerate(doc.read_text().splitlines(), 1):
            s = line.strip()
            if re.match(rf"(from {OURS}\S* import |import {OURS})", s) and not re.match(ALLOWED, s):
                wrong.append(f"{doc.relative_to(REPO)}:{n}: {s}")
    assert wrong == [], "docs should import from the flat namespace (`from scxpy import ...`):\n" + "\n".join(wrong)


def test_a_stock_policy_subclassed_as_the_tutorial_shows(tmp_path):
    from scxpy.codegen import build_model

    p = tmp_path / "myvtime.py"
    p.write_text('"""The stock vtime policy with a 5 s watchdog and 5 ms slices."""\n'
                 "from scxpy import Rule, ms, stock_policy\n\n"
                 'Vtime = stock_policy("vtime")\n\n\n'
                 "class MyVtime(Vtime):\n"
                 '    name = "myvtime"\n'
                 "    timeout = 5000 * ms\n"
                 "    rules = [Rule(queue=Vtime.queue, slice=5 * ms)]\n")
    m = build_model(str(p))
    assert m.name == "myvtime"
    assert m.manifest().name == "myvtime"


def test_an_unknown_stock_policy_is_named_with_the_choices():
    with pytest.raises(scxpy.PolicyError, match=r"stock_policy\('vtimes'\): no such stock policy; .*vtime"):
        scxpy.stock_policy("vtimes")
