"""Test tiers and shared fixtures.

Tiers (markers, see pyproject.toml): pure host tests (no marker),
`clang` (needs clang and the guest's vmlinux.h), `boot` (a host test
that boots the guest), `vm` (runs inside a guest: the source-built 6.12
and Debian's prebuilt 7.3). scripts/test.sh runs everything but `vm` on
the host, then the `vm` tier inside a guest of each kernel through `scxpy vm`, with the
torture round (marker `torture`) last where it runs (SCXPY_TORTURE_KERNELS). Nothing is skipped there: a vm test collected
outside the guest, or in a guest with too few CPUs, fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IN_GUEST = os.environ.get("SCXPY_IN_GUEST") == "1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The torture round last: it runs for minutes under hotplug and a fork bomb, and a
    guest it leaves unwell must not fail the tests after it."""
    items.sort(key=lambda item: item.get_closest_marker("torture") is not None)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("vm"):
        if not IN_GUEST:
            pytest.fail("vm-tier test run outside the guest: run it with "
                        "`scxpy vm -- pytest -m vm ...` (scripts/test.sh does)", pytrace=False)
        need = item.get_closest_marker("cpus")
        if need and (os.cpu_count() or 1) < need.args[0]:
            pytest.fail(f"needs {need.args[0]} vCPUs, the guest has {os.cpu_count()}: "
                        f"boot it with --cpus {need.args[0]}", pytrace=False)


@pytest.fixture(scope="session")
def kernel():
    """The guest kernel's artifacts (built or taken from the cache)."""
    if IN_GUEST and os.environ.get("SCXPY_KERNEL_DIR"):
        from scxpy.vm.kernel import from_cache_dir

        return from_cache_dir(Path(os.environ["SCXPY_KERNEL_DIR"]))
    from scxpy.vm.kernel import default_kernel

    return default_kernel(progress=True)


@pytest.fixture(scope="session")
def vmlinux_h() -> Path:
    """The vmlinux.h that policies compile against: the default (7.3) kernel's, whichever kernel
    the guest booted (one object for every kernel; $SCXPY_VMLINUX_H overrides)."""
    from scxpy.build import vmlinux_h_for

    return vmlinux_h_for()


@pytest.fixture
def scratch(tmp_path) -> Path:
    """A directory shared back to the host when in the guest; tmp_path otherwise."""
    if IN_GUEST and os.environ.get("SCXPY_SCRATCH"):
        import tempfile

        return Path(tempfile.mkdtemp(dir=os.environ["SCXPY_SCRATCH"]))
    return tmp_path
