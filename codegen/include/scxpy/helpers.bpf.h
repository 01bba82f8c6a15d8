/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scxpy's helper header for raw C (the expert escape hatch).
 *
 * Written for scxpy from the kernel's documented kfunc signatures
 * (kernel/sched/ext.c, kernel/bpf/cpumask.c of 6.12); nothing here is
 * copied from the kernel's example headers. Generated C includes it when a
 * policy has raw C (RawC, RawDecl, RawTimer); docs/dsl-reference.md
 * ("Raw C") documents every name. All kfuncs are __ksym __weak, so an
 * object that declares one the running kernel lacks still loads as long as
 * the call is guarded with bpf_ksym_exists() or never reached.
 *
 * Which callback may call which kfunc is checked statically by
 * codegen/kfuncs.py (the kernel only checks at run time and ejects the
 * scheduler); every kfunc declared here has an entry there.
 */
#ifndef SCXPY_HELPERS_BPF_H
#define SCXPY_HELPERS_BPF_H

#include <scxpy/common.bpf.h>

/* Constants raw C commonly needs that vmlinux.h does not carry as macros. */
#define SCXPY_CLOCK_MONOTONIC 1		/* include/uapi/linux/time.h */
#define SCXPY_PF_WQ_WORKER 0x00000020	/* include/linux/sched.h PF_WQ_WORKER */
#define SCXPY_EINVAL 22
#define SCXPY_ENOMEM 12
#define SCXPY_ESRCH 3

/* --- BPF cpumasks (kernel/bpf/cpumask.c) ---------------------------------
 *
 * A struct bpf_cpumask is a kernel-allocated, writable mask: create it,
 * keep it in a map value as a __kptr (bpf_kptr_xchg) or release it. A
 * `const struct cpumask *` (p->cpus_ptr, the idle masks below) is read-only;
 * cast a bpf_cpumask with scxpy_mask() to pass it where one is expected.
 */
extern struct bpf_cpumask *bpf_cpumask_create(void) __ksym __weak;
extern struct bpf_cpumask *bpf_cpumask_acquire(struct bpf_cpumask *cpumask) __ksym __weak;
extern void bpf_cpumask_release(struct bpf_cpumask *cpumask) __ksym __weak;
extern u32 bpf_cpumask_first(const struct cpumask *cpumask) __ksym __weak;
extern u32 bpf_cpumask_first_zero(const struct cpumask *cpumask) __ksym __weak;
extern u32 bpf_cpumask_first_and(const struct cpumask *src1, const struct cpumask *src2) __ksym __weak;
extern void bpf_cpumask_set_cpu(u32 cpu, struct bpf_cpumask *cpumask) __ksym __weak;
extern void bpf_cpumask_clear_cpu(u32 cpu, struct bpf_cpumask *cpumask) __ksym __weak;
extern bool bpf_cpumask_test_and_set_cpu(u32 cpu, struct bpf_cpumask *cpumask) __ksym __weak;
extern bool bpf_cpumask_test_and_clear_cpu(u32 cpu, struct bpf_cpumask *cpumask) __ksym __weak;
extern void bpf_cpumask_setall(struct bpf_cpumask *cpumask) __ksym __weak;
extern void bpf_cpumask_clear(struct bpf_cpumask *cpumask) __ksym __weak;
extern bool bpf_cpumask_and(struct bpf_cpumask *dst, const struct cpumask *src1,
			    const struct cpumask *src2) __ksym __weak;
extern void bpf_cpumask_or(struct bpf_cpumask *dst, const struct cpumask *src1,
			   const struct cpumask *src2) __ksym __weak;
extern void bpf_cpumask_xor(struct bpf_cpumask *dst, const struct cpumask *src1,
			    const struct cpumask *src2) __ksym __weak;
extern bool bpf_cpumask_equal(const struct cpumask *src1, const struct cpumask *src2) __ksym __weak;
extern bool bpf_cpumask_intersects(const struct cpumask *src1, const struct cpumask *src2) __ksym __weak;
extern bool bpf_cpumask_subset(const struct cpumask *src1, const struct cpumask *src2) __ksym __weak;
extern bool bpf_cpumask_empty(const struct cpumask *cpumask) __ksym __weak;
extern bool bpf_cpumask_full(const struct cpumask *cpumask) __ksym __weak;
extern void bpf_cpumask_copy(struct bpf_cpumask *dst, const struct cpumask *src) __ksym __weak;
extern u32 bpf_cpumask_any_distribute(const struct cpumask *cpumask) __ksym __weak;
extern u32 bpf_cpumask_any_and_distribute(const struct cpumask *src1,
					  const struct cpumask *src2) __ksym __weak;
