"""Is the guest alive? Its signs of life, its console, and a task dump when it has stopped.

vng's own console is quiet and goes nowhere, so a guest that dies while
booting (vng then exits 255) or hangs says nothing. Each guest run
therefore gets, beside its command script in the shared scratch directory:

- a console log: a virtio console (hvc0) written to a host file, with the
  kernel's warnings and worse (loglevel 5: oopses, panics, RCU stalls,
  hung tasks), so a failure is shown with the console's last lines. (Not
  a second serial port: the 8250 driver has one console, vng's ttyS0. The
  virtio console registers once its PCI device probes, and is then given
  the messages printed before.)
- a `started` file, written by the script just before the command runs,
  which tells a boot failure (never started) from a command's own status;
- an `alive` file, touched every 2 s by a loop the script leaves running
  detached (so a command's `wait` does not wait for it). It stops when the
  guest stops making progress: its kernel hung, or nothing gets a CPU;
- a QMP socket, through which the harness presses Alt-SysRq on the emulated
  keyboard for a task dump ('9': every message to the console; 'w': the
  blocked tasks and their stacks, shown; 't': every task, kept in the
  console log) where the kernel
  still answers. Debian's kernels have sysrq and the keyboard; the minimal
  6.12 has neither, and then only the console's lines are shown.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HEARTBEAT_S = 2
# No sign of life for this long means hung. Generous: a TCG guest on a
# loaded host is slow but never silent this long, and a sched_ext
# scheduler that starves tasks is ejected by the kernel's watchdog within 30 s.
HANG_AFTER_S = float(os.environ.get("SCXPY_HANG_AFTER", "120"))
# Before the first sign of life the boot gets longer: a 7.3 boot takes 5 s
# on an idle 2-core host and over 60 s on one loaded by other guests.
BOOT_ALLOWANCE_S = 120
# Kernel options: a console on hvc0 (the log file), warnings and worse on
# it, and every sysrq function (Debian enables only some by default).
KERNEL_OPTS = ("earlycon=uart8250,io,0x2f8,115200", "keep_bootcon", "loglevel=5", "sysrq_always_enabled=1")


# The kernel's words for "this went wrong" (what a reader looks for first).
_HEADLINES = ("Kernel panic", "Oops:", "BUG:", "general protection fault", "rcu_sched self-detected stall",
              "rcu: INFO:", "blocked for more than", "watchdog: BUG", "Out of memory")


@dataclass(frozen=True)
class GuestWatch:
    console: Path
    started: Path
    alive: Path
    qmp: Path

    @classmethod
    def beside(cls, script: Path) -> "GuestWatch":
        """The files of the run whose command script is `script` (in the shared scratch directory)."""
        stem = script.with_suffix("")
        # A unix socket path must stay under 108 bytes: keep it short, in /tmp.
        qmp = Path(tempfile.gettempdir()) / f"scxpy-qmp-{os.getpid()}-{script.stem[-8:]}.sock"
        return cls(console=stem.with_suffix(".console"), started=stem.with_suffix(".started"),
                   alive=stem.with_suffix(".alive"), qmp=qmp)

    def qemu_opts(self) -> list[str]:
        return ["-serial", f"file:{self.console}", "-qmp", f"unix:{self.qmp},server=on,wait=off"]

    def guest_sh(self) -> str:
        """Shell lines for the command script: the started mark and the detached heartbeat loop."""
        started, alive = _sh_quote(self.started), _sh_quote(self.alive)
        return (f": > {started}\n"
                f"( while : > {alive}; do sleep {HEARTBEAT_S}; done </dev/null >/dev/null 2>&1 & )\n")

    def has_started(self) -> bool:
        return self.started.exists()

    def silent_for(self, since_start: float) -> float:
        """Seconds since the guest's last sign of life; before the first, the time since the run
        began less the boot's allowance."""
        try:
            return time.time() - self.alive.stat().st_mtime
        except FileNotFoundError:
            return since_start - BOOT_ALLOWANCE_S

    def console_tail(self, lines: int = 25) -> list[str]:
        """The console's last lines, after the first line that says what went wrong (an oops, a
        panic, a BUG) when that line is further up."""
        try:
            text = self.console.read_bytes()[-200_000:].decode(errors="replace")
        except OSError:
            return []
        all_lines = [line.rstrip("\r") for line in text.splitlines() if line.strip()]
        tail = all_lines[-lines:]
        headline = next((line for line in all_lines if any(m in line for m in _HEADLINES)), None)
        if headline and headline not in tail:
            tail = [headline, "  ..."] + tail[2:]
        return tail

    def task_dump(self, keys: str = "9w", wait_s: float = 8.0) -> list[str]:
        """Press Alt-SysRq with each of `keys`, and return what the console printed after; [] if nothing came."""
        try:
            before = self.console.stat().st_size
        except OSError:
            before = 0
        if not _qmp_keys(self.qmp, [["alt", "sysrq", k] for k in keys]):
            return []
        deadline = time.monotonic() + wait_s
        last, size = time.monotonic(), before
        while time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                now_size = self.console.stat().st_size
            except OSError:
                break
            if now_size != size:
                size, last = now_size, time.monotonic()
            elif size > before and time.monotonic() - last > 1.5:
                break  # the dump has stopped growing
        with open(self.console, "rb") as f:
            f.seek(before)
            text = f.read(400_000).decode(errors="replace")
        return [line.rstrip("\r") for line in text.splitlines() if line.strip()]

    def cleanup(self) -> None:
        for p in (self.console, self.started, self.alive, self.qmp):
            try:
                p.unlink()
            except (FileNotFoundError, IsADirectoryError):
                pass

    def keep_console(self, dest_dir: Path) -> Path | None:
        """Copy the console log out of the scratch directory (removed after the run)."""
        if not self.console.is_file():
            return None
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / time.strftime(f"console-%Y%m%d-%H%M%S-{os.getpid()}.log")
        dest.write_bytes(self.console.read_bytes())
        return dest


def _qmp_keys(sock_path: Path, combos: list[list[str]]) -> bool:
    """Send key combinations through QEMU's QMP `send-key`; False if QEMU does not answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(sock_path))
            f = s.makefile("rw")
            f.readline()  # the greeting
            for cmd in [{"execute": "qmp_capabilities"}] + [
                {"execute": "send-key", "arguments": {"keys": [{"type": "qcode", "data": k} for k in combo]}}
                for combo in combos
            ]:
                f.write(json.dumps(cmd) + "\n")
                f.flush()
                while True:  # skip events until this command's reply
                    reply = json.loads(f.readline() or "{}")
                    if "return" in reply or "error" in reply or not reply:
                        break
                if "error" in reply or not reply:
                    return False
                time.sleep(0.3)  # let the guest see the keys one combination at a time
            return True
    except (OSError, ValueError):
        return False


def _sh_quote(p: Path) -> str:
    import shlex

    return shlex.quote(str(p))
