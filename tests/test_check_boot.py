"""The pytest plugin as a user runs it: the documented test_mypolicy.py, in a directory outside the repo.

Boot tier (one guest, the default kernel): docs/testing-policies.md's
example is copied verbatim (from the block after `<!-- user-example -->`)
next to a user's own policy (a vtime queue), with a second test asserting
the same of a policy that ignores nice. pytest runs there, finding scxpy's
fixtures through the `pytest11` entry point alone: the first test must
pass, the second must fail with a readable explanation.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.boot

REPO = Path(__file__).resolve().parent.parent

USER_POLICY = '''"""My policy: CPU time shared by weight on one vtime queue."""
from scxpy import Dsq, Rule, Scheduler, ms


class Mine(Scheduler):
    name = "mine"
    queue = Dsq("vtime", lag=20 * ms)
    rules = [Rule(queue=queue, slice=5 * ms)]
'''

BROKEN_TEST = '''from pathlib import Path

from scxpy.pytest_plugin import assert_at_most


def test_nice_ignored(scxpy_guest, scxpy_attach):
    scxpy_attach(Path(__file__).parent / "ignores_nice.py")
    deviations = [scxpy_guest.weight_deviation_pts(nices=[-5, 0, 5])]
    assert_at_most(deviations, 10, "worst CPU-share deviation from the nice weights (points)")
'''


def documented_example() -> str:
    text = (REPO / "docs" / "testing-policies.md").read_text()
    m = re.search(r"<!-- user-example -->\s*```python\n(.*?)```", text, re.S)
    assert m, "docs/testing-policies.md lost its user example"
    return m.group(1)


def test_a_users_ten_line_test_runs_from_a_temp_dir(tmp_path):
    example = documented_example()
    assert len(example.strip().splitlines()) <= 10
    assert not str(tmp_path).startswith(str(REPO))
    (tmp_path / "mypolicy.py").write_text(USER_POLICY)
    (tmp_path / "test_mypolicy.py").write_text(example)
    (tmp_path / "ignores_nice.py").write_text((REPO / "tests" / "policies" / "ignores_nice.py").read_text())
    (tmp_path / "test_broken.py").write_text(BROKEN_TEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
    out = r.stdout + r.stderr
    print(out[-6000:])
    assert r.returncode == 1, out[-3000:]
    assert re.search(r"1 failed, 1 passed", out), out[-3000:]
    failed = re.findall(r"FAILED (\S+)", out)
    assert failed and all(f.startswith("test_broken.py") for f in failed), out[-3000:]
    assert re.search(r"worst CPU-share deviation from the nice weights \(points\): \d", out), out[-3000:]
    assert "target ≤ 10 — too high" in out
