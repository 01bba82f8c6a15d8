"""A short real `scxpy tune` in the guest: interactive's max_runtime on hackbench, 4 trials.

Boots the guest (TCG; several minutes: 5 noise runs, 4 trials, 10
interleaved rounds of best, default and fair). Checks that the study holds
the 4 trials, best.toml is written and is inside the searched range, the
final comparison has its 10 rounds per side with an interval, and that
`scxpy run --vm --set-file best.toml` loads the policy with those values
(it prints them read back from the loaded scheduler).
"""

import re
import subprocess
import sys
import tomllib

import pytest

from scxpy.tune.run import tune


@pytest.mark.boot
@pytest.mark.timeout(2400)
def test_short_real_tune_then_run_set_file(tmp_path, kernel):
    out = tmp_path / "tune"
    r = tune("interactive", "hackbench", "time_s", params=["max_runtime=100us..20ms"], trials=4, max_repeats=1,
             seed=2, out=out, kernel=kernel, progress=True)
    assert not r.interrupted
    done = [t for t in r.study.trials if t.state.name == "COMPLETE"]
    assert len(done) == 4
    assert all(100_000 <= t.params["max_runtime"] <= 20_000_000 for t in done)
    best = tomllib.loads((out / "best.toml").read_text())["set"]
    assert best == r.best_values and set(best) == {"max_runtime"}
    assert len(r.comparisons) == 2  # time_s: best/default, best/fair
    for c in r.comparisons:
        assert c.n_candidate >= 9 and c.n_baseline >= 9  # 10 rounds; a lost run is reported, not hidden
        assert c.ci_low <= c.ratio <= c.ci_high and 0 <= c.p_value <= 1
    assert len((out / "trials.jsonl").read_text().splitlines()) == 4
    assert (out / "tune.png").read_bytes()[:4] == b"\x89PNG"
    assert r.overhead_s and all(x >= 0 for x in r.overhead_s)
    print(f"per-run overhead: median {sorted(r.overhead_s)[len(r.overhead_s) // 2]:.3f} s")

    which = ["--kernel-version", kernel.version] if kernel.version else ["--kernel", str(kernel.bzimage)]
    run = subprocess.run([sys.executable, "-m", "scxpy", "run", "--vm", *which, "--cpus", "2",
                          "--timeout", "300", "interactive", "--set-file", str(out / "best.toml"), "--", "true"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    m = re.search(r"tunables set: (.*)$", run.stdout, re.M)
    assert m and f"max_runtime={best['max_runtime']}" in m.group(1), run.stdout
