// SPDX-License-Identifier: GPL-2.0
/*
 * VM-tier fixture: the smallest useful sched_ext scheduler, written for the
 * runtime's tests. Every task goes to one shared FIFO queue (a custom DSQ);
 * each CPU takes the next task from it when it needs work. An idle CPU
 * found at wake-up gets the task directly.
 *
 * Knobs (.rodata, set before load) turn it into the misbehaving schedulers
 * the tests need: error_after > 0 calls scx_bpf_error() on that many-th
 * enqueue; never_dispatch leaves the queue alone, so the watchdog must eject
 * it (compile with -DFIXTURE_TIMEOUT_MS=2000 to make that quick); init_ret
 * makes ops.init() fail, so attaching fails.
 * A live tunable (.bss) sets the slice; the BPF side echoes what it saw.
 * -DFIXTURE_BAD_DEREF=1 adds an unchecked map lookup the verifier rejects,
 * marked with a policy-line comment like the ones codegen writes.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <scxpy/exit_info.h>

char LICENSE[] SEC("license") = "GPL";

#ifndef FIXTURE_TIMEOUT_MS
#define FIXTURE_TIMEOUT_MS 0	/* kernel default (30 s) */
#endif
#ifndef FIXTURE_NAME
#define FIXTURE_NAME "scxpy_min"
#endif

#define SHARED_DSQ 0x100
#define DSQ_LOCAL ((1LLU << 63) | 2)	/* SCX_DSQ_LOCAL */
#define SLICE_DFL (20ULL * 1000 * 1000)

/* 6.12 names, and the 6.13+ renames; whichever the kernel has resolves. */
void scx_bpf_dispatch(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags) __ksym __weak;
void scx_bpf_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags) __ksym __weak;
bool scx_bpf_consume(u64 dsq_id) __ksym __weak;
bool scx_bpf_dsq_move_to_local(u64 dsq_id) __ksym __weak;
s32 scx_bpf_create_dsq(u64 dsq_id, s32 node) __ksym __weak;
s32 scx_bpf_select_cpu_dfl(struct task_struct *p, s32 prev_cpu, u64 wake_flags, bool *is_idle) __ksym __weak;
void scx_bpf_error_bstr(char *fmt, unsigned long long *data, u32 data_len) __ksym __weak;

const volatile u64 error_after;		/* 0: never */
const volatile bool never_dispatch;
const volatile s32 init_ret;		/* nonzero: ops.init fails with it */

u64 slice_ns;				/* live tunable; 0 means SLICE_DFL */
u64 seen_slice_ns;			/* what enqueue last used */
struct scxpy_exit_info scxpy_exit;

enum { MIN_STAT_ENQUEUE, MIN_STAT_DISPATCH, MIN_STAT_DIRECT, MIN_NR_STATS };

/* Counters: one cache-line row per CPU in .bss, the layout codegen uses. */
struct stat_row {
	u64 cnt[MIN_NR_STATS];
} __attribute__((aligned(64)));
struct stat_row scxpy_stats[512];

#ifdef FIXTURE_BAD_DEREF
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} maybe_missing SEC(".maps");
#endif

static void count(u32 idx)
{
	u32 cpu = bpf_get_smp_processor_id();

	if (cpu < 512 && idx < MIN_NR_STATS)
		scxpy_stats[cpu].cnt[idx]++;
}

static void insert(struct task_struct *p, u64 dsq, u64 slice, u64 flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_insert))
		scx_bpf_dsq_insert(p, dsq, slice, flags);
	else
		scx_bpf_dispatch(p, dsq, slice, flags);
}

static u64 current_slice(void)
{
	u64 s = slice_ns;

	seen_slice_ns = s;
	return s ? s : SLICE_DFL;
}

/* Not const: the kfunc takes a writable buffer, so it must live in .data. */
static char error_fmt[] = "fixture error after %llu enqueues";
static u64 nr_enqueued;

SEC("struct_ops/min_select_cpu")
s32 BPF_PROG(min_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool idle = false;
	s32 cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &idle);

	if (idle && !never_dispatch) {
		count(MIN_STAT_DIRECT);
		insert(p, DSQ_LOCAL, current_slice(), 0);
	}
	return cpu;
}

SEC("struct_ops/min_enqueue")
void BPF_PROG(min_enqueue, struct task_struct *p, u64 enq_flags)
{
	u64 n = __sync_add_and_fetch(&nr_enqueued, 1);

	count(MIN_STAT_ENQUEUE);
#ifdef FIXTURE_BAD_DEREF
	{
		u32 key = 0;
		u64 *v = bpf_map_lookup_elem(&maybe_missing, &key);

		n += *v;	/* rule bad: rejected_policy.py:3 */
	}
#endif
	if (error_after && n == error_after) {
		unsigned long long args[1] = { n };

		scx_bpf_error_bstr(error_fmt, args, sizeof(args));
	}
	insert(p, SHARED_DSQ, current_slice(), enq_flags);
}

SEC("struct_ops/min_dispatch")
void BPF_PROG(min_dispatch, s32 cpu, struct task_struct *prev)
{
	if (never_dispatch)
		return;
	count(MIN_STAT_DISPATCH);
	if (bpf_ksym_exists(scx_bpf_dsq_move_to_local))
		scx_bpf_dsq_move_to_local(SHARED_DSQ);
	else
		scx_bpf_consume(SHARED_DSQ);
}

SEC("struct_ops.s/min_init")
s32 BPF_PROG(min_init)
{
	if (init_ret)
		return init_ret;
	return scx_bpf_create_dsq(SHARED_DSQ, -1);
}

SEC("struct_ops/min_exit")
void BPF_PROG(min_exit, struct scx_exit_info *ei)
{
	scxpy_exit.exit_code = ei->exit_code;
	bpf_probe_read_kernel_str(scxpy_exit.reason, sizeof(scxpy_exit.reason), ei->reason);
	bpf_probe_read_kernel_str(scxpy_exit.msg, sizeof(scxpy_exit.msg), ei->msg);
	bpf_probe_read_kernel_str(scxpy_exit.dump, sizeof(scxpy_exit.dump), ei->dump);
	scxpy_exit.kind = ei->kind;	/* last: the runtime polls it */
}

SEC(".struct_ops.link")
struct sched_ext_ops min_ops = {
	.select_cpu = (void *)min_select_cpu,
	.enqueue = (void *)min_enqueue,
	.dispatch = (void *)min_dispatch,
	.init = (void *)min_init,
	.exit = (void *)min_exit,
	.timeout_ms = FIXTURE_TIMEOUT_MS,
	.name = FIXTURE_NAME,
};
