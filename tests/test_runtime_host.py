"""Runtime, host tier: the libbpf binding on ordinary BPF objects.

This host's kernel has BPF but no sched_ext, so everything but attaching a
scheduler is tested here, with hand-written fixtures from
tests/runtime_fixtures/ compiled by clang.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "runtime_fixtures"))
from build import compile_fixture  # noqa: E402

from scxpy.runtime import exit_info as X  # noqa: E402
from scxpy.runtime import libbpf as L  # noqa: E402
from scxpy.runtime import sched_ext_sysfs  # noqa: E402
from scxpy.runtime.errors import (  # noqa: E402
    LibbpfMissing, LibbpfTooOld, NoSchedExt, NoStructOps, ObjectOpenError,
    ReadOnlyAfterLoad, SchedulerAlreadyAttached, SymbolNotFound, VerifierRejected,
)
from scxpy.base.errors import ScxpyError  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "runtime_fixtures"
REPO = Path(__file__).resolve().parent.parent
is_root = pytest.mark.skipif(os.geteuid() != 0, reason="loading BPF needs root")


# --- pure ---------------------------------------------------------------------

def test_exit_info_decodes_header_layout():
    raw = bytearray(X.SIZE)
    struct.pack_into("<iiq", raw, 0, 1025, 0, -3)
    raw[16:16 + 9] = b"scx_error"
    raw[16 + 128:16 + 128 + 5] = b"boom!"
    info = X.decode(bytes(raw))
    assert info.kind is X.ExitKind.ERROR_BPF and info.is_error and not info.clean
    assert (info.exit_code, info.reason, info.msg) == (-3, "scx_error", "boom!")
    assert X.decode(bytes(X.SIZE)).kind is X.ExitKind.NONE
    assert X.decode(struct.pack("<ii", 64, 0).ljust(X.SIZE, b"\0")).clean
    assert X.decode(struct.pack("<ii", 4242, 0).ljust(X.SIZE, b"\0")).kind_name == "UNKNOWN(4242)"


def test_hotplug_exit_asks_for_a_restart():
    """UNREG_KERN with SCX_ECODE_ACT_RESTART | SCX_ECODE_RSN_HOTPLUG (what 6.12 sets when a
    CPU goes on- or offline under a scheduler without cpu_online/offline)."""
    raw = bytearray(X.SIZE)
    struct.pack_into("<iiq", raw, 0, 66, 0, (1 << 48) | (1 << 32))
    info = X.decode(bytes(raw))
    assert info.wants_restart and info.clean and info.restart_reason == "CPU hotplug"
    struct.pack_into("<iiq", raw, 0, 66, 0, 0)
    assert not X.decode(bytes(raw)).wants_restart
    struct.pack_into("<iiq", raw, 0, 0, 0, 1 << 48)  # not exited yet
    assert not X.decode(bytes(raw)).wants_restart


def test_restarts_are_bounded():
    """A scheduler that keeps asking for restarts is given up on, with the reason."""
    import collections
    import time

    from scxpy.runtime import scheduler as S
    from scxpy.runtime.errors import RestartLimit

    raw = bytearray(X.SIZE)
    struct.pack_into("<iiq", raw, 0, 66, 0, (1 << 48) | (1 << 32))
    s = S.Scheduler.__new__(S.Scheduler)
    s.name = "looping"
    s._restart_times = collections.deque([time.monotonic()] * S.RESTART_LIMIT)
    with pytest.raises(RestartLimit, match=f"restarted {S.RESTART_LIMIT} times within 60 s .*CPU hotplug"):
        s.restart_if_asked(X.decode(bytes(raw)))
    assert RestartLimit.exit_status == 1


def test_exit_kinds_match_the_kernel():
    expected = dict(NONE=0, DONE=1, UNREG=64, UNREG_BPF=65, UNREG_KERN=66, SYSRQ=67,
                    ERROR=1024, ERROR_BPF=1025, ERROR_STALL=1026)
    assert {k.name: k.value for k in X.ExitKind} == expected


def test_include_dir_holds_the_header():
    from scxpy.runtime.exit_info import INCLUDE_DIR

    assert (INCLUDE_DIR / "scxpy" / "exit_info.h").is_file()


def test_prog_info_prefix_matches_uapi_offsets():
    # Offsets of struct bpf_prog_info in linux/bpf.h (stable UAPI).
    assert L.ffi.offsetof("struct bpf_prog_info", "name") == 64
    assert L.ffi.offsetof("struct bpf_prog_info", "run_time_ns") == 192
    assert L.ffi.offsetof("struct bpf_prog_info", "run_cnt") == 200
    assert L.ffi.offsetof("struct bpf_prog_info", "attach_btf_id") == 224


@pytest.mark.parametrize("major,minor", [(1, 1), (0, 8), (1, 0)])
def test_libbpf_too_old_is_refused_with_the_fix(major, minor):
    with pytest.raises(LibbpfTooOld) as e:
        L.check_version(major, minor)
    msg = str(e.value)
    assert f"libbpf {major}.{minor} is too old" in msg and "bookworm-backports" in msg and "1.4.6" in msg
    assert isinstance(e.value, ScxpyError)


@pytest.mark.parametrize("major,minor", [(1, 2), (1, 4), (1, 5), (2, 0)])
def test_libbpf_new_enough_is_accepted(major, minor):
    L.check_version(major, minor)


def test_installed_libbpf_loads():
    assert L.lib().libbpf_major_version() >= 1
    assert L.version().startswith("v1.") or L.version()[0].isdigit()


def test_libbpf_missing_names_the_path_and_fix(monkeypatch):
    monkeypatch.setenv(L.LIBBPF_ENV, "/nonexistent/libbpf.so.1")
    L._reset_for_tests()
    try:
        with pytest.raises(LibbpfMissing) as e:
            L.lib()
        msg = str(e.value)
        assert "/nonexistent/libbpf.so.1" in msg and "libbpf1" in msg and L.LIBBPF_ENV in msg
    finally:
        monkeypatch.delenv(L.LIBBPF_ENV)
        L._reset_for_tests()
    L.lib()


def test_no_sched_ext_on_this_kernel():
    if Path("/sys/kernel/sched_ext").exists():
        pytest.skip("this kernel has sched_ext")
    with pytest.raises(NoSchedExt) as e:
        sched_ext_sysfs.read_state()
    assert "CONFIG_SCHED_CLASS_EXT" in str(e.value) and "scxpy run --vm" in str(e.value)


def _fake_sysfs(tmp_path, state, ops):
    (tmp_path / "root").mkdir()
    (tmp_path / "state").write_text(state + "\n")
    (tmp_path / "root" / "ops").write_text(ops + "\n")
    (tmp_path / "enable_seq").write_text("3\n")
    return tmp_path


def test_another_scheduler_attached_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(sched_ext_sysfs, "SYSFS", _fake_sysfs(tmp_path, "enabled", "scx_rusty"))
    st = sched_ext_sysfs.read_state()
    assert (st.state, st.ops, st.enable_seq, st.enabled) == ("enabled", "scx_rusty", 3, True)
    with pytest.raises(SchedulerAlreadyAttached) as e:
        sched_ext_sysfs.require_no_scheduler()
    assert "'scx_rusty'" in str(e.value) and e.value.attached == "scx_rusty"


def test_disabled_state_allows_attach(tmp_path, monkeypatch):
    monkeypatch.setattr(sched_ext_sysfs, "SYSFS", _fake_sysfs(tmp_path, "disabled", ""))
    sched_ext_sysfs.require_no_scheduler()
    assert sched_ext_sysfs.read_state().ops is None


def test_verifier_source_report_maps_to_policy_lines(tmp_path):
    from scxpy.runtime import verifier_log

    policy = tmp_path / "pol.py"
    policy.write_text("a\nb\nRule(task.x > 3)\n")
    c = tmp_path / "pol.bpf.c"
    c.write_text("int f(void)\n{\n\t/* rule fast: pol.py:3 */\n\tint x = 1;\n\treturn x;\n}\n")
    log = "; int x = 1; @ pol.bpf.c:4\n0: (b7) r0 = 1\n;  @ pol.bpf.c:0\n"
    lines = verifier_log.source_report(log, c, policy)
    assert lines[0] == "pol.bpf.c:4: int x = 1;"
    assert lines[1].endswith("pol.py:3: Rule(task.x > 3)")


# --- with clang: real objects on the host kernel -----------------------------

@pytest.fixture(scope="module")
def globals_obj() -> Path:
    return compile_fixture("globals_maps")


@pytest.fixture(scope="module")
def rejected_obj() -> Path:
    return compile_fixture("rejected")


class _TestRun:
    """bpf_prog_test_run_opts, only for the tests: runs a socket filter once."""

    ffi = None

    @classmethod
    def run(cls, prog_fd: int, repeat: int = 1) -> int:
        from cffi import FFI

        if cls.ffi is None:
            cls.ffi = FFI()
            cls.ffi.cdef("""
                struct bpf_test_run_opts { size_t sz; const void *data_in; void *data_out;
                    unsigned int data_size_in, data_size_out; const void *ctx_in; void *ctx_out;
                    unsigned int ctx_size_in, ctx_size_out, retval; int repeat;
                    unsigned int duration, flags, cpu, batch_size; };
                int bpf_prog_test_run_opts(int prog_fd, struct bpf_test_run_opts *opts);""")
            cls.lib = cls.ffi.dlopen(L.library_path())
        pkt = cls.ffi.new("char[]", 64)
        opts = cls.ffi.new("struct bpf_test_run_opts *")
        opts.sz = cls.ffi.sizeof("struct bpf_test_run_opts")
        opts.data_in, opts.data_size_in, opts.repeat = pkt, 64, repeat
        assert cls.lib.bpf_prog_test_run_opts(prog_fd, opts) == 0
        return opts.retval


@pytest.mark.clang
def test_open_reads_globals_of_every_section(globals_obj):
    from scxpy.runtime.bpf_object import BpfObject

    with BpfObject(globals_obj) as o:
        assert not o.loaded
        assert o["knob"] == 1 and o["knob_array"] == [10, 20, 30, 40]
        assert o["knob_name"].rstrip(b"\0") == b"default"
        assert o["data_var"] == 7 and o["data_signed"] == -5 and o["bss_tunable"] == 0
        assert {"counters", "plain_array"} <= set(o.maps) and "count_packets" in o.programs


@pytest.mark.clang
def test_open_from_bytes(globals_obj):
    from scxpy.runtime.bpf_object import BpfObject

    with BpfObject(globals_obj.read_bytes(), name="from_mem") as o:
        assert o.name == "from_mem" and o["knob_array"][3] == 40


@pytest.mark.clang
def test_open_missing_or_garbage_is_clear(tmp_path):
    from scxpy.runtime.bpf_object import BpfObject

    with pytest.raises(ObjectOpenError, match="does not exist"):
        BpfObject(tmp_path / "nope.bpf.o")
    with pytest.raises(ObjectOpenError, match="cannot open"):
        BpfObject(b"not an ELF file at all")


@pytest.mark.clang
@is_root
def test_rodata_config_reaches_bpf_and_globals_go_through_the_map_fd(globals_obj):
    from scxpy.runtime.bpf_object import BpfObject

    with BpfObject(globals_obj) as o:
        o["knob"] = 5
        o["knob_array"] = [1, 2, 3, 400]
        o["knob_name"] = b"custom"
        o.load()
        assert o["knob"] == 5 and o["knob_array"] == [1, 2, 3, 400]
        assert o["knob_name"].rstrip(b"\0") == b"custom"
        with pytest.raises(ReadOnlyAfterLoad):
            o["knob"] = 6
        # .bss/.data written after load: visible to the BPF side.
        o["bss_tunable"] = 1000
        o["data_var"] = 11
        assert o["bss_tunable"] == 1000 and o["data_var"] == 11
        prog = o.programs["count_packets"]
        _TestRun.run(prog.fd, repeat=3)
        assert o["bss_runs"] == 3
        assert o["bss_seen_tunable"] == 1000
        assert o.map("plain_array").lookup_u64(2) == 1011
        # per-CPU counters, summed over CPUs
        counters = o.map("counters")
        assert counters.percpu and len(counters.lookup(0)) >= os.cpu_count()
        assert counters.lookup_u64(0) == 3 * 5 and counters.lookup_u64(1) == 3 * 400
        o["data_signed"] = -42
        assert o["data_signed"] == -42 and o["data_var"] == 11


@pytest.mark.clang
@is_root
def test_map_update_and_percpu_update(globals_obj):
    from scxpy.runtime.bpf_object import BpfObject
    from scxpy.runtime.maps import possible_cpus

    with BpfObject(globals_obj) as o:
        o.load()
        arr = o.map("plain_array")
        arr.update(1, (77).to_bytes(8, "little"))
        assert arr.lookup_u64(1) == 77
        pc = o.map("counters")
        pc.update(2, [(i + 1).to_bytes(8, "little") for i in range(possible_cpus())])
        n = possible_cpus()
        assert pc.lookup_u64(2) == n * (n + 1) // 2


@pytest.mark.clang
@is_root
def test_unknown_names_are_clear(globals_obj):
    from scxpy.runtime.bpf_object import BpfObject

    with BpfObject(globals_obj) as o:
        with pytest.raises(SymbolNotFound, match="no global variable 'nope'.*knob"):
            o["nope"]
        with pytest.raises(SymbolNotFound, match="no map 'nope'"):
            o.map("nope")
        with pytest.raises(ScxpyError, match="does not fit"):
            o["knob"] = 1 << 40


@pytest.mark.clang
@is_root
def test_cost_view_counts_runs(globals_obj):
    from scxpy.runtime import prog_stats
    from scxpy.runtime.bpf_object import BpfObject

    with BpfObject(globals_obj) as o:
        o.load()
        prog = o.programs["count_packets"]
        with prog_stats.run_time_stats():
            before = prog_stats.counters(prog.fd)
            _TestRun.run(prog.fd, repeat=50)
            after = prog_stats.counters(prog.fd)
        assert after.run_cnt - before.run_cnt == 50
        assert after.run_time_ns > before.run_time_ns
        costs = prog_stats.measure([prog], 0.01)
        assert costs[0].callback == "count_packets" and costs[0].calls == 0
        assert "mean ns" in prog_stats.format_costs(costs)


@pytest.mark.clang
@is_root
def test_verifier_rejection_carries_log_and_source_lines(rejected_obj):
    from scxpy.runtime.bpf_object import BpfObject

    o = BpfObject(rejected_obj, c_source=FIXTURES / "rejected.bpf.c",
                  policy_source=FIXTURES / "rejected_policy.py")
    with pytest.raises(VerifierRejected) as e:
        o.load()
    err = e.value
    assert "invalid mem access 'map_value_or_null'" in err.log
    assert "program 'bad_deref'" in str(err)
    assert "invalid mem access" in str(err)
    assert any("rejected.bpf.c:26: return *v & 1;" in line for line in err.source_lines)
    assert any("rejected_policy.py:3: counter = values[0]" in line for line in err.source_lines)
    o.close()


@pytest.mark.clang
def test_object_without_struct_ops_is_not_a_scheduler(globals_obj):
    from scxpy.runtime.scheduler import Scheduler

    with pytest.raises(NoStructOps, match="no struct_ops map.*sched_ext_ops"):
        Scheduler(globals_obj)


NOBODY_SCRIPT = """
import sys
from scxpy.runtime.bpf_object import BpfObject
from scxpy.base.errors import ScxpyError
try:
    BpfObject(sys.argv[1]).load()
