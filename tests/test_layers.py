"""Imports flow one way: the layers and acyclicity contracts in pyproject.toml hold.

`python scripts/lint_imports.py` is the same check from the command line
(import-linter on the package as it installs: folders mapped into scxpy).
"""

from __future__ import annotations

import pkgutil
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "pyproject.toml"
sys.path.insert(0, str(REPO / "scripts"))
import lint_imports  # noqa: E402


def test_imports_follow_the_layers_and_have_no_cycles():
    r = lint_imports.lint(CONFIG)
    assert r.returncode == 0, f"an import breaks the layering (pyproject.toml [tool.importlinter]):\n{r.stdout}{r.stderr}"
    assert "0 broken" in r.stdout


def test_every_cli_module_is_in_a_layer():
    """A module the contract does not name is not checked: new scxpy modules must be placed."""
    layers = next(c for c in tomllib.loads(CONFIG.read_text())["tool"]["importlinter"]["contracts"]
                  if c["id"] == "layers")["layers"]
    named = {m.strip(" ()") for layer in layers for m in layer.replace(":", "|").split("|")}
    modules = {f"scxpy.{m.name}" for m in pkgutil.iter_modules([str(REPO / "scxpy")])}
    assert modules - named == set(), (
        "these scxpy modules are in no layer of pyproject.toml's [tool.importlinter] contract; "
        "add each to the layer it belongs to (CLI commands: the scxpy.cmd_* layer)")


def test_the_contract_catches_an_upward_import_a_cycle_and_drawing_in_the_runtime(tmp_path):
    """The same configuration on a small tree with one upward import, one cycle and a
    runtime module drawing with rich fails, naming all three."""
    layers = next(c for c in tomllib.loads(CONFIG.read_text())["tool"]["importlinter"]["contracts"]
                  if c["id"] == "layers")["layers"]
    for layer in layers:
        for mod in layer.replace(":", "|").split("|"):
            mod = mod.strip()
            if mod.startswith("("):
                continue
            pkg = tmp_path / mod.replace(".", "/")  # every layer a package, parents too
            pkg.mkdir(parents=True, exist_ok=True)
            for d in [pkg, *pkg.relative_to(tmp_path).parents][:-1]:
                (tmp_path / d / "__init__.py").touch()
    (tmp_path / "scxpy" / "base" / "cache.py").write_text("from scxpy import codegen\n")
    (tmp_path / "scxpy" / "bench" / "a.py").write_text("from scxpy.bench import b\n")
    (tmp_path / "scxpy" / "bench" / "b.py").write_text("from scxpy.bench import a\n")
    (tmp_path / "scxpy" / "runtime" / "view.py").write_text("import rich.table\n")
    r = lint_imports.lint_tree(CONFIG, tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "scxpy.base is not allowed to import scxpy.codegen" in r.stdout
    assert "scxpy.base.cache -> scxpy.codegen" in r.stdout
    cycle = r.stdout[r.stdout.index("No cycles are allowed in scxpy.bench"):]
    assert ".a -> .b" in cycle or ".b -> .a" in cycle
    assert "scxpy.runtime is not allowed to import rich" in r.stdout
