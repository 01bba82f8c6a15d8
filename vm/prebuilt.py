"""Debian's prebuilt sched_ext kernels (7.x) as the guest: fetched, trimmed and cached, never built.

This module owns the prebuilt images: which series scxpy offers, which
build of a series it uses, and how the three .debs become a bootable
guest kernel. Source builds are vm/source_build.py; vm/kernel.py chooses.

A series (`7.3`) is pinned, not a build. The newest build of the series
that the signed Debian index offers is used (vm/debian.py's private apt
configuration fetches it; apt checks the .debs against the index). A
build that has left the mirror never breaks a run: the cached one is
used, offline too, and otherwise the newest, with one line saying which.

Preparation turns `linux-binary-V-amd64` (the image), `linux-modules-V-amd64`
(modules as .ko.xz) and `linux-base-V-amd64` (the config) into one
base.cache entry, built in a staging directory and published whole:

    boot/vmlinuz-V   what vng boots; its path tells vng where the modules are
    boot/vmlinux-V   the uncompressed image: BTF for vmlinux.h, and a PVH boot
                     that skips the decompressor
    boot/config-V    offered to libbpf in the guest (`__kconfig` externs)
    lib/modules/V/   only the modules the guest needs, with their
                     dependencies, decompressed (vng's initramfs only
                     handles .zst), and depmod's indexes
    vmlinux.h        bpftool's dump of the kernel's own BTF
    build            the packages and versions it came from, and their sha256

Only a trimmed module set: with the full tree, udev's coldplug loads
every driver it finds a device for, and a boot takes 47-80 s under TCG.

Flavour: `amd64` (generic). `cloud-amd64` is smaller (37.5 MB against
122 MB of .debs) but has no 9p, only virtiofs, and virtiofs needs a Rust
virtiofsd the host (bookworm) lacks; see docs/kernels-results.md.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from scxpy.base.cache import Cache
from scxpy.base.tools import require_tool
from scxpy.vm import btf, debian
from scxpy.vm.artifacts import KernelArtifacts
from scxpy.vm.errors import KernelError
from scxpy.vm.progress import Progress

FLAVOUR = "amd64"
# Debian's suites ship these series with CONFIG_SCHED_CLASS_EXT=y (its 6.12 images do not).
SERIES = ("7.3", "7.2", "7.1", "7.0")
# The modules the guest loads: the 9p root and shared directories (9p pulls
# in 9pnet and netfs through its dependencies), and overlayfs (vng's
# writable /etc and /tmp, the writable working directory). Everything else
# the guest needs is built in (virtio PCI and console, virtiofs, cgroups, BPF).
MODULES = ("9p", "9pnet_virtio", "overlay")
# Bump when the preparation below changes what an entry holds.
RECIPE = "2"

PREPARED = Cache("prebuilt")  # <abi>=<debian version>=r<recipe>/: see the module comment


@dataclass(frozen=True)
class Build:
    """One Debian build of a series: `7.3.4+deb13-amd64` at `7.3.4-1~bpo13+1`."""

    abi: str  # the kernel release, also in the package names
    debian_version: str

    @property
    def series(self) -> str:
        return ".".join(self.abi.split(".")[:2])

    @property
    def packages(self) -> dict[str, str]:
        return {f"linux-{part}-{self.abi}": self.debian_version for part in ("binary", "modules", "base")}

    @property
    def key(self) -> str:
        return f"{self.abi}={self.debian_version}=r{RECIPE}"


def check_series(series: str) -> None:
    if series not in SERIES:
        raise KernelError(f"Debian's prebuilt kernels scxpy offers: {', '.join(SERIES)}; not {series}")


def kernel(series: str, progress: bool = True) -> KernelArtifacts:
    """The prepared newest build of `series`, fetching and preparing it on a miss."""
    check_series(series)
    prog = Progress("kernel", enabled=progress)
    if os.environ.get("SCXPY_IN_GUEST") == "1":
        # The guest never fetches: it takes what the host prepared.
        found = cached(series)
        if not found:
            raise KernelError(f"Debian's {series} kernel is not prepared, and the guest cannot fetch it: "
                              f"run `scxpy kernel --version {series}` on the host first")
        return found
    build = _resolve(series, prog)
    d, hit = PREPARED.get_or_build(
        build.key, lambda stage: _prepare(build, stage, prog), "vmlinux.h", lock=True,
        on_wait=lambda: prog.phase("another process is preparing this kernel; waiting for it"),
    )
    return from_cache_dir(d)


def cached(series: str) -> KernelArtifacts | None:
    """The newest prepared build of `series` in the cache, if any (no network)."""
    builds = cached_builds(series)
    return from_cache_dir(builds[-1]) if builds else None


def cached_builds(series: str) -> list[Path]:
    """Prepared entries of `series` under the current recipe, oldest build first."""
    if not PREPARED.dir.is_dir():
        return []
    pattern = re.compile(rf"{re.escape(series)}\.\d+\+deb\d+-{FLAVOUR}=[^=]+=r{RECIPE}")
    found = [d for d in PREPARED.dir.iterdir() if pattern.fullmatch(d.name) and (d / "vmlinux.h").is_file()]
    return sorted(found, key=lambda d: _version_tuple(d.name))


def from_cache_dir(d: Path) -> KernelArtifacts:
    abi = d.name.split("=", 1)[0]
    return KernelArtifacts(
        dir=d, bzimage=d / "boot" / f"vmlinuz-{abi}", vmlinux=d / "boot" / f"vmlinux-{abi}",
        config=d / "boot" / f"config-{abi}", vmlinux_h=d / "vmlinux.h", release=abi,
        version=".".join(abi.split(".")[:2]), prebuilt=True, pvh=True,
    )


def is_prepared_dir(d: Path) -> bool:
    return d.parent.name == PREPARED.kind and "=" in d.name


def _version_tuple(name: str) -> tuple:
    return tuple(int(x) for x in re.findall(r"\d+", name.split("=", 1)[0].split("+", 1)[0]))


# --------------------------------------------------------------------------
# Which build


def _resolve(series: str, prog: Progress) -> Build:
    """The newest build of `series` the index offers; the cached one when the mirror cannot be reached."""
    have = cached(series)
    try:
        offers = debian.offered(rf"linux-binary-{re.escape(series)}\.[0-9]+\+deb[0-9]+-{FLAVOUR}", progress=prog)
    except debian.DebianFetchError as e:
        if have:
            prog.phase(f"Debian's mirror is out of reach ({e}); using the cached {have.release}")
            return _build_of(have.dir)
        raise KernelError(
            f"could not fetch Debian's {series} kernel (linux-binary-{series}.*-{FLAVOUR} from "
            f"{debian.mirror()}): {e}. Connect to the network (or set SCXPY_DEBIAN_MIRROR), pass "
            f"--kernel PATH, or use a kernel already cached ({_cached_summary()})"
        ) from None
    if not offers:
        if have:
            prog.phase(f"Debian no longer offers a {series} build; using the cached {have.release}")
            return _build_of(have.dir)
        raise KernelError(f"Debian ({', '.join(debian.SUITES)}) offers no {series} kernel "
                          f"(linux-binary-{series}.*-{FLAVOUR}); pick another of {', '.join(SERIES)}")
    name = max(offers, key=lambda n: _version_tuple(n.removeprefix("linux-binary-")))
    build = Build(name.removeprefix("linux-binary-"), offers[name])
    if have and _build_of(have.dir) != build and not PREPARED.get(build.key, "vmlinux.h"):
        prog.phase(f"Debian's newest {series} build is {build.abi} ({build.debian_version}); "
                   f"the cached {have.release} is older")
    return build


def _build_of(d: Path) -> Build:
    abi, version, _recipe = d.name.split("=")
    return Build(abi, version)


def _cached_summary() -> str:
    from scxpy.vm import source_build

    versions = [s for s in SERIES if cached_builds(s)]
    for v in source_build.SOURCES:
        try:
            if source_build.cached(v):
                versions.append(v if v not in versions else f"{v} (--build)")
        except KernelError:
            pass
    return "there is none" if not versions else "--kernel-version " + " or ".join(versions)


# --------------------------------------------------------------------------
# Preparation


def _prepare(build: Build, out: Path, prog: Progress) -> None:
    import time

    start = time.monotonic()
    prog.phase(f"preparing Debian's {build.abi} ({build.debian_version}) as the guest kernel")
    debs = debian.fetch(build.packages, prog)
    unpacked = out / ".unpacked"  # inside the staging directory: a killed preparation leaves nothing
    try:
        prog.phase("unpacking " + ", ".join(d.name for d in debs.values()))
        for deb in debs.values():
            debian.unpack(deb, unpacked)
        src = unpacked / "usr" / "lib" / "modules" / build.abi
        if not (src / "vmlinuz").is_file() or not (src / "config").is_file():
            raise KernelError(f"Debian's {build.abi} packages hold no usr/lib/modules/{build.abi}/vmlinuz "
                              "or config: the package layout changed; vm/prebuilt.py must follow it")
        boot = out / "boot"
        boot.mkdir()
        shutil.copy2(src / "vmlinuz", boot / f"vmlinuz-{build.abi}")
        shutil.copy2(src / "config", boot / f"config-{build.abi}")
        prog.phase("extracting the uncompressed vmlinux")
        extract_vmlinux(src / "vmlinuz", boot / f"vmlinux-{build.abi}")
        prog.phase(f"modules: {', '.join(MODULES)} and their dependencies, decompressed; depmod")
        _install_modules(src, out / "lib" / "modules" / build.abi, build.abi, out)
        prog.phase("generating vmlinux.h from the kernel's BTF")
        btf.write_vmlinux_h(boot / f"vmlinux-{build.abi}", out / "vmlinux.h")
        lines = [f"{name}={version}  sha256 {debian.sha256_of(debs[name])}"
                 for name, version in build.packages.items()]
        (out / "build").write_text("\n".join(lines) + "\n")
    finally:
        shutil.rmtree(unpacked, ignore_errors=True)
    prog.phase(f"kernel {build.abi} ready in {time.monotonic() - start:.1f} s: {PREPARED.path(build.key)}")


def _install_modules(src: Path, dest: Path, abi: str, root: Path) -> None:
    """Copy MODULES and what they depend on (modinfo's `depends`) from `src`, decompressed, then depmod."""
    by_name = {}
    for f in (src / "kernel").rglob("*.ko*"):
        by_name[f.name.split(".ko", 1)[0].replace("-", "_")] = f
    modinfo = require_tool("modinfo")
    todo, kept = [m.replace("-", "_") for m in MODULES], {}
    while todo:
        name = todo.pop()
        if name in kept:
            continue
        if name not in by_name:
            raise KernelError(f"Debian's {abi} has no module {name} (vm/prebuilt.py MODULES); "
                              "it may be built in now: check its config and drop it from the list")
        kept[name] = by_name[name]
        deps = subprocess.run([modinfo, "-F", "depends", str(by_name[name])],
                              capture_output=True, text=True, check=True).stdout.strip()
        todo += [d.replace("-", "_") for d in deps.split(",") if d]
    for name, f in kept.items():
        target = dest / f.relative_to(src).parent / (f.name.split(".ko", 1)[0] + ".ko")
        target.parent.mkdir(parents=True, exist_ok=True)
        _decompress(f, target)
    for index in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
        if (src / index).is_file():
            shutil.copy2(src / index, dest / index)
    proc = subprocess.run([require_tool("depmod"), "-b", str(root), abi], capture_output=True, text=True)
    if proc.returncode != 0:
        raise KernelError(f"depmod failed on the trimmed modules of {abi}: {proc.stderr.strip()}")


def _decompress(src: Path, dest: Path) -> None:
    tool = {".xz": "xz", ".zst": "zstd", ".gz": "gzip"}.get(src.suffix)
    if tool is None:
        shutil.copy2(src, dest)
        return
    with open(dest, "wb") as f:
        proc = subprocess.run([require_tool(tool), "-dc", str(src)], stdout=f, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise KernelError(f"{tool} could not decompress {src}: {proc.stderr.decode(errors='replace').strip()}")


# The compressed kernel inside a bzImage, by the x86 boot protocol
# (Documentation/arch/x86/boot.rst): setup_sects at 0x1f1 says where the
# protected-mode part starts, payload_offset (0x248) and payload_length
# (0x24c) where the compressed vmlinux lies within it. After a zstd or xz
# stream the build appends the decompressed size (4 bytes, not part of it).
_MAGICS = {b"\x28\xb5\x2f\xfd": "zstd", b"\xfd7zXZ\x00": "xz", b"\x1f\x8b": "gzip"}


def extract_vmlinux(bzimage: Path, dest: Path) -> None:
    data = bzimage.read_bytes()
    if data[0x202:0x206] != b"HdrS":
        raise KernelError(f"{bzimage} is not an x86 bzImage (no HdrS header)")
    setup_sects = data[0x1F1] or 4
    start = (setup_sects + 1) * 512 + int.from_bytes(data[0x248:0x24C], "little")
    length = int.from_bytes(data[0x24C:0x250], "little")
    payload = data[start:start + length]
    tool = next((t for magic, t in _MAGICS.items() if payload.startswith(magic)), None)
    if tool in ("zstd", "xz"):
        payload = payload[:-4]
    if tool is None:
        raise KernelError(f"{bzimage}: its payload is compressed in a way scxpy does not know "
                          f"(starts {payload[:6].hex()}); expected zstd, xz or gzip")
    with open(dest, "wb") as f:
        proc = subprocess.run([require_tool(tool), "-dcq"], input=payload, stdout=f, stderr=subprocess.PIPE)
    if not dest.read_bytes()[:4] == b"\x7fELF":
        raise KernelError(f"extracting the vmlinux of {bzimage} with {tool} failed: "
                          f"{proc.stderr.decode(errors='replace').strip()[-500:]}")


def main() -> int:  # python -m scxpy.vm.prebuilt X.Y: prepare one series (for measurements)
    k = kernel(sys.argv[1] if len(sys.argv) > 1 else SERIES[0])
    print(k.dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
