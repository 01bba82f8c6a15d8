"""Raw C the verifier refuses (a hash map value used without its NULL check): the load
error must name this file's own lines, not the generated C's comments. (A hash map,
not an array: from 6.14 the verifier drops the NULL check of an array lookup whose
constant key is in bounds, and would accept this.)"""
from scxpy import Dsq, RawC, RawDecl, Rule, Scheduler, ms


class RawVerifierReject(Scheduler):
    name = "raw_verifier_reject"
    queue = Dsq("fifo")
    rules = [Rule(queue=queue, slice=5 * ms)]
    raw = [
        RawDecl("""
            struct {
                __uint(type, BPF_MAP_TYPE_HASH);
                __uint(max_entries, 1);
                __type(key, u32);
                __type(value, u64);
            } my_ticks SEC(".maps");
        """),
        RawC("tick", """
            u32 key = 0;
            u64 *n = bpf_map_lookup_elem(&my_ticks, &key);

            *n += 1;  /* REFUSED: no NULL check */
        """),
    ]
