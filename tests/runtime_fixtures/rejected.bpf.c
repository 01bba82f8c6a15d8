// SPDX-License-Identifier: GPL-2.0
/*
 * Host-tier fixture the verifier must reject: a hash map value used without the
 * NULL check. The policy-line comment imitates what codegen emits, so the
 * error can be tested to name rejected_policy.py:3.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} values SEC(".maps");

SEC("socket")
int bad_deref(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&values, &key);

	/* rejected_policy.py:3 */
	return *v & 1;
}
