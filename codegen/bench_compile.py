"""Compile-time figures for every stock policy: `python -m codegen.bench_compile`.

Cold: render + clang with an empty cache (target <= 1 s per policy).
Warm: the whole codegen.compile() call on a cache hit (target <= 50 ms),
which still loads, validates and renders the policy to compute the key.
Uses a private cache directory so the user's cache is left alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

COLD_TARGET_S = 1.0
WARM_TARGET_S = 0.050


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m codegen.bench_compile", description=__doc__.splitlines()[0])
    ap.add_argument("policies", nargs="*", help="stock names or .py paths (default: all stock policies)")
    ap.add_argument("--vmlinux-h", help="default: $SCXPY_VMLINUX_H, else the default kernel's")
    ap.add_argument("--repeat", type=int, default=5, help="warm repetitions (median reported)")
    args = ap.parse_args(argv)

    import codegen
    import schedulers
    from base.errors import ScxpyError

    vmlinux_h = args.vmlinux_h or os.environ.get("SCXPY_VMLINUX_H")
    if not vmlinux_h:
        from vm.kernel import default_kernel

        vmlinux_h = str(default_kernel().vmlinux_h)
    policies = args.policies or list(schedulers.stock())
    ok = True
    with tempfile.TemporaryDirectory(prefix="scxpy-bench-cache-") as cache:
        os.environ["SCXPY_CACHE_DIR"] = cache
        print(f"{'policy':<14}{'render ms':>10}{'cold ms':>10}{'warm ms':>10}  targets: cold <= "
              f"{COLD_TARGET_S * 1000:.0f} ms, warm <= {WARM_TARGET_S * 1000:.0f} ms")
        for pol in policies:
            try:
                t0 = time.perf_counter()
                codegen.render(pol)
                render_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                out = codegen.compile(pol, vmlinux_h)
                cold = time.perf_counter() - t0
                assert not out.cache_hit
                warm_runs = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    out = codegen.compile(pol, vmlinux_h)
                    warm_runs.append(time.perf_counter() - t0)
                    assert out.cache_hit
            except ScxpyError as e:
                print(f"{pol:<14}error: {e}")
                ok = False
                continue
            warm = statistics.median(warm_runs)
            flag = "" if cold <= COLD_TARGET_S and warm <= WARM_TARGET_S else "  MISSED"
            ok &= not flag
            name = os.path.basename(pol)
            print(f"{name:<14}{render_s * 1000:>10.1f}{cold * 1000:>10.1f}{warm * 1000:>10.1f}{flag}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
