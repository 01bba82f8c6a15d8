"""The built wheel, installed into a throwaway venv outside the repo, is one package: scxpy.

The wheel is built from a copy of the files pyproject.toml packages (the
mapped folders, README.md), so the build's scratch files never land in the
checkout. It is installed with `--no-deps` into a fresh venv; the pinned
dependencies come from this test's own environment through a .pth line,
added after the install, naming its site-packages as a plain directory
(so the editable install's import hook there is not loaded). The commands
then run from a temporary directory: nothing of the repo is on the path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from scxpy.schedulers import ORDER, USERSPACE

REPO = Path(__file__).resolve().parent.parent
SETUPTOOLS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
STOCK = list(ORDER)  # the stock policies, as this checkout lists them
DATA = ("*.j2", "*.h", "*.config")  # what the packages read at run time besides Python


def package_dirs() -> dict[str, Path]:
    """Each package the wheel must hold -> its folder in the repo."""
    mapping = SETUPTOOLS.get("package-dir", {})
    return {p: REPO / mapping.get(p, p.replace(".", "/")) for p in SETUPTOOLS["packages"]}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    shutil.copy(REPO / "pyproject.toml", src)
    shutil.copy(REPO / "README.md", src)
    for folder in {d.relative_to(REPO).parts[0] for d in package_dirs().values()}:
        shutil.copytree(REPO / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    (whl,) = out.glob("scxpy-*.whl")
    return whl


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    v = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--clear", str(v)], check=True, timeout=120)
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(v / "bin" / "python"), "install", "-q",
                        "--no-deps", "--no-index", str(wheel)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    site = Path(subprocess.check_output([v / "bin" / "python", "-c",
                                         "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    (site / "pinned_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return v


@pytest.fixture
def outside(tmp_path) -> Path:
    d = tmp_path / "elsewhere"
    d.mkdir()
    return d


def run(venv: Path, argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_wheel_has_one_top_level_package(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        assert {n.split("/")[0] for n in names} == {"scxpy", dist_info}
        assert z.read(f"{dist_info}/top_level.txt").decode().split() == ["scxpy"]


def test_the_wheel_holds_every_module_template_header_and_guest_config(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    missing = []
    for package, folder in package_dirs().items():
        prefix = package.replace(".", "/")
        wanted = [f for f in folder.glob("*.py")]
        wanted += [f for pattern in DATA for f in folder.rglob(pattern)]
        missing += [f"{prefix}/{f.relative_to(folder)}" for f in wanted
                    if f"{prefix}/{f.relative_to(folder)}" not in names]
    # every package folder is listed in pyproject (a subpackage left out would ship no modules)
    listed = {d.resolve() for d in package_dirs().values()}
    unlisted = [str(i.parent.relative_to(REPO)) for d in package_dirs().values()
                for i in d.rglob("__init__.py") if i.parent.resolve() not in listed]
    assert not missing, f"the wheel lacks {missing}: add them to pyproject's [tool.setuptools.package-data]"
    assert not unlisted, f"{unlisted} hold packages the wheel leaves out: add them to [tool.setuptools] packages"
    assert any(n.startswith("scxpy/codegen/templates/") for n in names)
    assert "scxpy/runtime/include/scxpy/exit_info.h" in names and "scxpy/vm/guest.config" in names


def test_installed_list_and_show_run_outside_the_repo(venv, outside):
    r = run(venv, ["scxpy", "list"], outside)
    assert r.returncode == 0, r.stderr
    bpf, user = r.stdout.split("\n\n")
    assert [line.split()[0] for line in bpf.splitlines()] == STOCK
    assert [line.split()[0] for line in user.splitlines()[1:]] == list(USERSPACE)
    r = run(venv, ["scxpy", "show", "fifo"], outside)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("/* SPDX-License-Identifier: GPL-2.0 */") and '.name		= "fifo"' in r.stdout


def test_only_scxpy_is_importable_there(venv, outside):
    py = str(venv / "bin" / "python")
    for generic in ("codegen", "runtime", "vm", "base", "schedulers", "bench"):
        r = run(venv, [py, "-c", f"import {generic}"], outside)
        assert r.returncode != 0 and f"No module named '{generic}'" in r.stderr, (generic, r.stderr)
    r = run(venv, [py, "-c", "import scxpy, scxpy.codegen; from scxpy import Scheduler, Dsq, Rule; "
                             "print(scxpy.codegen.__file__)"], outside)
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()).is_relative_to(venv), r.stdout  # the wheel's copy, not the repo's


@pytest.mark.clang
def test_installed_compile_of_a_policy_in_a_temp_dir(venv, outside, vmlinux_h):
    """The default vmlinux.h is found as installed (the guest configs in the wheel name the
    same cached 6.12 kernel), the templates and headers render and compile."""
    (outside / "mine_helper.py").write_text("SLICE_MS = 3\n")
    (outside / "mine.py").write_text(
        '"""A FIFO policy written outside the repo."""\n'
        "from scxpy import Dsq, Rule, Scheduler, ms\n"
        "from mine_helper import SLICE_MS\n\n\n"
        "class Mine(Scheduler):\n"
        '    name = "mine"\n'
        '    queue = Dsq("fifo")\n'
        "    rules = [Rule(queue=queue, slice=SLICE_MS * ms)]\n")
    r = run(venv, ["scxpy", "compile", "mine.py", "-o", "mine.bpf.o"], outside)
    assert r.returncode == 0, r.stderr
    assert (outside / "mine.bpf.o").read_bytes()[:4] == b"\x7fELF"
    assert "3000000" in (outside / "mine.bpf.c").read_text()
