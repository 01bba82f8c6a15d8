"""Run import-linter on scxpy as it installs.

The repo keeps the design card's folders at the top (codegen/, vm/, ...)
and the build maps them into the one `scxpy` package (pyproject's
[tool.setuptools.package-dir]). import-linter finds a package's modules by
walking its directory, so it is pointed at that installed shape: a
temporary tree of symlinks laid out as the wheel lays out files.

    python scripts/lint_imports.py [--config PYPROJECT]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def package_tree(config: Path, dest: Path) -> None:
    """Lay the mapped folders out under dest as the wheel installs them."""
    setuptools = tomllib.loads(config.read_text())["tool"]["setuptools"]
    mapping = setuptools.get("package-dir", {})
    for package in setuptools["packages"]:
        source = config.parent / mapping.get(package, package.replace(".", "/"))
        target = dest / package.replace(".", "/")
        target.mkdir(parents=True, exist_ok=True)
        for f in source.glob("*.py"):
            os.symlink(f, target / f.name)


def lint(config: Path = REPO / "pyproject.toml") -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="scxpy-lint-") as tmp:
        package_tree(config, Path(tmp))
        return lint_tree(config, Path(tmp))


def lint_tree(config: Path, tree: Path) -> subprocess.CompletedProcess:
    """import-linter with `config` on the packages laid out under `tree`."""
    code = ("import sys; from importlinter.cli import lint_imports; "
            f"sys.exit(lint_imports(config_filename={str(config)!r}, no_cache=True, no_logo=True))")
    env = dict(os.environ, PYTHONPATH=str(tree))
    return subprocess.run([sys.executable, "-c", code], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=120)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=REPO / "pyproject.toml")
    r = lint(ap.parse_args().config)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
