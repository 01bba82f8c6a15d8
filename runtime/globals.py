"""Global variables of a BPF object, by name.

Before load, the sections' initial images (bpf_map__initial_value) are
plain memory that libbpf copies into the maps at load time: .rodata
configuration is set there. After load we go through the map fd instead:
before libbpf 1.5, bpf_map__initial_value() after load points at a stale
private copy and writes to it are silently lost.

After load, reads use bpf_map_lookup_elem on key 0. Writes touch only the
variable's own bytes through a shared mmap of the map (internal maps are
BPF_F_MMAPABLE), so a tunable written while attached cannot clobber
counters the BPF side updates in the same section meanwhile; maps without
that flag fall back to read-modify-write with bpf_map_update_elem.
"""

from __future__ import annotations

import mmap

from scxpy.runtime import btf as B
from scxpy.runtime import libbpf as L
from scxpy.runtime.errors import LoaderError, ReadOnlyAfterLoad, SymbolNotFound

DATA_SECTIONS = (".rodata", ".data", ".bss")


def section_of_map(map_name: str) -> str | None:
    """libbpf names internal maps '<obj prefix>.rodata' etc.; custom sections keep their full name."""
    for sec in DATA_SECTIONS:
        if map_name == sec or map_name.endswith(sec):
            return sec
    return None


class Globals:
    """Typed access to the variables of .rodata/.data/.bss."""

    def __init__(self, obj):
        self._obj = obj
        self._maps = {}  # section -> Map
        self.variables: dict[str, B.Variable] = {}
        for m in obj.maps.values():
            sec = section_of_map(m.name) if m.is_internal else None
            if sec and sec not in self._maps:
                self._maps[sec] = m
                for name, var in B.datasec_variables(obj.btf, sec).items():
                    self.variables.setdefault(name, var)
        self._mmaps: dict[str, mmap.mmap] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.variables

    def variable(self, name: str) -> B.Variable:
        try:
            return self.variables[name]
        except KeyError:
            known = ", ".join(sorted(self.variables)) or "none"
            raise SymbolNotFound(
                f"no global variable {name!r} in {self._obj.name} (globals: {known}); "
                "check the name, and that it is not `static` or optimised away"
            ) from None

    def _initial_image(self, var: B.Variable):
        size = L.ffi.new("size_t *")
        ptr = L.lib().bpf_map__initial_value(self._maps[var.section]._ptr, size)
        if ptr == L.ffi.NULL:
            raise LoaderError(f"{var.section} of {self._obj.name} has no initial image")
        return L.ffi.buffer(ptr, size[0])

    def read_raw(self, name: str) -> bytes:
        var = self.variable(name)
        if not self._obj.loaded:
            return bytes(self._initial_image(var)[var.offset : var.offset + var.size])
        raw = self._maps[var.section].lookup(0)
        return raw[var.offset : var.offset + var.size]

    def write_raw(self, name: str, data: bytes) -> None:
        """Overwrite a loaded .bss/.data variable with `data` (its exact size)."""
        var = self.variable(name)
        if len(data) != var.size or var.section == ".rodata" or not self._obj.loaded:
            raise LoaderError(f"cannot overwrite {name!r} ({var.section}, {var.size} bytes) with {len(data)} bytes")
        view = self._mapped(var.section)
        if view is not None:
            view[var.offset : var.offset + var.size] = data
            return
        m = self._maps[var.section]
        raw = bytearray(m.lookup(0))
        raw[var.offset : var.offset + var.size] = data
        m.update(0, bytes(raw))

    def get(self, name: str):
        return self.variable(name).codec.decode(self.read_raw(name))

    def set(self, name: str, value) -> None:
        var = self.variable(name)
        try:
            if isinstance(value, (bytes, bytearray)) and isinstance(var.codec, B.Scalar):
                data = bytes(value)  # raw bytes of an integer
            else:
                data = var.codec.encode(value)
        except (TypeError, ValueError) as e:
            raise LoaderError(f"cannot set {name!r}: {e}") from None
        if len(data) > var.size:
            raise LoaderError(f"cannot set {name!r}: {len(data)} bytes do not fit its {var.size}")
        if not self._obj.loaded:
            self._initial_image(var)[var.offset : var.offset + len(data)] = data
            return
        if var.section == ".rodata":
            raise ReadOnlyAfterLoad(
                f"{name!r} is in .rodata, which the kernel froze at load; set it before load "
                "(or make it a live tunable in .bss)"
            )
        m = self._maps[var.section]
        view = self._mapped(var.section)
        if view is not None:
            view[var.offset : var.offset + len(data)] = data
            return
        raw = bytearray(m.lookup(0))
        raw[var.offset : var.offset + len(data)] = data
        m.update(0, bytes(raw))

    def view(self, name: str) -> memoryview:
        """The variable's bytes, live, in a shared mmap of its section (loaded objects,
        BPF_F_MMAPABLE sections only): reads and writes cost no system call."""
        var = self.variable(name)
        view = self._mapped(var.section) if self._obj.loaded and var.section != ".rodata" else None
        if view is None:
            raise LoaderError(f"{name!r} cannot be mapped: its section {var.section} is not a "
                              "writable, mmapable map of a loaded object")
        return memoryview(view)[var.offset : var.offset + var.size]

    def _mapped(self, section: str):
        if section in self._mmaps:
            return self._mmaps[section]
        m = self._maps[section]
        view = None
        if m.flags & L.BPF_F_MMAPABLE:
            try:
                view = mmap.mmap(m.fd, m.value_size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            except OSError:
                view = None
        self._mmaps[section] = view
        return view

    def close(self) -> None:
        for view in self._mmaps.values():
            if view is not None:
                view.close()
        self._mmaps.clear()
