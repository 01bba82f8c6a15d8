/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scxpy's BPF-side declarations for generated sched_ext schedulers.
 *
 * Written for scxpy (not derived from the kernel's tools/sched_ext
 * headers). Everything the generated C calls is declared here: the
 * sched_ext kfuncs under both their 6.12 names and the 6.13+ names, and
 * small inline wrappers that pick the newest the running kernel has with
 * bpf_ksym_exists() (6.12 through 7.3). All kfuncs are __weak so one object
 * loads on 6.12 and later kernels; the verifier drops the branch not taken.
 */
#ifndef SCXPY_COMMON_BPF_H
#define SCXPY_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

/* A sched_ext callback: a struct_ops program taking the op's arguments. */
#define BPF_STRUCT_OPS(name, args...) SEC("struct_ops/" #name) BPF_PROG(name, ##args)
#define BPF_STRUCT_OPS_SLEEPABLE(name, args...) SEC("struct_ops.s/" #name) BPF_PROG(name, ##args)

#define SCXPY_PF_KTHREAD 0x00200000 /* include/linux/sched.h PF_KTHREAD */
#define SCXPY_MAX_CPUS 512 /* codegen/limits.py reads it: the DSL checks CPU ids against it */

/* --- sched_ext kfuncs, 6.12 names --------------------------------------- */
extern s32 scx_bpf_create_dsq(u64 dsq_id, s32 node) __ksym __weak;
extern s32 scx_bpf_select_cpu_dfl(struct task_struct *p, s32 prev_cpu, u64 wake_flags,
				  bool *is_idle) __ksym __weak;
extern void scx_bpf_dispatch(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags) __ksym __weak;
extern void scx_bpf_dispatch_vtime(struct task_struct *p, u64 dsq_id, u64 slice, u64 vtime,
				   u64 enq_flags) __ksym __weak;
extern bool scx_bpf_consume(u64 dsq_id) __ksym __weak;
extern void scx_bpf_dispatch_from_dsq_set_slice(struct bpf_iter_scx_dsq *it__iter, u64 slice) __ksym __weak;
extern void scx_bpf_dispatch_from_dsq_set_vtime(struct bpf_iter_scx_dsq *it__iter, u64 vtime) __ksym __weak;
extern bool scx_bpf_dispatch_from_dsq(struct bpf_iter_scx_dsq *it__iter, struct task_struct *p,
				      u64 dsq_id, u64 enq_flags) __ksym __weak;
extern bool scx_bpf_dispatch_vtime_from_dsq(struct bpf_iter_scx_dsq *it__iter, struct task_struct *p,
					    u64 dsq_id, u64 enq_flags) __ksym __weak;

/* --- the same operations after the 6.13 renames -------------------------- */
extern void scx_bpf_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags) __ksym __weak;
extern void scx_bpf_dsq_insert_vtime(struct task_struct *p, u64 dsq_id, u64 slice, u64 vtime,
				     u64 enq_flags) __ksym __weak;
extern bool scx_bpf_dsq_move_to_local(u64 dsq_id) __ksym __weak;
extern void scx_bpf_dsq_move_set_slice(struct bpf_iter_scx_dsq *it__iter, u64 slice) __ksym __weak;
extern void scx_bpf_dsq_move_set_vtime(struct bpf_iter_scx_dsq *it__iter, u64 vtime) __ksym __weak;
extern bool scx_bpf_dsq_move(struct bpf_iter_scx_dsq *it__iter, struct task_struct *p, u64 dsq_id,
			     u64 enq_flags) __ksym __weak;
extern bool scx_bpf_dsq_move_vtime(struct bpf_iter_scx_dsq *it__iter, struct task_struct *p,
				   u64 dsq_id, u64 enq_flags) __ksym __weak;

/* --- names unchanged since 6.12 ------------------------------------------ */
extern void scx_bpf_kick_cpu(s32 cpu, u64 flags) __ksym __weak;
extern s32 scx_bpf_dsq_nr_queued(u64 dsq_id) __ksym __weak;
extern bool scx_bpf_test_and_clear_cpu_idle(s32 cpu) __ksym __weak;
extern s32 scx_bpf_pick_idle_cpu(const struct cpumask *cpus_allowed, u64 flags) __ksym __weak;
extern s32 scx_bpf_pick_any_cpu(const struct cpumask *cpus_allowed, u64 flags) __ksym __weak;
extern const struct cpumask *scx_bpf_get_idle_smtmask(void) __ksym __weak;
extern void scx_bpf_put_idle_cpumask(const struct cpumask *cpumask) __ksym __weak;
extern const struct cpumask *scx_bpf_get_online_cpumask(void) __ksym __weak;
extern void scx_bpf_put_cpumask(const struct cpumask *cpumask) __ksym __weak;
extern u32 bpf_cpumask_weight(const struct cpumask *cpumask) __ksym __weak;
extern s32 scx_bpf_task_cpu(const struct task_struct *p) __ksym __weak;
extern u32 scx_bpf_nr_cpu_ids(void) __ksym __weak;
extern bool bpf_cpumask_test_cpu(u32 cpu, const struct cpumask *cpumask) __ksym __weak;
extern int bpf_iter_scx_dsq_new(struct bpf_iter_scx_dsq *it, u64 dsq_id, u64 flags) __ksym __weak;
extern struct task_struct *bpf_iter_scx_dsq_next(struct bpf_iter_scx_dsq *it) __ksym __weak;
extern void bpf_iter_scx_dsq_destroy(struct bpf_iter_scx_dsq *it) __ksym __weak;

