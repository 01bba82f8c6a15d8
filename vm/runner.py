"""Run a command in the guest (Debian's prebuilt 7.3 by default) with virtme-ng.

The guest sees the host's root file system read-only, the repo at the
same path, the scxpy cache read-write (compiled objects), and a scratch
directory shared back to the host for results ($SCXPY_SCRATCH). Output is
streamed; the command's exit status is returned. A guest that outlives
its timeout is killed, never waited on forever.

What the boot costs, and what is cut (measured under TCG, see
docs/kernels-results.md): the root and shared directories go over 9p
unless a Rust virtiofsd exists (vng otherwise probes virtiofs for each
of them, 3 s apiece); the host's hwclock udev rule is masked (it waits
for the next RTC second); a kernel with PVH is booted from its
uncompressed vmlinux (no decompression under emulation).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from scxpy.base.tools import require_tool
from scxpy.vm import accel
from scxpy.base.cache import cache_root
from scxpy.vm.errors import VmError
from scxpy.vm.kernel import KernelArtifacts, default_kernel
from scxpy.vm.watch import KERNEL_OPTS, HANG_AFTER_S, GuestWatch

DEFAULT_CPUS = 2
DEFAULT_MEMORY = "2G"
DEFAULT_TIMEOUT = 600.0
TIMEOUT_STATUS = 124  # as timeout(1)

# Variables the guest needs from the host to find the same tools and caches.
_FORWARDED_ENV = ("PATH", "HOME", "LANG", "TERM", "SCXPY_CLANG", "SCXPY_BPFTOOL", "SCXPY_LIBBPF")


class GuestTimeout(VmError):
    exit_status = TIMEOUT_STATUS


class GuestHung(GuestTimeout):
    """The guest stopped making progress (no sign of life), and was ended."""


class GuestBootFailed(VmError):
    """The guest died before the command started: its exit status is not the command's."""


def run_in_guest(
    cmd: list[str],
    *,
    kernel: KernelArtifacts | None = None,
    cpus: int = DEFAULT_CPUS,
    memory: str = DEFAULT_MEMORY,
    timeout: float = DEFAULT_TIMEOUT,
    env: dict[str, str] | None = None,
    scratch: str | os.PathLike | None = None,
    cwd: str | os.PathLike | None = None,
) -> int:
    """Boot the guest, run `cmd` in it, and return its exit status.

    `timeout` covers the whole run, boot included. `scratch` is a host
    directory the guest may write (a fresh temporary one if None, removed
    afterwards unless it was given).
    """
    if not cmd:
        raise VmError("no command given to run in the guest: scxpy vm -- CMD ...")
    if cpus < 1:
        raise VmError(f"--cpus {cpus}: the guest needs at least one CPU")
    kernel = kernel or default_kernel()
    _require_udevd()
    cache = cache_root().resolve()
    cache.mkdir(parents=True, exist_ok=True)
    own_scratch = scratch is None
    if own_scratch:
        scratch_dir = make_scratch()
    else:
        scratch_dir = Path(scratch).resolve()
        scratch_dir.mkdir(parents=True, exist_ok=True)
    try:
        argv, script = vng_command(
            cmd, kernel=kernel, cpus=cpus, memory=memory, scratch=scratch_dir, cache=cache,
            env=env or {}, cwd=Path(cwd or os.getcwd()).resolve(),
        )
        watch = GuestWatch.beside(script)
        try:
            return _run_with_timeout(argv, timeout, watch, kernel.release)
        finally:
            script.unlink(missing_ok=True)
            watch.cleanup()
    finally:
        if own_scratch:
            import shutil

            shutil.rmtree(scratch_dir, ignore_errors=True)


def make_scratch() -> Path:
    """A new directory the guest can write, inside the cache the guest mounts
    anyway (one share fewer to set up; without 9p forced, vng's virtiofs
    probe costs about 3 s per shared directory). The caller removes it."""
    parent = cache_root().resolve() / "scratch"
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="scxpy-scratch-", dir=parent))


