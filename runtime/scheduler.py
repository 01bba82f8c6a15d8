"""A sched_ext scheduler: a BPF object with a sched_ext_ops struct_ops map.

    with Scheduler("foo.bpf.o", manifest=m) as s:   # load + attach
        s.set("hog_runtime", 2_000_000)              # live tunable
        print(s.stats())
        info = s.wait(timeout=10)                    # returns if ejected
    print(s.exit_info)                               # after detach: UNREG...

or explicitly: s = Scheduler(...); s.configure(...); s.load(); s.attach();
...; s.detach(); s.close().
"""

from __future__ import annotations

import array
import collections
import os
import signal
import time

from scxpy.base.manifest import EXIT_SYMBOL, Manifest

from scxpy.runtime import exit_info as X
from scxpy.runtime import libbpf as L
from scxpy.runtime import ops_members, privileges, prog_stats, sched_ext_sysfs, topology
from scxpy.runtime.bpf_object import BpfObject
from scxpy.runtime.errors import (
    AttachError, KernelLacksCallback, LoaderError, NoStructOps, NotPrivileged, RestartLimit, SymbolNotFound,
)

POLL_INTERVAL = 0.05
# Restarts the kernel may ask for (CPU hotplug) within RESTART_WINDOW_S before
# the runtime gives up: a scheduler whose own code exits with ACT_RESTART
# would otherwise be reloaded forever.
RESTART_LIMIT = 100
RESTART_WINDOW_S = 60.0


