"""`scxpy dev`: the policy developer's loop in one warm guest.

    scxpy dev POLICY [--cpus N] [--stats SECS] [--loop] -- WORKLOAD ...

Boots the guest once (scxpy.api.Guest), attaches POLICY and runs
WORKLOAD under it. Then it watches the policy file and the files it
imports: on every save it compiles on the host, swaps the scheduler in
the guest (detach the old, attach the new) and runs WORKLOAD again,
printing the new figures beside the previous version's. A version that
does not compile or load is reported at the policy's file:line and the
previous one keeps running. Enter reruns the workload; --loop reruns it
continuously. Ctrl-C detaches and stops the guest.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import sysconfig
import threading
import time
from pathlib import Path

from scxpy.base.errors import ScxpyError
from scxpy.cmd_policy import add_set_file_option
from scxpy.cmd_vm import add_guest_options, guest_kernel
from scxpy.vm.errors import VmError


# Installed libraries are not the user's files; scxpy's own modules are told by name.
_NOT_WATCHED = [p + os.sep for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"],
                                     sysconfig.get_paths()["platlib"], sys.prefix, sys.base_prefix}]
WATCH_STEP_MS = 50  # how often watchfiles looks, and how long a burst of writes may last


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dev", help="edit-run loop: a warm guest that swaps in POLICY on every save and reruns WORKLOAD",
        usage="scxpy dev [options] POLICY [-- WORKLOAD ...]",
        description=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("policy", metavar="POLICY", help="policy .py file (or stock name) to watch")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="set a tunable before each attach")
    add_set_file_option(p)
    p.add_argument("--stats", type=float, metavar="SECS",
                   help="while the workload runs, print the counters as a table every SECS")
    p.add_argument("--stats-json", metavar="FILE", help="append one JSON object per interval to FILE")
    p.add_argument("--plot", metavar="FILE.png", help="at the end, draw the last run's counters over time")
    p.add_argument("--stats-socket", metavar="PATH",
                   help="scx_stats socket in the guest (default /var/run/scx/root/stats; 'none' for none)")
    p.add_argument("--loop", action="store_true", help="rerun the workload as soon as it ends")
    add_guest_options(p)
    # A development session lasts as long as the developer wants (--timeout still caps it if given).
    p.set_defaults(func=cmd_dev, trailing="workload", workload=[], timeout=None)


# --- which files -------------------------------------------------------------------


def policy_file(spec: str) -> Path:
    """The file to watch for POLICY: itself, or a stock policy's source."""
    from scxpy import schedulers

    return Path(schedulers.policy_file(spec)).resolve()


def user_module(name: str, path: str | None) -> bool:
    """A module the user wrote (a helper the policy imports), not scxpy's or a library's.
    Stock policies are loaded under names of their own (scxpy_policy_...), so an
    edited stock policy is watched like any other."""
    if name == "scxpy" or name.startswith("scxpy."):
        return False
    return bool(path) and path.endswith(".py") and not any(path.startswith(p) for p in _NOT_WATCHED)


class Compiler:
    """Compiles the policy in this process, each time from fresh source: the
    user's modules the policy imported are dropped from sys.modules first,
    so an edited helper is read again; it also tells which files to watch."""

    def __init__(self, path: Path):
        self.path = path
        self.user_modules: set[str] = set()
        self.files: set[Path] = {path}
        self.stamps: dict[Path, float | None] = {}  # each file's mtime when last compiled

    def changed(self) -> dict[Path, float]:
        """Files saved since the last compile, with their modification times (decided by
        those times, so no missed event loses a save)."""
        now = {f: _mtime(f) for f in self.files}
        # a file missing for a moment is being replaced: it is looked at again on the next wake-up
        return {f: m for f, m in now.items() if m is not None and m != self.stamps.get(f)}

    def compile(self):
        from scxpy.api import compile_policy

        self.stamps = {f: _mtime(f) for f in self.files}
        for name in self.user_modules:
            sys.modules.pop(name, None)
        before = set(sys.modules)
        # The loader searches the policy's own directory first (as for every
        # command), so helpers beside it are among the new modules.
        try:
            return compile_policy(str(self.path))
        finally:
            new = {n for n in set(sys.modules) - before if user_module(n, getattr(sys.modules[n], "__file__", None))}
            self.user_modules |= new
            self.files = {self.path} | {Path(sys.modules[n].__file__).resolve() for n in self.user_modules
                                        if n in sys.modules}
            for f in self.files - set(self.stamps):
                self.stamps[f] = _mtime(f)


# --- output ------------------------------------------------------------------------------


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _split(a) -> str:
    return (f"compile {a.compile_s:.2f} s, transfer {a.transfer_s:.2f} s, load {a.load_s:.2f} s, "
            f"detach {a.detach_s:.2f} s, attach {a.attach_s:.2f} s")


# --- the loop -------------------------------------------------------------------------------


