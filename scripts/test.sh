#!/usr/bin/env bash
# The test command: set-up, the guest kernels (the source-built 6.12 and
# Debian's prebuilt 7.3), the host tiers, then the vm tier inside a guest
# of each kernel. Extra arguments go to every pytest run.
# SCXPY_TEST_KERNELS picks the kernels (default "6.12 7.3"); the host
# tiers boot the default kernel (7.3). SCXPY_TORTURE_KERNELS picks those whose
# vm tier ends with a torture round (default: both).
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

bash scripts/setup.sh || { echo "set-up failed" >&2; exit 1; }
PY="$REPO/.venv/bin/python"
SCXPY="$REPO/.venv/bin/scxpy"
read -r -a KERNELS <<< "${SCXPY_TEST_KERNELS:-6.12 7.3}"

# Every kernel first (6.12 is built, 7.3 fetched), so a failure stops the
# run before an hour of tests.
for v in "${KERNELS[@]}"; do
    "$SCXPY" kernel --version "$v" --print-path >/dev/null || { echo "the $v kernel is not available" >&2; exit 1; }
done

RESULTS="$(mktemp -d /tmp/scxpy-test-XXXXXX)"
echo "== host tiers (pure, clang, boot) =="
"$PY" -m pytest -m "not vm" --junitxml="$RESULTS/host.xml" "$@"
statuses=("host.xml=$?")

# The same objects (compiled against the 7.3 kernel's vmlinux.h) on every kernel.
# Each guest runs single-threaded TCG, one host core each, so the kernels'
# vm tiers run side by side; every line is prefixed with its kernel. On the
# kernels in SCXPY_TORTURE_KERNELS (default both) the vm tier ends with one
# torture round of every stock policy (scripts/torture.sh runs more), whose
# table is printed after the guests. SCXPY_TORTURE_EXCEPT=a,b leaves policies
# out (the round says so). The guest gets only the environment it is given.
read -r -a TORTURED <<< "${SCXPY_TORTURE_KERNELS-6.12 7.3}"
EXCEPT="${SCXPY_TORTURE_EXCEPT-}"
pids=()
for v in "${KERNELS[@]}"; do
    echo "== vm tier, inside the $v guest =="
    mkdir -p "$RESULTS/$v"
    marks="vm and not torture"
    [[ " ${TORTURED[*]} " == *" $v "* ]] && marks="vm"
    (
        "$SCXPY" vm --kernel-version "$v" --cpus "${SCXPY_TEST_CPUS:-4}" --memory 4G \
            --timeout "${SCXPY_TEST_VM_TIMEOUT:-3600}" --scratch "$RESULTS/$v" -- \
            env SCXPY_TORTURE_EXCEPT="$EXCEPT" \
            "$PY" -m pytest -m "$marks" -p no:cacheprovider --junitxml="$RESULTS/$v/guest-$v.xml" "$@" \
            > >(sed -u "s/^/[$v] /") 2>&1
    ) &
    pids+=("$!")
done
for i in "${!KERNELS[@]}"; do
    wait "${pids[$i]}"
    statuses+=("${KERNELS[$i]}/guest-${KERNELS[$i]}.xml=$?")
done
tables=()
for v in "${KERNELS[@]}"; do
    [[ " ${TORTURED[*]} " == *" $v "* ]] && tables+=("$v=$RESULTS/$v/torture.json")
done
if [ ${#tables[@]} -gt 0 ]; then
    echo "== torture round =="
    "$PY" scripts/torture_table.py "${tables[@]}"  # informative: the vm tier's status counts
fi

"$PY" - "$RESULTS" "${statuses[@]}" <<'PYEOF'
import sys, xml.etree.ElementTree as ET
from pathlib import Path
results = Path(sys.argv[1])
total = [0, 0, 0]
parts, ok = [], True
for arg in sys.argv[2:]:
    name, status = arg.rsplit("=", 1)
    status = int(status)
    ok = ok and status == 0
    passed = failed = skipped = 0
    f = results / name
    if not f.exists():
        print(f"{name}: no results (pytest exit {status})")
        failed += 1
    else:
        for suite in ET.parse(f).getroot().iter("testsuite"):
            n = int(suite.get("tests", 0)); fl = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            sk = int(suite.get("skipped", 0))
            passed += n - fl - sk; failed += fl; skipped += sk
        if status != 0 and failed == 0:
            failed += 1  # pytest failed without a failing test (collection error, no tests)
    label = "host" if name == "host.xml" else "vm " + Path(name).stem.removeprefix("guest-")
    parts.append(f"{label}: {passed} passed, {failed} failed, {skipped} skipped")
    total = [total[0] + passed, total[1] + failed, total[2] + skipped]
print(f"scxpy tests: {total[0]} passed, {total[1]} failed, {total[2]} skipped ({'; '.join(parts)})")
sys.exit(0 if ok and total[1] == 0 else 1)
PYEOF
