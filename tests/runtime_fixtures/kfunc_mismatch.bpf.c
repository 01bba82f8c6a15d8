// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture for the kernel/toolchain-mismatch error: a program calling a kfunc
 * the running kernel cannot give it, the way a 7.x kernel built with pahole
 * < 1.26 cannot give the sched_ext kfuncs their BPF-visible prototypes.
 *
 * bpf_cpumask_first() exists on every kernel with BPF cpumasks (6.3+) and
 * takes one argument; declared here with two, libbpf finds its prototype
 * incompatible. Weak (the default), libbpf leaves it unresolved and the
 * verifier log says "kfunc '...' is referenced but wasn't resolved"; with
 * -DSTRONG, libbpf itself refuses: "func_proto [..] incompatible with vmlinux".
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#ifdef STRONG
extern __u32 bpf_cpumask_first(__u64 a, __u64 b) __ksym;
#else
extern __u32 bpf_cpumask_first(__u64 a, __u64 b) __ksym __weak;
#endif

SEC("socket")
int calls_kfunc(struct __sk_buff *skb)
{
	return bpf_cpumask_first(1, 2);
}
