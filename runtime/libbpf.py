"""cffi (ABI mode) binding of the system libbpf: only the calls scxpy uses.

No compiled extension: the declarations below are parsed by cffi at
import time and resolved with dlopen. Structs passed by pointer are
declared only up to the fields we read; libbpf's `opts` structs and the
kernel's info structs carry their own size, so a shorter prefix is fine.

The library is libbpf.so.1 unless SCXPY_LIBBPF names another file (tests
use it to simulate a missing library).
"""

from __future__ import annotations

import os
import sys
import threading

from cffi import FFI

from scxpy.runtime.errors import LibbpfMissing, LibbpfTooOld

LIBBPF_ENV = "SCXPY_LIBBPF"
DEFAULT_LIBRARY = "libbpf.so.1"
# struct_ops links (bpf_map__attach_struct_ops returning a real link) came in 1.2.
MIN_VERSION = (1, 2)

# Kernel UAPI constants we use (linux/bpf.h, linux/btf.h).
BPF_MAP_TYPE_ARRAY = 2
BPF_MAP_TYPE_PERCPU_ARRAY = 6
BPF_MAP_TYPE_STRUCT_OPS = 26
BPF_MAP_TYPE_RINGBUF = 27
BPF_MAP_TYPE_USER_RINGBUF = 31
BPF_PROG_TYPE_STRUCT_OPS = 27
BPF_STATS_RUN_TIME = 0
BPF_F_MMAPABLE = 1 << 10
BPF_ANY = 0

BTF_KIND_INT = 1
BTF_KIND_PTR = 2
BTF_KIND_ARRAY = 3
BTF_KIND_STRUCT = 4
BTF_KIND_UNION = 5
BTF_KIND_ENUM = 6
BTF_KIND_TYPEDEF = 8
BTF_KIND_VOLATILE = 9
BTF_KIND_CONST = 10
BTF_KIND_RESTRICT = 11
BTF_KIND_FUNC_PROTO = 13
BTF_KIND_VAR = 14
BTF_KIND_DATASEC = 15
BTF_KIND_TYPE_TAG = 18
BTF_KIND_ENUM64 = 19
BTF_INT_SIGNED = 1

LIBBPF_WARN, LIBBPF_INFO, LIBBPF_DEBUG = 0, 1, 2

