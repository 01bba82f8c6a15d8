"""Static size of fifo's and vtime's callbacks beside the kernel's scx_simple (boot tier).

bench.sizes attaches each contender in one guest and reads the translated
size of its struct_ops programs from bpftool. The figures depend only on
the objects and the kernel, so a generated callback that grows shows here.
"""

import pytest

from scxpy.bench import sizes

# vtime's dispatch keeps the previous task while it still has the earliest
# virtual time (keep_prev, a walk of the queue's head), which scx_simple does
# not do: without it two tasks of different weights on one CPU alternate
# slice by slice whatever their weights. No peer callback to match, so it is
# bounded instead (432 B on 6.12), never to grow unnoticed. The wait guard
# (a walk of the queue every max_wait / 4, and a clock check at every
# dispatch) added 944 B on 7.3: 1376 B.
BOUNDS = {"vtime.dispatch": 1536}


@pytest.mark.boot
@pytest.mark.timeout(600)
def test_callbacks_within_target_of_the_kernels_examples(kernel):
    got = sizes.run(kernel, cpus=2)
    print("\n" + sizes.table(got))
    for policy, peer in sizes.PAIRS:
        on, off, ref = got[sizes.label(policy, True)], got[sizes.label(policy, False)], got[peer]
        assert {"select_cpu", "enqueue", "dispatch"} <= set(off) and set(off) == set(on), (policy, off, on)
        for cb, size in off.items():
            assert size <= on[cb], f"{policy}.{cb}: {size} B without counters, {on[cb]} B with them"
            key = f"{policy}.{cb}"
            if key in BOUNDS:
                assert size <= BOUNDS[key], f"{key}: {size} B, bound {BOUNDS[key]} B"
            else:
                assert sizes.within_target(size, ref.get(cb)), f"{key}: {size} B vs {peer}'s {ref.get(cb)} B"
