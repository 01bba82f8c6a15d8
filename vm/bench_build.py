"""Benchmark: cold source build of a kernel, cache hit, and `scxpy vm -- true` on it.

    python -m scxpy.vm.bench_build [--version X.Y] [--skip-cold]

The cold build runs in a throw-away cache directory so the real cache is
untouched: for 7.x that includes fetching the source package and pahole
through the private apt. Target: <= 8 min on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", default=None, metavar="X.Y", help="the kernel version (default 6.12)")
    ap.add_argument("--skip-cold", action="store_true", help="only time the cache hit and the boot")
    ap.add_argument("--boots", type=int, default=3, help="boots of `scxpy vm -- true` to time")
    args = ap.parse_args()

    from scxpy.vm import source_build as kernel

    rows = []
    if not args.skip_cold:
        tmp = tempfile.mkdtemp(prefix="scxpy-bench-build-")
        old = os.environ.get("SCXPY_CACHE_DIR")
        os.environ["SCXPY_CACHE_DIR"] = tmp
        try:
            t = time.monotonic()
            kernel.kernel(args.version, progress=True)
            rows.append((f"{kernel.release(args.version)} cold build (extract + configure + compile + vmlinux.h)", time.monotonic() - t))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            if old is None:
                del os.environ["SCXPY_CACHE_DIR"]
            else:
                os.environ["SCXPY_CACHE_DIR"] = old

    kernel.kernel(args.version, progress=True)  # make sure the real cache has it
    t = time.monotonic()
    kernel.kernel(args.version, progress=False)
    rows.append(("cache hit", time.monotonic() - t))

    times = []
    for _ in range(args.boots):
        t = time.monotonic()
        subprocess.run([sys.executable, "-m", "scxpy", "vm", "--kernel-version",
                        args.version or kernel.DEFAULT_VERSION, "--", "true"], check=True)
        times.append(time.monotonic() - t)
    times.sort()
    rows.append((f"scxpy vm -- true (median of {len(times)})", times[len(times) // 2]))

    print(f"\n{'what':60} {'seconds':>9}")
    for what, secs in rows:
        print(f"{what:60} {secs:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
