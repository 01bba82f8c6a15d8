"""Just enough BTF reading to find globals and decode their values.

A global's place is its `struct btf_var_secinfo` in the DATASEC named after
its ELF section (.rodata, .bss, .data); libbpf has fixed up offsets and
sizes by the time the object is open. Its type decides how Python values
are converted: integers (and enums) become int, arrays of integers lists
of int, char arrays bytes, anything else raw bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from scxpy.runtime import libbpf as L

_MODIFIERS = {L.BTF_KIND_TYPEDEF, L.BTF_KIND_VOLATILE, L.BTF_KIND_CONST, L.BTF_KIND_RESTRICT, L.BTF_KIND_TYPE_TAG}


def kind_of(t) -> int:
    return (t.info >> 24) & 0x1F


def vlen_of(t) -> int:
    return t.info & 0xFFFF


def name_of(btf, t) -> str:
    name = L.lib().btf__name_by_offset(btf, t.name_off)
    return L.ffi.string(name).decode() if name != L.ffi.NULL else ""


@dataclass(frozen=True)
class Scalar:
    size: int
    signed: bool

    def decode(self, raw: bytes) -> int:
        return int.from_bytes(raw[: self.size], "little", signed=self.signed)

    def encode(self, value) -> bytes:
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int):
            raise TypeError(f"expected an integer, got {type(value).__name__}")
        lo = -(1 << (8 * self.size - 1)) if self.signed else 0
        hi = (1 << (8 * self.size - (1 if self.signed else 0))) - 1
        if not lo <= value <= hi:
            raise ValueError(f"{value} does not fit a {'signed' if self.signed else 'unsigned'} {8 * self.size}-bit integer")
        return value.to_bytes(self.size, "little", signed=self.signed)


@dataclass(frozen=True)
class Array:
    elem: "Scalar | Array | Raw"
    nelems: int
    size: int
    is_chars: bool

    def decode(self, raw: bytes):
        if self.is_chars:
            return bytes(raw[: self.size])
        step = self.size // self.nelems if self.nelems else 0
        return [self.elem.decode(raw[i * step : (i + 1) * step]) for i in range(self.nelems)]

    def encode(self, value) -> bytes:
        if self.is_chars:
            if isinstance(value, str):
                value = value.encode()
            if len(value) > self.size:
                raise ValueError(f"{len(value)} bytes do not fit char[{self.size}]")
            return bytes(value).ljust(self.size, b"\0")
        value = list(value)
        if len(value) > self.nelems:
            raise ValueError(f"{len(value)} elements do not fit an array of {self.nelems}")
        step = self.size // self.nelems
        out = b"".join(self.elem.encode(v) for v in value)
        return out.ljust(self.size, b"\0") if len(out) < self.size else out[: step * len(value)]


@dataclass(frozen=True)
class Raw:
    size: int

    def decode(self, raw: bytes) -> bytes:
        return bytes(raw[: self.size])

    def encode(self, value) -> bytes:
        value = bytes(value)
        if len(value) != self.size:
            raise ValueError(f"expected {self.size} bytes, got {len(value)}")
        return value


def resolve(btf, type_id: int):
    """The codec for BTF type `type_id`."""
    lib = L.lib()
    t = lib.btf__type_by_id(btf, type_id)
    while kind_of(t) in _MODIFIERS:
        type_id = t.size_or_type
        t = lib.btf__type_by_id(btf, type_id)
    kind = kind_of(t)
    if kind == L.BTF_KIND_INT:
        encoding = L.ffi.cast("__u32 *", t + 1)[0]
        return Scalar(size=t.size_or_type, signed=bool((encoding >> 24) & L.BTF_INT_SIGNED))
    if kind in (L.BTF_KIND_ENUM, L.BTF_KIND_ENUM64):
        return Scalar(size=t.size_or_type, signed=bool(t.info >> 31))
    if kind == L.BTF_KIND_PTR:
        return Scalar(size=8, signed=False)
    size = int(lib.btf__resolve_size(btf, type_id))
    if kind == L.BTF_KIND_ARRAY:
        arr = L.ffi.cast("struct btf_array *", t + 1)
        elem = resolve(btf, arr.type)
        is_chars = isinstance(elem, Scalar) and elem.size == 1 and _is_char(btf, arr.type)
        return Array(elem=elem, nelems=arr.nelems, size=size, is_chars=is_chars)
    return Raw(size=max(size, 0))


def _is_char(btf, type_id: int) -> bool:
    lib = L.lib()
    t = lib.btf__type_by_id(btf, type_id)
    while kind_of(t) in _MODIFIERS:
        t = lib.btf__type_by_id(btf, t.size_or_type)
    return kind_of(t) == L.BTF_KIND_INT and name_of(btf, t) in ("char", "signed char", "unsigned char")


@dataclass(frozen=True)
class Variable:
    name: str
    section: str
    offset: int
    size: int
    codec: "Scalar | Array | Raw"


def datasec_variables(btf, section: str) -> dict[str, Variable]:
    """Every variable of DATASEC `section` (e.g. ".rodata"), by name."""
    lib = L.lib()
    if btf == L.ffi.NULL:
        return {}
    sec_id = lib.btf__find_by_name_kind(btf, section.encode(), L.BTF_KIND_DATASEC)
    if sec_id < 0:
        return {}
    sec = lib.btf__type_by_id(btf, sec_id)
    infos = L.ffi.cast("struct btf_var_secinfo *", sec + 1)
    out = {}
    for i in range(vlen_of(sec)):
        info = infos[i]
        var = lib.btf__type_by_id(btf, info.type)
        if kind_of(var) != L.BTF_KIND_VAR:
            continue
        name = name_of(btf, var)
        out[name] = Variable(name, section, int(info.offset), int(info.size), resolve(btf, var.size_or_type))
    return out


def struct_member_names(btf, type_id: int) -> list[str]:
    lib = L.lib()
    t = lib.btf__type_by_id(btf, type_id)
    if t == L.ffi.NULL or kind_of(t) not in (L.BTF_KIND_STRUCT, L.BTF_KIND_UNION):
        return []
    members = L.ffi.cast("struct btf_member *", t + 1)
    return [
        L.ffi.string(lib.btf__name_by_offset(btf, members[i].name_off)).decode() for i in range(vlen_of(t))
    ]
