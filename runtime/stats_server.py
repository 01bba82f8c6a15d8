"""Serve a running scheduler's counters over the scx_stats protocol.

The scx schedulers serve their statistics on a UNIX stream socket
(by default /var/run/scx/root/stats), one JSON object per line each way:

    > {"req": "stats_meta"}
    < {"errno": 0, "args": {"resp": {STRUCT_NAME: {...}, ...}}}
    > {"req": "stats", "args": {"target": "top"}}
    < {"errno": 0, "args": {"resp": {...the top struct's values...}}}

`stats_meta` describes the values so that a generic client (the scx
project's OpenMetrics relay, say) can turn each counter into a metric
without knowing scxpy. Our counters map onto that shape as:

    top struct "scxpy":   scheduler (string), one u64 per policy-wide counter,
                          and per counter group a dict: "rules", "queues"
    struct "scxpy_rule":  the per-rule counters (enqueued, direct, kicked),
                          _om_label "rule" names the dict key in metrics
    struct "scxpy_queue": the per-queue counters (enqueued, dispatched, stolen)
"""

from __future__ import annotations

import errno
import json
import os
import re
import socket
import sys
import threading
from typing import Callable

from scxpy.runtime.counters import split_name

DEFAULT_PATH = "/var/run/scx/root/stats"
TOP = "scxpy"
OM_PREFIX = "scxpy_"

# What codegen's counters count (docs/dsl-reference.md, "Stats").
DESCRIPTIONS = {
    ("rule", "enqueued"): "tasks this rule matched at enqueue",
    ("rule", "direct"): "tasks of this rule dispatched from select_cpu straight to an idle CPU",
    ("rule", "kicked"): "times this rule woke an idle CPU or preempted one",
    ("queue", "enqueued"): "tasks inserted into this queue",
    ("queue", "dispatched"): "tasks moved from this queue to a CPU",
    ("queue", "stolen"): "tasks taken from this queue by another CPU",
    (None, "cpus_fallback_to_global"): "tasks no allowed CPU could take, sent to the global queue",
}


