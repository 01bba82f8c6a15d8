"""The host side of `scxpy bench`: prepare contenders, boot one guest, report.

    contenders: fair (always) + scxpy policies (compiled here) + peers (built here)
    plan.json ─► one guest boot: python -m scxpy.bench.guest ─► samples.json (raw)
    samples.json ─► statistics ─► table (terminal), results.json, <workload>.png
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

from scxpy.base.cache import file_digest
from scxpy.base.errors import ScxpyError

from scxpy.bench import peers, plots, report, schema, stats, workloads

# The checkout scxpy runs from, if it runs from one (an editable install):
# results then name its commit. An installed wheel has none.
CHECKOUT = Path(__file__).resolve().parent.parent
FAIR = report.BASELINE


class BenchError(ScxpyError):
    """The benchmark could not be set up, or the guest did not produce results."""


@dataclass
class Options:
    policies: list[str]
    workloads: list[str] = field(default_factory=lambda: list(workloads.DEFAULT_WORKLOADS))
    rounds: int = 3
    warmup: int = 1
    long: bool = False
    out: Path | None = None
    cpus: int = 2
    timeout: float | None = None  # None: estimated from the plan
    kernel: object = None  # --kernel PATH, or KernelArtifacts; None: kernel_versions
    kernel_versions: list[str] = field(default_factory=list)  # Debian kernels X.Y; empty: 6.12
    cost: bool = True
    rotate: bool = False
    progress: bool = True
    counters: bool | None = None  # False: compile scxpy policies without their counters
    sets: dict = field(default_factory=dict)  # tunables set on every scxpy policy (--set, --set-file)


# --- contenders ---------------------------------------------------------------


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    i = 2
    while f"{name}#{i}" in taken:
        i += 1
    return f"{name}#{i}"


def resolve_contenders(specs: list[str], kernel, progress=None, policies: dict | None = None,
                       counters: bool | None = None, sets: dict | None = None) -> tuple[list[dict], list[dict]]:
    """(plan entries for the guest, descriptions for results.json), fair first.

    `policies` maps a spec to its already loaded Scheduler class (check_specs()),
    so that no policy file runs twice. `counters` overrides the policies' own
    `counters` setting (False: compiled without counters).

    A policy given twice is benchmarked twice under distinct names (its
    two runs then show the noise floor); `fair` given explicitly is the
    baseline that is always there.
    """
    plan = [{"name": FAIR, "kind": "fair"}]
    info = [{"name": FAIR, "kind": "fair", "description": "the kernel's default scheduler (fair class, EEVDF)",
             "hash": None}]
    taken = {FAIR}
    peer_dir = None
    for spec in specs:
        if spec == FAIR:
            continue
        if peers.is_peer(spec):
            p = peers.spec(spec)
            if peer_dir is None:
                peer_dir = peers.peers_dir(kernel, progress)
            binary, args = peers.binary(peer_dir, spec)
            name = _unique(spec, taken)
            plan.append({"name": name, "kind": "peer", "binary": str(binary), "args": list(args),
                         "ops_name": p.ops_name, "init_cpu": p.init_cpu})
            info.append({"name": name, "kind": "peer", "description": p.description, "ops_name": p.ops_name,
                         "binary": str(binary), "args": list(args), "hash": file_digest(binary)})
        else:
            compiled = _compile((policies or {}).get(spec, spec), counters)
            m = compiled.manifest
            base = spec if not spec.endswith(".py") else m.name
            name = _unique(base, taken)
            if "scxpy_to_user" in Path(compiled.c_path).read_text():
                # A userspace policy: its scheduler is a process (`scxpy run`), attached
                # and detached (SIGINT) like a peer; its loop report ends the peer log.
                # The compiled object (its manifest beside it names the policy file): the guest
                # does not run clang. Starting Python on a loaded TCG guest takes a while.
                args = ["-m", "scxpy", "run", str(compiled.obj_path)]
                plan.append({"name": name, "kind": "peer", "binary": sys.executable, "args": args,
                             "ops_name": m.name, "init_cpu": None, "attach_timeout": 240})
                info.append({"name": name, "kind": "userspace", "description": m.description, "ops_name": m.name,
                             "source": m.source, "obj": str(compiled.obj_path),
                             "hash": file_digest(compiled.obj_path), "source_hash": file_digest(m.source)})
                taken.add(name)
                continue
            for tunable in sets or {}:  # a misspelt --set fails here, before the guest boots
                if m.tunable(tunable) is None:
                    raise BenchError(f"--set {tunable}: {spec} has no such tunable; its tunables: "
                                     f"{', '.join(t.name for t in m.tunables) or 'none'}")
            plan.append({"name": name, "kind": "scxpy", "obj": str(compiled.obj_path), "manifest": m.to_dict(),
                         "ops_name": m.name, "sets": dict(sets or {})})
            info.append({"name": name, "kind": "scxpy", "description": m.description, "sets": dict(sets or {}),
                         "ops_name": m.name, "source": m.source, "obj": str(compiled.obj_path),
                         "hash": file_digest(compiled.obj_path),
                         "source_hash": file_digest(m.source) if m.source and Path(m.source).is_file() else None})
        taken.add(plan[-1]["name"])
    return plan, info


def _compile(spec, counters: bool | None = None):
    """Compile a policy (spec or Scheduler class): one object for every kernel."""
    from scxpy.build import compile_policy_spec

    return compile_policy_spec(spec, counters=counters)


# --- environment ------------------------------------------------------------------


def _cmd_out(cmd: list[str]) -> str | None:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.stdout.strip() if p.returncode == 0 else None


def _deb_version(pkg: str) -> str | None:
    return _cmd_out(["dpkg-query", "-W", "-f=${Version}", pkg])


def host_environment(kernel, accelerator: str, cpus: int) -> dict:
    from scxpy.base.version import __version__

    commit = dirty = None
    if (CHECKOUT / "pyproject.toml").is_file():  # not site-packages inside someone's git repo
        commit = _cmd_out(["git", "-C", str(CHECKOUT), "rev-parse", "HEAD"])
        dirty = _cmd_out(["git", "-C", str(CHECKOUT), "status", "--porcelain", "--untracked-files=no"])
    model = ""
    try:
        model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                      if ln.startswith("model name")), "")
    except OSError:
        pass
    return {
        "accelerator": accelerator,
        "cpus": cpus,
        "kernel_release": kernel.release,
        "kernel_dir": str(kernel.dir),
        "host": {
            "kernel_release": platform.release(),
            "cpus": os.cpu_count(),
            "cpu_model": model,
            "python": platform.python_version(),
        },
        "scxpy": {"version": __version__, "commit": commit, "dirty": bool(dirty)},
        "tools": {"rt-tests": _deb_version("rt-tests"), "stress-ng": _deb_version("stress-ng"),
                  "clang": (_cmd_out([_clang(), "--version"]) or "").splitlines()[:1]},
    }


def _clang() -> str:
    from scxpy.base.tools import require_tool

    try:
        return require_tool("clang")
    except ScxpyError:
        return "clang"


# --- time budget ---------------------------------------------------------------

# Seconds per workload run under TCG with 2 vCPUs (measured; KVM is far
# faster). Only used to size the guest's timeout, never for results.
TCG_SECONDS = {"hackbench": (5, 90), "latency": (12, 45), "throughput": (7, 40), "mixed": (20, 55),
               "mixed-heavy": (35, 60)}
ATTACH_SECONDS = 15
BOOT_SECONDS = 90


def estimate_seconds(opts: Options, n_contenders: int) -> float:
    per_round = sum(TCG_SECONDS.get(w, (30, 300))[1 if opts.long else 0] for w in opts.workloads)
    per_round = per_round * max(1, opts.cpus / 2)  # single-threaded TCG: vCPUs share one host thread
    runs = (opts.rounds + opts.warmup) * n_contenders
    return BOOT_SECONDS + runs * (per_round + ATTACH_SECONDS)


# --- progress -----------------------------------------------------------------------


class ProgressWatcher(threading.Thread):
    """Draws the guest's progress (progress.json in the shared directory) on stderr."""

    def __init__(self, path: Path, enabled: bool):
        super().__init__(daemon=True)
        self.path = path
        self.enabled = enabled
        self.stop = threading.Event()
        self.tty = sys.stderr.isatty()
        self._last = None

    def run(self) -> None:
        while not self.stop.wait(0.5):
            self.draw()

    def draw(self) -> None:
        if not self.enabled:
            return
        try:
            p = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return
        key = (p["done"], p["current"])
        if key == self._last:
            return
        self._last = key
        total = max(1, p["total"])
        width = 30
        filled = int(width * p["done"] / total)
        bar = "#" * filled + "." * (width - filled)
        fail = f", {p['failures']} failed" if p.get("failures") else ""
        line = f"[bench] [{bar}] {p['done']}/{p['total']} {p['elapsed_s']:.0f}s{fail} {p['current']}"
        if self.tty:
            sys.stderr.write("\r" + line[:200] + "\x1b[K")
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def finish(self) -> None:
        self.stop.set()
        self.join(timeout=2)
        self.draw()
        if self.enabled and self.tty:
            sys.stderr.write("\n")


