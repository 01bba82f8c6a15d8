"""Guest kernels built here from Debian's kernel sources (6.12: the design card's kernel).

This module owns the source build and nothing else: Debian's prebuilt
images are vm/prebuilt.py, --kernel PATH is vm/custom.py, and
vm/kernel.py chooses between them.

`kernel("X.Y")` builds Debian's `linux-source-X.Y` (6.12 by default) with
allnoconfig plus vm/guest.config and that version's vm/guest-X.Y.config
(options a version renamed or dropped). 6.12 comes from the host's
package (scripts/setup.sh installs it); newer sources are Debian binary
packages of newer suites, fetched by pinned version through a private
apt configuration (vm/debian.py), and built with a pahole that can
describe their kfuncs (vm/pahole.py).

Artifacts (bzImage, vmlinux, .config, vmlinux.h) are cached under
`<cache>/kernels/<release>/`, where the release is the source's full
version plus a hash of everything that shapes the build (recipe, source
package version, fragment options, pahole), so a changed fragment is a
different kernel. Entries go through base.cache.Cache: staged and
published whole (a killed build never counts as a hit), one builder per
kernel while the others wait for its entry.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from scxpy.base.cache import Cache
from scxpy.base.tools import require_tool
from scxpy.vm import btf, debian
from scxpy.vm.artifacts import KernelArtifacts
from scxpy.vm.errors import KernelError
from scxpy.vm import pahole
from scxpy.vm.progress import Progress

FRAGMENT = Path(__file__).with_name("guest.config")
# Bump when the build recipe below changes in a way that changes the output.
RECIPE_VERSION = "2"


@dataclass(frozen=True)
class KernelSource:
    """One Debian `linux-source-X.Y` the guest kernel can be built from."""

    version: str  # X.Y
    pin: str | None  # Debian version fetched through the private apt; None: the host's package
    suite: str  # where Debian ships it (for messages)
    min_pahole: tuple[int, int] | None = None  # oldest pahole whose BTF has what scxpy needs

    @property
    def package(self) -> str:
        return f"linux-source-{self.version}"

    @property
    def overlay(self) -> Path:
        """This version's part of the fragment: options it renamed, dropped or needs."""
        return FRAGMENT.with_name(f"guest-{self.version}.config")


# The versions scxpy builds. 6.12 is the default and the compile target
# (its vmlinux.h); 7.x need pahole >= 1.26 for the BPF-visible prototypes
# of kfuncs with implicit arguments (KF_IMPLICIT_ARGS).
SOURCES = {
    "6.12": KernelSource("6.12", None, "bookworm-backports"),
    "7.2": KernelSource("7.2", "7.2.12-1~bpo13+1", "trixie-backports", min_pahole=(1, 26)),
    "7.3": KernelSource("7.3", "7.3.4-1~bpo13+1", "trixie-backports", min_pahole=(1, 26)),
}
DEFAULT_VERSION = "6.12"  # the source build of `scxpy kernel --build` without a version

KERNELS = Cache("kernels")  # <release>/: bzImage, vmlinux, config, vmlinux.h, release, built-with
SOURCES_CACHE = Cache("src")  # <package>-<version>/: the extracted source tree
UNPACKED = Cache("debs-unpacked")  # <package>=<version>/: a fetched .deb's files (the source tarball)


def source(version: str | None = None) -> KernelSource:
    """The KernelSource of `version` (default 6.12), or a KernelError listing those scxpy builds."""
    version = version or DEFAULT_VERSION
    try:
        return SOURCES[version]
    except KeyError:
        raise KernelError(
            f"--kernel-version {version}: scxpy builds Debian's linux-source for "
            f"{', '.join(SOURCES)}; pick one of those, or pass --kernel PATH with a kernel you built"
        ) from None


# --------------------------------------------------------------------------
# Kernels built from Debian's sources


def kernel(version: str | None = None, progress: bool = True) -> KernelArtifacts:
    """Return the cached kernel of `version` (default 6.12), building it first on a miss."""
    src = source(version)
    prog = Progress("kernel", enabled=progress)
    name = release(src.version)
    if not KERNELS.get(name, "bzImage") and os.environ.get("SCXPY_IN_GUEST") == "1":
        raise KernelError(
            f"the {src.version} kernel ({name}) is not built, and the guest cannot build it: "
            f"run `scxpy kernel --build {src.version}` on the host first"
        )
    # One builder per kernel; the others wait, then take its entry.
    d, _hit = KERNELS.get_or_build(
        name, lambda stage: _build(src, name, stage, prog), "bzImage", lock=True,
        on_wait=lambda: prog.phase("another process is building this kernel; waiting for it"),
    )
    return _artifacts_in(d, name)


def cached(version: str | None = None) -> KernelArtifacts | None:
    """The built kernel of `version` if it is in the cache (no build)."""
    name = release(version)
    d = KERNELS.get(name, "bzImage")
    return _artifacts_in(d, name) if d else None


