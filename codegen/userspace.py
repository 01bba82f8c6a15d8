"""The BPF half of a userspace policy: spec -> C (templates/userspace/) -> cached object.

A userspace policy's decisions are Python methods (runtime/userspace.py);
what the BPF half needs from it is small and plain: its name, its words,
where it lives, its default slice and watchdog timeout. scxpy.build reads
those off the policy class into a UserCoreSpec, so codegen never imports
the runtime. The object is compiled by the same clang driver and cache as
every DSL policy, against the same headers (the kfunc compat wrappers of
common.bpf.h make one object run on 6.12 through 7.3).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import jinja2

from scxpy.base.manifest import ConfigItem, Manifest, Stats

from scxpy.codegen import limits
from scxpy.codegen.errors import PolicyError
from scxpy.codegen.srcloc import SrcLoc, c_comment_safe, display_path

TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
TEMPLATE = "userspace/core.bpf.c.j2"
# The counters the BPF half keeps, in the order of its per-CPU row (8 u64 = one cache line).
STATS = ("to_user", "decisions", "direct_idle", "kthread", "user_process", "ring_full", "user_stale", "gone")
# 4096 queued tasks of 56 bytes (+8 of ring header each) round up to 256 KiB; the kernel
# wants a power of two pages. The user ring holds 4096 batches of decisions less 8 KiB.
RING_BYTES = 1 << 19
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,30}")


@dataclass(frozen=True)
class UserCoreSpec:
    name: str
    description: str
    source: str  # the policy file (absolute)
    line: int  # its class statement
    slice_ns: int
    timeout_ms: int
    stale_ms: int = 500  # Python silent this long: tasks run FIFO meanwhile
    unresponsive_ms: int = 5000  # ... this long: the scheduler ends (fair class)
    heartbeat_ms: int = 100
    stats: tuple[str, ...] = field(default=STATS)


@dataclass(frozen=True)
class UserCompiled:
    obj_path: str
    c_path: str
    manifest: Manifest
    cache_hit: bool = False


def check(spec: UserCoreSpec) -> None:
    """Values the kernel would refuse at run time, refused now at the policy's line."""
    loc = SrcLoc(display_path(spec.source), spec.line)
    if not _NAME.fullmatch(spec.name):
        raise PolicyError(f"scheduler name {spec.name!r} must be 1-31 letters, digits or '_' "
                          "(it is the sched_ext ops name)", loc)
    if not limits.SLICE_MIN_NS <= spec.slice_ns <= limits.SLICE_MAX_NS:
        raise PolicyError(f"slice = {spec.slice_ns} ns is outside [{limits.SLICE_MIN_NS}, "
                          f"{limits.SLICE_MAX_NS}] ns; use e.g. `slice = 5 * ms`", loc)
    if not spec.unresponsive_ms < spec.timeout_ms <= 30_000:
        raise PolicyError(f"timeout = {spec.timeout_ms} ms: it must be above the {spec.unresponsive_ms} ms "
                          "after which an unresponsive Python loop ends the scheduler, and at most "
                          "30 s (the kernel's watchdog limit); use e.g. `timeout = 10 * sec`", loc)


def render(spec: UserCoreSpec) -> str:
    check(spec)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)
    env.globals["c"] = lambda v: v.c_comment_text() if isinstance(v, SrcLoc) else c_comment_safe(str(v))
    env.globals["limits"] = limits
    p = dict(
        name=spec.name, description=spec.description.strip() or spec.name, source=display_path(spec.source),
        loc=SrcLoc(display_path(spec.source), spec.line), slice_ns=spec.slice_ns, timeout_ms=spec.timeout_ms,
        stale_ms=spec.stale_ms, unresponsive_ms=spec.unresponsive_ms, heartbeat_ms=spec.heartbeat_ms,
        ring_bytes=RING_BYTES, stats=spec.stats, stats_row_bytes=-(-8 * len(spec.stats) // 64) * 64,
    )
    return env.get_template(TEMPLATE).render(p=p)


def manifest(spec: UserCoreSpec) -> Manifest:
    first = spec.description.strip().splitlines()[0] if spec.description.strip() else spec.name
    return Manifest(name=spec.name, description=first, source=os.path.abspath(spec.source),
                    stats=Stats("scxpy_stats", spec.stats, -(-8 * len(spec.stats) // 64) * 64),
                    config=(ConfigItem("scxpy_nr_cpus", "nr_cpus"),))


def compile_user_core(spec: UserCoreSpec, vmlinux_h: str) -> UserCompiled:
    """Render and compile through the shared compile cache; the manifest travels with the object."""
    from scxpy.codegen.compiler import compile_c

    c_text = render(spec)
    m = manifest(spec)
    obj, c_path, hit = compile_c(c_text, os.fspath(vmlinux_h), name=spec.name,
                                 files={f"{spec.name}.json": m.to_json()})
    return UserCompiled(obj, c_path, m, hit)
