"""`scxpy tune` on the host: a deterministic fake objective stands in for the guest.

Only here: the fake tests the plumbing (optuna's study, storage, resume,
two workers sharing one study), the statistics on known samples and the
refusal of bad input before any guest could boot. The real tune runs in
tests/test_tune_boot.py.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import signal
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

import scxpy
from scxpy.base.manifest import Manifest, Stats, Tunable
from scxpy.tune import stats
from scxpy.tune.errors import TuneError
from scxpy.tune.measure import Measurement
from scxpy.tune.run import tune

OPTIMUM = 3_000_000  # ns: the fake's best `slice`


class FakeCompiled:
    """What tune() needs of a compiled policy: its manifest."""

    def __init__(self):
        self.manifest = Manifest(
            name="fake", description="a fake policy", source="",
            tunables=(Tunable("slice", "tun_slice", 20_000_000, 100_000, 100_000_000, True, "ns", ""),
                      Tunable("weight", "tun_weight", 50, 1, 100, True, None, ""),
                      Tunable("frozen", "tun_frozen", 5, 1, 10, False, None, "")),
            stats=Stats("stats", ("rule.fast.enqueued",), 8))


class Fake:
    """hackbench's time_s: a bowl around OPTIMUM on a log scale; `weight` matters a little.
    A deterministic ripple (from the run's index) gives repeated runs a spread to do statistics on."""

    def __init__(self, plan, interrupt_at: int | None = None, delay: float = 0.0):
        self.plan, self.interrupt_at, self.delay = plan, interrupt_at, delay
        self.runs = 0
        self.started = self.closed = False

    def start(self):
        self.started = True

    def close(self):
        self.closed = True

    def prepare(self, values):
        pass

    def measure(self, values):
        self.runs += 1
        if self.interrupt_at is not None and self.runs == self.interrupt_at:
            raise KeyboardInterrupt
        time.sleep(self.delay)
        ripple = 1 + 0.01 * math.sin(self.runs * 1.7)
        if values is None:  # fair
            return Measurement({"time_s": 2.0 * ripple, "rule.fast.enqueued": 0.0}, 1.0, 0.001)
        values = {"slice": 20_000_000, "weight": 50, **values}  # what a trial leaves out stays at its default
        x = math.log10(values["slice"] / OPTIMUM)
        t = (1.0 + x * x + 0.01 * abs(values["weight"] - 50) / 50) * ripple
        return Measurement({"time_s": t, "rule.fast.enqueued": 1000.0 / values["weight"]}, 1.0, 0.001)


def _tune(tmp_path, **kw):
    kw.setdefault("measurer", Fake)
    args = dict(trials=12, seed=1, out=tmp_path / "out", compiled=FakeCompiled(), progress=False)
    args.update(kw)
    return tune("fake.py", "hackbench", kw.pop("objective", "time_s"), **{k: v for k, v in args.items()
                                                                          if k != "objective"})


def test_finds_the_known_optimum_and_says_it_is_significant(tmp_path):
    r = _tune(tmp_path, trials=25, params=["slice=100us..100ms"])
    assert abs(math.log10(r.best_values["slice"] / OPTIMUM)) < 0.2  # within a factor 1.6
    first = r.comparisons[0]
    assert (first.metric, first.baseline) == ("time_s", "default")
    assert first.ratio < 0.65 and first.ci_high < 1.0 and first.improved and r.improved
    vs_fair = next(c for c in r.comparisons if c.baseline == "fair")
    assert vs_fair.n_candidate == vs_fair.n_baseline == 10
    out = tmp_path / "out"
    rows = [json.loads(line) for line in (out / "trials.jsonl").read_text().splitlines()]
    assert len(rows) == 25 and all(row["state"] == "COMPLETE" for row in rows)
    best = tomllib.loads((out / "best.toml").read_text())
    assert best["set"] == r.best_values and best["policy"] == "fake.py"
    assert (out / "tune.png").read_bytes()[:4] == b"\x89PNG"
    assert len(r.noise["time_s"].to_json()) and r.noise["time_s"].n == 5


def test_callable_as_scxpy_tune(tmp_path):
    r = scxpy.tune("fake.py", "hackbench", "time_s", trials=2, seed=1, out=tmp_path / "o", compiled=FakeCompiled(),
                   measurer=Fake, progress=False, params=["slice=1ms..10ms"])
    assert r.best_values is not None and len(r.study.trials) == 2


def test_constraint_keeps_the_best_feasible(tmp_path):
    # Fewer fast-queue enqueues per second than the default's (weight 50: 20/s) forces weight >= 50.
    r = _tune(tmp_path, trials=15, params=["weight=1..100"],
              constraints=["rule.fast.enqueued <= 1.0*default"])
    assert r.best_values["weight"] >= 50
    rows = [json.loads(line) for line in (tmp_path / "out" / "trials.jsonl").read_text().splitlines()]
    assert any(row["constraints"][0] > 0 for row in rows)  # some trials broke it, and were recorded so


def test_two_objectives_give_a_pareto_front(tmp_path):
    r = _tune(tmp_path, trials=10, objective=["time_s", "rule.fast.enqueued:min"],
              params=["slice=1ms..10ms", "weight=1..100"])
    front = r.study.best_trials
    assert front and r.best_trial in {t.number for t in front}
    assert [d.name for d in r.study.directions] == ["MINIMIZE", "MINIMIZE"]


def test_interrupt_keeps_trials_and_resume_completes_the_count(tmp_path):
    # 5 noise runs, then trials of 1 run each: the 9th run is the 4th trial.
    r = _tune(tmp_path, trials=8, params=["slice=1ms..10ms"], measurer=lambda plan: Fake(plan, interrupt_at=9))
    assert r.interrupted and r.best_values is None
    rows = [json.loads(line) for line in (tmp_path / "out" / "trials.jsonl").read_text().splitlines()]
    assert [row["state"] for row in rows if not row["interrupted"]] == ["COMPLETE"] * 3
    assert sum(row["interrupted"] for row in rows) == 1
    with pytest.raises(TuneError, match="--resume"):
        _tune(tmp_path, trials=8, params=["slice=1ms..10ms"])
    r = _tune(tmp_path, trials=8, params=["slice=1ms..10ms"], resume=True)
    done = [t for t in r.study.trials if t.state.name == "COMPLETE"]
    assert len(done) == 8 and sorted(t.user_attrs["slot"] for t in done) == list(range(8))
    assert r.comparisons


def _worker(kind: str, storage: str, out: str, n: int) -> None:
    args = dict(storage=storage, out=out, measurer=lambda plan: Fake(plan, delay=0.15), progress=False,
                compiled=FakeCompiled())
    if kind == "owner":
        tune("fake.py", "hackbench", "time_s", trials=n, seed=3, params=["slice=1ms..10ms"], **args)
    else:
        tune(join="fake-hackbench", **args)


@pytest.mark.parametrize("storage", ["journal", "sqlite"])
def test_two_workers_share_one_study_exactly(tmp_path, storage):
    import optuna

    url = f"journal:{tmp_path / 'study.log'}" if storage == "journal" else f"sqlite:///{tmp_path / 'study.db'}"
    n = 12
    ctx = multiprocessing.get_context("fork")
    owner = ctx.Process(target=_worker, args=("owner", url, str(tmp_path / "a"), n))
    owner.start()
    from scxpy.tune.study import storage_for

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the joiner needs the study to exist
        if "fake-hackbench" in {s.study_name for s in optuna.get_all_study_summaries(storage_for(url, tmp_path))}:
            break
        time.sleep(0.1)
    joiner = ctx.Process(target=_worker, args=("join", url, str(tmp_path / "b"), n))
    joiner.start()
    owner.join(120)
    joiner.join(120)
    assert owner.exitcode == 0 and joiner.exitcode == 0
    study = optuna.load_study(study_name="fake-hackbench", storage=storage_for(url, tmp_path))
    ran = [t for t in study.trials if not t.user_attrs.get("spare")]
    assert all(t.state.name == "COMPLETE" for t in ran)
    assert sorted(t.user_attrs["slot"] for t in ran) == list(range(n))  # none lost, none twice
    workers = {t.user_attrs["worker"] for t in ran}
    assert len(workers) == 2, workers  # both took part
    assert (tmp_path / "a" / "best.toml").exists()  # the owner compared the best of all trials


def _claimer(url: str, out: str, q) -> None:
    import optuna

    from scxpy.tune import study as st

    study = optuna.load_study(study_name="race", storage=st.storage_for(url, Path(out)))
    mine = []
    while (trial := st.next_trial(study)) is not None:
        mine.append(trial.user_attrs[st.SLOT])
        study.tell(trial, 1.0)
    q.put(mine)


def test_workers_claiming_slots_at_once_never_share_one(tmp_path):
    """Four workers race for 120 slots of one SQLite study: each slot goes to exactly one.
    (SQLite has no SELECT FOR UPDATE: without BEGIN IMMEDIATE two workers ran one trial.)"""
    from scxpy.tune import study as st

    url = f"sqlite:///{tmp_path / 'study.db'}"
    st.create(st.storage_for(url, tmp_path), "race", ["minimize"], 120, 0, None, {})
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    workers = [ctx.Process(target=_claimer, args=(url, str(tmp_path), q)) for _ in range(4)]
    for w in workers:
        w.start()
    claimed = [q.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(10)
    assert all(w.exitcode == 0 for w in workers)
    assert sorted(sum(claimed, [])) == list(range(120)), [len(c) for c in claimed]


class Gated(Fake):
    """A worker's fake whose trials wait for `gate` (a file) before they measure."""

    def __init__(self, plan, gate, delay=0.05):
        super().__init__(plan, delay=delay)
        self.gate = gate

    def measure(self, values):
        if self.runs >= self.plan.spec.noise_repeats:  # past the default's noise runs: in a trial
            deadline = time.monotonic() + 60
            while not os.path.exists(self.gate) and time.monotonic() < deadline:
                time.sleep(0.05)
        return super().measure(values)


class Hangs(Fake):
    """A worker that stops in its first trial (says so in `marker`), to be SIGKILLed there."""

    def __init__(self, plan, marker):
        super().__init__(plan)
        self.marker = marker

    def measure(self, values):
        if self.runs >= self.plan.spec.noise_repeats:
            with open(self.marker, "w") as f:
                f.write(str(os.getpid()))
            time.sleep(600)
        return super().measure(values)


def _beating_worker(role: str, hangs: bool, storage: str, out: str, n: int, marker: str) -> None:
    measurer = (lambda plan: Hangs(plan, marker)) if hangs else (lambda plan: Gated(plan, marker))
    args = dict(storage=storage, out=out, measurer=measurer, progress=False, compiled=FakeCompiled())
    if role == "owner":
        # Beats every 2 s: a trial silent for 6 s is dead; a live worker on a loaded host beats in time.
        tune("fake.py", "hackbench", "time_s", trials=n, seed=3, params=["slice=1ms..10ms"], heartbeat_s=2,
             **args)
    else:
        tune(join="fake-hackbench", **args)


def _study_exists(url, tmp_path) -> bool:
    import optuna

    from scxpy.tune.study import storage_for

    return "fake-hackbench" in {s.study_name for s in optuna.get_all_study_summaries(storage_for(url, tmp_path))}


@pytest.mark.parametrize("storage", ["sqlite", "journal"])
@pytest.mark.parametrize("dies", ["joiner", "owner"])
def test_a_killed_worker_s_trial_is_failed_and_run_again(tmp_path, dies, storage):
    """One worker is SIGKILLed mid-trial; the heartbeat (2 s, grace 6 s) lets the other fail that
    trial and run it again: the requested count completes exactly, the killed trial FAIL and retried.
    On a journal too, where optuna 5.0 has no heartbeat of its own (scxpy.tune.journal adds it)."""
    import optuna

    from scxpy.tune import study as st
    from scxpy.tune.study import storage_for

    url = f"sqlite:///{tmp_path / 'study.db'}" if storage == "sqlite" else f"journal:{tmp_path / 'study.log'}"
    n, marker = 6, str(tmp_path / "in-trial")
    ctx = multiprocessing.get_context("fork")
    first = ctx.Process(target=_beating_worker, args=("owner", dies == "owner", url, str(tmp_path / "owner"),
                                                      n, marker))
    first.start()
    deadline = time.monotonic() + 60
    while not _study_exists(url, tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    if dies == "joiner":  # the joiner takes a trial while the owner's first one waits for it to
        victim, survivor = ctx.Process(target=_beating_worker, args=("joiner", True, url, str(tmp_path / "j"),
                                                                     n, marker)), first
        victim.start()
    else:
        victim, survivor = first, None
    while not os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.path.exists(marker), "the victim never got to a trial"
    time.sleep(0.2)
    os.kill(victim.pid, signal.SIGKILL)  # no cleanup runs: its trial stays RUNNING in the study
    victim.join(10)
    assert victim.exitcode == -signal.SIGKILL
    if survivor is None:  # a new worker joins after the owner died, and finishes the tune
        survivor = ctx.Process(target=_beating_worker, args=("joiner", False, url, str(tmp_path / "j"), n,
                                                             marker))
        survivor.start()
    t0 = time.monotonic()
    survivor.join(120)
    assert survivor.exitcode == 0
    study = optuna.load_study(study_name="fake-hackbench", storage=storage_for(url, tmp_path))
    ran = [t for t in study.trials if not t.user_attrs.get("spare")]
    failed = [t for t in ran if t.state.name == "FAIL"]
    done = [t for t in ran if t.state.name == "COMPLETE"]
    assert len(failed) == 1 and len(done) == n and len(ran) == n + 1, [(t.number, t.state.name) for t in ran]
    killed = failed[0]
    again = [t for t in done if t.system_attrs.get("failed_trial") == killed.number]
    assert len(again) == 1 and again[0].params == killed.params  # the same values, run again
    assert sorted(t.user_attrs["slot"] for t in done) == list(range(n))  # none lost, none twice
    assert st.counts(study) == (n, n)
    assert time.monotonic() - t0 < 60
    rows = [json.loads(line) for line in (tmp_path / ("owner" if dies == "joiner" else "j") / "trials.jsonl")
            .read_text().splitlines()]
    assert [r["trial"] for r in rows if r["retried"]] == [killed.number]
    if dies == "joiner":
        assert (tmp_path / "owner" / "best.toml").exists()  # the owner compared the best of all n


def _no_boot(plan):
    raise AssertionError("a guest would boot for bad input")


@pytest.mark.parametrize("kw, match", [
    (dict(params=["bogus=1..2"]), "no tunable 'bogus'"),
    (dict(params=["slice=10us..1ms"]), "outside slice's own range"),
    (dict(params=["frozen=1..5"]), "not live.*--rebuild"),
    (dict(objective="p99_us"), "'p99_us' is not produced"),
    (dict(trials=0), "--trials 0"),
    (dict(constraints=["hog_bogo_ops_per_s >= 0.95*default"]), "not produced"),
    (dict(constraints=["time_s >> 2"]), "is not METRIC"),
    (dict(noise_repeats=3), "at least 5"),
    (dict(final_rounds=5), "at least 10"),
    (dict(heartbeat_s=0), "--heartbeat 0: give whole seconds"),
])
def test_bad_input_is_refused_before_any_guest(tmp_path, kw, match):
    with pytest.raises(TuneError, match=match):
        _tune(tmp_path, measurer=_no_boot, **kw)
    assert not (tmp_path / "out").exists()


def test_rebuild_allows_load_time_tunables(tmp_path):
    r = _tune(tmp_path, trials=2, params=["frozen=1..5"], rebuild=True)
    assert set(r.best_values) == {"frozen"}


# -- the statistics on known samples --------------------------------------------------

def test_compare_known_shift_is_significant():
    base = [float(x) for x in range(96, 104)]  # 8 each, no ties: scipy computes the exact p
    better = [x * 0.8 for x in base]
    c = stats.compare(better, base, metric="p99_us", better_if_lower=True)
    assert c.ratio == pytest.approx(0.8)
    assert c.ci_low <= 0.8 <= c.ci_high < 1.0 and c.improved and "significantly better" in c.verdict()
    # Mann-Whitney: the two samples do not overlap at all: the exact two-sided p is 2 / C(16, 8).
    assert c.p_value == pytest.approx(2 / math.comb(16, 8))


def test_compare_same_distribution_says_no_improvement():
    rng = np.random.default_rng(7)
    a, b = list(rng.normal(100, 5, 12)), list(rng.normal(100, 5, 12))
    c = stats.compare(a, b, metric="time_s", better_if_lower=True)
    assert c.ci_low < 1.0 < c.ci_high and not c.improved
    assert c.verdict() == stats.NO_GAIN == "no significant improvement over the default"
    assert "no significant improvement over the default" in c.line()


def test_compare_worse_for_a_higher_is_better_figure():
    c = stats.compare([90.0, 91, 89, 90, 92], [100.0, 101, 99, 100, 102], metric="hog_bogo_ops_per_s",
                      better_if_lower=False)
    assert c.significant and not c.improved and "worse" in c.verdict()


def test_noise_and_repeats():
    n = stats.noise([10.0, 11.0, 12.0, 13.0, 14.0])
    assert (n.median, n.q1, n.q3, n.n) == (12.0, 11.0, 13.0, 5)
    assert n.rel_sigma == pytest.approx(2 / 1.349 / 12)
    # sigma 12.4%: resolving 5% needs (2*1.2533*0.1236/0.05)^2 = 38.4 runs, capped at 3
    assert stats.repeats_needed(n, 0.05, 3) == 3
    assert stats.repeats_needed(stats.noise([100.0, 100, 100, 100, 100]), 0.05, 3) == 1
    assert stats.repeats_needed(n, 0.5, 10) == 1  # (2*1.2533*0.1236/0.5)^2 = 0.38


# -- best.toml back in: --set-file on run, dev and bench ------------------------------

@pytest.mark.parametrize("command", [["run", "fifo"], ["dev", "fifo"], ["bench", "fifo"]])
def test_set_file_feeds_set_and_explicit_set_wins(tmp_path, command):
    from scxpy.cli import build_parser
    from scxpy.cmd_run import parse_sets

    f = tmp_path / "best.toml"
    f.write_text('policy = "fifo"\n[set]\nslice = 3000000\nflag = true\nmin_run = "500us"\n')
    args = build_parser().parse_args([*command, "--set", "slice=7", "--set-file", str(f)])
    assert parse_sets(args.set) == {"slice": 7, "flag": 1, "min_run": 500_000}  # --set wins over the file


@pytest.mark.parametrize("text, match", [
    (None, "cannot read it"),
    ("[set\n", "not valid TOML"),
    ("policy = 'x'\n", "no \\[set\\] table"),
    ("[set]\nslice = 1.5\n", "not an integer"),
])
def test_bad_set_file_is_one_clear_error(tmp_path, capsys, text, match):
    from scxpy.cli import build_parser

    f = tmp_path / "best.toml"
    if text is not None:
        f.write_text(text)
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["run", "fifo", "--set-file", str(f)])
    assert e.value.code == 2
    import re

    assert re.search(match, capsys.readouterr().err)


def test_best_toml_round_trips_through_set_file(tmp_path):
    from scxpy.base.setfile import read

    r = _tune(tmp_path, trials=3, params=["slice=1ms..10ms", "weight=1..100"])
    assert read(tmp_path / "out" / "best.toml") == r.best_values


def test_interrupt_in_the_final_comparison_keeps_its_rounds(tmp_path):
    # 5 noise runs + 3 trials = 8 runs; the final rounds start at run 9: Ctrl-C at run 21 leaves 4 rounds.
    r = _tune(tmp_path, trials=3, params=["slice=1ms..10ms"], measurer=lambda plan: Fake(plan, interrupt_at=21))
    assert r.interrupted and r.comparisons
    assert all(c.n_candidate == c.n_baseline == 4 for c in r.comparisons)
    final = json.loads((tmp_path / "out" / "final.json").read_text())
    assert final["complete"] is False and len(final["samples"]["fair"]["time_s"]) == 4
