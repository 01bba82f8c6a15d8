"""scxpy check, host tier: verdicts, statistics, promises and the analyses of recorded events.

The probes themselves run in the guest (tests/test_check_vm.py); here the
pure parts: how rounds become report-card rows, the interval, the
idle-while-waiting sweep, the affinity log and the tracefs text parser.
"""

from __future__ import annotations

import math

import pytest

from scxpy.base.errors import ScxpyError
from scxpy.check import catalog, probes, tasks, tracing
from scxpy.check.intervals import estimate

CHECKS = catalog.CHECKS


def verdicts(check, pol, fair, promises=None):
    return [r.verdict for r in catalog.judge(CHECKS[check], pol, fair, promises)]


def test_weight_fairness_pass_and_fail():
    assert verdicts("weight_fairness", [{"deviation_pts": 4}, {"deviation_pts": 8}],
                    [{"deviation_pts": 2}] * 2) == ["pass"]
    assert verdicts("weight_fairness", [{"deviation_pts": 30}] * 2, [{"deviation_pts": 2}] * 2) == ["FAIL"]


def test_not_promised_replaces_a_failure_only():
    no = {"weight_fairness": False}
    assert verdicts("weight_fairness", [{"deviation_pts": 30}], [{"deviation_pts": 2}], no) == ["not promised"]
    assert verdicts("weight_fairness", [{"deviation_pts": 3}], [{"deviation_pts": 2}], no) == ["pass"]


def test_latency_threshold_is_relative_to_fair():
    fair = [{"p50_us": 1000, "p99_us": 30_000}]
    ok = [{"p50_us": 2000, "p99_us": 70_000}]  # 2 x 30 ms + 20 ms = 80 ms
    bad = [{"p50_us": 2000, "p99_us": 90_000}]
    assert verdicts("latency", ok, fair) == ["pass", "pass"]
    assert verdicts("latency", bad, fair) == ["pass", "FAIL"]


def test_ejection_fails_with_the_reason():
    rows = catalog.judge(CHECKS["starvation"], [{"ejected": "runnable task stall (watchdog)"}],
                         [{"max_wait_ms": 50}])
    assert rows[0].verdict == "FAIL" and "stall" in rows[0].note and rows[0].policy == "ejected"


def test_a_probe_that_could_not_measure_is_an_error_not_a_pass():
    rows = catalog.judge(CHECKS["affinity"], [{"error": "cannot mount tracefs"}], [{"violations": 0}])
    assert rows[0].verdict == "error" and "tracefs" in rows[0].note


def test_hotplug_outcomes():
    fair = [{"outcome": "survived"}] * 2
    assert verdicts("hotplug", [{"outcome": "restarted"}, {"outcome": "survived"}], fair) == ["pass"]
    rows = catalog.judge(CHECKS["hotplug"], [{"outcome": "restarted"}, {"outcome": "ejected"}], fair)
    assert rows[0].verdict == "FAIL" and "ejected 1/2" in rows[0].policy


def test_cgroup_check_is_promised_by_cgroup_policies_only():
    from scxpy.check.runner import load_policy

    assert load_policy("vtime")[1].get("cgroup_weight") is False
    assert "cgroup_weight" not in load_policy("cgroup")[1]
    fair = [{"deviation_pts": 1.0}] * 3
    off = [{"deviation_pts": 30.0}] * 3
    assert verdicts("cgroup_weight", [{"deviation_pts": 2.0}] * 3, fair) == ["pass"]
    assert verdicts("cgroup_weight", off, fair) == ["FAIL"]
    rows = catalog.judge(CHECKS["cgroup_weight"], off, fair, {"cgroup_weight": False})
    assert [r.verdict for r in rows] == ["not promised"]


def test_promises_are_validated():
    assert catalog.check_promises({"weight_fairness": False}, "p") == {"weight_fairness": False}
    with pytest.raises(ScxpyError, match="no behaviour scxpy checks; choose from weight_fairness"):
        catalog.check_promises({"fairness": False}, "p")
    with pytest.raises(ScxpyError, match="True or False"):
        catalog.check_promises({"latency": "no"}, "p")
    with pytest.raises(ScxpyError, match="must be a dict"):
        catalog.check_promises(["latency"], "p")


def test_only_names_checks():
    assert [c.name for c in catalog.select(["affinity", "latency"])] == ["latency", "affinity"]
    with pytest.raises(ScxpyError, match="--only nope: no such check"):
        catalog.select(["nope"])


def test_t_interval_matches_the_textbook():
    e = estimate([10.0, 12.0, 14.0])
    # mean 12, s = 2, t(0.975, 2) = 4.3027: half-width 4.3027 * 2 / sqrt(3) = 4.968
    assert e.mean == 12 and math.isclose(e.high - 12, 4.9683, rel_tol=1e-3)
    assert estimate([5.0]).low is None


def test_weights_are_the_kernels():
    assert (tasks.weight(0), tasks.weight(-5), tasks.weight(5), tasks.weight(-20), tasks.weight(19)) == \
        (1024, 3121, 335, 88761, 15)