CDEF = """
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;

struct bpf_object; struct bpf_map; struct bpf_program; struct bpf_link; struct btf;

/* libbpf.h, fields up to kernel_log_level; sz tells libbpf where we stop. */
struct bpf_object_open_opts {
    size_t sz;
    const char *object_name;
    _Bool relaxed_maps;
    const char *pin_root_path;
    __u32 _removed_attach_prog_fd;
    const char *kconfig;
    const char *btf_custom_path;
    char *kernel_log_buf;
    size_t kernel_log_size;
    __u32 kernel_log_level;
};

/* linux/btf.h */
struct btf_type { __u32 name_off; __u32 info; __u32 size_or_type; };
struct btf_var_secinfo { __u32 type; __u32 offset; __u32 size; };
struct btf_member { __u32 name_off; __u32 type; __u32 offset; };
struct btf_array { __u32 type; __u32 index_type; __u32 nelems; };

/* linux/bpf.h struct bpf_prog_info, up to attach_btf_id (offsets checked in tests). */
struct bpf_prog_info {
    __u32 type; __u32 id; __u8 tag[8];
    __u32 jited_prog_len; __u32 xlated_prog_len;
    __u64 jited_prog_insns; __u64 xlated_prog_insns;
    __u64 load_time; __u32 created_by_uid; __u32 nr_map_ids; __u64 map_ids;
    char name[16];
    __u32 ifindex; __u32 gpl_compatible_bits;
    __u64 netns_dev; __u64 netns_ino;
    __u32 nr_jited_ksyms; __u32 nr_jited_func_lens;
    __u64 jited_ksyms; __u64 jited_func_lens;
    __u32 btf_id; __u32 func_info_rec_size; __u64 func_info;
    __u32 nr_func_info; __u32 nr_line_info; __u64 line_info; __u64 jited_line_info;
    __u32 nr_jited_line_info; __u32 line_info_rec_size; __u32 jited_line_info_rec_size;
    __u32 nr_prog_tags; __u64 prog_tags;
    __u64 run_time_ns; __u64 run_cnt; __u64 recursion_misses;
    __u32 verified_insns; __u32 attach_btf_obj_id; __u32 attach_btf_id;
    __u32 _pad;
};

__u32 libbpf_major_version(void);
__u32 libbpf_minor_version(void);
const char *libbpf_version_string(void);
int libbpf_num_possible_cpus(void);

/* The callback's va_list is declared as void*: on x86-64 and arm64 a
   va_list argument is passed as a pointer, which vsnprintf accepts back. */
typedef int (*libbpf_print_fn_t)(int level, const char *fmt, void *args);
libbpf_print_fn_t libbpf_set_print(libbpf_print_fn_t fn);
int vsnprintf(char *str, size_t size, const char *fmt, void *args);

struct bpf_object *bpf_object__open_file(const char *path, const struct bpf_object_open_opts *opts);
struct bpf_object *bpf_object__open_mem(const void *buf, size_t sz, const struct bpf_object_open_opts *opts);
int bpf_object__load(struct bpf_object *obj);
void bpf_object__close(struct bpf_object *obj);
const char *bpf_object__name(const struct bpf_object *obj);
struct btf *bpf_object__btf(const struct bpf_object *obj);
struct bpf_map *bpf_object__next_map(const struct bpf_object *obj, const struct bpf_map *map);
struct bpf_program *bpf_object__next_program(const struct bpf_object *obj, struct bpf_program *prog);

const char *bpf_map__name(const struct bpf_map *map);
int bpf_map__type(const struct bpf_map *map);
int bpf_map__fd(const struct bpf_map *map);
__u32 bpf_map__key_size(const struct bpf_map *map);
__u32 bpf_map__value_size(const struct bpf_map *map);
__u32 bpf_map__max_entries(const struct bpf_map *map);
__u32 bpf_map__map_flags(const struct bpf_map *map);
_Bool bpf_map__is_internal(const struct bpf_map *map);
void *bpf_map__initial_value(const struct bpf_map *map, size_t *psize);
__u32 bpf_map__btf_value_type_id(const struct bpf_map *map);
struct bpf_link *bpf_map__attach_struct_ops(const struct bpf_map *map);

const char *bpf_program__name(const struct bpf_program *prog);
const char *bpf_program__section_name(const struct bpf_program *prog);
int bpf_program__fd(const struct bpf_program *prog);
int bpf_program__type(const struct bpf_program *prog);
int bpf_program__expected_attach_type(const struct bpf_program *prog);

int bpf_link__fd(const struct bpf_link *link);
int bpf_link__destroy(struct bpf_link *link);

int bpf_map_lookup_elem(int fd, const void *key, void *value);
int bpf_map_update_elem(int fd, const void *key, const void *value, __u64 flags);
int bpf_enable_stats(int type);
int bpf_prog_get_info_by_fd(int prog_fd, struct bpf_prog_info *info, __u32 *info_len);

/* Ring buffers (libbpf.h): the kernel -> user BPF_MAP_TYPE_RINGBUF is read with a
   callback per sample; the user -> kernel BPF_MAP_TYPE_USER_RINGBUF is written by
   reserve + submit. Options are optional (NULL). */
struct ring_buffer; struct user_ring_buffer;
typedef int (*ring_buffer_sample_fn)(void *ctx, void *data, size_t size);
struct ring_buffer *ring_buffer__new(int map_fd, ring_buffer_sample_fn sample_cb, void *ctx, const void *opts);
int ring_buffer__poll(struct ring_buffer *rb, int timeout_ms);
int ring_buffer__consume(struct ring_buffer *rb);
int ring_buffer__epoll_fd(const struct ring_buffer *rb);
void ring_buffer__free(struct ring_buffer *rb);
struct user_ring_buffer *user_ring_buffer__new(int map_fd, const void *opts);
void *user_ring_buffer__reserve(struct user_ring_buffer *rb, __u32 size);
void user_ring_buffer__submit(struct user_ring_buffer *rb, void *sample);
void user_ring_buffer__discard(struct user_ring_buffer *rb, void *sample);
void user_ring_buffer__free(struct user_ring_buffer *rb);

/* bpf.h: running a SEC("syscall") program once (BPF_PROG_TEST_RUN). */
struct bpf_test_run_opts {
    size_t sz;
    const void *data_in; void *data_out; __u32 data_size_in; __u32 data_size_out;
    const void *ctx_in; void *ctx_out; __u32 ctx_size_in; __u32 ctx_size_out;
    __u32 retval; int repeat; __u32 duration; __u32 flags; __u32 cpu; __u32 batch_size;
};
int bpf_prog_test_run_opts(int prog_fd, struct bpf_test_run_opts *opts);

struct btf *btf__load_vmlinux_btf(void);
void btf__free(struct btf *btf);
__s32 btf__find_by_name_kind(const struct btf *btf, const char *type_name, __u32 kind);
const struct btf_type *btf__type_by_id(const struct btf *btf, __u32 id);
__s64 btf__resolve_size(const struct btf *btf, __u32 type_id);
const char *btf__name_by_offset(const struct btf *btf, __u32 offset);
"""