def _ident(text: str) -> str:
    """An OpenMetrics-safe name part (letters, digits, underscores)."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return s if s and not s[0].isdigit() else "_" + s


def _shape(names) -> tuple[dict[str, list[str]], list[str]]:
    """Counter names -> ({group: [counter, ...]}, [policy-wide counter, ...])."""
    groups: dict[str, list[str]] = {}
    flat: list[str] = []
    for name in names:
        parts = name.split(".")
        if len(parts) >= 3:
            cols = groups.setdefault(parts[0], [])
            if parts[-1] not in cols:
                cols.append(parts[-1])
        else:
            flat.append(name)
    return groups, flat


def _dict_field(group: str) -> str:
    return _ident(group if group.endswith("s") else group + "s")


def stats_meta(scheduler: str, names) -> dict:
    """The `stats_meta` reply for a scheduler with these counter names."""
    groups, flat = _shape(names)
    top_fields: dict[str, dict] = {
        # a label, not a number: generic relays to metrics are told to skip it
        "scheduler": {"datum": "string", "desc": "name of the attached scheduler", "user": {"_om_skip": "true"}},
    }
    for name in flat:
        top_fields[_ident(name)] = {"datum": "u64",
                                    "desc": DESCRIPTIONS.get((None, name), f"counter {name} (cumulative)")}
    meta = {}
    for group, cols in groups.items():
        sname = f"{TOP}_{_ident(group)}"
        top_fields[_dict_field(group)] = {
            "desc": f"counters per {group}", "dict": {"key": "string", "datum": {"struct": sname}},
        }
        meta[sname] = {
            "name": sname,
            "desc": f"{scheduler}: counters of one {group} (cumulative)",
            "fields": {_ident(c): {"datum": "u64", "desc": DESCRIPTIONS.get((group, c), f"{group} {c} counter")}
                       for c in cols},
            "user": {"_om_prefix": f"{OM_PREFIX}{_ident(group)}_", "_om_label": _ident(group)},
        }
    meta[TOP] = {
        "name": TOP, "desc": f"scxpy scheduler {scheduler}", "fields": top_fields, "top": "true",
        "user": {"_om_prefix": OM_PREFIX, "_om_label": ""},
    }
    return meta


def stats_top(scheduler: str, totals: dict[str, int]) -> dict:
    """The `stats` reply for target `top`: the same shape stats_meta describes."""
    out: dict = {"scheduler": scheduler}
    for name, v in totals.items():
        parts = name.split(".")
        if len(parts) >= 3:
            row, col = split_name(name)
            label = row.split(" ", 1)[1]
            out.setdefault(_dict_field(parts[0]), {}).setdefault(label, {})[_ident(col)] = v
        else:
            out[_ident(name)] = v
    return out


def reply(line: str, scheduler: str, names, totals_fn: Callable[[], dict[str, int]]) -> dict:
    """Answer one request line; errors are replies with an errno, never exceptions.
    Every request only reads: none sets a tunable or changes the scheduler."""
    try:
        req = json.loads(line)
        if not isinstance(req, dict):
            raise ValueError("a request is a JSON object")
    except ValueError as e:
        return {"errno": errno.EINVAL, "args": {"resp": f"bad request: {e}"}}
    except RecursionError:
        return {"errno": errno.EINVAL, "args": {"resp": "bad request: JSON nested too deeply"}}
    kind = req.get("req")
    args = req.get("args") or {}
    if kind == "stats_meta":
        return {"errno": 0, "args": {"resp": stats_meta(scheduler, names)}}
    if kind in ("stats", "stat"):  # the scx client library spells it both ways
        target = args.get("target", "top") if isinstance(args, dict) else "top"
        if target != "top":
            return {"errno": errno.ENOENT, "args": {"resp": f"unknown target {target!r}; there is only 'top'"}}
        return {"errno": 0, "args": {"resp": stats_top(scheduler, totals_fn())}}
    return {"errno": errno.EINVAL, "args": {"resp": f"unknown request {kind!r}; use 'stats' or 'stats_meta'"}}


# What a client may cost the scheduler's process, whatever it sends.
MAX_LINE = 64 * 1024      # a request is a few dozen bytes; a longer line is refused
MAX_CLIENTS = 256         # connections served at once; more are told so and closed
SEND_TIMEOUT_S = 5.0      # a client that stops reading is dropped after this
IDLE_TIMEOUT_S = 300.0    # a client that sends nothing for this long is dropped
# Who may connect: the socket file is the owner's alone (the user running the
# scheduler, root in practice). connect(2) on a UNIX socket needs write
# permission on the file, so other users get EACCES. No request changes
# anything: the protocol has only `stats` and `stats_meta`, both read-only.
SOCKET_MODE = 0o600


class StatsServer:
    """A background thread answering scx_stats requests on a UNIX socket.

        with StatsServer(path, "interactive", names, sched.stats):
            ...  # clients connect while inside

    One thread per client, at most MAX_CLIENTS. A bad client (malformed or
    endless lines, unknown requests, one that never reads or hangs up
    mid-reply) gets an errno reply or is dropped; it never raises into the
    scheduler's process nor prints a traceback there.
    """

    def __init__(self, path: str, scheduler: str, names, totals_fn: Callable[[], dict[str, int]]):
        self.path = path
        self._scheduler, self._names, self._totals_fn = scheduler, list(names), totals_fn
        self._lock = threading.Lock()  # counters are read from one client at a time
        self._slots = threading.BoundedSemaphore(MAX_CLIENTS)
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.dropped = 0  # clients cut off (overlong line, never read, too many)

    # -- one client ----------------------------------------------------------------

    def _answer(self, line: bytes) -> bytes:
        with self._lock:
            try:
                ans = reply(line.decode(errors="replace"), self._scheduler, self._names, self._totals_fn)
            except Exception as e:  # the scheduler went away mid-read
                ans = {"errno": errno.EIO, "args": {"resp": f"cannot read counters: {e}"}}
        return (json.dumps(ans) + "\n").encode()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(IDLE_TIMEOUT_S)
            with conn.makefile("rb") as rfile:
                while not self._stopping.is_set():
                    raw = rfile.readline(MAX_LINE + 1)
                    if not raw:
                        return
                    if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
                        self.dropped += 1
                        conn.settimeout(SEND_TIMEOUT_S)
                        conn.sendall(json.dumps({"errno": errno.E2BIG, "args": {
                            "resp": f"request longer than {MAX_LINE} bytes; closing"}}).encode() + b"\n")
                        return
                    line = raw.strip()
                    if not line:
                        continue
                    out = self._answer(line)
                    conn.settimeout(SEND_TIMEOUT_S)  # a client that never reads blocks only itself
                    conn.sendall(out)
                    conn.settimeout(IDLE_TIMEOUT_S)
        except OSError:  # hung up mid-reply (EPIPE, ECONNRESET), or timed out: its loss only
            self.dropped += 1
        finally:
            conn.close()
            self._slots.release()

    # -- accepting -----------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:  # closed by stop(), or a client gone before accept
                if self._stopping.is_set():
                    return
                continue
            if not self._slots.acquire(blocking=False):
                self.dropped += 1  # counted before the client hears it, so that it can rely on it
                try:
                    conn.setblocking(False)
                    conn.send(json.dumps({"errno": errno.EAGAIN, "args": {
                        "resp": f"{MAX_CLIENTS} clients connected already; try again later"}}).encode() + b"\n")
                except OSError:
                    pass
                conn.close()
                continue
            threading.Thread(target=self._serve, args=(conn,), name="scx-stats-client", daemon=True).start()

    def _listen(self) -> socket.socket:
        """A listening socket at self.path, mode SOCKET_MODE from the start: bound under a
        temporary name, chmod-ed, then renamed into place (no moment when others may connect)."""
        tmp = f"{self.path}.{os.getpid()}.tmp"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            sock.bind(tmp)
            os.chmod(tmp, SOCKET_MODE)
            sock.listen(MAX_CLIENTS * 2)  # a burst of clients waits for accept, not refused
            os.rename(tmp, self.path)
        except BaseException:
            sock.close()
            if os.path.lexists(tmp):
                os.unlink(tmp)
            raise
        # accept() wakes up now and then to notice stop() (closing a socket does
        # not wake a thread blocked on it).
        sock.settimeout(0.5)
        return sock

    def start(self) -> None:
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        # Only one sched_ext scheduler runs at a time, so a socket left at
        # this path belongs to one that is gone: replace it.
        if os.path.exists(self.path):
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(self.path)
            except OSError:
                os.unlink(self.path)
            else:
                probe.close()
                raise OSError(errno.EADDRINUSE, f"another stats server is listening on {self.path}")
        self._stopping.clear()
        self._listener = self._listen()
        self._thread = threading.Thread(target=self._accept_loop, name="scx-stats", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._listener is None:
            return
        self._stopping.set()
        self._thread.join()
        self._listener.close()
        self._listener = None
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def serve_or_warn(path: str, scheduler: str, names, totals_fn) -> StatsServer | None:
    """Start a server; if the socket cannot be made, say why on stderr and go on without it
    (the stats socket is an extra: it never stops a scheduler from running)."""
    server = StatsServer(path, scheduler, names, totals_fn)
    try:
        server.start()
    except OSError as e:
        print(f"scxpy: warning: no scx_stats socket at {path}: {e.strerror or e}; "
              "pass --stats-socket PATH to serve it elsewhere", file=sys.stderr, flush=True)
        return None
    return server
