"""bench.guest's loop on the host, against a fake /sys/kernel/sched_ext.

The fair baseline runs the real workload tools; the "peer" is a small
script that plays a sched_ext scheduler in the fake sysfs (enabled
under its ops name until SIGINT). This checks the interleaving, the
attach/detach handshake, sample recording and failure handling without
booting a guest.
"""

import json
import sys
import textwrap
from pathlib import Path

import pytest


from scxpy.bench import contenders, guest, sched_ext_state, stats, workloads  # noqa: E402

FAKE_PEER = textwrap.dedent("""\
    #!{python}
    import signal, sys, time
    from pathlib import Path
    root = Path({sysfs!r})
    mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
    seq = int((root / "enable_seq").read_text()) + 1
    (root / "root").mkdir(exist_ok=True)
    (root / "root" / "ops").write_text("fake\\n")
    (root / "enable_seq").write_text(f"{{seq}}\\n")
    (root / "state").write_text("enabled\\n")
    def stop(*_):
        (root / "state").write_text("disabled\\n")
        sys.exit(0)
    signal.signal(signal.SIGINT, stop)
    if mode == "eject":  # the kernel ejects it shortly after attach
        time.sleep(0.3)
        stop()
    while True:
        time.sleep(0.05)
""")


@pytest.fixture
def fake_sysfs(tmp_path, monkeypatch):
    root = tmp_path / "sched_ext"
    root.mkdir()
    (root / "state").write_text("disabled\n")
    (root / "enable_seq").write_text("0\n")
    monkeypatch.setattr(sched_ext_state, "SYSFS", root)
    monkeypatch.setattr(contenders, "ATTACH_TIMEOUT_S", 10.0)
    peer = tmp_path / "fake_peer"
    peer.write_text(FAKE_PEER.format(python=sys.executable, sysfs=str(root)))
    peer.chmod(0o755)
    return root, peer


def _plan(peer: Path, outdir: Path, args=(), rounds: int = 2, warmup: int = 1) -> dict:
    return {
        "contenders": [{"name": "fair", "kind": "fair"},
                       {"name": "peer:fake", "kind": "peer", "binary": str(peer), "args": list(args),
                        "ops_name": "fake"}],
        "workloads": ["hackbench"], "rounds": rounds, "warmup": warmup, "long": False, "cost": False,
        "outdir": str(outdir), "order": stats.interleaved_order(["fair", "peer:fake"], rounds, warmup),
    }


def test_interleaved_rounds_and_samples(fake_sysfs, tmp_path):
    root, peer = fake_sysfs
    out = tmp_path / "out"
    out.mkdir()
    assert guest.run(_plan(peer, out), out) == 0
    doc = json.loads((out / "samples.json").read_text())
    assert doc["finished"] and doc["failures"] == []
    order = [(s["round"], s["contender"]) for s in doc["samples"]]
    assert order == [(-1, "fair"), (-1, "peer:fake"), (0, "fair"), (0, "peer:fake"), (1, "fair"), (1, "peer:fake")]
    assert all(s["metrics"]["time_s"] > 0 for s in doc["samples"])
    assert all(s["warmup"] == (s["round"] < 0) for s in doc["samples"])
    assert (root / "state").read_text().strip() == "disabled"
    progress = json.loads((out / "progress.json").read_text())
    assert progress["done"] == progress["total"] == 6


def test_ejected_peer_is_a_failure_not_a_sample(fake_sysfs, tmp_path, monkeypatch):
    root, peer = fake_sysfs
    # A hackbench long enough (about a second here) that the ejection lands mid-run.
    monkeypatch.setattr(workloads.Hackbench, "size", lambda self, ctx: (2, 1000))
    out = tmp_path / "out"
    out.mkdir()
    plan = _plan(peer, out, args=["eject"], rounds=1, warmup=0)
    assert guest.run(plan, out) == 0
    doc = json.loads((out / "samples.json").read_text())
    assert [s["contender"] for s in doc["samples"]] == ["fair"]
    assert len(doc["failures"]) == 1
    f = doc["failures"][0]
    assert f["contender"] == "peer:fake" and "ejected" in f["error"]
