// SPDX-License-Identifier: GPL-2.0
/*
 * Host-tier fixture: an ordinary (non-sched_ext) BPF object with globals in
 * every data section and both kinds of array maps, so the binding can be
 * tested on a kernel without sched_ext. The socket filter adds the knobs
 * into the counters, which shows the values the BPF side really sees.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* .rodata: configuration, set by the loader before load */
const volatile __u32 knob = 1;
const volatile __u64 knob_array[4] = { 10, 20, 30, 40 };
const volatile char knob_name[16] = "default";

/* .data and .bss: state, read and written through the map fds */
__u64 data_var = 7;
__s32 data_signed = -5;
__u64 bss_tunable;
__u64 bss_runs;
__u64 bss_seen_tunable;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} plain_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

SEC("socket")
int count_packets(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *c;

	bss_runs++;
	bss_seen_tunable = bss_tunable;
	c = bpf_map_lookup_elem(&counters, &key);
	if (c)
		*c += knob;
	key = 1;
	c = bpf_map_lookup_elem(&counters, &key);
	if (c)
		*c += knob_array[3];
	key = 2;
	c = bpf_map_lookup_elem(&plain_array, &key);
	if (c)
		*c = data_var + bss_tunable;
	return 0;
}