ffi = FFI()
ffi.cdef(CDEF)

_lock = threading.Lock()
_lib = None


def library_path() -> str:
    return os.environ.get(LIBBPF_ENV) or DEFAULT_LIBRARY


def check_version(major: int, minor: int, found: str | None = None) -> None:
    """Refuse libbpf older than MIN_VERSION, saying how to get a newer one."""
    if (major, minor) < MIN_VERSION:
        found = found or f"{major}.{minor}"
        raise LibbpfTooOld(
            f"libbpf {found} is too old: scxpy needs libbpf >= {MIN_VERSION[0]}.{MIN_VERSION[1]} "
            "(struct_ops links). On Debian 12 install libbpf1 1.4.6 from bookworm-backports "
            "(`apt-get install -t bookworm-backports libbpf1`; scripts/setup.sh does), "
            f"or point {LIBBPF_ENV} at a newer libbpf.so.1."
        )


def lib():
    """The loaded library, opened once and version-checked."""
    global _lib
    with _lock:
        if _lib is None:
            path = library_path()
            try:
                handle = ffi.dlopen(path)
            except OSError as e:
                raise LibbpfMissing(
                    f"cannot load libbpf ({path}): {e}. Install libbpf1 >= 1.2 "
                    "(Debian 12: `apt-get install -t bookworm-backports libbpf1`; scripts/setup.sh does)"
                    + (f", or fix {LIBBPF_ENV}" if os.environ.get(LIBBPF_ENV) else "")
                    + "."
                ) from None
            try:
                major, minor = handle.libbpf_major_version(), handle.libbpf_minor_version()
                found = ffi.string(handle.libbpf_version_string()).decode()
            except AttributeError:  # libbpf < 0.6 has no version calls at all
                raise LibbpfTooOld(
                    f"{path} is a libbpf without version information (older than 0.6); "
                    "install libbpf1 >= 1.2 (bookworm-backports libbpf1 1.4.6; scripts/setup.sh)."
                ) from None
            check_version(major, minor, found)
            _install_print_hook(handle)
            _lib = handle
        return _lib


def version() -> str:
    return ffi.string(lib().libbpf_version_string()).decode()


def _reset_for_tests() -> None:
    """Forget the loaded library so a test can retry with another SCXPY_LIBBPF."""
    global _lib
    with _lock:
        _lib = None


# --- libbpf's own messages --------------------------------------------------
# libbpf prints warnings (failed relocation, map creation errors, the
# verifier log) to stderr by default. We collect them instead, per thread,
# so a failed load can carry them in its error and a good load stays quiet.

_capture = threading.local()
# SCXPY_LIBBPF_VERBOSE=1 echoes every libbpf message (debug level included) to stderr.
_VERBOSE = os.environ.get("SCXPY_LIBBPF_VERBOSE") not in (None, "", "0")


def _install_print_hook(handle) -> None:
    @ffi.callback("int(int, const char *, void *)")
    def _print(level, fmt, args):
        buf = ffi.new("char[]", 4096)
        handle.vsnprintf(buf, 4096, fmt, args)
        text = ffi.string(buf).decode(errors="replace")
        sink = getattr(_capture, "lines", None)
        if sink is not None and level <= LIBBPF_INFO:
            sink.append(text)
        if _VERBOSE:
            sys.stderr.write(text)
        return 0

    handle.libbpf_set_print(_print)
    globals()["_print_callback"] = _print  # keep the callback alive


class captured_messages:
    """Context manager collecting libbpf's warnings/info printed meanwhile."""

    def __enter__(self) -> list[str]:
        self._outer = getattr(_capture, "lines", None)
        _capture.lines = []
        return _capture.lines

    def __exit__(self, *exc) -> None:
        _capture.lines = self._outer


def errno_name(err: int) -> str:
    import errno as _errno

    err = abs(err)
    return f"{_errno.errorcode.get(err, 'E?')} ({os.strerror(err)})"