/* bpf_cpumask_test_cpu() is declared in common.bpf.h. */

static __always_inline const struct cpumask *scxpy_mask(struct bpf_cpumask *mask)
{
	return (const struct cpumask *)mask;
}

/* --- sched_ext CPU masks and idle tracking -------------------------------
 *
 * Every mask a get_*() returns must be given back with the matching put
 * (the verifier enforces it). The idle masks exist only while the kernel's
 * built-in idle tracking is on: scxpy turns SCX_OPS_KEEP_BUILTIN_IDLE on
 * when a policy hooks update_idle, so they keep working. Declared in
 * common.bpf.h and usable here: scx_bpf_get_idle_smtmask,
 * scx_bpf_put_idle_cpumask, scx_bpf_get_online_cpumask, scx_bpf_put_cpumask,
 * bpf_cpumask_weight, scx_bpf_test_and_clear_cpu_idle, scx_bpf_pick_idle_cpu,
 * scx_bpf_pick_any_cpu, scx_bpf_task_cpu, scx_bpf_nr_cpu_ids,
 * scx_bpf_kick_cpu, scx_bpf_dsq_nr_queued, scxpy_this_cpu_online.
 */
extern const struct cpumask *scx_bpf_get_possible_cpumask(void) __ksym __weak;
extern const struct cpumask *scx_bpf_get_idle_cpumask(void) __ksym __weak;
extern bool scx_bpf_task_running(const struct task_struct *p) __ksym __weak;
extern struct rq *scx_bpf_cpu_rq(s32 cpu) __ksym __weak;	/* gone in 7.x: guard with bpf_ksym_exists() */
extern struct cgroup *scx_bpf_task_cgroup(struct task_struct *p) __ksym __weak;
extern u32 scx_bpf_cpuperf_cap(s32 cpu) __ksym __weak;
extern u32 scx_bpf_cpuperf_cur(s32 cpu) __ksym __weak;
extern void scx_bpf_cpuperf_set(s32 cpu, u32 perf) __ksym __weak;

/* Is `cpu` idle right now (without claiming it, unlike test_and_clear)? */
static __always_inline bool scxpy_cpu_is_idle(s32 cpu)
{
	const struct cpumask *idle = scx_bpf_get_idle_cpumask();
	bool ret = cpu >= 0 && bpf_cpumask_test_cpu(cpu, idle);

	scx_bpf_put_idle_cpumask(idle);
	return ret;
}

/* How many CPUs are idle right now. */
static __always_inline u32 scxpy_nr_idle_cpus(void)
{
	const struct cpumask *idle = scx_bpf_get_idle_cpumask();
	u32 n = bpf_cpumask_weight(idle);

	scx_bpf_put_idle_cpumask(idle);
	return n;
}

/* --- dispatch-only kfuncs ------------------------------------------------ */
extern u32 scx_bpf_dispatch_nr_slots(void) __ksym __weak;
extern void scx_bpf_dispatch_cancel(void) __ksym __weak;
extern u32 scx_bpf_reenqueue_local(void) __ksym __weak;	/* cpu_release only */
extern void scx_bpf_destroy_dsq(u64 dsq_id) __ksym __weak;

/* --- tasks by pid, RCU --------------------------------------------------- */
extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym __weak;
extern void bpf_rcu_read_lock(void) __ksym __weak;
extern void bpf_rcu_read_unlock(void) __ksym __weak;

