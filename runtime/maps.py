"""BPF maps by name: lookups and updates through the map fd.

Per-CPU maps return one value per possible CPU; the kernel copies them
out in slots rounded up to 8 bytes.
"""

from __future__ import annotations

from scxpy.runtime import libbpf as L
from scxpy.runtime.errors import LoaderError

# BPF_MAP_TYPE_{PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH, PERCPU_CGROUP_STORAGE}
PERCPU_TYPES = {5, 6, 10, 21}


def possible_cpus() -> int:
    n = L.lib().libbpf_num_possible_cpus()
    if n <= 0:
        raise LoaderError(f"cannot count possible CPUs: {L.errno_name(n)}")
    return n


class Map:
    """One map of a BpfObject; usable for lookups once the object is loaded."""

    def __init__(self, owner, ptr):
        lib = L.lib()
        self._owner = owner  # keeps the bpf_object alive
        self._ptr = ptr
        self.name = L.ffi.string(lib.bpf_map__name(ptr)).decode()
        self.type = lib.bpf_map__type(ptr)
        self.key_size = lib.bpf_map__key_size(ptr)
        self.value_size = lib.bpf_map__value_size(ptr)
        self.max_entries = lib.bpf_map__max_entries(ptr)
        self.flags = lib.bpf_map__map_flags(ptr)
        self.is_internal = bool(lib.bpf_map__is_internal(ptr))

    def __repr__(self) -> str:
        return f"<Map {self.name} type={self.type} key={self.key_size} value={self.value_size} n={self.max_entries}>"

    @property
    def percpu(self) -> bool:
        return self.type in PERCPU_TYPES

    @property
    def fd(self) -> int:
        fd = L.lib().bpf_map__fd(self._ptr)
        if fd < 0:
            raise LoaderError(f"map {self.name!r} has no fd yet: load the object first")
        return fd

    def _key(self, key) -> bytes:
        if isinstance(key, int):
            return key.to_bytes(self.key_size, "little")
        key = bytes(key)
        if len(key) != self.key_size:
            raise ValueError(f"map {self.name!r}: key must be {self.key_size} bytes, got {len(key)}")
        return key

    def _slot(self) -> int:
        return (self.value_size + 7) // 8 * 8

    def lookup(self, key) -> bytes | list[bytes] | None:
        """The value at `key` (bytes), a list of per-CPU values for per-CPU maps, None if absent."""
        ncpu = possible_cpus() if self.percpu else 1
        buf = L.ffi.new("char[]", self._slot() * ncpu if self.percpu else self.value_size)
        err = L.lib().bpf_map_lookup_elem(self.fd, self._key(key), buf)
        if err == -2:  # ENOENT
            return None
        if err < 0:
            raise LoaderError(f"lookup in map {self.name!r} failed: {L.errno_name(err)}")
        raw = L.ffi.buffer(buf)[:]
        if not self.percpu:
            return raw
        slot = self._slot()
        return [raw[i * slot : i * slot + self.value_size] for i in range(ncpu)]

    def update(self, key, value) -> None:
        """Write `value` (bytes, or a list of per-CPU bytes for per-CPU maps) at `key`."""
        if self.percpu:
            slot = self._slot()
            values = list(value)
            if len(values) != possible_cpus():
                raise ValueError(f"map {self.name!r}: need one value per possible CPU ({possible_cpus()})")
            data = b"".join(bytes(v).ljust(slot, b"\0") for v in values)
        else:
            data = bytes(value)
            if len(data) != self.value_size:
                raise ValueError(f"map {self.name!r}: value must be {self.value_size} bytes, got {len(data)}")
        err = L.lib().bpf_map_update_elem(self.fd, self._key(key), data, L.BPF_ANY)
        if err < 0:
            raise LoaderError(f"update of map {self.name!r} failed: {L.errno_name(err)}")

    def lookup_u64(self, key) -> int:
        """A u64 value; for per-CPU maps the sum over CPUs (how counters are kept)."""
        value = self.lookup(key)
        if value is None:
            return 0
        if self.percpu:
            return sum(int.from_bytes(v[:8], "little") for v in value)
        return int.from_bytes(value[:8], "little")
