"""Every stock and test policy compiles with clang against the guest kernel's vmlinux.h."""

from __future__ import annotations


from pathlib import Path

import pytest

from scxpy import codegen
from scxpy import schedulers


REPO = Path(__file__).resolve().parent.parent
POLICIES = list(schedulers.stock().values()) + [str(p) for p in sorted((REPO / "tests" / "policies").glob("*.py"))]


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SCXPY_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.mark.clang
@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: Path(p).stem)
def test_compiles(policy, vmlinux_h):
    out = codegen.compile(policy, str(vmlinux_h))
    data = Path(out.obj_path).read_bytes()
    assert data[:4] == b"\x7fELF"
    assert b".struct_ops.link" in data
    assert out.manifest.name == codegen.build_model(policy).name
    assert Path(out.c_path).read_text() == codegen.render(policy)