except ScxpyError as e:
    print(type(e).__name__, e)
    sys.exit(3)
"""


@pytest.mark.clang
@is_root
def test_not_root_is_refused_clearly(globals_obj):
    setpriv = shutil.which("setpriv")
    if not setpriv:
        pytest.skip("setpriv (util-linux) missing")
    import tempfile

    shared = Path(tempfile.mkdtemp(prefix="scxpy-nobody-"))  # readable by nobody, unlike tmp_path
    os.chmod(shared, 0o755)
    obj = shared / "g.bpf.o"
    shutil.copy(globals_obj, obj)
    os.chmod(obj, 0o644)
    r = subprocess.run(
        [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all",
         sys.executable, "-c", NOBODY_SCRIPT, str(obj)],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    shutil.rmtree(shared)
    assert r.returncode == 3, r.stderr
    assert r.stdout.startswith("NotPrivileged") and "needs root" in r.stdout and "sudo" in r.stdout


@pytest.mark.clang
def test_scheduler_fixture_compiles_and_is_refused_without_sched_ext(vmlinux_h):
    """Also warms the fixture cache that the VM tier reads."""
    from scxpy.runtime.scheduler import Scheduler

    objs = [compile_fixture("minimal_sched", vmlinux_h=vmlinux_h),
            compile_fixture("minimal_sched", vmlinux_h=vmlinux_h,
                            defines={"FIXTURE_TIMEOUT_MS": 2000, "FIXTURE_NAME": '"scxpy_stall"'})]
    for obj in objs:
        s = Scheduler(obj)
        assert s.ops_map.type == L.BPF_MAP_TYPE_STRUCT_OPS
        assert "scxpy_exit" in s.obj.globals and "slice_ns" in s.obj.globals
        if not Path("/sys/kernel/sched_ext").exists():
            with pytest.raises(NoSchedExt):
                s.load()
        s.close()


# A stall dump in the kernel's layout (scx_dump_state / scx_dump_task): 6.12's task lines,
# then 7.3's (scheduler id after the pid, slice and weight on a line of their own).
STALL_DUMP = """\
kworker/u8:1[35] triggered exit kind 1026:
  runnable task stall (stress-ng-sched[6012] failed to run for 39.764s)

