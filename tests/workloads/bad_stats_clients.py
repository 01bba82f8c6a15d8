"""Bad clients against an scx_stats socket, with a well-formed client checked throughout.

    python tests/workloads/bad_stats_clients.py SOCKET [--as-nobody]

In turn: malformed JSON, a 10 MB line, unknown requests (some named like
setters), 200 clients at once, a client that sends and never reads, and
clients that hang up mid-reply. After each, a fresh well-formed client must
get its answer. --as-nobody also checks that user nobody cannot connect.
Prints one JSON line with what each check saw; exits 1 if any failed.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

GOOD = b'{"req":"stats","args":{"target":"top"}}\n'
TIMEOUT_S = 30.0


def connect(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT_S)
    s.connect(path)
    return s


def ask(s: socket.socket, line: bytes) -> dict:
    s.sendall(line)
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {len(buf)} bytes")
        buf += chunk
    return json.loads(buf)


def good_client_answered(path: str) -> bool:
    with connect(path) as s:
        ans = ask(s, GOOD)
    return ans.get("errno") == 0 and "scheduler" in ans["args"]["resp"]


def malformed(path: str) -> dict:
    errnos = []
    with connect(path) as s:
        for line in (b"{not json\n", b"[1,2]\n", b'"stats"\n', b"\xff\xfe\n", b"[" * 30000 + b"\n",
                     b'{"req": 5}\n', b'{"req":"stats","args":[1]}\n', b'{"req":"stats","args":{"target":["x"]}}\n'):
            errnos.append(ask(s, line)["errno"])
        still = ask(s, GOOD)["errno"] == 0  # the same connection keeps working
    return {"errnos": errnos, "same_connection_answers": still, "ok": still and errnos[:6] == [22] * 6}


def huge_line(path: str) -> dict:
    with connect(path) as s:
        try:
            s.sendall(b"x" * (10 * 1024 * 1024) + b"\n")
            ans = json.loads(s.makefile("rb").readline() or b"null")
        except OSError:  # the server closed on us mid-send: also a refusal
            ans = None
    return {"reply": ans, "ok": ans is None or ans.get("errno") == 7}  # E2BIG


def unknown(path: str) -> dict:
    seen = {}
    with connect(path) as s:
        for req in ("set", "set_tunable", "tunable", "write", "exit", "", None):
            seen[str(req)] = ask(s, json.dumps({"req": req, "args": {"name": "slice", "value": 1}}).encode() + b"\n")["errno"]
        seen["stats+set"] = ask(s, b'{"req":"stats","args":{"target":"top","set":{"slice":1}}}\n')["errno"]
    return {"errnos": seen, "ok": all(v == 22 for k, v in seen.items() if k != "stats+set")}


def many(path: str, n: int = 200) -> dict:
    socks, answered = [], 0
    try:
        for _ in range(n):
            socks.append(connect(path))
        for s in socks:
            s.sendall(GOOD)
        for s in socks:
            buf = s.makefile("rb").readline()
            answered += json.loads(buf).get("errno") == 0
    finally:
        for s in socks:
            s.close()
    return {"clients": n, "answered": answered, "ok": answered == n}


def never_reads(path: str) -> dict:
    """Fill the socket buffers with replies it never reads; others must still be answered meanwhile."""
    s = connect(path)
    stop = threading.Event()

    def flood():
        try:
            while not stop.is_set():
                s.sendall(b'{"req":"stats_meta"}\n' * 100)
        except OSError:
            pass

    t = threading.Thread(target=flood, daemon=True)
    t.start()
    time.sleep(1.0)
    meanwhile = all(good_client_answered(path) for _ in range(5))
    stop.set()
    s.close()
    t.join(timeout=TIMEOUT_S)
    return {"others_answered_meanwhile": meanwhile, "ok": meanwhile}


def hang_up_mid_reply(path: str, n: int = 20) -> dict:
    for _ in range(n):
        s = connect(path)
        s.sendall(b'{"req":"stats_meta"}\n' * 200)
        s.close()
    return {"clients": n, "ok": True}  # the server's side is judged by its output (no traceback)


def nobody_refused(path: str) -> dict:
    code = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\n"
            "try:\n s.connect(sys.argv[1])\nexcept PermissionError:\n sys.exit(13)\nsys.exit(0)")
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        sys.executable, "-c", code, path], capture_output=True, text=True, timeout=TIMEOUT_S)
    return {"status": r.returncode, "stderr": r.stderr[-500:], "ok": r.returncode == 13}


CHECKS = [malformed, huge_line, unknown, many, never_reads, hang_up_mid_reply]


def run(path: str, as_nobody: bool = False) -> dict:
    results = {}
    for check in CHECKS + ([nobody_refused] if as_nobody else []):
        try:
            r = check(path)
        except Exception as e:  # a check's own failure is a failed check, reported with the rest
            r = {"error": f"{type(e).__name__}: {e}", "ok": False}
        r["good_client_after"] = good_client_answered(path)
        r["ok"] = r["ok"] and r["good_client_after"]
        results[check.__name__] = r
    return results


def main() -> int:
    path = sys.argv[1]
    results = run(path, as_nobody="--as-nobody" in sys.argv)
    print("bad_stats_clients: " + json.dumps(results, sort_keys=True, default=str))
    return 0 if all(r["ok"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