/* --- walking a DSQ and moving its tasks ----------------------------------
 *
 *	struct task_struct *p;
 *
 *	bpf_for_each(scx_dsq, p, DSQ_q(0), 0) {
 *		if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
 *			continue;
 *		if (scxpy_dsq_move(SCXPY_DSQ_ITER, p, SCX_DSQ_LOCAL_ON | cpu, 0))
 *			break;
 *	}
 *
 * bpf_for_each (libbpf) visits the queue in dispatch order (flags
 * SCX_DSQ_ITER_REV: reverse). SCXPY_DSQ_ITER names the loop's iterator, so
 * it must be used directly inside the bpf_for_each body, not inside a
 * bpf_for() nested in it (that loop's iterator has the same name).
 *
 * scxpy_dsq_move*() move the task the iterator is on to another DSQ (a
 * local DSQ: SCX_DSQ_LOCAL_ON | cpu), on 6.12 (scx_bpf_dispatch_from_dsq*)
 * and 6.13+ (scx_bpf_dsq_move*). They return false when the task was
 * dequeued or moved meanwhile; a task that may not run on the target CPU
 * goes to the global DSQ instead. Allowed in dispatch and in unlocked
 * contexts (BPF timers, init, cpu_online, ...), not in enqueue/select_cpu.
 * The _set_slice/_set_vtime calls change what the next move of this
 * iterator assigns.
 */
#define SCXPY_DSQ_ITER (&___it)

static __always_inline bool scxpy_dsq_move(struct bpf_iter_scx_dsq *it, struct task_struct *p,
					   u64 dsq_id, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move))
		return scx_bpf_dsq_move(it, p, dsq_id, enq_flags);
	return scx_bpf_dispatch_from_dsq(it, p, dsq_id, enq_flags);
}

static __always_inline bool scxpy_dsq_move_vtime(struct bpf_iter_scx_dsq *it, struct task_struct *p,
						 u64 dsq_id, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_vtime))
		return scx_bpf_dsq_move_vtime(it, p, dsq_id, enq_flags);
	return scx_bpf_dispatch_vtime_from_dsq(it, p, dsq_id, enq_flags);
}

static __always_inline void scxpy_dsq_move_set_slice(struct bpf_iter_scx_dsq *it, u64 slice)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_set_slice))
		scx_bpf_dsq_move_set_slice(it, slice);
	else
		scx_bpf_dispatch_from_dsq_set_slice(it, slice);
}

static __always_inline void scxpy_dsq_move_set_vtime(struct bpf_iter_scx_dsq *it, u64 vtime)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_set_vtime))
		scx_bpf_dsq_move_set_vtime(it, vtime);
	else
		scx_bpf_dispatch_from_dsq_set_vtime(it, vtime);
}

/*
 * A printf-like call of a *_bstr kfunc: the format in a static buffer, the
 * arguments packed into an array of u64 (at most 12).
 */
#define ___scxpy_bstr(kfunc, fmt, args...)						\
	({										\
		static char ___scxpy_fmt[] = fmt;					\
		unsigned long long ___scxpy_args[___bpf_narg(args)];			\
											\
		_Pragma("GCC diagnostic push")						\
		_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")			\
		___bpf_fill(___scxpy_args, args);					\
		_Pragma("GCC diagnostic pop")						\
		kfunc(___scxpy_fmt, ___scxpy_args, sizeof(___scxpy_args));	\
	})

/* --- ejecting the scheduler with a message --------------------------------
 *
 * scxpy_error("cpu %d: bad state %llu", cpu, x) ends the scheduler with
 * SCX_EXIT_ERROR_BPF; the message shows in the exit report. At most 12
 * arguments, printf-like (%d %u %llu %x %s %p).
 */
extern void scx_bpf_error_bstr(char *fmt, unsigned long long *data, u32 data__sz) __ksym __weak;
extern void scx_bpf_exit_bstr(s64 exit_code, char *fmt, unsigned long long *data,
			      u32 data__sz) __ksym __weak;

#define scxpy_error(fmt, args...) ___scxpy_bstr(scx_bpf_error_bstr, fmt, ##args)

/*
 * scxpy_dump("queued %llu, last cpu %d", n, cpu) adds a line to the debug
 * dump the kernel takes when the scheduler is ejected (or on SysRq-D): it
 * prints through scx_bpf_dump_bstr(). Only in RawC("dump"), RawC("dump_cpu")
 * and RawC("dump_task") (elsewhere the kernel ejects the scheduler; scxpy
 * refuses it when compiling). printf-like, at most 12 arguments.
 */
extern void scx_bpf_dump_bstr(char *fmt, unsigned long long *data, u32 data__sz) __ksym __weak;

#define scxpy_dump(fmt, args...) ___scxpy_bstr(scx_bpf_dump_bstr, fmt, ##args)

#endif /* SCXPY_HELPERS_BPF_H */