# --- the run ------------------------------------------------------------------------


def check_specs(specs: list[str]) -> dict:
    """Check every contender name; returns spec -> loaded Scheduler class for the policies."""
    from scxpy import codegen
    from scxpy import schedulers

    policies = {}
    for spec in specs:
        if peers.is_peer(spec):
            peers.spec(spec)
        elif spec != FAIR and spec not in policies:
            from scxpy.build import user_policy_class

            path = schedulers.policy_file(spec)
            policies[spec] = user_policy_class(path) or codegen.resolve(path)
    return policies


def run(opts: Options) -> int:
    """Benchmark on each kernel in turn (one guest boot each); the worst exit status."""
    from scxpy.vm import kernel as vm_kernel
    from scxpy.vm.progress import Progress

    if opts.rounds < 1:
        raise BenchError(f"--rounds {opts.rounds}: at least one measured round is needed")
    if opts.warmup < 0:
        raise BenchError(f"--warmup {opts.warmup}: cannot be negative")
    for w in opts.workloads:
        workloads.get(w)  # unknown names fail before anything is built
    policies = check_specs(opts.policies)  # a typo fails now, not after a kernel build
    progress = Progress("bench", enabled=opts.progress)

    if opts.kernel is not None and opts.kernel_versions:
        raise BenchError("give either --kernel PATH or --kernel-version X.Y, not both")
    if opts.kernel is None:
        versions = opts.kernel_versions or [vm_kernel.DEFAULT_VERSION]
        for v in versions:
            vm_kernel.require_known(v)  # an unknown version fails before any fetch or build
        # Every kernel first: a build failure should not come after an hour of benchmarking.
        kernels = [vm_kernel.kernel(v, progress=opts.progress) for v in versions]
    elif isinstance(opts.kernel, (str, os.PathLike)):
        kernels = [vm_kernel.from_path(opts.kernel)]
    else:  # already a KernelArtifacts (tests pass their session's kernel)
        kernels = [opts.kernel]
    if len(kernels) == 1:
        return _run_on(opts, kernels[0], policies, progress)[0]
    statuses, all_results = [], []
    for k in kernels:
        progress.phase(f"kernel {k.release}")
        sub = replace(opts, out=(Path(opts.out) / k.release) if opts.out else None)
        status, results = _run_on(sub, k, policies, progress)
        statuses.append(status)
        all_results.append(results)
    print("\n" + report.format_across_kernels(all_results))
    return max(statuses)