/*
 * --- later revisions (6.19, 7.1) -------------------------------------------
 * The kernel names these symbols X___v2. libbpf drops the last ___suffix
 * of an extern before it looks the kfunc up, so `X___v2___scxpy` binds to
 * the kernel's `X___v2`, and the same object still loads where it is absent.
 */
/* 6.19: insertion returns whether it succeeded (a failure on the root
 * scheduler aborts it anyway, so the result may be ignored). */
extern bool scx_bpf_dsq_insert___v2___scxpy(struct task_struct *p, u64 dsq_id, u64 slice,
					    u64 enq_flags) __ksym __weak;
/* 6.19: vtime insertion takes its arguments in a struct (a kfunc has at most
 * five). The 6.12 vmlinux.h we compile against has no such struct: this
 * local flavor has the kernel's layout, and CO-RE matches it by name. */
struct scx_bpf_dsq_insert_vtime_args___scxpy {
	u64 dsq_id;
	u64 slice;
	u64 vtime;
	u64 enq_flags;
};
extern bool __scx_bpf_dsq_insert_vtime(struct task_struct *p,
				       struct scx_bpf_dsq_insert_vtime_args___scxpy *args) __ksym __weak;
/* 7.1: moving a DSQ's first task to the local DSQ takes enqueue flags. */
extern bool scx_bpf_dsq_move_to_local___v2___scxpy(u64 dsq_id, u64 enq_flags) __ksym __weak;

/*
 * --- compat wrappers: one call site, the newest form the kernel has -------
 * Each tries the newest kfunc first and falls back to the older names, so
 * one object (compiled against the 6.12 vmlinux.h) runs on 6.12 through
 * 7.3; bpf_ksym_exists() is a load-time constant and the verifier drops
 * the branches not taken.
 */
static __always_inline void scxpy_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_insert___v2___scxpy))
		scx_bpf_dsq_insert___v2___scxpy(p, dsq_id, slice, enq_flags);	/* 6.19+ */
	else if (bpf_ksym_exists(scx_bpf_dsq_insert))
		scx_bpf_dsq_insert(p, dsq_id, slice, enq_flags);		/* 6.13+ */
	else
		scx_bpf_dispatch(p, dsq_id, slice, enq_flags);			/* 6.12 */
}

static __always_inline void scxpy_dsq_insert_vtime(struct task_struct *p, u64 dsq_id, u64 slice,
						   u64 vtime, u64 enq_flags)
{
	if (bpf_core_type_exists(struct scx_bpf_dsq_insert_vtime_args___scxpy) &&
	    bpf_ksym_exists(__scx_bpf_dsq_insert_vtime)) {				/* 6.19+ */
		struct scx_bpf_dsq_insert_vtime_args___scxpy args = {
			.dsq_id = dsq_id, .slice = slice, .vtime = vtime, .enq_flags = enq_flags,
		};

		__scx_bpf_dsq_insert_vtime(p, &args);
	} else if (bpf_ksym_exists(scx_bpf_dsq_insert_vtime)) {
		scx_bpf_dsq_insert_vtime(p, dsq_id, slice, vtime, enq_flags);		/* 6.13+ */
	} else {
		scx_bpf_dispatch_vtime(p, dsq_id, slice, vtime, enq_flags);		/* 6.12 */
	}
}

static __always_inline bool scxpy_dsq_move_to_local(u64 dsq_id)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_to_local___v2___scxpy))
		return scx_bpf_dsq_move_to_local___v2___scxpy(dsq_id, 0);		/* 7.1+ */
	if (bpf_ksym_exists(scx_bpf_dsq_move_to_local))
		return scx_bpf_dsq_move_to_local(dsq_id);				/* 6.13+ */
	return scx_bpf_consume(dsq_id);							/* 6.12 */
}

/*
 * The virtual time of the first task of vtime DSQ `dsq_id`, or `if_empty`
 * when it has none: one iterator step (keep_prev's look at the head).
 */
static __always_inline u64 scxpy_dsq_head_vtime(u64 dsq_id, u64 if_empty)
{
	struct bpf_iter_scx_dsq it;
	struct task_struct *head;

	bpf_iter_scx_dsq_new(&it, dsq_id, 0);
	head = bpf_iter_scx_dsq_next(&it);
	if (head)
		if_empty = head->scx.dsq_vtime;
	bpf_iter_scx_dsq_destroy(&it);
	return if_empty;
}

