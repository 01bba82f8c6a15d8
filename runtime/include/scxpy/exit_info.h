/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one definition of how a scheduler records why it exited.
 *
 * The BPF side (codegen's templates) fills a global `scxpy_exit` of this
 * type from ops.exit(); runtime/exit_info.py parses this very file with
 * cffi to decode it. Keep it plain C that cffi's cdef accepts: integer
 * #defines and a struct, no other preprocessor logic.
 */
#define SCXPY_EXIT_REASON_LEN 128
#define SCXPY_EXIT_MSG_LEN 1024
/*
 * The kernel's debug dump (per-CPU state, each runnable task's scx state),
 * written only when it ejects the scheduler. Its buffer is the ops'
 * exit_dump_len; scxpy's ops leave that 0, which the kernel turns into
 * SCX_EXIT_DUMP_DFL_LEN, 32768 (6.12 and 7.3 alike): the whole dump fits.
 */
#define SCXPY_EXIT_DUMP_LEN 32768

struct scxpy_exit_info {
	int kind;          /* enum scx_exit_kind; 0 (NONE) until ops.exit() ran */
	int _pad;
	long long exit_code;
	char reason[128];  /* SCXPY_EXIT_REASON_LEN */
	char msg[1024];    /* SCXPY_EXIT_MSG_LEN */
	char dump[32768];  /* SCXPY_EXIT_DUMP_LEN; last, so the fields above keep their offsets */
};
