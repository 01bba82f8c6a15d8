"""Compile-time figures for every stock policy: `python -m scxpy.bench.compile_times`.

Cold: render + clang with an empty cache (target <= 1 s per policy).
Warm: the whole codegen.compile() call on a cache hit (target <= 50 ms),
which still loads, validates and renders the policy to compute the key.
Uses a private cache directory so the user's cache is left alone.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass

COLD_TARGET_S = 1.0
WARM_TARGET_S = 0.050


@dataclass(frozen=True)
class CompileTimes:
    render_s: float
    cold_s: float
    warm_s: float  # median of the repetitions

    @property
    def on_target(self) -> bool:
        return self.cold_s <= COLD_TARGET_S and self.warm_s <= WARM_TARGET_S


@contextlib.contextmanager
def private_cache():
    """$SCXPY_CACHE_DIR pointed at an empty directory while inside, then restored."""
    old = os.environ.get("SCXPY_CACHE_DIR")
    with tempfile.TemporaryDirectory(prefix="scxpy-bench-cache-") as cache:
        os.environ["SCXPY_CACHE_DIR"] = cache
        try:
            yield cache
        finally:
            if old is None:
                os.environ.pop("SCXPY_CACHE_DIR", None)
            else:
                os.environ["SCXPY_CACHE_DIR"] = old


def measure(policy: str, vmlinux_h: str, repeat: int = 5) -> CompileTimes:
    """Times of one policy (stock name or .py path); call inside private_cache()."""
    from scxpy import codegen
    from scxpy import schedulers

    path = schedulers.policy_file(policy)
    t0 = time.perf_counter()
    codegen.render(path)
    render_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = codegen.compile(path, vmlinux_h)
    cold_s = time.perf_counter() - t0
    assert not out.cache_hit, "the cache was not empty"
    warm = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = codegen.compile(path, vmlinux_h)
        warm.append(time.perf_counter() - t0)
        assert out.cache_hit
    return CompileTimes(render_s, cold_s, statistics.median(warm))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m scxpy.bench.compile_times", description=__doc__.splitlines()[0])
    ap.add_argument("policies", nargs="*", help="stock names or .py paths (default: all stock policies)")
    ap.add_argument("--vmlinux-h", help="default: $SCXPY_VMLINUX_H, else the default kernel's")
    ap.add_argument("--repeat", type=int, default=5, help="warm repetitions (median reported)")
    args = ap.parse_args(argv)

    from scxpy import schedulers
    from scxpy.base.errors import ScxpyError
    from scxpy.build import vmlinux_h_for

    vmlinux_h = args.vmlinux_h or str(vmlinux_h_for())
    ok = True
    with private_cache():
        print(f"{'policy':<14}{'render ms':>10}{'cold ms':>10}{'warm ms':>10}  targets: cold <= "
              f"{COLD_TARGET_S * 1000:.0f} ms, warm <= {WARM_TARGET_S * 1000:.0f} ms")
        for pol in args.policies or list(schedulers.stock()):
            name = os.path.basename(pol)
            try:
                t = measure(pol, vmlinux_h, args.repeat)
            except ScxpyError as e:
                print(f"{name:<14}error: {e}")
                ok = False
                continue
            ok &= t.on_target
            print(f"{name:<14}{t.render_s * 1000:>10.1f}{t.cold_s * 1000:>10.1f}{t.warm_s * 1000:>10.1f}"
                  f"{'' if t.on_target else '  MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