def release(version: str | None = None) -> str:
    """`<full version>-scxpy-<hash>`: the kernel release string and the cache key."""
    src = source(version)
    key = hashlib.sha256()
    for part in (RECIPE_VERSION, source_identity(src.version), *fragment_options(src.version),
                 pahole.identity_for(src.min_pahole)):
        key.update(part.encode() + b"\0")
    return f"{_full_version(src)}-scxpy-{key.hexdigest()[:10]}"


def default_release() -> str:
    return release(DEFAULT_VERSION)


def fragment(version: str | None = None) -> str:
    """The whole fragment of `version`: vm/guest.config, then its vm/guest-X.Y.config."""
    src = source(version)
    if not src.overlay.is_file():
        raise KernelError(f"{src.overlay} is missing: every kernel version scxpy builds has one")
    return FRAGMENT.read_text() + "\n" + src.overlay.read_text()


def fragment_options(version: str | None = None) -> list[str]:
    """The fragment's option lines in order, comments and blank lines left out (they build nothing)."""
    return [line.strip() for line in fragment(version).splitlines()
            if re.match(r"\s*(CONFIG_\w+=|# CONFIG_\w+ is not set)", line)]


def from_cache_dir(d: Path) -> KernelArtifacts:
    """The artifacts of a kernel cache directory (the guest learns it from $SCXPY_KERNEL_DIR)."""
    return _artifacts_in(d, d.name)


def _artifacts_in(d: Path, release: str) -> KernelArtifacts:
    return KernelArtifacts(
        dir=d,
        bzimage=d / "bzImage",
        vmlinux=d / "vmlinux",
        config=d / "config",
        vmlinux_h=d / "vmlinux.h",
        release=release,
        version=_known_version(release),
        pvh="CONFIG_PVH=y" in _read(d / "config"),
    )


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _known_version(release: str) -> str | None:
    m = re.match(r"(\d+\.\d+)", release)
    return m.group(1) if m and m.group(1) in SOURCES else None


def source_identity(version: str | None = None) -> str:
    """What identifies the source: the Debian package and version (else the tarball's size and mtime)."""
    src = source(version)
    if src.pin:
        return f"{src.package}={src.pin}"
    tarball = _host_tarball(src)
    if not tarball.is_file():
        raise KernelError(
            f"{tarball} is missing: install Debian's {src.package} "
            "(scripts/setup.sh does), or pass --kernel PATH to use another kernel"
        )
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", src.package],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        if out:
            return f"{src.package}={out}"
    except (OSError, subprocess.CalledProcessError):
        pass
    st = tarball.stat()
    return f"{tarball}:{st.st_size}:{int(st.st_mtime)}"


def _host_tarball(src: KernelSource) -> Path:
    return Path(f"/usr/src/{src.package}.tar.xz")


def _full_version(src: KernelSource) -> str:
    """7.2.12 from `linux-source-7.2=7.2.12-1~bpo13+1`; X.Y when the version is unknown."""
    m = re.search(r"=(\d+\.\d+(?:\.\d+)?)", source_identity(src.version))
    return m.group(1) if m else src.version


def _tarball(src: KernelSource, progress: Progress) -> Path:
    """The source tarball: the host's package, or the pinned package fetched and unpacked in the cache."""
    if not src.pin:
        return _host_tarball(src)
    deb = debian.fetch({src.package: src.pin}, progress)[src.package]
    inner = Path("usr") / "src" / f"{src.package}.tar.xz"

    def unpack(stage: Path) -> None:
        progress.phase(f"unpacking {deb.name}")
        debian.unpack(deb, stage)

    d, _hit = UNPACKED.get_or_build(f"{src.package}={src.pin}", unpack, str(inner))
    return d / inner


def source_tree(progress: Progress | None = None, version: str | None = None) -> Path:
    """The extracted linux-source-X.Y tree, cached (also used to build peers)."""
    progress = progress or Progress("kernel")
    src = source(version)
    key = source_identity(src.version).replace("=", "-").replace("/", "_").replace(":", "_")

    def extract(stage: Path) -> None:
        tarball = _tarball(src, progress)
        progress.phase(f"extracting {tarball.name} into {SOURCES_CACHE.dir}")
        # tar(1) is several times faster than tarfile on this ~1 GB tree;
        # its checkpoints give the live count. The tree's top directory
        # is the entry itself.
        cmd = ["tar", "-xJf", str(tarball), "-C", str(stage), "--strip-components=1",
               "--checkpoint=2000", "--checkpoint-action=echo=%u"]
        with subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True) as proc:
            assert proc.stderr is not None
            errors = []
            for line in proc.stderr:
                m = re.fullmatch(r"tar: (\d+)\s*", line)
                if m:
                    progress.count(int(m.group(1)), _EXPECTED_SOURCE_RECORDS, "records")
                else:
                    errors.append(line)
        progress.done_counting()
        if proc.returncode != 0:
            raise KernelError(f"extracting {tarball} failed: {''.join(errors)[-2000:]}")

    d, _hit = SOURCES_CACHE.get_or_build(key, extract, "Makefile", lock=True)
    return d


