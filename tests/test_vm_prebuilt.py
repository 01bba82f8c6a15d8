"""Host tests of Debian's prebuilt kernels (vm/prebuilt.py, vm/debian.py) and the faults they must survive:
an unknown version, no mirror, a damaged download, a preparation killed midway."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scxpy.base.cache import cache_root, file_digest  # noqa: F401
from scxpy.vm import debian, prebuilt
from scxpy.vm import kernel as front
from scxpy.vm.progress import Progress

UNREACHABLE = "http://127.0.0.1:9/debian"  # nothing listens on the discard port: refused at once


def scxpy(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scxpy", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def real_73():
    """The prepared 7.3 kernel in the real cache (fetched once if missing)."""
    return front.kernel("7.3", progress=True)


def _empty_cache(tmp_path: Path, monkeypatch, *, apt_lists: bool) -> Path:
    """A fresh cache root; with `apt_lists`, a copy of the real private apt state (no network needed)."""
    real = cache_root()
    root = tmp_path / "cache"
    root.mkdir()
    if apt_lists:
        shutil.copytree(real / "apt", root / "apt", ignore=shutil.ignore_patterns(".lock", "lock", "partial"))
    monkeypatch.setenv("SCXPY_CACHE_DIR", str(root))
    return root


def test_prepared_kernel_holds_what_the_guest_needs(real_73):
    k = real_73
    assert k.prebuilt and k.pvh and k.version == "7.3" and k.release.startswith("7.3.") and k.release.endswith("-amd64")
    assert k.vmlinux.read_bytes()[:4] == b"\x7fELF"
    assert "CONFIG_SCHED_CLASS_EXT=y" in k.config.read_text()
    text = k.vmlinux_h.read_text()
    assert "struct sched_ext_ops {" in text and text.startswith("#ifndef BPF_NO_KFUNC_PROTOTYPES")
    mods = k.dir / "lib" / "modules" / k.release
    kept = sorted(p.name for p in mods.rglob("*.ko*"))
    assert kept == ["9p.ko", "9pnet.ko", "9pnet_virtio.ko", "netfs.ko", "overlay.ko"]  # deps from modinfo
    assert "kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/netfs/netfs.ko" in (mods / "modules.dep").read_text()
    build = (k.dir / "build").read_text().splitlines()
    assert len(build) == 3 and all(" sha256 " in line and len(line.split()[-1]) == 64 for line in build)


def test_unknown_version_lists_the_versions_on_offer():
    proc = scxpy("vm", "--kernel-version", "5.15", "--", "true")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    err = proc.stderr.strip().splitlines()[-1]
    assert "--kernel-version 5.15" in err
    for v in ("7.3", "7.2", "7.1", "7.0", "6.12"):
        assert v in err, err


def test_no_mirror_reachable_says_what_was_fetched_and_how_to_go_on(tmp_path, monkeypatch):
    _empty_cache(tmp_path, monkeypatch, apt_lists=False)
    proc = scxpy("kernel", "--version", "7.3", env={"SCXPY_DEBIAN_MIRROR": UNREACHABLE})
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("scxpy: error")]
    assert len(lines) == 1, proc.stderr
    assert "Debian's 7.3 kernel" in lines[0] and "linux-binary-7.3" in lines[0] and UNREACHABLE in lines[0]
    assert "--kernel PATH" in lines[0] and "already cached" in lines[0]


def test_no_mirror_reachable_uses_the_cached_kernel_with_one_line(real_73, tmp_path, monkeypatch):
    root = _empty_cache(tmp_path, monkeypatch, apt_lists=False)
    (root / "prebuilt").mkdir()
    os.symlink(real_73.dir, root / "prebuilt" / real_73.dir.name)
    monkeypatch.setenv("SCXPY_DEBIAN_MIRROR", UNREACHABLE)
    import io

    out = io.StringIO()
    monkeypatch.setattr("sys.stderr", out)
    k = prebuilt.kernel("7.3")
    assert k.release == real_73.release
    said = [line for line in out.getvalue().splitlines() if "out of reach" in line]
    assert len(said) == 1 and real_73.release in said[0], out.getvalue()


def test_damaged_download_is_detected_and_fetched_again(tmp_path, monkeypatch):
    _empty_cache(tmp_path, monkeypatch, apt_lists=True)
    build = prebuilt._build_of(front.kernel("7.3", progress=False).dir)
    name = f"linux-base-{build.abi}"  # the smallest of the three (1 MB)
    deb = debian.fetch({name: build.debian_version}, Progress("test"))[name]
    good_size, good_sha = deb.stat().st_size, file_digest(deb)
    assert debian.sha256_of(deb) == good_sha
    for damage in ("truncate", "flip"):
        data = deb.read_bytes()
        deb.write_bytes(data[: len(data) // 2] if damage == "truncate" else data[:-1] + bytes([data[-1] ^ 1]))
        again = debian.fetch({name: build.debian_version}, Progress("test"))[name]
        assert again.stat().st_size == good_size and file_digest(again) == good_sha, damage
        deb = again


def test_killed_preparation_leaves_nothing_a_later_run_would_use(real_73, tmp_path, monkeypatch):
    root = _empty_cache(tmp_path, monkeypatch, apt_lists=True)
    # The .debs from the real cache (no download), as entries of their own.
    (root / "debs").mkdir()
    real_debs = Path(real_73.dir).parent.parent / "debs"
    build = prebuilt._build_of(real_73.dir)
    for pkg, ver in build.packages.items():
        shutil.copytree(real_debs / f"{pkg}={ver}", root / "debs" / f"{pkg}={ver}")
    # Its own process group, killed whole: an unpacker child left running would go on writing
    # into the staging directory after its parent died (a race with the next run's clean-up).
    proc = subprocess.Popen([sys.executable, "-m", "scxpy.vm.prebuilt", "7.3"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "SCXPY_CACHE_DIR": str(root)},
                            start_new_session=True)
    stage = None
    deadline = time.monotonic() + 120
    while stage is None:
        assert time.monotonic() < deadline and proc.poll() is None, "preparation never reached the unpacking"
        stage = next((s for s in (root / "prebuilt").glob(".stage-*") if (s / ".unpacked").is_dir()), None)
        time.sleep(0.05)
    time.sleep(0.3)  # mid-unpack
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert prebuilt.cached("7.3") is None  # nothing published
    assert [p.name for p in (root / "prebuilt").iterdir() if not p.name.startswith((".stage-", ".lock-"))] == []
    k = prebuilt.kernel("7.3", progress=False)  # the next run prepares it whole, and clears the leftovers
    assert k.vmlinux_h.is_file() and k.release == real_73.release
    assert not list((root / "prebuilt").glob(".stage-*"))
