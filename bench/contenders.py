"""Attaching and detaching each kind of contender inside the guest.

Three kinds, one interface (a context manager yielding an `AttachedContender`):
- fair: the kernel's default scheduler; nothing to attach, but we check
  that no sched_ext scheduler is attached;
- scxpy: a compiled policy, loaded and attached through runtime/;
- peer: one of the kernel's example schedulers, started as a process;
  attached once sysfs shows it enabled under its ops name, detached by
  SIGINT (the examples exit cleanly on it).
"""

from __future__ import annotations

import os
import signal
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from scxpy.base.errors import ScxpyError

from scxpy.bench import sched_ext_state as sx

ATTACH_TIMEOUT_S = 60.0  # TCG: a peer's libbpf load and verification take seconds
DETACH_TIMEOUT_S = 60.0


class ContenderError(ScxpyError):
    """A contender could not be attached, or did not stay attached."""


@dataclass
class AttachedContender:
    """What is attached now, and how to tell that it still is."""

    name: str
    ops_name: str | None  # None for fair
    enable_seq: int
    pid: int | None = None  # the process holding the BPF programs (cost lookup)
    costs: dict = field(default_factory=dict)  # filled in before detaching, when measured
    cost_reader: object = None  # callable() -> costs, for scxpy policies
    counters_reader: object = None  # callable() -> the policy's own counters (manifest "stats")

    def check(self) -> None:
        """Raise ContenderError unless this contender is (still) the one scheduling."""
        st = sx.read()
        if self.ops_name is None:
            if st.state != "disabled":
                raise ContenderError(
                    f"{self.name}: expected no sched_ext scheduler, but sysfs says {st.state} "
                    f"({st.ops or 'unknown ops'})"
                )
            return
        if st.state != "enabled" or st.ops != self.ops_name or st.enable_seq != self.enable_seq:
            raise ContenderError(
                f"{self.name}: the scheduler was ejected or replaced during the run "
                f"(sysfs now: state={st.state}, ops={st.ops}, enable_seq={st.enable_seq}, "
                f"expected ops={self.ops_name}, enable_seq={self.enable_seq}); see the kernel log "
                "and the contender's log for the exit reason"
            )


def attach(contender: dict, logdir: Path, tag: str):
    kind = contender["kind"]
    if kind == "fair":
        return _fair(contender)
    if kind == "peer":
        return _peer(contender, logdir / f"{tag}.peer.log")
    if kind == "scxpy":
        return _scxpy(contender)
    raise ContenderError(f"unknown contender kind {kind!r} in the plan")


@contextmanager
def _fair(c: dict) -> Iterator[AttachedContender]:
    st = sx.read()
    if st.state != "disabled":
        raise ContenderError(
            f"fair baseline: a sched_ext scheduler ({st.ops}) is still attached; "
            "the previous contender did not detach"
        )
    yield AttachedContender(c["name"], None, st.enable_seq)


def _wait_attached(c: dict, proc: subprocess.Popen, before):
    return sx.wait_for(
        lambda s: (s.state == "enabled" and s.ops == c["ops_name"] and s.enable_seq != before.enable_seq)
        or proc.poll() is not None,
        c.get("attach_timeout", ATTACH_TIMEOUT_S),
    )


# The kernel thread that runs ops.init (kernel/sched/ext.c, "scx_ops_enable_helper";
# /proc shows a kthread's full name, some kernel messages cut it to 15 characters).
_ENABLE_HELPER_COMM = "scx_ops_enable_"


def _pin_enable_helper(cpu: int) -> bool:
    """Pin the kernel's sched_ext enable thread to `cpu`; False if it does not exist yet."""
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if (d / "comm").read_text().startswith(_ENABLE_HELPER_COMM):
                os.sched_setaffinity(int(d.name), {cpu})
                return True
        except OSError:
            continue
    return False


@contextmanager
def _peer(c: dict, log_path: Path) -> Iterator[AttachedContender]:
    before = sx.read()
    if before.state != "disabled":
        raise ContenderError(f"{c['name']}: another scheduler ({before.ops}) is attached")
    if c.get("init_cpu") is not None:
        _pin_enable_helper(c["init_cpu"])
    log = open(log_path, "w")
    proc = subprocess.Popen([c["binary"], *c["args"]], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    try:
        st = _wait_attached(c, proc, before)
        if c.get("init_cpu") is not None and proc.poll() is not None and _pin_enable_helper(c["init_cpu"]):
            # The kernel's enable thread did not exist before this first attach: pinned now, retry once.
            log.write("scxpy bench: retrying with the kernel's enable thread pinned\n")
            log.flush()
            proc = subprocess.Popen([c["binary"], *c["args"]], stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
            st = _wait_attached(c, proc, before)
        if st is None or proc.poll() is not None or st.state != "enabled":
            raise ContenderError(
                f"{c['name']}: {Path(c['binary']).name} did not attach within "
                f"{c.get('attach_timeout', ATTACH_TIMEOUT_S):.0f} s "
                f"(exit status {proc.poll()}); its output:\n{_tail(log_path)}"
            )
        yield AttachedContender(c["name"], c["ops_name"], st.enable_seq, pid=proc.pid)
    finally:
        _stop_peer(c["name"], proc, log_path)
        log.close()


def _stop_peer(name: str, proc: subprocess.Popen, log_path: Path) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=DETACH_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if sx.wait_for(lambda s: s.state == "disabled", DETACH_TIMEOUT_S) is None:
        raise ContenderError(f"{name}: sched_ext still not disabled {DETACH_TIMEOUT_S:.0f} s after the peer exited")


def _tail(path: Path, n: int = 1500) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return "(no output)"


@contextmanager
def _scxpy(c: dict) -> Iterator[AttachedContender]:
    from scxpy.bench import runtime_adapter

    before = sx.read()
    if before.state != "disabled":
        raise ContenderError(f"{c['name']}: another scheduler ({before.ops}) is attached")
    handle = None
    try:
        with runtime_adapter.attached(c["obj"], c["manifest"], c.get("sets")) as handle:
            st = sx.read()
            if st.state != "enabled" or st.ops != c["ops_name"]:
                raise ContenderError(f"{c['name']}: attached, but sysfs shows state={st.state} ops={st.ops}")
            yield AttachedContender(c["name"], c["ops_name"], st.enable_seq, pid=os.getpid(),
                                    cost_reader=lambda: runtime_adapter.costs(handle),
                                    counters_reader=handle.stats)
    except ContenderError as e:
        # Ejected mid-run: the scheduler's own record says why (read after detach).
        info = handle.exit_info if handle is not None else None
        if info is not None and info.exited:
            raise ContenderError(f"{e}; the kernel's exit reason: {info}") from None
        raise
    info = handle.exit_info  # after detach
    if info is not None and info.is_error:
        raise ContenderError(f"{handle.name}: the kernel ejected the scheduler: {info}")