def test_idle_while_waiting_counts_only_what_an_idle_cpu_could_have_run():
    # CPU 1 idle 0..10; a task waiting 2..6 headed for busy CPU 0: 4 s wasted.
    assert probes._wasted([(1, 0.0, 10.0)], [(2.0, 6.0, 0)]) == pytest.approx(4.0)
    # The same wait headed for the idle CPU itself is on its way there: nothing wasted.
    assert probes._wasted([(1, 0.0, 10.0)], [(2.0, 6.0, 1)]) == 0
    # Two waiting, one idle CPU: one CPU's worth.
    assert probes._wasted([(1, 0.0, 10.0)], [(0.0, 5.0, 0), (0.0, 5.0, 0)]) == pytest.approx(5.0)


def test_affinity_log_judges_the_mask_in_force():
    log = [(1.0, 1.1, 0), (2.0, 2.1, 1)]
    assert probes._allowed(log, 0.5, 1) is None  # before any change: every CPU
    assert probes._allowed(log, 1.5, 0) is True
    assert probes._allowed(log, 1.5, 1) is False
    assert probes._allowed(log, 2.05, 0) is True and probes._allowed(log, 2.05, 1) is True  # mid-change
    assert probes._allowed(log, 2.5, 0) is False


TRACE = """\
# tracer: nop
   scxchk-hog-12  [001] d..2.   100.000100: sched_switch: prev_comm=scxchk-hog prev_pid=12 prev_prio=120 prev_state=R+ ==> next_comm=scxchk-hog next_pid=13 next_prio=120
          <idle>-0     [000] dNh2.   100.000200: sched_wakeup: comm=scxchk-duty pid=14 prio=120 target_cpu=000
          <idle>-0     [000] d..2.   100.000300: sched_switch: prev_comm=swapper/0 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=scxchk-duty next_pid=14 next_prio=120
   scxchk-hog-13  [001] d..2.   100.010100: sched_switch: prev_comm=scxchk-hog prev_pid=13 prev_prio=120 prev_state=S ==> next_comm=scxchk-hog next_pid=12 next_prio=120
"""


def test_trace_text_is_parsed_into_waits_and_idle_spells():
    rec = tracing.Recording()
    rec._parse(TRACE)
    assert len(rec.switches) == 3 and len(rec.wakeups) == 1
    assert rec.switches[0].prev_runnable and not rec.switches[2].prev_runnable
    waits = sorted(tracing.waits(rec, 100.0, 101.0))
    assert waits == [(12, 100.0001, 100.0101, 1), (14, 100.0002, 100.0003, 0)]
    assert tracing.idle_spells(rec, 2, 100.0, 101.0) == [(0, 100.0, 100.0003)]


def test_the_dsl_refuses_a_wrong_promise_at_its_line(tmp_path):
    from scxpy import codegen
    from scxpy.codegen.errors import PolicyError

    p = tmp_path / "pol.py"
    p.write_text('"""A policy."""\nfrom scxpy import Dsq, Rule, Scheduler\n\n\nclass P(Scheduler):\n'
                 '    q = Dsq()\n    rules = [Rule(queue=q)]\n    promises = {"weight_fairnes": False}\n')
    with pytest.raises(PolicyError, match="weight_fairnes.*choose from weight_fairness") as e:
        codegen.build_model(str(p))
    assert ":8" in str(e.value)
    p.write_text(p.read_text().replace("weight_fairnes", "weight_fairness"))
    codegen.build_model(str(p))  # a known behaviour is accepted


def test_assertion_helpers_fail_readably():
    from scxpy.pytest_plugin import assert_at_least, assert_at_most, assert_within

    assert_at_most([10, 12, 14], 20, "error %")
    with pytest.raises(pytest.fail.Exception) as e:
        assert_at_most([30, 32, 34], 20, "worst share error (%)")
    msg = str(e.value)
    assert "worst share error (%): 32 (rounds: 30, 32, 34, 95% interval 27.03 … 36.97" in msg
    assert "target ≤ 20 — too high" in msg
    with pytest.raises(pytest.fail.Exception, match="target ≥ 5 — too low"):
        assert_at_least(3, 5, "throughput")
    assert_within([0.95, 1.05], 1.0, 0.1, "ratio")
    with pytest.raises(pytest.fail.Exception, match=r"target 1 ± 10% — outside"):
        assert_within([1.5], 1.0, 0.1, "ratio")


def test_cli_refuses_bad_input_before_any_guest(capsys, tmp_path):
    from scxpy.cli import main

    assert main(["check", "no_such_policy"]) != 0
    err = capsys.readouterr().err
    assert "no_such_policy" in err and "Traceback" not in err
    assert main(["check", "vtime", "--cpus", "1"]) != 0
    assert "at least 2 vCPUs" in capsys.readouterr().err
    assert main(["check", "vtime", "--json", str(tmp_path / "nodir" / "card.json")]) != 0
    assert "does not exist; create it first" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["check", "vtime", "--only", "fairness"])
    assert "invalid choice: 'fairness'" in capsys.readouterr().err
