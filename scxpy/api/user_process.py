"""A userspace policy attached in the warm guest: its scheduler is a process, not an object.

A userspace policy's decisions are Python methods that run in the process
that attached its BPF half (runtime/user_loop.py), and its loop needs that
process's main thread. The agent serves requests on its own, so for such a
policy it starts `python -m scxpy run OBJ` (the object's manifest beside it
names the policy file) and stands in for it with what the agent asks of a
Scheduler:
- attach: start the process; attached once sysfs shows the policy enabled;
- detach: SIGINT, on which the run detaches and prints its loop report;
- wait: the process ended by itself (an ejection, a policy method that
  raised): why, from its last lines.
Its counters are served on the scx_stats socket by that process itself (the
agent can read none of them); it has no live tunables.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scxpy.base.errors import ScxpyError
from scxpy.runtime import sched_ext_sysfs as sysfs

ATTACH_TIMEOUT_S = 240.0  # Python's start, imports over 9p and the verifier, on a loaded TCG guest
DETACH_TIMEOUT_S = 60.0
SUMMARY_LINES = 20  # a policy method's traceback, the loop report and the exit reason


class UserProcess:
    def __init__(self, obj_path: str, name: str, stats_socket: str | None):
        self.obj_path, self.name, self.stats_socket = obj_path, name, stats_socket
        self.proc: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile("w+", prefix=f"scxpy-{name}-", suffix=".log")

    def attach(self) -> None:
        before = sysfs.read_state()
        argv = [sys.executable, "-m", "scxpy", "run", self.obj_path]
        if self.stats_socket:
            argv += ["--stats-socket", self.stats_socket]
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + ATTACH_TIMEOUT_S
        while True:
            st = sysfs.read_state()
            if st.enabled and st.ops == self.name and st.enable_seq != before.enable_seq:
                return
            if self.proc.poll() is not None:
                raise ScxpyError(f"{self.name}: its scheduler process (scxpy run) exited with status "
                                 f"{self.proc.returncode} before it attached:\n{self._tail()}")
            if time.monotonic() > deadline:
                self._stop()
                raise ScxpyError(f"{self.name}: not attached {ATTACH_TIMEOUT_S:.0f} s after its scheduler "
                                 f"process (scxpy run) started:\n{self._tail()}")
            time.sleep(0.05)

    def wait(self, timeout: float = 0) -> str | None:
        """Why the process ended by itself, or None while it runs."""
        if self.proc is None or self.proc.poll() is None:
            return None
        return f"its scheduler process (scxpy run) exited with status {self.proc.returncode}:\n{self._tail()}"

    def restart_if_asked(self, info) -> bool:
        return False  # an ended `scxpy run` is not started again behind the user's back

    def stats(self) -> dict[str, int]:
        return {}

    def set(self, name: str, value) -> None:
        raise ScxpyError(f"{self.name} is a userspace policy: it has no live tunables (its settings are "
                         "class attributes of its UserScheduler; edit them and save)")

    def detach(self) -> str:
        """SIGINT: the run detaches (every task back in the fair class) and reports its loop."""
        self._stop()
        return self._tail()

    def close(self) -> None:
        self._stop()
        self.log.close()

    def _stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=DETACH_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # the kernel's watchdog or the BPF half's stale limit ends the scheduler
            self.proc.wait()

    def _tail(self) -> str:
        self.log.flush()
        text = Path(self.log.name).read_text(errors="replace").strip()
        return "\n".join(text.splitlines()[-SUMMARY_LINES:]) or "(no output)"
