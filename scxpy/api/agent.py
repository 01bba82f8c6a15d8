"""The guest half of scxpy.api: run in the warm guest, it attaches, swaps and detaches
schedulers and runs workloads on the host's requests (vm/warm.py carries them).

    python -m scxpy.api.agent          # started by scxpy.api.Guest, never by hand

Requests (one JSON object per line on stdin) and what they do:
    {"op": "attach", "obj": PATH, "manifest": {...} (Manifest.to_dict()), "c_path": PATH, "sets": {...}}
        read and load the new object first; only once it loaded is the
        current scheduler detached and the new one attached. If the new one
        fails, the previous one stays (or is attached again) and the reply
        carries the error. Timings: transfer (reading the object from the
        host), load, detach, attach.
    {"op": "detach"}             detach; reply with the exit reason
    {"op": "run", "argv": [...], "interval": S, "timeout": S, "capture": bool, "stream": bool}
        run a workload under what is attached, reading the counters every S
        (with stream, each interval is also sent at once as {"event": "interval"})
    {"op": "cancel"}             stop a running workload (the run request replies)
    {"op": "stats"}              current counter totals
    {"op": "set", "values": {...}} set live tunables of the attached scheduler (kept if it is attached again)
    {"op": "quit"}               detach and exit (stdin ending does the same)
Every reply is {"ok": true, ...} or {"ok": false, "error": TEXT}.
The scheduler's counters are served on the scx_stats socket while attached.
"""

from __future__ import annotations

import json
import os
import platform
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from scxpy.api.user_process import UserProcess
from scxpy.base.errors import ScxpyError
from scxpy.base.manifest import Manifest
from scxpy.runtime import stats_server
from scxpy.runtime.scheduler import Scheduler
from scxpy.runtime.counters import Sample, interval_record
from scxpy.runtime.user_rings import is_user_core
from scxpy.vm.warm import MARK

_OUT = sys.stdout


def say(msg: dict) -> None:
    _OUT.write(MARK + json.dumps(msg) + "\n")
    _OUT.flush()


