"""Test policy: the expert's own state from raw C: a user map, a global and a BPF timer.

Every task that starts running counts in the map; a timer every 10 ms counts
its ticks in a global and, at the 50th, ends the scheduler with a message
quoting both counts (scxpy_error), which the guest test reads back."""

from scxpy import Dsq, RawC, RawDecl, RawTimer, Rule, Scheduler, ms

TICKS = 50


class RawState(Scheduler):
    name = "raw_state"
    q = Dsq("fifo")
    rules = [Rule(queue=q, slice=5 * ms)]
    raw = [
        RawDecl("""
            struct {
                __uint(type, BPF_MAP_TYPE_ARRAY);
                __uint(max_entries, 1);
                __type(key, u32);
                __type(value, u64);
            } nr_runs SEC(".maps");

            u64 nr_ticks;

            static __always_inline u64 *runs(void)
            {
                u32 zero = 0;

                return bpf_map_lookup_elem(&nr_runs, &zero);
            }
        """),
        RawC("running", """
            u64 *n = runs();

            if (n)
                __sync_fetch_and_add(n, 1);
        """),
        RawTimer("count", f"""
            u64 *n = runs();

            if (++nr_ticks == {TICKS})
                scxpy_error("raw_state: %llu timer ticks, %llu runs", nr_ticks, n ? *n : 0);
        """, every=10 * ms),
    ]