def vng_command(
    cmd: list[str], *, kernel: KernelArtifacts, cpus: int, memory: str,
    scratch: Path, cache: Path, env: dict[str, str], cwd: Path,
) -> tuple[list[str], Path]:
    """The vng command line, and the script it runs (in `scratch`; the caller removes it)."""
    guest_env = {k: os.environ[k] for k in _FORWARDED_ENV if k in os.environ}
    guest_env["PATH"] = os.path.dirname(sys.executable) + ":" + guest_env.get("PATH", "/usr/bin:/bin")
    guest_env.update(SCXPY_IN_GUEST="1", SCXPY_SCRATCH=str(scratch), SCXPY_CACHE_DIR=str(cache),
                     SCXPY_KERNEL_DIR=str(kernel.dir), SCXPY_KERNEL_RELEASE=kernel.release,
                     PYTHONDONTWRITEBYTECODE="1")
    guest_env.update(env)
    # The command travels as a script in the shared scratch directory:
    # virtme-ng passes --exec on the kernel command line (base64, within
    # the kernel's 2048-byte limit), where a long command or environment
    # would be cut and the guest would hang. Every word is quoted, so the
    # command is taken literally.
    fd, name = tempfile.mkstemp(prefix=".scxpy-command-", suffix=".sh", dir=scratch)
    script = Path(name)
    os.close(fd)
    watch = GuestWatch.beside(script)
    script.write_text("{}\n{}\n{}cd {} && exec env {} {}\n".format(
        _KERNEL_CONFIG_SH.replace("@CONFIG@", shlex.quote(str(kernel.config))),
        _WRITABLE_CWD_SH.replace("@CWD@", shlex.quote(str(cwd))),
        watch.guest_sh(),
        shlex.quote(str(cwd)),
        " ".join(shlex.quote(f"{k}={v}") for k, v in sorted(guest_env.items())),
        shlex.join(cmd),
    ))
    shared = [cache] if scratch.is_relative_to(cache) else [cache, scratch]
    argv = [require_tool("vng"), "--run", str(kernel.bzimage), "--cpus", str(cpus), "--memory", memory]
    for d in shared:
        argv += ["--rwdir", str(d)]
    emulated = accel.choose() == "tcg"
    argv += ["--append", " ".join((_NO_RTC_DRIVER, *KERNEL_OPTS, *(_EMULATION_OPTS if emulated else ())))]
    if not rust_virtiofsd():
        argv += ["--force-9p"]
    argv += ["--user", "root", "--exec", f"sh {shlex.quote(str(script))}"]
    qemu_opts = watch.qemu_opts()
    if kernel.pvh and kernel.vmlinux.is_file():
        # QEMU boots an ELF vmlinux with a PVH note directly: no decompressor
        # to emulate. vng still reads the release and modules from the image.
        qemu_opts += ["-kernel", str(kernel.vmlinux)]
    if emulated:
        # Single-threaded TCG: multi-threaded TCG oopses the guest when
        # sched_ext is switched on and off (kernel text patching race).
        argv += ["--disable-kvm"]
        qemu_opts += ["-accel", "tcg,thread=single"]
    argv += ["--qemu-opts=" + " ".join(shlex.quote(o) for o in qemu_opts)]
    return argv, script


# Where virtme-ng looks for a virtiofsd (its _get_virtiofsd_path).
_VIRTIOFSD_PATHS = ("/usr/libexec/virtiofsd", "/usr/lib/virtiofsd/virtiofsd", "/usr/lib/virtiofsd",
                    "/usr/lib/qemu/virtiofsd")
_rust_virtiofsd: list[str | None] = []


def rust_virtiofsd() -> str | None:
    """A virtiofsd vng can use (the Rust one, whose options include --shared-dir), or None.

    bookworm's C /usr/lib/qemu/virtiofsd passes vng's `--version` probe and
    then exits on vng's Rust-only options; vng waits 3.1 s before falling
    back to 9p. Without a Rust one we ask for 9p at once (--force-9p).
    """
    if not _rust_virtiofsd:
        import shutil

        found = None
        for path in (shutil.which("virtiofsd"), *_VIRTIOFSD_PATHS):
            if path and os.access(path, os.X_OK):
                try:
                    out = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=5)
                except (OSError, subprocess.TimeoutExpired):
                    continue
                if "--shared-dir" in out.stdout + out.stderr:
                    found = path
                    break
        _rust_virtiofsd.append(found)
    return _rust_virtiofsd[0]


