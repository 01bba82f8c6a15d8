"""`scxpy run`: load a scheduler on this machine (or in the 6.12 guest) and run it.

    scxpy run POLICY [--stats SECS] [--set NAME=VALUE ...] [-- WORKLOAD ...]
    scxpy run --vm POLICY [--cpus N] [--timeout S] [--kernel PATH] -- WORKLOAD ...

POLICY is a stock policy name, a policy .py file, or a prebuilt .bpf.o
(its manifest, if any, beside it as NAME.json, or given with --manifest).
With a WORKLOAD, the scheduler is detached once the workload ends;
without one it runs until SIGINT/SIGTERM. Exit status: 0 when the
scheduler ran and detached cleanly, 1 with the kernel's reason on stderr
when it was ejected, the workload's status when only the workload failed.
When the kernel ejects the scheduler, its debug dump (every CPU's and
runnable task's sched_ext state) is written to --exit-dump FILE, by
default $TMPDIR/scxpy-POLICY-DATE-TIME.dump, and one line names the file.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from scxpy.base.errors import ScxpyError
from scxpy.base.manifest import Manifest, path_for as manifest_path_for
from scxpy.display.table import terminal_width
from scxpy.cmd_policy import add_counters_option, add_set_file_option
from scxpy.cmd_vm import add_guest_options, guest_kernel

POLL_SECONDS = 0.1
_UNITS_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}


class RunError(ScxpyError):
    pass


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="load and attach a scheduler (here, or in the 6.12 guest with --vm)",
        usage="scxpy run [options] POLICY [-- WORKLOAD ...]",
        description="Compile POLICY, load and attach it, optionally run WORKLOAD under it, "
                    "detach and report why it exited.",
    )
    p.add_argument("policy", metavar="POLICY", help="stock name, policy .py file, or prebuilt .bpf.o")
    p.add_argument("--stats", type=float, metavar="SECS",
                   help="print the policy's counters as a table every SECS (rates per second; totals at the end)")
    p.add_argument("--stats-json", metavar="FILE",
                   help="write one JSON object per interval (every --stats SECS, default 1 s) to FILE")
    p.add_argument("--plot", metavar="FILE.png", help="after the run, draw the counters over time into FILE.png")
    p.add_argument("--stats-socket", metavar="PATH", default=None,
                   help="serve the counters over the scx_stats protocol on this UNIX socket "
                        "(default /var/run/scx/root/stats, where scx tools look; 'none' to not serve; a userspace "
                        "policy serves only on a PATH given here)")
    p.add_argument("--costs", action="store_true",
                   help="with --stats, also measure each callback's mean run time (like bpftop)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="set a tunable before attach (durations take ns/us/ms/s suffixes)")
    add_set_file_option(p)
    p.add_argument("--manifest", metavar="JSON", help="manifest of a prebuilt .bpf.o")
    p.add_argument("--c-source", metavar="C", help="generated C of a prebuilt .bpf.o (for verifier errors)")
    p.add_argument("--vm", action="store_true", help="run in the 6.12 guest (compiles on the host)")
    p.add_argument("--exit-dump", metavar="FILE",
                   help="where the kernel's debug dump goes if it ejects the scheduler "
                        "(default $TMPDIR/scxpy-POLICY-DATE-TIME.dump)")
    # Inside the guest of `run --vm`: the dump goes to the shared scratch directory
    # and the host names where it keeps it, so the guest names no path.
    p.add_argument("--exit-dump-relay", action="store_true", help=argparse.SUPPRESS)
    add_counters_option(p)
    add_guest_options(p)
    # The words after `--` are the workload (scxpy/cli.py splits them off).
    p.set_defaults(func=cmd_run, trailing="workload", workload=[])


# --- what to run ----------------------------------------------------------------


@dataclass
class Target:
    obj_path: Path
    c_path: Path | None
    manifest: Manifest | None  # None: a prebuilt object with no manifest beside it


def resolve_target(args: argparse.Namespace) -> Target:
    """A prebuilt object as given, or POLICY compiled through codegen."""
    spec = args.policy
    manifest = Manifest.read(args.manifest) if args.manifest else None
    if spec.endswith(".o"):
        obj = Path(spec)
        if not obj.is_file():
            raise RunError(f"{obj} does not exist; build it first (`scxpy compile POLICY -o {obj}`)")
        if args.counters is not None:
            raise RunError(f"--no-counters applies when scxpy compiles the policy, and {obj} is built "
                           f"already; rebuild it without them (`scxpy compile --no-counters POLICY -o {obj}`)")
        beside = Path(manifest_path_for(obj))
        if manifest is None and beside.is_file():
            manifest = Manifest.read(beside)
        c_path = Path(args.c_source) if args.c_source else None
        if c_path is None:
            cand = Path(str(obj).removesuffix(".o") + ".c")
            c_path = cand if cand.is_file() else None
        return Target(obj.resolve(), c_path, manifest)
    from scxpy.build import compile_policy_spec

    compiled = compile_policy_spec(spec, counters=args.counters)
    return Target(Path(compiled.obj_path), Path(compiled.c_path), manifest or compiled.manifest)


def check_counters(args: argparse.Namespace, manifest: Manifest | None) -> None:
    """Asking for counters of a policy compiled without them is a mistake, said before load."""
    if (args.stats or args.stats_json or args.plot) and manifest is not None and manifest.stats is None:
        raise RunError(f"{manifest.name} has no event counters (compiled with --no-counters or "
                       "`counters = False`), so --stats, --stats-json and --plot have nothing to show; "
                       "drop those options, or compile it with its counters")


def parse_value(text: str):
    """'42', '0x10', '4ms', '250us', 'true' -> int; anything else stays a string."""
    t = text.strip()
    low = t.lower()
    if low in ("true", "yes", "on"):
        return 1
    if low in ("false", "no", "off"):
        return 0
    try:
        return int(t, 0)
    except ValueError:
        pass
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ns|us|ms|s)", low)
    if m:
        return int(round(float(m.group(1)) * _UNITS_NS[m.group(2)]))
    return t


def parse_sets(items: list[str]) -> dict:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise RunError(f"--set {item!r}: expected NAME=VALUE, e.g. --set slice=5ms")
        out[name.strip()] = parse_value(value)
    return out


def check_sets(sets: dict, manifest: Manifest | None) -> None:
    """Unknown tunable names are an error; only checkable against a manifest."""
    if manifest is None or not manifest.tunables:
        return
    for name in sets:
        if manifest.tunable(name) is None:
            listing = "".join(f"\n  {t.describe()}" for t in manifest.tunables)
            raise RunError(f"--set {name}: {manifest.name} has no such tunable; its tunables are:{listing}")


def _workload(args) -> list[str]:
    w = list(args.workload)
    return w[1:] if w and w[0] == "--" else w


# --- the command ------------------------------------------------------------------


def check_output_paths(args: argparse.Namespace) -> None:
    """--stats-json, --plot and --exit-dump name files to write: a wrong path fails now, not after the run."""
    dump = getattr(args, "exit_dump", None)  # `scxpy dev` shares this check and has no --exit-dump
    for opt, value in (("--stats-json", args.stats_json), ("--plot", args.plot), ("--exit-dump", dump)):
        if value and Path(value).is_dir():
            raise RunError(f"{opt} {value}: that is a directory; give the path of a file to write")
        if value and not Path(value).resolve().parent.is_dir():
            raise RunError(f"{opt} {value}: the directory {Path(value).resolve().parent} does not exist; "
                           "create it or give another path")


def exit_dump_path(args: argparse.Namespace, name: str) -> Path:
    """--exit-dump, or a new file in $TMPDIR (writable wherever scxpy runs, the guest included)."""
    if args.exit_dump:
        return Path(args.exit_dump)
    return Path(tempfile.gettempdir()) / f"scxpy-{name}-{time.strftime('%Y%m%d-%H%M%S')}.dump"


def write_exit_dump(text: str, path: Path) -> str | None:
    """Write the dump to `path`; None, or the line that says why it could not be."""
    try:
        path.write_text(text)
    except OSError as e:
        return (f"scxpy: the kernel's debug dump could not be written to {path}: {e.strerror}; "
                "--exit-dump FILE puts it elsewhere")
    return None


def keep_exit_dump(info, name: str, args: argparse.Namespace) -> list[str]:
    """Write the kernel's debug dump of an ejection to its file; return the lines to show:
    where it is and, after a stall, what it says about the stalled task (not all 32 KB)."""
    if info is None or not info.is_error or not info.dump:
        return []
    path = exit_dump_path(args, name)
    failed = write_exit_dump(info.dump, path)
    if failed:
        return [failed]
    lines = [] if args.exit_dump_relay else [f"scxpy: the kernel's debug dump: {path}"]
    task = info.stalled_task
    about = info.dump_about_task(*task) if task else []
    if about:
        lines += [f"scxpy: the dump on {task[0]}[{task[1]}]:", *about]
    return lines


def cmd_run(args: argparse.Namespace) -> int:
    check_output_paths(args)
    if args.vm:
        return run_in_vm(args)
    return run_here(args)


def run_in_vm(args: argparse.Namespace) -> int:
    """Compile here, then `scxpy run OBJ ...` inside the guest; its status is ours."""
    from scxpy.vm.runner import make_scratch, run_in_guest

    kernel = guest_kernel(args)
    target = resolve_target(args)
    check_sets(parse_sets(args.set), target.manifest)  # fail before a slow boot
    check_counters(args, target.manifest)
    # The guest sees the host's file system read-only, and its own /tmp;
    # the scratch directory is shared, so the object travels through it.
    scratch = make_scratch()
    try:
        obj = scratch / target.obj_path.name
        shutil.copy(target.obj_path, obj)
        cmd = [sys.executable, "-m", "scxpy", "run", str(obj)]
        if target.manifest is not None:
            manifest = scratch / "manifest.json"
            target.manifest.write(manifest)
            cmd += ["--manifest", str(manifest)]
        if target.c_path:
            c_copy = scratch / target.c_path.name
            shutil.copy(target.c_path, c_copy)
            cmd += ["--c-source", str(c_copy)]
        if args.stats:
            cmd += ["--stats", str(args.stats)]
        guest_json = scratch / "stats.jsonl"
        if args.stats_json or args.plot:
            cmd += ["--stats-json", str(guest_json)]
        if args.stats_socket:
            cmd += ["--stats-socket", args.stats_socket]
        if args.costs:
            cmd.append("--costs")
        for item in args.set:
            cmd += ["--set", item]
        guest_dump = scratch / "exit.dump"
        cmd += ["--exit-dump", str(guest_dump), "--exit-dump-relay"]
        workload = _workload(args)
        if workload:
            cmd += ["--", *workload]
        try:
            return run_in_guest(cmd, kernel=kernel, cpus=args.cpus, timeout=args.timeout, scratch=scratch,
                                env={"COLUMNS": str(terminal_width())})
        finally:  # what was measured is kept even when the run failed
            if guest_dump.is_file():
                _relay_exit_dump(guest_dump, args, target)
            if guest_json.is_file():
                if args.stats_json:
                    shutil.copy(guest_json, args.stats_json)
                if args.plot:
                    _plot(_read_records(guest_json), args.plot)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _relay_exit_dump(guest_dump: Path, args: argparse.Namespace, target: Target) -> None:
    """Keep the dump the guest wrote to the scratch directory (removed after the run) on the host."""
    path = exit_dump_path(args, target.manifest.name if target.manifest else target.obj_path.stem)
    failed = write_exit_dump(guest_dump.read_text(errors="replace"), path)
    print(failed or f"scxpy: the kernel's debug dump: {path}", file=sys.stderr, flush=True)


def _read_records(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def _plot(records: list[dict], path) -> None:
    from scxpy.display.plot import plot

    if not records:
        print(f"scxpy: no plot written to {path}: the run ended before the first stats interval",
              file=sys.stderr)
        return
    plot(records, path)
    print(f"scxpy: counters over time plotted in {path}", flush=True)


def run_here(args: argparse.Namespace) -> int:
    from scxpy.runtime.errors import AttachError, SchedulerEjected
    from scxpy.runtime.scheduler import Scheduler

    from scxpy.runtime.sched_ext_sysfs import require_sched_ext

    t0 = time.monotonic()
    require_sched_ext()  # before compiling, which may have to build a kernel for its vmlinux.h
    target = resolve_target(args)
    check_counters(args, target.manifest)
    sched = Scheduler(target.obj_path, manifest=target.manifest, c_path=target.c_path)
    try:
        return _run_opened(sched, target, args, t0)
    except (AttachError, SchedulerEjected) as e:
        lines = keep_exit_dump(e.exit_info, sched.name, args)
        if not lines:
            raise
        raise type(e)("\n".join([str(e), *lines]), e.exit_info) from None
    finally:
        sched.close()


def _run_opened(sched, target: Target, args: argparse.Namespace, t0: float) -> int:
    from scxpy.run_user import run_user_here
    from scxpy.runtime.user_rings import is_user_core

    if is_user_core(sched.obj):  # a userspace policy: this process runs its loop
        if args.set:
            raise RunError("--set: a userspace policy has no tunables (its settings are class attributes of its "
                           "UserScheduler: edit them in the policy file); run it without --set")
        logs = []

        def stats_log():
            logs.append(_stats_log(sched, args))
            return logs[-1]

        # The scx_stats socket only when asked for by path: its server thread shares the GIL
        # with the loop and delayed its turns (longest gap 216-477 ms against 125-147 ms
        # without it, tests/user_policies/long_slices.py on 7.3).
        serve = args.stats_socket not in (None, "none")
        status = run_user_here(sched, target.manifest, _workload(args), t0, stats_log=stats_log,
                               stats_server=(lambda: _stats_server(sched, args)) if serve else None,
                               every=args.stats or 1.0)
        if args.plot and logs and logs[0] is not None:
            _plot(logs[0].records, args.plot)
        return status
    return _run_dsl(sched, args, t0)


def _run_dsl(sched, args: argparse.Namespace, t0: float) -> int:
    from scxpy.runtime.errors import SchedulerEjected
    from scxpy.runtime.scheduler import StopRequested, stop_on_signals

    sets = parse_sets(args.set)
    workload = _workload(args)
    status = 0
    log = None
    sched.configure(**sets)
    with stop_on_signals():
        try:
            sched.load()
            t_loaded = time.monotonic()
            sched.attach()
            _say_attached(sched, sets, 1e3 * (t_loaded - t0), 1e3 * (time.monotonic() - t0))
            log = _stats_log(sched, args)
            server = _stats_server(sched, args)
            try:
                status = _supervise(sched, workload, args, log)
            finally:
                if server is not None:
                    server.stop()
                if log is not None:
                    log.finish()
        except StopRequested as stop:
            print(f"scxpy: {stop}: detaching", file=sys.stderr, flush=True)
        finally:
            info = sched.detach()
    if info is not None and info.is_error:
        raise SchedulerEjected(f"{sched.name} was ejected by the kernel: {info}", info)
    if info is not None:
        print(f"scxpy: {sched.name} exited: {info}", flush=True)
    if sched.restarts:
        print(f"scxpy: {sched.restarts_summary()}", flush=True)
    if args.plot and log is not None:
        _plot(log.records, args.plot)
    return status


def _say_attached(sched, sets: dict, loaded_ms: float, enabled_ms: float) -> None:
    st = sched.sysfs_state()
    print(f"scxpy: {sched.name} attached (sched_ext {st.state}, root/ops {st.ops}); "
          f"loaded in {loaded_ms:.0f} ms, enabled {enabled_ms:.0f} ms after start", flush=True)
    if sets:  # read back from the loaded object: what the scheduler really runs with
        shown = ", ".join(f"{name}={sched.get(name)}" for name in sets)
        print(f"scxpy: {sched.name} tunables set: {shown}", flush=True)
    for note in sched.notices:  # what this kernel keeps the policy from honouring
        print(f"scxpy: {sched.name}: {note}", flush=True)


def _stats_log(sched, args):
    if not (args.stats or args.stats_json or args.plot):
        return None
    from scxpy.display.stats_log import StatsLog

    def read() -> dict:  # once the kernel had it restarted (CPU hotplug), how often, as a column
        return {**sched.stats(), **({"restarts": sched.restarts} if sched.restarts else {})}

    return StatsLog(sched.name, read, table_width=terminal_width() if args.stats else None,
                    json_path=args.stats_json, notes=sched.notices)


def _stats_server(sched, args):
    from scxpy.runtime import stats_server

    path = args.stats_socket or stats_server.DEFAULT_PATH
    if path == "none":
        return None
    names = list(sched.stats())
    return stats_server.serve_or_warn(path, sched.name, names, sched.stats)


def _supervise(sched, workload: list[str], args, log) -> int:
    """Run until the workload ends, a signal arrives, or the scheduler exits."""
    proc = None
    if workload:
        try:
            proc = subprocess.Popen(workload)
        except OSError as e:
            raise RunError(f"cannot start workload {workload[0]!r}: {e.strerror}") from None
    every = (args.stats or 1.0) if log is not None else None
    next_stats = time.monotonic() + every if every else None
    try:
        while True:
            if proc is not None and proc.poll() is not None:
                break
            info = sched.wait(timeout=0)  # ops.exit ran, or sysfs says it is gone
            if info is not None and sched.restart_if_asked(info):
                print(f"scxpy: {sched.restart_note(info)}", flush=True)
                continue
            if info is not None:
                if proc is not None and proc.poll() is None:  # it keeps running under the fair class
                    # Said now, not after the workload: it may run for long yet.
                    print(f"scxpy: {sched.name} {'was ejected' if info.is_error else 'exited'} while the "
                          f"workload runs ({info.kind_name}); it goes on under the fair class", flush=True)
                    proc.wait()
                return 0
            if next_stats is not None and time.monotonic() >= next_stats:
                log.tick()
                if args.costs:
                    from scxpy.runtime.prog_stats import format_costs

                    print(format_costs(sched.costs(min(1.0, every / 2))), flush=True)
                next_stats = time.monotonic() + every
            time.sleep(POLL_SECONDS)
    except BaseException:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
        raise
    if proc.returncode != 0:
        print(f"scxpy: workload exited with status {proc.returncode}", file=sys.stderr, flush=True)
        return proc.returncode if proc.returncode > 0 else 128 - proc.returncode
    return 0
