"""Rendering: each feature appears only when used, output is deterministic, strings cannot inject C."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scxpy import codegen
from scxpy import schedulers
from scxpy.base import manifest
from scxpy.codegen import kfuncs

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "golden"
TEST_POLICIES = sorted((REPO / "tests" / "policies").glob("*.py"))
ALL = list(schedulers.stock().values()) + [str(p) for p in TEST_POLICIES]
policy_file = schedulers.policy_file


def write(tmp_path, body: str, name: str = "pol.py") -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('"""A test policy."""\nfrom scxpy import *\n' + textwrap.dedent(body))
    return str(path)


@pytest.mark.parametrize("policy", ALL, ids=lambda p: Path(p).stem)
def test_renders_and_respects_kfunc_contexts(policy):
    c = codegen.render(policy)
    assert "SEC(\".struct_ops.link\")" in c
    assert kfuncs.generated_violations(c) == []


@pytest.mark.parametrize("policy", ["fifo", "interactive", "local", "layered", "central", "deadline",
                                    str(REPO / "tests" / "policies" / "raw_all.py"),
                                    str(REPO / "tests" / "policies" / "task_state.py"),
                                    str(REPO / "tests" / "policies" / "targeted_preempt.py")],
                         ids=lambda p: Path(p).stem)
def test_golden(policy):
    """Reviewable C for some stock policies, raw C in every callback, TaskVars and keys,
    targeted preemption; SCXPY_UPDATE_GOLDEN=1 rewrites them."""
    c = codegen.render(policy_file(policy))
    path = GOLDEN / f"{Path(policy).stem}.bpf.c"
    if os.environ.get("SCXPY_UPDATE_GOLDEN") == "1":
        path.write_text(c)
    assert path.read_text() == c, f"generated C changed; review and rerun with SCXPY_UPDATE_GOLDEN=1 ({path})"


def test_deterministic_across_processes():
    script = "import sys; from scxpy import codegen; sys.stdout.write(codegen.render(sys.argv[1]))"
    outs = set()
    for seed in ("0", "1", "random"):
        for policy in (policy_file("layered"), str(TEST_POLICIES[0])):
            env = dict(os.environ, PYTHONHASHSEED=seed)
            out = subprocess.run([sys.executable, "-c", script, policy], cwd=str(REPO), env=env,
                                 capture_output=True, text=True, check=True).stdout  # noqa: E501
            outs.add((policy, out))
    assert len(outs) == 2


def test_every_rule_queue_and_tunable_names_its_line():
    path = REPO / "tests" / "policies" / "kitchen_sink.py"
    c = codegen.render(str(path))
    src = path.read_text().splitlines()
    for i, line in enumerate(src, 1):
        if re.match(r"\s*(Rule\(|\w+ = (Dsq|Tunable)\()", line):
            assert f"tests/policies/kitchen_sink.py:{i} " in c or f"tests/policies/kitchen_sink.py:{i}\n" in c \
                or f"tests/policies/kitchen_sink.py:{i})" in c or f"tests/policies/kitchen_sink.py:{i} */" in c, (i, line)


def test_pay_for_what_you_use():
    fifo = codegen.render(policy_file("fifo"))
    assert "TASK_STORAGE" not in fifo
    assert "vtime" not in fifo
    assert "scxpy_op_running" not in fifo and "scxpy_op_runnable" not in fifo
    assert "comm[" not in fifo and "cgroup" not in fifo
    assert "bpf_for" not in fifo

    vt = codegen.render(policy_file("vtime"))
    assert "scxpy_dsq_insert_vtime" in vt and "near_clock(vtime_now, vtime, 20000000ULL" in vt
    assert "scxpy_op_enable" in vt and "avg_runtime" not in vt

    inter = codegen.render(policy_file("interactive"))
    assert "TASK_STORAGE" in inter
    assert "avg_runtime" in inter and "wake_interval" in inter
    assert "csw_interval" not in inter
    assert "SCX_KICK_PREEMPT" in inter
    assert "tun_max_runtime" in inter and "const volatile u64 tun_max_runtime" not in inter  # live

    local = codegen.render(policy_file("local"))
    assert "steal_queue" in local and "llc_of" in local and "scxpy_llc_of_cpu" in local
    assert "target_cpu" in local

    layered = codegen.render(policy_file("layered"))
    assert "scxpy_cgpath_0" in layered and "BPF_CORE_READ_STR_INTO(&lcomm" in layered
    assert "cpus_batch" in layered and "scxpy_rr_state" in layered


def test_flags_timeout_name_and_raw():
    c = codegen.render(str(REPO / "tests" / "policies" / "kitchen_sink.py"))
    assert ".flags		= SCX_OPS_SWITCH_PARTIAL" in c
    assert ".timeout_ms	= 5000," in c
    assert '.name		= "kitchen_sink",' in c
    assert "EXPERT-ONLY" in c and "scxpy_raw_tick(p);" in c
    assert "SCX_PICK_IDLE_CORE" in c and "head_vtime" in c
    assert "1000ULL" in c  # explicit DSQ id
    assert "SWITCH_PARTIAL" not in codegen.render(policy_file("fifo"))


def test_wait_guard_where_a_task_can_wait_without_bound():
    """A vtime queue or strict priority between queues gets the wait guard (a third
    of the timeout); a lone FIFO queue cannot starve a task and pays nothing."""
    vtime = codegen.render(policy_file("vtime"))
    assert "#define SCXPY_MAX_WAIT_NS	10000000000ULL" in vtime and "if (serve_overdue(cpu))" in vtime
    # The lead of a task it ran is forgiven: at the move (dsq_vtime), or in running where task storage holds it.
    assert "p->scx.dsq_vtime = clock;" in vtime and "forgive_wait" not in vtime
    assert "tctx->vtime = forgive_wait(p" in codegen.render(policy_file("deadline"))
    assert "serve_overdue" not in codegen.render(policy_file("fifo"))
    sink = codegen.render(str(REPO / "tests" / "policies" / "kitchen_sink.py"))  # timeout = 5000 ms
    assert "#define SCXPY_MAX_WAIT_NS	1666666666ULL" in sink


def test_kfunc_compat_wrappers_only():
    """Generated code calls the compat wrappers, never a version-specific insert/consume name."""
    for policy in ALL:
        c = codegen.render(policy)
        for old in ("scx_bpf_dispatch(", "scx_bpf_dispatch_vtime(", "scx_bpf_consume(", "scx_bpf_dsq_insert("):
            assert old not in c, (policy, old)


def test_strings_cannot_inject_c(tmp_path):
    evil = ['"; }', "*/ x", "a\\\\b", "it's", "\\n#d", "%s\\t", "x\ny", "\r\t\x01"]
    rules = "\n".join(f"        Rule(task.comm.startswith({s!r}), queue=q)," for s in evil)
    p = write(tmp_path, f"""