class Scheduler:
    def __init__(self, obj: str | os.PathLike | bytes, *, manifest: Manifest | None = None,
                 c_path: str | os.PathLike | None = None, policy_path: str | os.PathLike | None = None,
                 name: str | None = None):
        # Without a manifest (a hand-written object) there are no named tunables,
        # stats or topology config; globals are still set by symbol.
        self.manifest = manifest
        policy_path = policy_path or (manifest.source if manifest else None) or None
        self._open(obj, dict(name=name or (manifest.name if manifest else None), c_source=c_path,
                             policy_source=policy_path))
        self.name = manifest.name if manifest else self.ops_map.name
        self.exit_symbol = manifest.exit_symbol if manifest else EXIT_SYMBOL
        self._link = L.ffi.NULL
        self._final_exit: X.ExitInfo | None = None
        self._tunables = {t.name: t for t in manifest.tunables} if manifest else {}
        self.restarts = 0
        self.restart_reasons: collections.Counter[str] = collections.Counter()
        self._restart_times: collections.deque[float] = collections.deque()
        self.notices: list[str] = []  # what the kernel keeps the policy from honouring, one line each
        # Seconds from noticing each kernel-initiated exit to attached again.
        self.restart_seconds: list[float] = []
        # Of which the attach itself (ops.init, enabling); the rest is the kernel finishing
        # the exit and, after a hotplug exit, the CPU hotplug operation itself.
        self.attach_seconds: list[float] = []

    def _open(self, obj, open_args: dict) -> None:
        self.obj = BpfObject(obj, **open_args)
        ops = [m for m in self.obj.maps.values() if m.type == L.BPF_MAP_TYPE_STRUCT_OPS]
        if not ops:
            where = obj if not isinstance(obj, (bytes, bytearray)) else self.obj.name
            self.obj.close()
            raise NoStructOps(
                f"{where} has no struct_ops map, so it is not a sched_ext scheduler. "
                'Declare one: `SEC(".struct_ops.link") struct sched_ext_ops NAME_ops = {...};`'
            )
        if len(ops) > 1:
            self.obj.close()
            raise NoStructOps(f"{self.obj.name} has {len(ops)} struct_ops maps "
                              f"({', '.join(m.name for m in ops)}); a scheduler object must have exactly one")
        self.ops_map = ops[0]

    # -- configuration and data ----------------------------------------------

    def _symbol(self, name: str) -> str:
        t = self._tunables.get(name)
        if t:
            return t.symbol
        if self._tunables and name not in self.obj.globals:
            raise SymbolNotFound(
                f"{self.name} has no tunable {name!r}; its tunables are: {', '.join(self._tunables)}"
            )
        return name

    def configure(self, **values) -> None:
        """Set tunables/globals by name before load (read-only .rodata knobs included)."""
        for name, value in values.items():
            self.set(name, value)

    def set(self, name: str, value) -> None:
        """Set a tunable (manifest name) or global (symbol); after load only .bss/.data ones."""
        t = self._tunables.get(name)
        if t is not None:
            lo, hi = t.min, t.max
            if isinstance(value, int) and ((lo is not None and value < lo) or (hi is not None and value > hi)):
                raise LoaderError(f"tunable {name}={value} is outside its range [{lo}, {hi}]")
            if self.obj.loaded and not t.live:
                raise LoaderError(f"tunable {name!r} is not live: it can only be set before load (`--set`)")
        self.obj[self._symbol(name)] = value

    def get(self, name: str):
        return self.obj[self._symbol(name)]

    def tunables(self) -> dict:
        return {name: self.get(name) for name in self._tunables}

    def _fill_config(self) -> None:
        for item in self.manifest.config if self.manifest else ():
            self.obj[item.symbol] = topology.value_of(item.source)

    def stats(self) -> dict[str, int]:
        """Counters named by the manifest ("stats"), each summed over CPUs.

        The BPF side keeps one row of u64 counters per CPU in a global (.bss),
        read here in one lookup through the map fd."""
        spec = self.manifest.stats if self.manifest else None
        if not spec or not spec.names:
            return {}
        words = array.array("Q", self.obj.globals.read_raw(spec.symbol))
        stride = spec.row_bytes // 8
        return {name: sum(words[i::stride])
                for i, name in enumerate(spec.names)}

    def costs(self, seconds: float = 1.0) -> list[prog_stats.ProgramCost]:
        """Mean cost per callback over `seconds` (kernel run-time stats on just meanwhile)."""
        return prog_stats.measure(self.obj.programs.values(), seconds)

    # -- load / attach / detach ---------------------------------------------

    def load(self) -> None:
        if self.obj.loaded:
            return
        sched_ext_sysfs.require_sched_ext()
        missing = privileges.missing_caps(need_sys_admin=True)
        if missing:
            raise NotPrivileged(privileges.not_privileged_message(missing, f"loading scheduler {self.name}"))
        self._fill_config()
        self.notices = self._kernel_support()
        self.obj.load()

    def _kernel_support(self) -> list[str]:
        """Check the kernel has what the policy's callbacks need (cgroup support above
        all); clear what it can do without. One line each for what is not honoured."""
        cgroup = self.manifest.cgroup if self.manifest else ()
        notices = []
        if cgroup:
            problem, note = ops_members.cpu_controller()
            if problem:
                raise KernelLacksCallback(f"{self.name} schedules by cgroup weight, but {problem}")
            if note:
                notices.append(note)
        return ops_members.reconcile(self.obj, self.ops_map, cgroup, self.name) + notices

    @property
    def attached(self) -> bool:
        return self._link != L.ffi.NULL

    def attach(self) -> None:
        if self.attached:
            return
        self.load()
        sched_ext_sysfs.require_no_scheduler()
        self._final_exit = None
        with L.captured_messages() as messages:
            link = L.lib().bpf_map__attach_struct_ops(self.ops_map._ptr)
        if link == L.ffi.NULL:
            err = L.ffi.errno
            self._raise_attach_error(err, messages)
        self._link = link
        # The kernel reports a failed enable (ops.init() error, bad ops) as
        # success and records the details through ops.exit(), which it has
        # already run by now: look, and turn that into an attach error.
        info = self.exit_info
        if info is None and sched_ext_sysfs.read_state().state == "disabled":
            self.detach()
            raise AttachError(f"attaching {self.name} failed: the kernel disabled it while enabling "
                              f"(it has no {self.exit_symbol} global to say why; see dmesg)")
        if info is not None and info.exited:
            self.detach()
            raise AttachError(
                f"attaching {self.name} failed: the kernel disabled it while enabling: {info}"
                "\nFix what the message names (ops.init() and the ops flags run at attach).", info
            )

    def _raise_attach_error(self, err: int, messages: list[str]) -> None:
        state = sched_ext_sysfs.read_state()
        if err in (16, 17) and state.state != "disabled" and state.ops != self.name:  # EBUSY, EEXIST
            sched_ext_sysfs.require_no_scheduler()
        info = self.exit_info
        detail = f"\nscheduler reported: {info}" if info is not None and info.exited else ""
        said = "".join(messages).strip()
        raise AttachError(
            f"attaching {self.name} failed: {L.errno_name(err)}{detail}"
            + (f"\nlibbpf said:\n{said}" if said else "")
            + "\nSee dmesg for the kernel's sched_ext messages."
        )

    def detach(self) -> X.ExitInfo | None:
        """Unregister (the kernel runs ops.exit synchronously) and return the exit info."""
        if self.attached:
            L.lib().bpf_link__destroy(self._link)
            self._link = L.ffi.NULL
            self._final_exit = self.exit_info
        return self._final_exit

    def restart_if_asked(self, info: X.ExitInfo | None) -> bool:
        """After an exit: if the kernel asked for a restart (SCX_ECODE_ACT_RESTART, e.g. a
        CPU went on- or offline), attach the scheduler again, as the scx tools do, and
        return True. False for any other exit. Raises RestartLimit when restarts come
        faster than RESTART_LIMIT per RESTART_WINDOW_S.

        The loaded object is kept: the kernel lets a struct_ops map whose link was
        destroyed make a new link, so only ops.init runs again. Opening and loading
        afresh made the verifier check every program again, which took 38 s under
        emulation for the larger policies. The BPF globals (counters, tunables set
        live, the policy's own state) carry over; the exit record is cleared so that
        the new incarnation's exit is not mistaken for the old one."""
        noticed = time.monotonic()
        while info is not None and info.wants_restart:
            now = time.monotonic()
            self._restart_times.append(now)
            while now - self._restart_times[0] > RESTART_WINDOW_S:
                self._restart_times.popleft()
            if len(self._restart_times) > RESTART_LIMIT:
                raise RestartLimit(
                    f"{self.name} was restarted {RESTART_LIMIT} times within {RESTART_WINDOW_S:g} s "
                    f"and the kernel asks again ({info.restart_reason}): giving up. Either CPUs go on- and "
                    "offline faster than the scheduler can start, or its own code exits with "
                    "SCX_ECODE_ACT_RESTART.", info)
            self.detach()
            sched_ext_sysfs.wait_state("disabled")
            if self.exit_symbol in self.obj.globals:
                self.obj.globals.write_raw(self.exit_symbol, bytes(X.SIZE))
            self.restarts += 1
            self.restart_reasons[info.restart_reason] += 1
            try:
                t_attach = time.monotonic()
                self.attach()
                self.restart_seconds.append(time.monotonic() - noticed)
                self.attach_seconds.append(time.monotonic() - t_attach)
                return True
            except AttachError as e:  # e.g. another CPU went away while it was enabling
                info = e.exit_info
                if info is None or not info.wants_restart:
                    raise
        return False

    def restart_note(self, info: X.ExitInfo) -> str:
        """One line on the restart just done for `info` (after restart_if_asked returned True)."""
        return (f"the kernel exited {self.name} for {info.restart_reason}: restarted it in "
                f"{self.restart_seconds[-1]:.3f} s (attach {self.attach_seconds[-1]:.3f} s) "
                f"({self.restarts} restart{'s' if self.restarts > 1 else ''} so far)")

    def restarts_summary(self) -> str | None:
        """How often and why it was restarted, or None if never."""
        if not self.restarts:
            return None
        why = ", ".join(f"{n} for {r}" for r, n in self.restart_reasons.items())
        times = "once" if self.restarts == 1 else f"{self.restarts} times"
        return f"{self.name} was restarted {times} ({why})"

    def close(self) -> None:
        self.detach()
        self.obj.close()

    def __enter__(self):
        try:
            self.attach()
        except BaseException:
            self.obj.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.detach()

    # -- observe --------------------------------------------------------------

    @property
    def exit_info(self) -> X.ExitInfo | None:
        """The decoded exit global (kind NONE while running), or None if the object has none."""
        if self._final_exit is not None and not self.attached:
            return self._final_exit
        if not self.obj.loaded or self.exit_symbol not in self.obj.globals:
            return None
        return X.decode(self.obj.globals.read_raw(self.exit_symbol))

    def sysfs_state(self) -> sched_ext_sysfs.SchedExtState:
        return sched_ext_sysfs.read_state()

    def wait(self, timeout: float | None = None) -> X.ExitInfo | None:
        """Return once the scheduler has exited for any reason (ops.exit ran, or the
        kernel no longer runs it); None on timeout. The link stays until detach()."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            info = self.exit_info
            if info is not None and info.exited:
                return info
            if not self.attached:
                return info
            st = sched_ext_sysfs.read_state()
            if info is None and (st.state == "disabled" or st.ops != self.name):
                return X.ExitInfo(X.ExitKind.NONE, 0, f"sched_ext state {st.state}", "(object has no exit global)")
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(POLL_INTERVAL)


class StopRequested(Exception):
    """SIGINT or SIGTERM arrived: unwind so `with Scheduler` detaches."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class stop_on_signals:
    """While inside, SIGINT/SIGTERM raise StopRequested (a clean detach), once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self):
        self._old = {s: signal.getsignal(s) for s in self.SIGNALS}

        def handler(signum, frame):
            for s in self.SIGNALS:  # a second signal during teardown must not interrupt it
                signal.signal(s, signal.SIG_IGN)
            raise StopRequested(signum)

        for s in self.SIGNALS:
            signal.signal(s, handler)
        return self

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)
        return False