Backtrace:
  scx_watchdog_workfn+0x150/0x1e0

CPU states
----------

CPU 1   : nr_run=3 flags=0x1 cpu_rel=0 pnt_seq=5521
          curr=stress-ng[6010] class=ext_sched_class

 *R stress-ng[6010] +0ms
      scx_state/flags=3/0x5 dsq_flags=0x0 ops_state/qseq=0/0
      sticky/holding_cpu=-1/-1 dsq_id=(n/a) dsq_vtime=0
      cpus=0f

    __schedule+0x1/0x2

  R stress-ng-sched[6012] +39764ms
      scx_state/flags=3/0x1 dsq_flags=0x1 ops_state/qseq=2/7
      sticky/holding_cpu=-1/-1 dsq_id=0x2 dsq_vtime=123456
      cpus=0f

    do_sched_yield+0x1/0x2
"""
DUMP_73_TASK = """\
  R stress-ng-sched[6012] *root +39764ms
      scx_state/flags=3/0x1 dsq_flags=0x1 ops_state/qseq=2/7
      sticky/holding_cpu=-1/-1 dsq_id=0x2
      dsq_vtime=123456 slice=0 weight=100
      cpus=0f no_mig=0

    do_sched_yield+0x1/0x2
"""


def _exit_raw(kind: int, msg: bytes, dump: bytes) -> bytes:
    raw = bytearray(X.SIZE)
    struct.pack_into("<iiq", raw, 0, kind, 0, 0)
    raw[16 + 128:16 + 128 + len(msg)] = msg
    off = X._ffi.offsetof(X.STRUCT_NAME, "dump")
    raw[off:off + len(dump)] = dump
    return bytes(raw)


def test_exit_info_keeps_the_kernels_dump():
    """The dump is the struct's last field (the others keep their offsets) and holds the
    kernel's default dump length, SCX_EXIT_DUMP_DFL_LEN."""
    assert X._ffi.offsetof(X.STRUCT_NAME, "msg") == 16 + 128
    assert re.search(r"#define SCXPY_EXIT_DUMP_LEN 32768\n", X.HEADER.read_text())
    assert X.SIZE == X._ffi.offsetof(X.STRUCT_NAME, "dump") + 32768
    info = X.decode(_exit_raw(1026, b"stress-ng-sched[6012] failed to run for 39.764s", STALL_DUMP.encode()))
    assert info.dump == STALL_DUMP and "\nCPU states\n" in info.dump
    assert str(info).count("\n") == 1, "the dump is not part of the one-line summary"
    assert X.decode(bytes(X.SIZE)).dump == ""