class DevLoop:
    def __init__(self, args, guest, compiler: Compiler, sets: dict):
        self.args = args
        self.g = guest
        self.compiler = compiler
        self.sets = sets
        self.version = 0
        self.running: str | None = None  # the version attached now
        self.last: tuple[str, dict, float] | None = None  # (version, rates, wall) of the previous run
        self.json_file = open(args.stats_json, "a") if args.stats_json else None
        self.last_intervals: list[dict] = []

    def compile(self):
        """Compile the current source as the next version: (compiled, seconds), or None
        after reporting the error at the policy's file:line."""
        from scxpy.codegen import PolicyError

        self.version += 1
        t0 = time.monotonic()
        try:
            compiled = self.compiler.compile()
        except PolicyError as e:
            _err(f"scxpy dev: v{self.version} does not compile; "
                 f"{'still running ' + self.running if self.running else 'nothing attached'}:\n{e}")
            return None
        return compiled, time.monotonic() - t0

    def swap(self, saved_at: float | None, prepared=None) -> bool:
        """Compile (unless `prepared`) and attach the current source; False (the previous
        one kept) on failure."""
        from scxpy.api import LoadFailed

        prepared = prepared or self.compile()
        if prepared is None:
            return False
        compiled, compile_s = prepared
        label = f"v{self.version}"
        try:
            a = self.g.attach(None, sets=self.sets, compiled=compiled)
        except LoadFailed as e:
            kept = f"still running {self.running}" if e.kept and self.running else "nothing attached"
            _err(f"scxpy dev: {label} could not be loaded; {kept}:\n{e}")
            if not e.kept:
                self.running = None
            return False
        t = time.time()
        a.compile_s = compile_s
        since = f"{t - saved_at:.2f} s after the save; " if saved_at else ""
        print(f"scxpy dev: {label} ({a.name}) attached {since}{_split(a)}", flush=True)
        self.running = label
        return True

    def run_workload(self) -> None:
        workload = self.args.workload
        if not workload or self.running is None:
            return
        from scxpy.display.table import render_compare, render_table, terminal_width

        width = terminal_width()
        every = self.args.stats or 1.0

        def on_interval(rec):
            if self.json_file:
                self.json_file.write(json.dumps({"version": self.running, **rec}) + "\n")
                self.json_file.flush()
            if self.args.stats:
                sys.stdout.write(render_table(rec["rates"], f"{self.running} {rec['scheduler']}  "
                                                             f"{rec['elapsed_s']:.0f} s  (per second)", width))
                sys.stdout.flush()

        print(f"scxpy dev: running {' '.join(workload)} under {self.running}", flush=True)
        try:
            r = self.g.run(None, workload, interval=every, on_interval=on_interval)
        except VmError:  # the guest is gone: the session ends
            raise
        except ScxpyError as e:  # e.g. no such program in the guest: say so, keep the session
            _err(f"scxpy dev: {e}")
            return
        self.last_intervals = r.intervals
        rates = r.rates()
        title = (f"{self.running}: workload exited {r.status} after {r.wall_s:.1f} s"
                 + (f" (previous {self.last[0]}: {self.last[2]:.1f} s)" if self.last else ""))
        before = self.last[1] if self.last else None
        labels = (self.last[0] if self.last else "", self.running)
        sys.stdout.write(render_compare(before, rates, labels, title, width))
        sys.stdout.flush()
        if r.ejected:
            _err(f"scxpy dev: the kernel ejected {self.running}: {r.ejected}\n"
                 "Fix the policy and save: the next version is attached in its place.")
            self.running = None
        self.last = (self.running or labels[1], rates, r.wall_s)

    def close(self) -> None:
        if self.json_file:
            self.json_file.close()
        if self.args.plot and self.last_intervals:
            from scxpy.display.plot import plot

            plot(self.last_intervals, self.args.plot)
            print(f"scxpy dev: the last run's counters plotted in {self.args.plot}", flush=True)


def _enter_presses(stop: threading.Event) -> threading.Event:
    """Set whenever Enter is pressed on a terminal: rerun on demand."""
    pressed = threading.Event()
    if not sys.stdin.isatty():
        return pressed

    def read():
        while not stop.is_set():
            if not sys.stdin.readline():
                return
            pressed.set()

    threading.Thread(target=read, daemon=True).start()
    return pressed


def cmd_dev(args: argparse.Namespace) -> int:
    from watchfiles import watch

    from scxpy.api import Guest
    from scxpy.cmd_run import check_output_paths, parse_sets

    check_output_paths(args)
    path = policy_file(args.policy)
    if not path.is_file():
        raise ScxpyError(f"{path} does not exist; give the policy file to develop")
    sets = parse_sets(args.set)
    workload = list(args.workload)
    kernel = guest_kernel(args)
    compiler = Compiler(path)
    # SIGTERM and SIGHUP unwind like Ctrl-C: the scheduler is detached and the guest stopped.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    stop = threading.Event()
    guest = Guest(cpus=args.cpus, kernel=kernel, timeout=args.timeout, stats_socket=args.stats_socket)
    loop = DevLoop(args, guest, compiler, sets)
    try:
        first = loop.compile()  # before the boot: a mistake shows at once
        guest.start()
        if first is not None and loop.swap(None, first):
            loop.run_workload()
        pressed = _enter_presses(stop)
        hint = "Enter reruns the workload; " if sys.stdin.isatty() and workload else ""
        print(f"scxpy dev: watching {', '.join(str(f) for f in sorted(compiler.files))}; "
              f"{hint}Ctrl-C stops", flush=True)
        while True:
            # Directories are watched, not the files: editors that save by
            # renaming a new file into place would end a file watch. Events
            # only wake us up; what changed is decided by modification times.
            watched = set(compiler.files)
            for _ in watch(*sorted({f.parent for f in watched}), watch_filter=lambda _, p: Path(p) in watched,
                           debounce=WATCH_STEP_MS, step=WATCH_STEP_MS, rust_timeout=200,
                           yield_on_timeout=True, stop_event=stop, raise_interrupt=True):
                changed = compiler.changed()
                if changed:
                    if loop.swap(max(changed.values())):
                        loop.run_workload()
                    if compiler.files != watched:
                        break  # the policy imports other files now: watch those
                elif loop.running and (args.loop or pressed.is_set()):
                    pressed.clear()
                    loop.run_workload()
    except KeyboardInterrupt:
        print("\nscxpy dev: stopping: detaching and shutting the guest down", file=sys.stderr, flush=True)
        return 0
    finally:
        stop.set()
        guest.close()
        loop.close()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _mtime(path) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None