/* --- small helpers used by expressions ----------------------------------- */
static __always_inline s64 scxpy_min(s64 a, s64 b) { return a < b ? a : b; }
static __always_inline s64 scxpy_max(s64 a, s64 b) { return a > b ? a : b; }

/*
 * Truncating signed division built from unsigned division (BPF before cpu v4
 * has no signed divide); x / 0 == 0 and x % 0 == x, as BPF defines them.
 */
static __always_inline s64 scxpy_div(s64 a, s64 b)
{
	u64 ua = a < 0 ? -(u64)a : (u64)a, ub = b < 0 ? -(u64)b : (u64)b, q;

	if (!ub)
		return 0;
	q = ua / ub;
	return (a < 0) != (b < 0) ? -(s64)q : (s64)q;
}

static __always_inline s64 scxpy_mod(s64 a, s64 b)
{
	return a - scxpy_div(a, b) * b;
}

/* Computed slices stay within what constant slices may be (codegen/limits.py reads these). */
#define SCXPY_SLICE_MIN_NS 100000LL
#define SCXPY_SLICE_MAX_NS 10000000000LL
static __always_inline u64 scxpy_clamp_slice(s64 ns)
{
	return ns < SCXPY_SLICE_MIN_NS ? SCXPY_SLICE_MIN_NS : (ns > SCXPY_SLICE_MAX_NS ? SCXPY_SLICE_MAX_NS : ns);
}

/* Wrapping-safe ordering of virtual times (like the kernel's time_before64). */
static __always_inline bool scxpy_vtime_before(u64 a, u64 b) { return (s64)(a - b) < 0; }

/* Events per second from an average interval in ns (0 when never seen). */
static __always_inline u64 scxpy_freq_hz(u64 interval_ns)
{
	return interval_ns ? 1000000000ULL / interval_ns : 0;
}

/*
 * Events per second from the EWMA of the time between events. The time since
 * the last event counts once it is the longer: a task that stopped waking is
 * not credited with its old rate for ever.
 */
static __always_inline u64 scxpy_rate_hz(u64 interval_ns, u64 last_ns)
{
	u64 since = last_ns ? bpf_ktime_get_ns() - last_ns : 0;

	return scxpy_freq_hz(since > interval_ns ? since : interval_ns);
}

/* Exponentially weighted moving average with weight 1/4 for the new sample. */
static __always_inline u64 scxpy_ewma(u64 avg, u64 sample)
{
	return avg ? (avg * 3 + sample) / 4 : sample;
}

/*
 * The same, starting from 0 instead of from the first sample: a new task's
 * first run (exec, the dynamic loader) says little about how long it runs
 * later, and would mark a periodic task as long-running for several runs.
 */
static __always_inline u64 scxpy_ewma_from_zero(u64 avg, u64 sample)
{
	return (avg * 3 + sample) / 4;
}

static __always_inline u32 scxpy_task_uid(struct task_struct *p)
{
	return BPF_CORE_READ(p, real_cred, uid.val);
}

static __always_inline u32 scxpy_task_gid(struct task_struct *p)
{
	return BPF_CORE_READ(p, real_cred, gid.val);
}

/*
 * An array index below SCXPY_MAX_CPUS the verifier can see: clang may check
 * the bound on one register and index with another, so mask in inline asm,
 * which clang cannot drop as redundant.
 */
static __always_inline u32 scxpy_cpu_idx(u32 cpu)
{
	asm volatile("%[c] &= 511" : [c] "+r"(cpu));
	return cpu;
}

/* Whether the CPU running this is online (false in the last steps of taking it down). */
static __always_inline bool scxpy_this_cpu_online(void)
{
	const struct cpumask *online = scx_bpf_get_online_cpumask();
	bool up = bpf_cpumask_test_cpu(bpf_get_smp_processor_id(), online);

	scx_bpf_put_cpumask(online);
	return up;
}

/* Is CPU `cpu` in a 512-bit CPU bitmap held in .rodata? */
static __always_inline bool scxpy_bitmap_test(const volatile u64 *words, s32 cpu)
{
	u32 c;

	if (cpu < 0 || cpu >= SCXPY_MAX_CPUS)
		return false;
	c = scxpy_cpu_idx(cpu);
	return (words[c / 64] >> (c % 64)) & 1;
}

/* The task's cgroup on the unified (v2) hierarchy; read through CO-RE. */
static __always_inline struct cgroup *scxpy_task_dfl_cgroup(struct task_struct *p)
{
	return BPF_CORE_READ(p, cgroups, dfl_cgrp);
}

/* Name of the ancestor of `cg` at depth `level` (1 = below the root) into buf. */
static __always_inline int scxpy_cgroup_name_at(struct cgroup *cg, int level, char *buf, u32 len)
{
	struct cgroup *anc = NULL;
	const char *name;

	bpf_core_read(&anc, sizeof(anc), &cg->ancestors[level]);
	if (!anc)
		return -1;
	name = BPF_CORE_READ(anc, kn, name);
	if (!name)
		return -1;
	return bpf_probe_read_kernel_str(buf, len, name);
}

#endif /* SCXPY_COMMON_BPF_H */