class Agent:
    def __init__(self, stats_socket: str | None):
        self.current: Scheduler | None = None
        self.spec: dict | None = None  # how the current one was attached, to attach it again
        self.stats_socket = stats_socket
        self.server = None
        self.requests: queue.Queue = queue.Queue()

    # -- attach / detach ---------------------------------------------------------

    def _open(self, spec: dict) -> tuple[Scheduler, float, float]:
        t0 = time.monotonic()
        data = Path(spec["obj"]).read_bytes()  # over 9p from the host's cache
        t1 = time.monotonic()
        manifest = Manifest.from_dict(spec["manifest"], "the manifest sent") if spec.get("manifest") else None
        s = Scheduler(data, manifest=manifest, c_path=spec.get("c_path"))
        if is_user_core(s.obj):  # its scheduler is a process of its own (api/user_process.py)
            s.close()
            if spec.get("sets"):
                raise ScxpyError(f"{', '.join(spec['sets'])}: a userspace policy has no live tunables "
                                 "(its settings are class attributes of its UserScheduler)")
            return UserProcess(spec["obj"], s.name, self.stats_socket), t1 - t0, 0.0
        try:
            s.configure(**spec.get("sets", {}))
            s.load()
        except BaseException:
            s.close()
            raise
        return s, t1 - t0, time.monotonic() - t1

    def attach(self, spec: dict) -> dict:
        try:
            new, transfer_s, load_s = self._open(spec)
        except Exception as e:
            return {"ok": False, "error": str(e), "stage": "load", "kept": self._name()}
        t0 = time.monotonic()
        previous_exit = self._detach()
        t1 = time.monotonic()
        try:
            new.attach()
        except Exception as e:
            new.close()
            kept = None
            if self.spec is not None:  # put the previous version back
                try:
                    self._attach_spec(self.spec)
                    kept = self._name()
                except Exception as again:
                    self.spec = None
                    return {"ok": False, "stage": "attach", "kept": None,
                            "error": f"{e}\n(and the previous scheduler could not be attached again: {again})"}
            return {"ok": False, "error": str(e), "stage": "attach", "kept": kept}
        t2 = time.monotonic()
        self.current, self.spec = new, spec
        self._serve()
        return {"ok": True, "name": new.name, "previous_exit": previous_exit,
                "times": {"transfer_s": transfer_s, "load_s": load_s, "detach_s": t1 - t0, "attach_s": t2 - t1}}

    def _attach_spec(self, spec: dict) -> None:
        s, _, _ = self._open(spec)
        try:
            s.attach()
        except BaseException:
            s.close()
            raise
        self.current = s
        self._serve()

    def _serve(self) -> None:
        if self.stats_socket == "none" or self.current is None or isinstance(self.current, UserProcess):
            return  # a userspace policy's own process serves its counters
        s = self.current
        self.server = stats_server.serve_or_warn(self.stats_socket or stats_server.DEFAULT_PATH, s.name,
                                                 list(s.stats()), s.stats)

    def _detach(self) -> str | None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        s, self.current = self.current, None
        if s is None:
            return None
        try:
            info = s.detach()
        finally:
            s.close()
        return str(info) if info is not None else None

    def _name(self) -> str | None:
        return self.current.name if self.current is not None else None

    def _ejected(self) -> str | None:
        """The kernel's reason if the current scheduler is no longer running. One the
        kernel exited asking for a restart (CPU hotplug) is restarted, as `scxpy run` does."""
        if self.current is None:
            return None
        info = self.current.wait(timeout=0)
        if info is None:
            return None
        try:
            if self.current.restart_if_asked(info):
                return None
        except Exception as e:
            return f"{info} (and restarting it failed: {e})"
        return str(info)

    def set(self, values: dict) -> dict:
        """Live tunables; also recorded in the attach spec, so a restart or re-attach keeps them."""
        if self.current is None:
            return {"ok": False, "error": "no scheduler attached: attach one before setting its tunables"}
        try:
            for name, value in values.items():
                self.current.set(name, value)
        except Exception as e:
            return {"ok": False, "error": str(e)}
        self.spec = {**self.spec, "sets": {**self.spec.get("sets", {}), **values}}
        return {"ok": True}

    # -- workloads -----------------------------------------------------------------

    def run(self, req: dict) -> dict:
        argv = req["argv"]
        interval = float(req.get("interval") or 1.0)
        timeout = req.get("timeout")
        s = self.current
        read = s.stats if s is not None else dict
        name = s.name if s is not None else "(none)"
        start = last = Sample(read())
        records = []
        t0 = time.monotonic()
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE if req.get("capture") else 2,
                                    stderr=subprocess.STDOUT if req.get("capture") else 2,
                                    cwd=req.get("cwd") or None, start_new_session=True)
        except OSError as e:
            return {"ok": False, "error": f"cannot start workload {argv[0]!r}: {e.strerror}"}
        output = []
        reader = None
        if req.get("capture"):
            reader = threading.Thread(target=lambda: output.append(proc.stdout.read()), daemon=True)
            reader.start()
        cancelled = ejected = None
        next_tick = t0 + interval
        while proc.poll() is None:
            try:
                msg = self.requests.get(timeout=0.05)
            except queue.Empty:
                msg = None
            if msg is not None:
                if msg.get("op") in ("cancel", "quit", None):
                    cancelled = msg.get("op") or "eof"
                    if msg.get("op") != "cancel":
                        self.requests.put(msg)  # handled once the run has replied
                    break
                say({"ok": False, "error": f"busy running a workload; {msg.get('op')!r} not done"})
            if timeout and time.monotonic() - t0 > timeout:
                cancelled = f"timeout {timeout:g} s"
                break
            if ejected is None:
                ejected = self._ejected()
            if s is not None and time.monotonic() >= next_tick:
                now = Sample(read())
                records.append(interval_record(name, now, last, start.t))
                if req.get("stream"):
                    say({"event": "interval", "record": records[-1]})
                last = now
                next_tick = time.monotonic() + interval  # late ticks are not made up in a burst
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        wall = time.monotonic() - t0
        end = Sample(read())
        if reader is not None:
            reader.join(timeout=5)
        return {
            "ok": True, "scheduler": s.name if s is not None else None, "status": proc.returncode,
            "wall_s": wall, "cancelled": cancelled, "ejected": ejected or self._ejected(),
            "stats": {k: v - start.totals.get(k, 0) for k, v in end.totals.items()},
            "totals": end.totals, "intervals": records,
            "output": b"".join(output).decode(errors="replace")[-65536:] if req.get("capture") else None,
        }

    # -- the loop ------------------------------------------------------------------

    def handle(self, req: dict) -> dict:
        op = req.get("op")
        if op == "attach":
            return self.attach(req)
        if op == "detach":
            return {"ok": True, "exit": self._detach()}
        if op == "run":
            return self.run(req)
        if op == "stats":
            return {"ok": True, "scheduler": self._name(),
                    "totals": self.current.stats() if self.current else {}, "ejected": self._ejected()}
        if op == "set":
            return self.set(req.get("values") or {})
        if op == "cancel":
            return {"ok": True}  # nothing running
        if op == "ping":
            return {"ok": True}
        return {"ok": False, "error": f"unknown request {op!r}"}

    def serve(self) -> int:
        def read_stdin():
            for line in sys.stdin:
                line = line.strip()
                if line:
                    try:
                        self.requests.put(json.loads(line))
                    except ValueError:
                        self.requests.put({"op": "bad", "line": line})
            self.requests.put({"op": None})  # the host is gone

        threading.Thread(target=read_stdin, daemon=True).start()
        say({"ready": True, "kernel": platform.release(), "cpus": os.cpu_count()})
        try:
            while True:
                req = self.requests.get()
                if req.get("op") in ("quit", None):
                    exit_reason = self._detach()
                    if req.get("op") == "quit":
                        say({"ok": True, "exit": exit_reason})
                    return 0
                try:
                    reply = self.handle(req)
                except Exception as e:  # a bug of ours: report it, keep serving
                    reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
                say(reply)
        finally:
            self._detach()


def main(argv: list[str] | None = None, agent_class: type[Agent] = Agent) -> int:
    """Serve requests; `agent_class` is an Agent subclass that knows more requests
    (scxpy.tune's agent runs bench workloads in its own, already warm, process)."""
    argv = sys.argv[1:] if argv is None else argv
    # SIGTERM (the guest shutting down) unwinds through serve()'s detach.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    stats_socket = argv[0] if argv else None
    return agent_class(stats_socket).serve()


if __name__ == "__main__":
    sys.exit(main())