class S(Scheduler):
    q = Dsq()
    rules = [
{rules}
        Rule(task.leader_comm == "*/", queue=q),
        Rule(task.cgroup.path.startswith('/a"b/*/c'), queue=q),
        Rule(queue=q),
    ]
""", name="we'ird */ na\\me.py")
    c = codegen.render(p)
    code = re.sub(r"/\*.*?\*/", "", c, flags=re.S)
    # No string literal other than the license, the section names and the ops name.
    literals = set(re.findall(r'"((?:[^"\\\n]|\\.)*)"', code))
    assert literals <= {"license", "GPL", ".maps", ".struct_ops.link", "s"}, literals
    # Comments never close early.
    for comment in re.findall(r"/\*(.*?)\*/", c, re.S):
        assert "/*" not in comment
    assert "0x2a && comm[1] == 0x2f" in c  # "*/" as bytes
    assert "comm[0] == 0x78 && comm[1] == 0x0a && comm[2] == 0x79" in c  # a real newline, as a byte


def test_no_string_literal_from_file_name_in_comments(tmp_path):
    p = write(tmp_path, "class S(Scheduler):\n    q = Dsq()\n    rules = [Rule(queue=q)]\n", name="x*/y.py")
    c = codegen.render(p)
    assert "x*/y.py" not in c and "x*?y.py" in c


def test_manifest_shape():
    m = codegen.build_model(policy_file("interactive")).manifest()
    assert m.name == "interactive" and m.version == manifest.VERSION
    assert m.description.startswith("Latency first")
    assert m.exit_symbol == "scxpy_exit"
    assert m.stats.symbol == "scxpy_stats" and m.stats.row_bytes == 128  # 9 counters: 2 lines
    assert "rule.interactive.enqueued" in m.stats.names
    assert "queue.fast.dispatched" in m.stats.names
    t = {x.name: x for x in m.tunables}
    assert t["max_runtime"] == manifest.Tunable(
        name="max_runtime", symbol="tun_max_runtime", default=2_000_000, min=50_000, max=100_000_000,
        live=True, unit="ns", doc=t["max_runtime"].doc)
    assert t["min_wakeups"].unit is None
    assert m.config == ()
    local = codegen.build_model(policy_file("local")).manifest()
    assert [c.source for c in local.config] == ["nr_cpus", "nr_llcs", "llc_of_cpu"]
    assert os.path.isabs(m.source)
    assert manifest.Manifest.from_json(m.to_json()) == m


def test_stats_slots_fit_the_row():
    for policy in ALL:
        model = codegen.build_model(policy)
        c = codegen.render(policy)
        n = len(model.stats)
        row = model.stats_row_bytes
        assert row % 64 == 0 and n * 8 <= row < n * 8 + 64, policy
        assert f"u64 cnt[{row // 8}];" in c
        used = {int(x) for x in re.findall(r"stat_inc\((\d+)\)", c)}
        assert used <= set(range(n)) and used, policy


@pytest.mark.parametrize("policy", ALL, ids=lambda p: Path(p).stem)
def test_counters_off_cost_nothing(policy):
    """With the counters off (compile flag) no counter is declared, bumped or named."""
    c = codegen.render(policy, counters=False)
    assert "stat_inc" not in c and "scxpy_stats" not in c
    assert codegen.build_model(policy, counters=False).manifest().stats is None


def test_counters_setting_and_flag(tmp_path):
    body = "class S(Scheduler):\n    q = Dsq()\n    rules = [Rule(queue=q)]\n"
    off = write(tmp_path, body + "    counters = False\n", name="off.py")
    assert "stat_inc" not in codegen.render(off)
    assert "stat_inc" in codegen.render(off, counters=True)  # the flag wins over the setting
    bad = write(tmp_path, body + "    counters = 'no'\n", name="bad.py")
    with pytest.raises(codegen.PolicyError, match="counters must be True or False") as e:
        codegen.render(bad)
    assert e.value.loc.line == 6


def test_dsq_ids_do_not_overlap():
    for policy in ALL:
        model = codegen.build_model(policy)
        spans = sorted((q.base_id, q.base_id + (1 if q.scope == "shared" else 512)) for q in model.queues)
        for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
            assert a1 <= b0, policy


def test_stock_listing():
    st = schedulers.stock()
    assert list(st) == ["fifo", "vtime", "prio", "interactive", "layered", "local", "central", "deadline", "cgroup"]
    for name, path in st.items():
        assert os.path.isfile(path)
        assert schedulers.description(name)
        assert codegen.build_model(path).name == name


def test_generated_kfunc_check_follows_calls():
    c = ("void BPF_STRUCT_OPS(scxpy_op_running, struct task_struct *p)\n{\n\thelper(p);\n}\n"
         "static __always_inline void helper(struct task_struct *p)\n{\n\tscxpy_dsq_move_to_local(1);\n}\n"
         "s32 BPF_STRUCT_OPS(scxpy_op_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)\n{\n"
         "\tbool idle;\n\treturn scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &idle);\n}\n")
    assert kfuncs.generated_violations(c) == ["scxpy_dsq_move_to_local() reachable from ops.running() via helper()"]


def test_expression_rendering_and_folding(tmp_path):
    from scxpy import greatest, least, ms, task, where

    e = where(task.nice > 0, least(task.avg_runtime, 3 * ms), greatest(1 * ms, 2 * ms))
    assert e.c() == ("((((s64)p->static_prio - 120) > 0LL) ? scxpy_min((tctx ? (s64)tctx->avg_runtime : 0), "
                     "(3LL * 1000000LL)) : scxpy_max((1LL * 1000000LL), (2LL * 1000000LL)))")
    assert e.features() == {"metric:avg_runtime"}
    assert greatest(1 * ms, 2 * ms).const_value() == 2_000_000
    assert ((-7 * ms) / 2).const_value() == -3_500_000
    from scxpy.codegen.dsl import Const, INT
    assert (Const(-7, INT) / 2).const_value() == -3 and (Const(-7, INT) % 2).const_value() == -1
    assert (Const(7, INT) / 0).const_value() == 0 and (Const(7, INT) % 0).const_value() == 7
    assert (task.pid / 2).c() == "scxpy_div(((s64)p->pid), 2LL)"


def test_subclassing_a_stock_policy(tmp_path):
    p = tmp_path / "mine.py"
    p.write_text('"""My fifo with a shorter watchdog."""\nfrom schedulers.fifo import Fifo\n'
                 'from scxpy import ms\n\n\nclass MyFifo(Fifo):\n    name = "myfifo"\n    timeout = 3000 * ms\n')
    m = codegen.build_model(str(p))
    assert (m.name, m.timeout_ms, m.description) == ("myfifo", 3000, "My fifo with a shorter watchdog.")
    c = codegen.render(str(p))
    assert ".timeout_ms	= 3000," in c and "schedulers/fifo.py:" in c


def test_hotplug_callbacks_unless_raw_c_may_depend_on_which_cpus_exist():
    """cpu_online/cpu_offline keep the scheduler attached through CPU hotplug. Every stock
    policy has them; raw C only where it hooks them itself (central). Queues with CPU
    structure keep the offline CPUs: an offline CPU's per-CPU instance is rescued by the
    others, and a CPU set with no CPU online is served by any CPU."""
    def survives(path):
        return codegen.build_model(path).survives_hotplug

    assert all(survives(policy_file(n)) for n in schedulers.stock())
    assert not survives(str(REPO / "tests" / "policies" / "raw_percpu.py"))  # raw C, no hotplug hook
    assert ".cpu_offline\t= (void *)scxpy_op_cpu_offline" in codegen.render(policy_file("fifo"))
    assert "cpus_offline" not in codegen.render(policy_file("fifo"))  # nothing to rescue
    local = codegen.render(policy_file("local"))
    assert "note_cpu_offline(cpu);" in local and "\tif (rescue_queue(cpu))\n\t\treturn;" in local
    layered = codegen.render(policy_file("layered"))
    assert "if (cpu < 0 || orphaned_batch)" in layered
    assert "(scxpy_bitmap_test(cpus_batch, cpu) || orphaned_batch)" in layered


def test_lag_clamp_on_wakeup_only_where_the_clock_is_the_queue_s_own():
    """vtime (one shared queue): a preempted heavy task keeps its lead; local (per-CPU
    instances under one clock): every enqueue is clamped, or wakers wait behind tasks far
    behind the clock."""
    def wakeup_only(name):
        return [q.lag_on_wakeup_only for q in codegen.build_model(policy_file(name)).queues if q.vtime]

    assert wakeup_only("vtime") == [True] and wakeup_only("deadline") == [True]
    assert wakeup_only("local") == [False] and wakeup_only("interactive") == [False]
    assert "20000000ULL, enq_flags & SCX_ENQ_WAKEUP, false);" in codegen.render(policy_file("vtime"))
    assert "near_clock(clock_of(cpu), vtime, 20000000ULL, true, true);" in codegen.render(policy_file("local"))
