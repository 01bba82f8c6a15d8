"""A short `scxpy bench` in the 6.12 guest: fair + the kernel's scx_simple, hackbench, one round.

Boots the guest once (TCG: about a minute in all). Checks what a user
relies on: results.json has every field, ratios are derived from the
raw samples, and the plot is a PNG matplotlib can decode.
"""

import json

import pytest


from scxpy.bench import host, schema, stats  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.boot
@pytest.mark.timeout(400)
def test_short_bench_in_guest(tmp_path, kernel):
    out = tmp_path / "bench"
    opts = host.Options(policies=["peer:scx_simple"], workloads=["hackbench"], rounds=1, warmup=0,
                        out=out, cpus=2, timeout=300, kernel=kernel)
    status = host.run(opts)
    results = json.loads((out / "results.json").read_text())
    assert schema.problems(results) == [], results.get("failures")
    assert status == 0, results["failures"]
    assert results["finished"] and results["failures"] == []
    assert [c["name"] for c in results["contenders"]] == ["fair", "peer:scx_simple"]
    env = results["environment"]
    assert env["accelerator"] in ("tcg", "kvm") and env["cpus"] == 2
    assert env["guest"]["cpus"] == 2 and env["guest"]["kernel_release"] == kernel.release

    measured = {s["contender"]: s["metrics"]["time_s"] for s in results["samples"] if s["round"] >= 0}
    assert set(measured) == {"fair", "peer:scx_simple"}
    entry = results["summary"]["hackbench"]["time_s"]["peer:scx_simple"]
    assert entry["median"] == measured["peer:scx_simple"]
    assert entry["ratio"] == pytest.approx(stats.ratio(measured["peer:scx_simple"], measured["fair"]))

    # warmup=0: costs come from the measured round, and say so.
    assert results["cost_method"]["perturbs_samples"] is True
    callbacks = results["costs"]["peer:scx_simple"]
    assert callbacks and sum(v["run_cnt"] for v in callbacks.values()) > 0

    png = out / "hackbench.png"
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    import matplotlib.image

    assert matplotlib.image.imread(png).ndim == 3