def _build(src: KernelSource, release: str, out: Path, progress: Progress) -> None:
    """Build the kernel into the cache entry being staged at `out`."""
    import time

    start = time.monotonic()
    progress.phase(f"building kernel {release} from Debian's {src.package} ({source_identity(src.version)})")
    tree = source_tree(progress, src.version)
    tool = pahole.pahole_for(src.min_pahole, progress)
    progress.phase(f"pahole {tool.version_text} for BTF: {tool.path}")
    # The object tree lives in the staged entry (a killed build's is removed
    # with it) and is dropped before the entry is published.
    obj = out / ".obj"
    frag = out / ".fragment.config"
    try:
        localversion = release[len(_full_version(src)):]
        # PAHOLE= on every make: the config records its version (CONFIG_PAHOLE_VERSION),
        # which selects the BTF features the link step asks of it.
        make = [require_tool("make"), "-C", str(tree), f"O={obj}", f"LOCALVERSION={localversion}",
                f"PAHOLE={tool.path}"]
        frag.write_text(fragment(src.version))

        progress.phase(f"configuring: allnoconfig + vm/guest.config + vm/{src.overlay.name}")
        _run(make + ["allnoconfig", f"KCONFIG_ALLCONFIG={frag}"], "allnoconfig")
        _run(make + ["olddefconfig"], "olddefconfig")
        config = obj / ".config"
        missing = check_fragment(frag.read_text(), config.read_text())
        if missing:
            raise KernelError(
                f"these options of vm/guest.config or vm/{src.overlay.name} did not survive "
                f"`make olddefconfig` on {src.package} (an unmet dependency, or a name this kernel "
                f"does not know): {', '.join(missing)}. Add the options they depend on, or move an "
                f"option this version renamed or dropped out of vm/guest.config into the "
                f"vm/guest-X.Y.config of the versions that have it."
            )

        jobs = os.cpu_count() or 1
        progress.phase(f"compiling bzImage with {jobs} jobs")
        _make_with_progress(make + [f"-j{jobs}", "bzImage"], progress)

        progress.phase("generating vmlinux.h from BTF")
        shutil.copy2(obj / "arch/x86/boot/bzImage", out / "bzImage")
        shutil.copy2(obj / "vmlinux", out / "vmlinux")
        shutil.copy2(config, out / "config")
        btf.write_vmlinux_h(out / "vmlinux", out / "vmlinux.h")
        release_built = _run(make + ["-s", "kernelrelease"], "kernelrelease").strip()
        (out / "release").write_text(release_built + "\n")
        (out / "built-with").write_text(f"{source_identity(src.version)}\npahole: {tool.identity}\n")

        progress.phase(f"kernel {release} ready in {time.monotonic() - start:.0f} s: {KERNELS.path(release)}")
    finally:
        shutil.rmtree(obj, ignore_errors=True)
        frag.unlink(missing_ok=True)


def check_fragment(fragment: str, config: str) -> list[str]:
    """Options set in `fragment` whose value is not the same in the final `config`."""
    final: dict[str, str] = {}
    for line in config.splitlines():
        m = re.match(r"(CONFIG_\w+)=(.*)", line)
        if m:
            final[m.group(1)] = m.group(2)
        m = re.match(r"# (CONFIG_\w+) is not set", line)
        if m:
            final[m.group(1)] = "n"
    missing = []
    for line in fragment.splitlines():
        m = re.match(r"(CONFIG_\w+)=(.*)", line.strip())
        if m and final.get(m.group(1), "n") != m.group(2):
            missing.append(f"{m.group(1)}={m.group(2)}")
        m = re.match(r"# (CONFIG_\w+) is not set", line.strip())
        if m and final.get(m.group(1), "n") != "n":
            missing.append(f"{m.group(1)} (must be unset)")
    return missing


def _run(cmd: list[str], what: str) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise KernelError(f"kernel {what} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return proc.stdout


# Measured once, only for progress estimates: objects a build of
# vm/guest.config compiles, and tar records in the source tarball.
_EXPECTED_OBJECTS = 1400
_EXPECTED_SOURCE_RECORDS = 152_000  # tar records of 10 KiB


def _make_with_progress(cmd: list[str], progress: Progress) -> None:
    log: list[str] = []
    n = 0
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line)
            if len(log) > 200:
                del log[:100]
            if line.startswith("  CC ") or line.startswith("  AS "):
                n += 1
                progress.count(n, max(n, _EXPECTED_OBJECTS), "objects")
            elif re.match(r"  (LD +vmlinux|BTF +\.btf|KSYMS|BUILD +arch/x86/boot/bzImage)", line):
                progress.note(line.strip())  # the final link steps, where the count stands still
    progress.done_counting()
    if proc.returncode != 0:
        raise KernelError("kernel build failed; last lines of make:\n" + "".join(log[-40:]))
