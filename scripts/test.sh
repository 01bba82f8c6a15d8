#!/usr/bin/env bash
# The test command: set-up, the 6.12 kernel, host tiers, then the vm tier
# inside the guest. Extra arguments go to both pytest runs.
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

bash scripts/setup.sh || { echo "set-up failed" >&2; exit 1; }
PY="$REPO/.venv/bin/python"
SCXPY="$REPO/.venv/bin/scxpy"

"$SCXPY" kernel || { echo "the 6.12 kernel could not be built" >&2; exit 1; }

RESULTS="$(mktemp -d /tmp/scxpy-test-XXXXXX)"
echo "== host tiers (pure, clang, boot) =="
"$PY" -m pytest -m "not vm" --junitxml="$RESULTS/host.xml" "$@"
host=$?

echo "== vm tier, inside the 6.12 guest =="
"$SCXPY" vm --cpus "${SCXPY_TEST_CPUS:-4}" --memory 4G --timeout "${SCXPY_TEST_VM_TIMEOUT:-2400}" \
    --scratch "$RESULTS" -- \
    "$PY" -m pytest -m vm -p no:cacheprovider --junitxml="$RESULTS/guest.xml" "$@"
guest=$?

"$PY" - "$RESULTS" "$host" "$guest" <<'PYEOF'
import sys, xml.etree.ElementTree as ET
from pathlib import Path
results, host, guest = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
passed = failed = skipped = 0
for name, status in (("host.xml", host), ("guest.xml", guest)):
    f = results / name
    if not f.exists():
        print(f"{name}: no results (pytest exit {status})")
        failed += 1
        continue
    for suite in ET.parse(f).getroot().iter("testsuite"):
        n = int(suite.get("tests", 0)); fl = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        sk = int(suite.get("skipped", 0))
        passed += n - fl - sk; failed += fl; skipped += sk
    if status not in (0,) and failed == 0:
        failed += 1  # pytest failed without a failing test (collection error, no tests)
print(f"scxpy tests: {passed} passed, {failed} failed, {skipped} skipped")
PYEOF
[ "$host" -eq 0 ] && [ "$guest" -eq 0 ]
