/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one definition of what the userspace scheduling core passes between
 * its BPF half (codegen/templates/userspace/core.bpf.c.j2) and its Python
 * half (runtime/user_rings.py parses this file with cffi and checks its
 * struct formats against it). Plain C that cffi's cdef accepts: integer
 * #defines and structs only.
 */
#define SCXPY_USER_COMM_LEN 16
#define SCXPY_USER_BATCH 8
#define SCXPY_USER_ANY_CPU -1

/* Task flags (struct scxpy_user_task.flags). */
#define SCXPY_USER_WAKEUP 1	/* it became runnable by waking up (not a used-up slice) */

/* Kernel -> user, through the BPF_MAP_TYPE_RINGBUF: a task waiting for a decision,
 * or (pid 0) a token asking for more decisions: CPUs ran out of work. */
struct scxpy_user_task {
	int pid;
	int cpu;				/* the CPU it last ran on */
	unsigned int nr_cpus_allowed;
	unsigned int flags;			/* SCXPY_USER_* */
	unsigned long long weight;		/* p->scx.weight: 100 at nice 0 */
	unsigned long long sum_exec_runtime;	/* ns it has run in all */
	unsigned long long enq_ns;		/* when it was queued (CLOCK_MONOTONIC) */
	char comm[16];				/* SCXPY_USER_COMM_LEN */
};

/* User -> kernel: one decision: run `pid` on `cpu` (or any) for `slice_ns`. */
struct scxpy_user_decision {
	int pid;
	int cpu;				/* SCXPY_USER_ANY_CPU: the shared queue */
	unsigned long long slice_ns;
};

/* One BPF_MAP_TYPE_USER_RINGBUF sample: up to SCXPY_USER_BATCH decisions. */
struct scxpy_user_batch {
	unsigned int nr;
	unsigned int _pad;
	struct scxpy_user_decision d[8];	/* SCXPY_USER_BATCH */
};

/* State both halves read and write in place (.bss, mmapped by the Python half). */
struct scxpy_user_shared {
	unsigned long long alive_ns;		/* user: last loop turn (CLOCK_MONOTONIC ns) */
	unsigned long long sent;		/* BPF: tasks put on the ring to user */
	unsigned long long drained;		/* BPF: decisions taken off the ring from user */
	unsigned long long shared_queued;	/* BPF: tasks waiting in the shared queue */
	unsigned long long ring_full;		/* BPF: tasks that found the ring full (ran FIFO) */
	unsigned long long stale_fallback;	/* BPF: tasks run FIFO while the user side was stale */
	unsigned long long user_pending;	/* user: tasks the policy holds, undecided */
	unsigned long long wake_asked;		/* BPF sets, user clears: a wake-up token is on the ring */
};