def test_the_stalled_task_is_found_in_the_dump():
    info = X.decode(_exit_raw(1026, b"stress-ng-sched[6012] failed to run for 39.764s", STALL_DUMP.encode()))
    assert info.stalled_task == ("stress-ng-sched", 6012)
    lines = info.dump_about_task(*info.stalled_task)
    assert lines[0] == "  R stress-ng-sched[6012] +39764ms"
    assert "dsq_id=0x2 dsq_vtime=123456" in lines[2] and lines[-1] == "      cpus=0f"  # not the stack
    on_73 = X.ExitInfo(X.ExitKind.ERROR_STALL, 0, "", "stress-ng-sched[6012] failed to run for 1.0s", DUMP_73_TASK)
    assert [line.split("=")[0].strip() for line in on_73.dump_about_task("stress-ng-sched", 6012)] == \
        ["R stress-ng-sched[6012] *root +39764ms", "scx_state/flags", "sticky/holding_cpu", "dsq_vtime", "cpus"]
    # a comm with brackets and spaces is matched literally; other pids and kinds find nothing
    assert info.dump_about_task("stress-ng", 6012) == []
    assert X.ExitInfo(X.ExitKind.ERROR_BPF, 0, "", "x[1] failed to run for 2s", STALL_DUMP).stalled_task is None
    assert X.ExitInfo(X.ExitKind.ERROR_STALL, 0, "", "a b[7] failed to run for 2s").stalled_task == ("a b", 7)
