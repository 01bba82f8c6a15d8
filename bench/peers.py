"""The kernel's example sched_ext schedulers, built as peers to compare against.

scx_simple (global vtime queue, or FIFO with -f), scx_qmap, scx_flatcg and
scx_central come from tools/sched_ext of the same linux-source-X.Y tree
the guest kernel is built from (6.12, 7.x: each kernel gets its own
peers), compiled against that kernel's vmlinux BTF, so a comparison is
never skewed by a different kernel API. A kernel given by path, whose
source scxpy does not know, gets the 6.12 tree's peers.

Binaries are cached under `<cache>/peers/<release>-<hash>/`, where the
hash covers the kernel's vmlinux, the source, the compiler and this
recipe (a `base.cache.Cache` entry: built under a lock, staged and
published whole, so a killed build never counts as a hit). They are
never committed to the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from scxpy.base.cache import Cache, file_digest
from scxpy.base.errors import ScxpyError
from scxpy.base.tools import require_tool

# Bump when the build recipe below changes in a way that changes the output.
RECIPE_VERSION = "2"  # 2: scx_flatcg
PREFIX = "peer:"
PEER_CACHE = Cache("peers")


class PeerError(ScxpyError):
    """A peer scheduler could not be built or named."""


@dataclass(frozen=True)
class PeerSpec:
    binary: str  # target of tools/sched_ext/Makefile
    args: tuple[str, ...]
    ops_name: str  # sched_ext_ops.name: what /sys/kernel/sched_ext/root/ops shows
    description: str
    # scx_central refuses to start unless its ops.init runs on its central CPU (0);
    # the kernel runs ops.init on its own enable thread, wherever that is, so the
    # guest pins that thread there first (bench/contenders.py).
    init_cpu: int | None = None


PEERS: dict[str, PeerSpec] = {
    "scx_simple": PeerSpec("scx_simple", (), "simple",
                           "kernel example: one global queue ordered by weighted vtime"),
    "scx_simple-f": PeerSpec("scx_simple", ("-f",), "simple",
                             "kernel example: one global FIFO queue (scx_simple -f)"),
    "scx_qmap": PeerSpec("scx_qmap", (), "qmap",
                         "kernel example: five FIFO priority queues fed through a BPF queue map"),
    "scx_central": PeerSpec("scx_central", (), "central",
                            "kernel example: one CPU makes every scheduling decision", init_cpu=0),
    "scx_flatcg": PeerSpec("scx_flatcg", (), "flatcg",
                           "kernel example: cgroup cpu.weight through the hierarchy, flattened into one "
                           "level of cgroups ordered by their own vtime"),
}
BINARIES = sorted({p.binary for p in PEERS.values()})


def is_peer(contender: str) -> bool:
    return contender.startswith(PREFIX)


def spec(contender: str) -> PeerSpec:
    """The peer named by a contender name such as `peer:scx_simple-f`."""
    name = contender[len(PREFIX):] if is_peer(contender) else contender
    try:
        return PEERS[name]
    except KeyError:
        raise PeerError(
            f"unknown peer {contender!r}; the kernel's example schedulers available as peers are: "
            + ", ".join(PREFIX + n for n in PEERS)
        ) from None


def _tool_version(tool: str) -> str:
    try:
        return subprocess.run([tool, "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def cache_key(kernel, source_identity: str) -> str:
    """`<release>-<hash>`: the directory name of this kernel's peer binaries."""
    h = PEER_CACHE.key(RECIPE_VERSION, source_identity, file_digest(kernel.vmlinux),
                       _tool_version(require_tool("clang")), _tool_version("cc"))
    return f"{kernel.release}-{h[:12]}"


def peers_dir(kernel, progress=None) -> Path:
    """The directory holding every peer binary for `kernel`, building them on a miss."""
    from scxpy.vm import kernel as vm_kernel

    if not Path(kernel.vmlinux).is_file():
        raise PeerError(
            f"the kernel {kernel.release} has no vmlinux at {kernel.vmlinux}; the peers are compiled "
            "against its BTF. Use the default kernel (`scxpy kernel`) or a kernel build tree."
        )
    version = getattr(kernel, "version", None) or vm_kernel.DEFAULT_VERSION
    key = cache_key(kernel, vm_kernel.source_identity(version))

    def build(out: Path) -> None:
        src = vm_kernel.source_tree(progress, version)
        if progress:
            progress.phase(f"building peers ({', '.join(BINARIES)}) from {src}/tools/sched_ext")
        obj = out / "obj"  # the build tree, in the staging directory; only the binaries stay
        _make(src, obj, Path(kernel.vmlinux))
        for b in BINARIES:
            shutil.copy2(obj / "build" / "bin" / b, out / b)
        shutil.rmtree(obj)

    def waiting() -> None:
        if progress:
            progress.phase("another process is building the peers; waiting for it")

    d, _ = PEER_CACHE.get_or_build(key, build, *BINARIES, lock=True, on_wait=waiting)
    return d


def _make(src: Path, obj: Path, vmlinux: Path) -> None:
    """Build tools/sched_ext out of tree (O=), against `vmlinux`'s BTF.

    The tree is shared with the kernel build and must stay pristine:
    O= sends every output (libbpf, bpftool, skeletons, binaries) to `obj`.
    """
    obj.mkdir(parents=True)
    cmd = [
        require_tool("make"), "-C", str(src / "tools" / "sched_ext"), f"O={obj}",
        f"-j{os.cpu_count() or 1}",
        f"VMLINUX_BTF={vmlinux}",
        f"CLANG={require_tool('clang')}", f"LLVM_STRIP={require_tool('llvm-strip')}",
        *BINARIES,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise PeerError(
            "building the kernel's example schedulers failed (tools/sched_ext of "
            f"{src}); last lines of make:\n{(proc.stdout + proc.stderr)[-3000:]}\n"
            "Check that clang-16, libelf-dev and zlib are installed (scripts/setup.sh), "
            "or leave the peer: contenders out."
        )


def binary(directory: Path, contender: str) -> tuple[Path, tuple[str, ...]]:
    """The peer binary and its arguments for a contender name."""
    s = spec(contender)
    return Path(directory) / s.binary, s.args
