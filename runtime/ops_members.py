"""Callbacks of a scheduler that the running kernel does not have.

libbpf copies the ops struct to the kernel member by member, by name; a
member the kernel lacks fails the load, unless it is cleared first, in
which case libbpf skips it and its program is never loaded. scxpy
declares some callbacks newer than 6.12 (base/ops_versions.py) and the
cgroup ones, which exist only with CONFIG_EXT_GROUP_SCHED. Before load
this module compares the object's ops with the kernel's struct
sched_ext_ops: a callback the policy's cgroup shares can do without is
cleared, with one line saying what is not honoured; any other is an error
naming the kernel version (or the config option) that brings it.
"""

from __future__ import annotations

import functools
from pathlib import Path

from scxpy.base.ops_versions import GROUP_SCHED_OPS, OPS_SINCE
from scxpy.runtime import btf as B
from scxpy.runtime import libbpf as L
from scxpy.runtime.errors import KernelLacksCallback

CGROUP_ROOT = Path("/sys/fs/cgroup")
# What share="cgroup" does without, when the kernel lacks its callback: the feature it honours.
OPTIONAL = {"cgroup_set_bandwidth": "bandwidth", "cgroup_set_idle": "idle"}


@functools.lru_cache(maxsize=None)
def kernel_ops_members() -> frozenset[str] | None:
    """Members of the running kernel's struct sched_ext_ops; None if its BTF cannot be read."""
    lib = L.lib()
    btf = lib.btf__load_vmlinux_btf()
    if btf == L.ffi.NULL:
        return None
    try:
        tid = lib.btf__find_by_name_kind(btf, b"sched_ext_ops", L.BTF_KIND_STRUCT)
        return frozenset(B.struct_member_names(btf, tid)) if tid > 0 else frozenset()
    finally:
        lib.btf__free(btf)


def _object_callbacks(obj, ops_map) -> dict[str, int]:
    """The ops map's function-pointer members that are set: name -> byte offset in its data."""
    lib = L.lib()
    tid = lib.bpf_map__btf_value_type_id(ops_map._ptr)
    t = lib.btf__type_by_id(obj.btf, tid) if obj.btf != L.ffi.NULL and tid else L.ffi.NULL
    if t == L.ffi.NULL:
        return {}
    size = L.ffi.new("size_t *")
    data = lib.bpf_map__initial_value(ops_map._ptr, size)
    if data == L.ffi.NULL:
        return {}
    raw = L.ffi.buffer(data, size[0])
    members = L.ffi.cast("struct btf_member *", t + 1)
    out = {}
    for i in range(B.vlen_of(t)):
        m = members[i]
        off = m.offset // 8
        mt = lib.btf__type_by_id(obj.btf, m.type)
        if mt == L.ffi.NULL or B.kind_of(mt) != L.BTF_KIND_PTR or off + 8 > size[0]:
            continue
        if any(raw[off:off + 8]):
            out[B.name_of(obj.btf, m)] = off
    return out


def _clear(ops_map, offset: int) -> None:
    data = L.lib().bpf_map__initial_value(ops_map._ptr, L.ffi.NULL)
    L.ffi.memmove(L.ffi.cast("char *", data) + offset, b"\0" * 8, 8)


def reconcile(obj, ops_map, cgroup_features: tuple[str, ...], name: str) -> list[str]:
    """Clear what the kernel lacks and the policy can do without; the lines to tell the user.
    Raises KernelLacksCallback for a callback the policy cannot do without."""
    callbacks = _object_callbacks(obj, ops_map)
    if not any(m in GROUP_SCHED_OPS or m in OPS_SINCE for m in callbacks):
        return []  # all 6.12 callbacks outside cgroups: nothing to check (and no BTF to read)
    kernel = kernel_ops_members()
    if not kernel:
        return []
    notices = []
    for member, offset in callbacks.items():
        if member in kernel:
            continue
        if member in GROUP_SCHED_OPS and "cgroup_init" not in kernel:
            raise KernelLacksCallback(
                f"{name} schedules by cgroup (ops.{member}), but this kernel was built without "
                "CONFIG_EXT_GROUP_SCHED (sched_ext's cgroup support): boot a kernel with it "
                "(it needs CONFIG_CGROUP_SCHED), or use a policy without share='cgroup'")
        feature = OPTIONAL.get(member)
        if feature and cgroup_features:
            _clear(ops_map, offset)
            notices.append(_not_honoured(feature, member))
            continue
        since = OPS_SINCE.get(member)
        raise KernelLacksCallback(
            f"{name} implements ops.{member}, which this kernel does not have"
            + (f": it came in Linux {since}; boot {since} or later, or drop that callback"
               if since else "; drop that callback"))
    return notices


def _not_honoured(feature: str, member: str) -> str:
    what = {"bandwidth": "cpu.max (CPU bandwidth limits) is not enforced",
            "idle": "cpu.idle is not honoured"}[feature]
    return (f"{what}: this kernel does not pass it to sched_ext schedulers "
            f"(ops.{member} came in Linux {OPS_SINCE[member]})")


def cpu_controller(root: Path | None = None) -> tuple[str | None, str | None]:
    """(why cgroup weights cannot reach the scheduler, a note on why they do not yet); each one line or None."""
    root = root or CGROUP_ROOT
    controllers = root / "cgroup.controllers"
    try:
        available = controllers.read_text().split()
        enabled = (root / "cgroup.subtree_control").read_text().split()
    except OSError:
        return f"no cgroup v2 hierarchy at {root}: mount one (mount -t cgroup2 none {root})", None
    if "cpu" not in available:
        return (f"the cgroup v2 cpu controller is not available ({controllers} lacks 'cpu'): the kernel "
                "needs CONFIG_CGROUP_SCHED, and the controller must not be bound to a cgroup v1 hierarchy"), None
    if "cpu" not in enabled:
        return None, (f"no cgroup has the cpu controller yet ({root}/cgroup.subtree_control lacks 'cpu'): "
                      f"every task shares as one group until `echo +cpu > {root}/cgroup.subtree_control`")
    return None, None