def _run_on(opts: Options, kernel, policies: dict, progress) -> tuple[int, dict]:
    """One guest boot on `kernel` running the whole plan: (exit status, results)."""
    from scxpy.vm import accel
    from scxpy.vm.errors import VmError
    from scxpy.vm.runner import run_in_guest

    progress.phase("preparing contenders")
    plan_contenders, info = resolve_contenders(opts.policies, kernel, progress, policies, opts.counters, opts.sets)
    accelerator = accel.choose(notice=False)

    keep = opts.out is not None
    outdir = Path(opts.out).resolve() if keep else Path(tempfile.mkdtemp(prefix="scxpy-bench-"))
    outdir.mkdir(parents=True, exist_ok=True)
    for stale in ("samples.json", "progress.json", "results.json"):
        (outdir / stale).unlink(missing_ok=True)
    try:
        plan = {
            "contenders": plan_contenders,
            "workloads": list(opts.workloads),
            "rounds": opts.rounds,
            "warmup": opts.warmup,
            "long": opts.long,
            "cost": opts.cost,
            "outdir": str(outdir),
            "rotate": opts.rotate,
            "order": stats.interleaved_order([c["name"] for c in plan_contenders], opts.rounds, opts.warmup,
                                             rotate=opts.rotate),
            # A stuck workload is killed long before the guest's own timeout
            # (the sched_ext watchdog ejects a stalling policy within 30 s anyway).
            "workload_timeout_s": 900 if opts.long else 300,
        }
        plan_path = outdir / "plan.json"
        plan_path.write_text(json.dumps(plan, indent=1))
        timeout = opts.timeout or estimate_seconds(opts, len(plan_contenders))
        names = ", ".join(c["name"] for c in plan_contenders)
        progress.phase(f"booting one {opts.cpus}-vCPU guest ({accelerator}) for {names}; "
                       f"{len(plan['order']) * len(opts.workloads)} runs, timeout {timeout:.0f} s")
        watcher = ProgressWatcher(outdir / "progress.json", opts.progress)
        watcher.start()
        guest_error = None
        try:
            # One guest runs the guest side's program over the whole plan; the
            # output directory is shared with it, and is its working directory.
            status = run_in_guest([sys.executable, "-m", "scxpy.bench.guest", str(plan_path)],
                                  kernel=kernel, cpus=opts.cpus, timeout=timeout, scratch=outdir, cwd=outdir)
        except VmError as e:  # e.g. the timeout: still report what was measured, then fail
            guest_error = e
            status = e.exit_status
        finally:
            watcher.finish()
        samples_path = outdir / "samples.json"
        if not samples_path.is_file():
            raise BenchError(
                f"the guest exited with status {status} and wrote no samples ({samples_path}); "
                "its output above says why"
            ) from guest_error
        guest_doc = json.loads(samples_path.read_text())
        results = report.build_results(guest_doc, host_environment(kernel, accelerator, opts.cpus), info)
        results["guest_exit_status"] = status
        problems = schema.problems(results)
        if problems:  # a bug of ours, not the user's: keep the traceback
            raise AssertionError("results.json would be malformed: " + "; ".join(problems[:10]))
        (outdir / "results.json").write_text(json.dumps(results, indent=1, allow_nan=False))
        pngs = plots.plot_all(results, outdir)
        print(report.format_table(results))
        if keep:
            print(f"\nresults: {outdir / 'results.json'}")
            for p in pngs:
                print(f"plot:    {p}")
        else:
            print("\n(pass --out DIR to keep results.json, the plots and the logs)")
        if guest_error is not None:
            raise BenchError(f"{guest_error}\nThe table above holds what was measured before that.")
        if status != 0 or not guest_doc.get("finished"):
            raise BenchError(f"the guest's benchmark run ended with status {status} before finishing; "
                             "the table above holds what was measured")
        return (1 if results["failures"] else 0), results
    finally:
        if not keep:
            shutil.rmtree(outdir, ignore_errors=True)