# The host's udev rule 85-hwclock.rules runs `hwclock --hctosys` on rtc0,
# which waits for the next RTC second (about 1 s of every boot under TCG)
# to set a clock the kernel has already set: x86 reads the CMOS clock at
# boot itself (read_persistent_clock64), without the rtc-cmos driver. The
# rule cannot be masked in the guest's /etc before udevd starts (vng mounts
# shared directories after coldplug), so the driver is left out instead:
# no rtc0, no rule run. initcall_blacklist needs CONFIG_KALLSYMS (Debian's
# kernels have it; where it is off the option does nothing).
_NO_RTC_DRIVER = "initcall_blacklist=cmos_init"

# Under TCG on a busy host a vCPU can get no host time for many seconds. The
# kernel's RCU stall and soft-lockup detectors then fire, and since 6.12 each
# ejects the BPF scheduler ("RCU CPU stall on CPUs ()"): an emulator artefact,
# not the policy's fault. Their limits go to the maximum (300 s; 2 x 60 s);
# sched_ext's own watchdog (timeout_ms, at most 30 s) still catches a policy
# that leaves a task waiting.
_EMULATION_OPTS = ("rcupdate.rcu_cpu_stall_timeout=300", "watchdog_thresh=60")


# libbpf resolves `__kconfig` externs (LINUX_KERNEL_VERSION, CONFIG_*) from
# /boot/config-$(uname -r) or /proc/config.gz. Debian's kernels have no
# /proc/config.gz and the host's /boot has no config of the guest's kernel:
# offer the kernel's own config there (a tmpfs over /boot, in the guest only).
_KERNEL_CONFIG_SH = r"""
scxpy_config=@CONFIG@
if [ ! -e /proc/config.gz ] && [ ! -e "/boot/config-$(uname -r)" ] && [ -r "$scxpy_config" ] && [ -d /boot ]; then
    mount -t tmpfs -o mode=0755,size=16m scxpy-boot /boot && cp "$scxpy_config" "/boot/config-$(uname -r)"
fi
"""


# The host's root is read-only in the guest, so a workload that writes to
# its working directory (stress-ng's temp files, a build) would fail. Give
# it the same directory made writable: an overlay whose changes live in the
# guest's memory (/run/tmp, like virtme-ng's own overlays of /tmp and /home)
# and are dropped when the guest stops. Mounts below the directory (the
# shared cache, the scratch directory) are moved onto the overlay so they
# stay the real, shared ones.
_WRITABLE_CWD_SH = r"""
scxpy_cwd=@CWD@
if [ ! -w "$scxpy_cwd" ] && [ "$scxpy_cwd" != / ]; then
    scxpy_ov=/run/tmp/scxpy-cwd
    mkdir -p "$scxpy_ov/upper" "$scxpy_ov/work" "$scxpy_ov/keep"
    scxpy_subs=$(awk -v d="$scxpy_cwd/" 'index($2, d) == 1 && $2 !~ /\\/ {print $2}' /proc/self/mounts)
    scxpy_i=0
    for m in $scxpy_subs; do
        scxpy_i=$((scxpy_i + 1)); mkdir -p "$scxpy_ov/keep/$scxpy_i"; mount --bind "$m" "$scxpy_ov/keep/$scxpy_i"
    done
    if mount -t overlay scxpy-cwd -o "lowerdir=$scxpy_cwd,upperdir=$scxpy_ov/upper,workdir=$scxpy_ov/work" "$scxpy_cwd"; then
        scxpy_i=0
        for m in $scxpy_subs; do
            scxpy_i=$((scxpy_i + 1)); mount --move "$scxpy_ov/keep/$scxpy_i" "$m"
        done
    else
        echo "scxpy: $scxpy_cwd is read-only in the guest and could not be made writable;" \
             "write to \$SCXPY_SCRATCH (kept on the host) or /tmp instead" >&2
    fi
fi
"""


