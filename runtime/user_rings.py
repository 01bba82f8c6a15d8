"""The two ring buffers of a userspace policy, over the project's cffi libbpf binding.

    tasks = TaskRing(obj.map("scxpy_to_user").fd, on_sample)   # kernel -> user
    n = tasks.poll(50)            # calls on_sample(bytes) per queued task; 0 on timeout
    out = DecisionRing(obj.map("scxpy_to_kernel").fd)          # user -> kernel
    out.send([(pid, cpu, slice_ns), ...])   # whole batches of SCXPY_USER_BATCH
    kick(obj.programs["scxpy_user_kick"].fd)                   # wake idle CPUs to take them

The record layouts are defined once, in include/scxpy/user_core.h; cffi
parses that file and the struct formats used here (struct is faster than
cffi field access per sample) are checked against it at import.
"""

from __future__ import annotations

import os
import re
import struct

from cffi import FFI

from scxpy.runtime import libbpf as L
from scxpy.runtime.errors import LoaderError

HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "include", "scxpy", "user_core.h")


def _parse_header():
    text = open(HEADER).read()
    defines = {m.group(1): int(m.group(2)) for m in re.finditer(r"^#define (SCXPY_\w+)\s+(-?\d+)", text, re.M)}
    ffi = FFI()
    ffi.cdef(re.sub(r"^#.*$", "", text, flags=re.M))
    return ffi, defines


TO_USER, TO_KERNEL = "scxpy_to_user", "scxpy_to_kernel"  # the two rings' map names
KICK = "scxpy_user_kick"


def is_user_core(obj) -> bool:
    """Is this BPF object (runtime.loader) the BPF half of a userspace policy?"""
    return TO_USER in obj.maps


_FFI, DEFINES = _parse_header()
BATCH = DEFINES["SCXPY_USER_BATCH"]
ANY_CPU = DEFINES["SCXPY_USER_ANY_CPU"]
WAKEUP = DEFINES["SCXPY_USER_WAKEUP"]

# struct scxpy_user_task: pid cpu nr_cpus_allowed flags weight sum_exec_runtime enq_ns comm
TASK = struct.Struct("=iiIIQQQ16s")
# struct scxpy_user_batch: nr, pad, then BATCH x (pid, cpu, slice_ns)
BATCH_HEAD = struct.Struct("=II")
DECISION = struct.Struct("=iiQ")
# struct scxpy_user_shared: eight u64, read and written in place
SHARED = struct.Struct("=8Q")
SHARED_FIELDS = ("alive_ns", "sent", "drained", "shared_queued", "ring_full", "stale_fallback",
                 "user_pending", "wake_asked")


def _check_layouts() -> None:
    for name, size in (("struct scxpy_user_task", TASK.size), ("struct scxpy_user_decision", DECISION.size),
                       ("struct scxpy_user_batch", BATCH_HEAD.size + BATCH * DECISION.size),
                       ("struct scxpy_user_shared", SHARED.size)):
        if _FFI.sizeof(name) != size:
            raise AssertionError(f"{name} is {_FFI.sizeof(name)} bytes in user_core.h but {size} here")
    if _FFI.offsetof("struct scxpy_user_task", "comm") != TASK.size - 16:
        raise AssertionError("struct scxpy_user_task.comm moved in user_core.h")


_check_layouts()
BATCH_BYTES = _FFI.sizeof("struct scxpy_user_batch")


class TaskRing:
    """The kernel -> user ring: poll() hands each sample's bytes to `on_sample`."""

    def __init__(self, map_fd: int, on_sample):
        lib = L.lib()
        buffer = L.ffi.buffer

        @L.ffi.callback("int(void *, void *, size_t)")
        def _sample(ctx, data, size):
            on_sample(buffer(data, size)[:])
            return 0

        self._cb = _sample  # alive as long as the ring
        self._rb = lib.ring_buffer__new(map_fd, _sample, L.ffi.NULL, L.ffi.NULL)
        if self._rb == L.ffi.NULL:
            raise LoaderError(f"ring_buffer__new failed: {L.errno_name(L.ffi.errno)}")
        self._poll = lib.ring_buffer__poll
        self._consume = lib.ring_buffer__consume

    def poll(self, timeout_ms: int) -> int:
        """Wait up to timeout_ms for samples, handle all there are; their number (>= 0)."""
        n = self._poll(self._rb, timeout_ms)
        if n < 0 and n != -4:  # -EINTR: a signal; the caller turns its loop again
            raise LoaderError(f"ring_buffer__poll failed: {L.errno_name(n)}")
        return max(n, 0)

    def consume(self) -> int:
        n = self._consume(self._rb)
        return max(n, 0)

    def close(self) -> None:
        if self._rb != L.ffi.NULL:
            L.lib().ring_buffer__free(self._rb)
            self._rb = L.ffi.NULL


class DecisionRing:
    """The user -> kernel ring: decisions in whole batches (one reserve + submit each)."""

    def __init__(self, map_fd: int):
        lib = L.lib()
        self._rb = lib.user_ring_buffer__new(map_fd, L.ffi.NULL)
        if self._rb == L.ffi.NULL:
            raise LoaderError(f"user_ring_buffer__new failed: {L.errno_name(L.ffi.errno)}")
        self._reserve = lib.user_ring_buffer__reserve
        self._submit = lib.user_ring_buffer__submit
        self._buf = L.ffi.buffer
        self._fmt = struct.Struct("=II" + "iiQ" * BATCH)
        self._pad = (0, ANY_CPU, 0) * BATCH

    def send(self, decisions: list[tuple[int, int, int]]) -> int:
        """Queue (pid, cpu, slice_ns) decisions; returns how many fit (the rest: ring full)."""
        sent = 0
        for start in range(0, len(decisions), BATCH):
            chunk = decisions[start:start + BATCH]
            sample = self._reserve(self._rb, BATCH_BYTES)
            if sample == L.ffi.NULL:
                break  # full (ENOSPC): the kernel has not drained yet
            flat = [v for d in chunk for v in d]
            flat += self._pad[len(flat):]
            self._fmt.pack_into(self._buf(sample, BATCH_BYTES), 0, len(chunk), 0, *flat)
            self._submit(self._rb, sample)
            sent += len(chunk)
        return sent

    def close(self) -> None:
        if self._rb != L.ffi.NULL:
            L.lib().user_ring_buffer__free(self._rb)
            self._rb = L.ffi.NULL


class SyscallProgram:
    """A SEC("syscall") program run on demand (BPF_PROG_TEST_RUN, no context)."""

    def __init__(self, prog_fd: int):
        self._fd = prog_fd
        self._opts = L.ffi.new("struct bpf_test_run_opts *")
        self._opts.sz = L.ffi.sizeof("struct bpf_test_run_opts")
        self._run = L.lib().bpf_prog_test_run_opts

    def __call__(self) -> int:
        err = self._run(self._fd, self._opts)
        if err:
            raise LoaderError(f"running the syscall program failed: {L.errno_name(err)}")
        return self._opts.retval
