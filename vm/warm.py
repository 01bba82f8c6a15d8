"""A guest booted once and kept: a program in it answers requests until told to stop.

    with WarmGuest(["python3", "-m", "some.agent"], cpus=4) as g:
        g.request({"op": "ping"})        # -> the agent's reply, a dict

The channel is the guest command's own stdin and stdout, which virtme-ng
carries over virtio-serial ports: a JSON request per line in, and on the
way out a reply per line marked with MARK (anything else the program or
its children print on stdout is passed through to ours, stderr as is).
Measured under TCG: a round trip takes 1-4 ms, where polling files in
the shared 9p directory costs a poll interval plus two 9p look-ups.

The agent must: print `MARK {"ready": ...}` once it can take requests,
answer each request with exactly one MARK line, and stop when its stdin
ends (the host died) or on {"op": "quit"}. MARK lines with an "event"
key are not replies: they go to `on_event` (progress while a request runs).

No QEMU outlives us, however we end: close() (also from `with` and at
interpreter exit) asks the agent to stop, then kills the guest's process
group; a reaper process kills that group if we die without closing
(SIGKILL, a crash): it waits on a pipe that only our death closes.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from scxpy.vm import accel
from scxpy.vm.errors import VmError
from scxpy.vm.watch import GuestWatch
from scxpy.vm.runner import DEFAULT_CPUS, DEFAULT_MEMORY, GuestTimeout, _require_udevd, make_scratch, vng_command

MARK = "\x1escxpy-agent "
BOOT_TIMEOUT = 300.0
QUIT_GRACE = 15.0

# Waits for its stdin to end, then kills the process group named in argv
# unless told "done" first: the guest's reaper if its owner dies unclosed.
_REAPER = (
    "import os, signal, sys\n"
    "said = sys.stdin.buffer.read()\n"
    "if said != b'done':\n"
    "    try: os.killpg(int(sys.argv[1]), signal.SIGKILL)\n"
    "    except ProcessLookupError: pass\n"
)


class GuestGone(VmError):
    """The guest stopped while a request was pending (crash, panic, timeout, kill)."""


class WarmGuest:
    def __init__(self, cmd: list[str], *, kernel=None, cpus: int = DEFAULT_CPUS, memory: str = DEFAULT_MEMORY,
                 env: dict[str, str] | None = None, cwd=None, scratch=None, lifetime: float | None = None,
                 boot_timeout: float = BOOT_TIMEOUT, progress: bool = True):
        if cpus < 1:
            raise VmError(f"--cpus {cpus}: the guest needs at least one CPU")
        self.cmd = cmd
        self.kernel = kernel
        self.cpus = cpus
        self.memory = memory
        self.env = dict(env or {})
        self.cwd = Path(cwd or os.getcwd()).resolve()
        self.own_scratch = scratch is None
        self.scratch = Path(scratch).resolve() if scratch else None
        self.lifetime = lifetime
        self.boot_timeout = boot_timeout
        self.progress = progress
        self.proc: subprocess.Popen | None = None
        self.ready: dict | None = None  # the agent's ready message
        self.boot_s: float | None = None
        self._replies: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._reaper: subprocess.Popen | None = None
        self._script: Path | None = None
        self._threads: list[threading.Thread] = []
        self._killer: threading.Timer | None = None
        self.timed_out = False
        self.on_event = None  # callable(dict) for the agent's unsolicited messages ({"event": ...})

    # -- life --------------------------------------------------------------------

    def start(self) -> dict:
        """Boot and wait until the agent is ready; returns its ready message."""
        from scxpy.vm.kernel import default_kernel
        from scxpy.base.cache import cache_root

        kernel = self.kernel or default_kernel()
        _require_udevd()
        cache = cache_root().resolve()
        cache.mkdir(parents=True, exist_ok=True)
        if self.scratch is None:
            self.scratch = make_scratch()
        self.scratch.mkdir(parents=True, exist_ok=True)
        argv, self._script = vng_command(self.cmd, kernel=kernel, cpus=self.cpus, memory=self.memory,
                                         scratch=self.scratch, cache=cache, env=self.env, cwd=self.cwd)
        env = dict(os.environ)
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "/usr/bin:/bin")
        if self.progress:
            print(f"scxpy: booting a {self.cpus}-vCPU guest ({accel.choose(notice=False)}, kernel "
                  f"{kernel.release}) to keep", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        atexit.register(self.close)
        # Own session: the terminal's Ctrl-C reaches us only, and we stop the
        # guest in order; killing the group takes vng and QEMU together.
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True, env=env)
        self._reaper = subprocess.Popen([sys.executable, "-c", _REAPER, str(self.proc.pid)],
                                        stdin=subprocess.PIPE, start_new_session=True)
        self._threads = [threading.Thread(target=self._read_stdout, args=(self.proc,), daemon=True),
                         threading.Thread(target=self._copy_stderr, args=(self.proc,), daemon=True)]
        for t in self._threads:
            t.start()
        if self.lifetime:
            self._killer = threading.Timer(self.lifetime, self._expire)
            self._killer.daemon = True
            self._killer.start()
        try:
            self.ready = self._next_reply(self.boot_timeout, "boot", tick=self._boot_tick if self.progress else None)
        except BaseException:
            self.close()
            raise
        if "ready" not in self.ready:
            self.close()
            raise VmError(f"the guest agent did not start as expected: {self.ready}")
        self.boot_s = time.monotonic() - t0
        if self.progress:
            done = f"scxpy: guest ready in {self.boot_s:.1f} s"
            print(f"\r{done}\x1b[K" if sys.stderr.isatty() else done, file=sys.stderr, flush=True)
        return self.ready

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self, grace: float = QUIT_GRACE) -> int | None:
        """Stop the agent and the guest (politely first); QEMU is gone when this returns."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        atexit.unregister(self.close)
        if self._killer is not None:
            self._killer.cancel()
        try:
            if proc.poll() is None and self.ready is not None:
                try:
                    self._send({"op": "quit"}, proc)
                    proc.wait(timeout=grace)
                except (OSError, subprocess.TimeoutExpired):
                    pass
        finally:
            _kill_group(proc)
            if self._reaper is not None:
                try:
                    self._reaper.communicate(b"done", timeout=5)
                except (OSError, subprocess.TimeoutExpired, ValueError):
                    self._reaper.kill()
                self._reaper = None
            for t in self._threads:
                t.join(timeout=2)
            if self._script is not None:
                self._script.unlink(missing_ok=True)
                GuestWatch.beside(self._script).cleanup()
            if self.own_scratch and self.scratch is not None:
                shutil.rmtree(self.scratch, ignore_errors=True)
        return proc.returncode

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def _expire(self):
        self.timed_out = True
        if self.proc is not None:
            _kill_group(self.proc, wait=False)

    # -- requests --------------------------------------------------------------

    def request(self, msg: dict, timeout: float | None = None) -> dict:
        """Send one request and return the agent's reply."""
        with self._lock:
            proc = self.proc
            if proc is None or proc.poll() is not None:
                raise self._gone()
            try:
                self._send(msg, proc)
            except OSError:
                raise self._gone() from None
            return self._next_reply(timeout, msg.get("op", "request"))

    def send(self, msg: dict) -> None:
        """Send without waiting (e.g. a cancel while request() waits in another thread)."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            self._send(msg, proc)

    def next_reply(self, timeout: float | None = None) -> dict:
        """The next reply, for a request sent with send()."""
        return self._next_reply(timeout, "the request")

    @staticmethod
    def _send(msg: dict, proc) -> None:
        proc.stdin.write((json.dumps(msg) + "\n").encode())
        proc.stdin.flush()

    def _boot_tick(self, elapsed: float) -> None:
        tty = sys.stderr.isatty()
        if tty or int(elapsed) % 10 == 0:  # a log gets a line every 10 s, a terminal a live count
            sys.stderr.write(f"\rscxpy: booting... {elapsed:.0f} s\x1b[K" if tty else
                             f"scxpy: booting... {elapsed:.0f} s\n")
            sys.stderr.flush()

    def _next_reply(self, timeout: float | None, what: str, tick=None) -> dict:
        start = time.monotonic()
        deadline = None if timeout is None else start + timeout
        last_tick = 0
        while True:
            if tick is not None and int(time.monotonic() - start) > last_tick:
                last_tick = int(time.monotonic() - start)
                tick(last_tick)
            wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
            try:
                reply = self._replies.get(timeout=wait)
            except queue.Empty:
                if self.proc is None or self.proc.poll() is not None:
                    raise self._gone() from None
                if deadline is not None and time.monotonic() >= deadline:
                    raise VmError(f"the guest did not answer {what} within {timeout:g} s") from None
                continue
            if reply is None:  # stdout closed: the guest is going
                raise self._gone()
            return reply

    def _gone(self) -> VmError:
        if self.timed_out:
            return GuestTimeout(f"the guest was stopped after its time limit of {self.lifetime:g} s "
                                "(raise --timeout if the work needs longer under TCG)")
        status = self.proc.poll() if self.proc is not None else None
        return GuestGone(f"the guest stopped unexpectedly (status {status}); its output above says why "
                         "(a kernel panic or a crashed agent)")

    # -- output --------------------------------------------------------------------

    def _read_stdout(self, proc) -> None:
        out = sys.stdout
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode(errors="replace")
            i = line.find(MARK)
            if i >= 0:
                if i:
                    out.write(line[:i] + "\n")
                try:
                    msg = json.loads(line[i + len(MARK):])
                except ValueError:
                    out.write(line)
                    continue
                if "event" in msg:
                    if self.on_event is not None:
                        self.on_event(msg)
                else:
                    self._replies.put(msg)
                continue
            out.write(line)
            out.flush()
        self._replies.put(None)

    def _copy_stderr(self, proc) -> None:
        for chunk in iter(lambda: proc.stderr.read1(65536), b""):
            sys.stderr.buffer.write(chunk)
            sys.stderr.flush()


def _kill_group(proc: subprocess.Popen, wait: bool = True) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if wait:
        proc.wait()