def _run_with_timeout(argv: list[str], timeout: float, watch: GuestWatch, release: str) -> int:
    """Run vng; the command's exit status, or GuestBootFailed / GuestHung / GuestTimeout."""
    start = time.monotonic()
    # vng runs virtme-run from PATH: put our virtualenv's bin first.
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    # Own session: on timeout or a signal we kill vng and QEMU together.
    # Output goes through pipes we copy: given our stdout/stderr directly,
    # QEMU reopens them and truncates a redirected file.
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, env=env)
    pumps = [_pump(proc.stdout, sys.stdout), _pump(proc.stderr, sys.stderr)]
    previous = {sig: signal.signal(sig, _raise_interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        while True:
            try:
                status = proc.wait(timeout=1)
                break
            except subprocess.TimeoutExpired:
                pass
            elapsed = time.monotonic() - start
            silent = watch.silent_for(elapsed)
            if silent >= HANG_AFTER_S or elapsed >= timeout:
                raise _ended(proc, watch, release, elapsed, silent, timeout)
        for t in pumps:
            t.join()
        if status != 0 and not watch.has_started():
            raise GuestBootFailed(
                f"the guest (kernel {release}) died before the command started, after "
                f"{time.monotonic() - start:.1f} s (vng exit status {status}); this is not the "
                f"command's exit status.{_console(watch)}"
            )
        return status
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if proc.poll() is None:  # interrupted: never leave QEMU behind
            _kill_group(proc)


def _ended(proc: subprocess.Popen, watch: GuestWatch, release: str, elapsed: float, silent: float,
           timeout: float) -> VmError:
    """End a guest that hung or ran out of time; the error that says which, with its console."""
    hung = silent >= HANG_AFTER_S
    tail = watch.console_tail(20)
    dump = watch.task_dump("9w") if hung else []
    if dump:
        watch.task_dump("t")  # every task, for the kept log only
    _kill_group(proc)
    if hung:
        where = "before the command started" if not watch.has_started() else "while the command ran"
        quiet = f"for {silent:.0f} s" if watch.has_started() else f"in {elapsed:.0f} s"
        text = (f"guest hung after {elapsed:.0f} s: no sign of life from it {quiet} ({where}; "
                f"kernel {release}); QEMU was killed.{_console(watch, dump, tail)}")
        return GuestHung(text)
    return GuestTimeout(
        f"the guest did not finish within --timeout {timeout:g} s "
        f"(boot included); QEMU was killed after {elapsed:.1f} s. "
        "Raise --timeout if the command needs longer under TCG."
    )


def _console(watch: GuestWatch, dump: list[str] | None = None, tail: list[str] | None = None) -> str:
    """The console's last lines (and the sysrq dump of blocked tasks), and where the whole log is kept."""
    tail = watch.console_tail(20) if tail is None else tail
    kept = watch.keep_console(cache_root() / "guest-logs")
    text = "\nlast console lines:\n  " + "\n  ".join(tail) if tail else "\nthe console printed nothing."
    if dump is not None:
        if dump:
            shown = dump[:30]
            text += (f"\nsysrq dump of blocked tasks ({len(dump)} lines, first {len(shown)}; every task's "
                     "state is in the whole log):\n  " + "\n  ".join(shown))
        else:
            text += "\nno sysrq task dump: the kernel did not answer (or has no sysrq or keyboard)."
    if kept:
        text += f"\nwhole console log: {kept}"
    return text


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _pump(src, dst) -> threading.Thread:
    def copy():
        out = dst.buffer if hasattr(dst, "buffer") else None
        for chunk in iter(lambda: src.read1(65536), b""):
            if out is not None:
                out.write(chunk)
            else:
                dst.write(chunk.decode(errors="replace"))
            dst.flush()

    t = threading.Thread(target=copy, daemon=True)
    t.start()
    return t


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _require_udevd() -> None:
    # Without udevd virtme-ng falls back to console mode and the guest's
    # exit status is lost (always 255): refuse rather than report lies.
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() in ("systemd-udevd", "udevd"):
                        return
            except OSError:
                continue
    raise VmError(
        "udevd is not running, so virtme-ng could not carry the guest's exit status back. "
        "Start it with `/lib/systemd/systemd-udevd --daemon` (scripts/setup.sh does)."
    )
