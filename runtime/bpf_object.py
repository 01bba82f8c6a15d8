"""A BPF object file opened and loaded through libbpf.

Lifecycle: open (file or bytes) -> set .rodata configuration -> load
(verifier log captured; a rejection raises VerifierRejected carrying it)
-> use maps, globals and programs -> close.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from scxpy.runtime import libbpf as L
from scxpy.runtime import privileges
from scxpy.runtime import verifier_log
from scxpy.runtime.errors import KernelMismatch, LoaderError, NotPrivileged, ObjectOpenError, VerifierRejected
from scxpy.runtime.globals import Globals
from scxpy.runtime.maps import Map

# Large enough for the verifier log of a big failing program; newer kernels
# keep the log's tail when it does not fit, which is the part that matters.
LOG_SIZE = 4 << 20
LOG_TAIL_LINES = 40


class Program:
    def __init__(self, owner, ptr):
        lib = L.lib()
        self._owner = owner
        self._ptr = ptr
        self.name = L.ffi.string(lib.bpf_program__name(ptr)).decode()
        self.section = L.ffi.string(lib.bpf_program__section_name(ptr)).decode()
        self.type = lib.bpf_program__type(ptr)

    @property
    def fd(self) -> int:
        return L.lib().bpf_program__fd(self._ptr)

    @property
    def expected_attach_type(self) -> int:
        # For struct_ops programs libbpf stores the index of the ops member here.
        return L.lib().bpf_program__expected_attach_type(self._ptr)

    def __repr__(self) -> str:
        return f"<Program {self.name} section={self.section}>"


class BpfObject:
    """Open a BPF object from a path or from the bytes of an ELF object."""

    def __init__(self, source: str | os.PathLike | bytes, *, name: str | None = None,
                 c_source: str | os.PathLike | None = None, policy_source: str | os.PathLike | None = None):
        self.lib = L.lib()
        self.c_source = c_source
        self.policy_source = policy_source
        self.loaded = False
        self._obj = L.ffi.NULL
        self._log_buf = L.ffi.new("char[]", LOG_SIZE)
        opts = L.ffi.new("struct bpf_object_open_opts *")
        opts.sz = L.ffi.sizeof("struct bpf_object_open_opts")
        # Level 0 plus a buffer: libbpf asks the kernel for a log only when a
        # load fails, then retries at level 1 into our buffer.
        opts.kernel_log_buf = self._log_buf
        opts.kernel_log_size = LOG_SIZE
        opts.kernel_log_level = 0
        keep = []
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            self.path = None
            label = name or "object in memory"
            if name:
                keep.append(L.ffi.new("char[]", name.encode()))
                opts.object_name = keep[-1]
            with L.captured_messages() as messages:
                self._obj = self.lib.bpf_object__open_mem(data, len(data), opts)
        else:
            self.path = Path(source)
            label = str(self.path)
            try:
                readable = self.path.is_file() and os.access(self.path, os.R_OK)
            except OSError as e:
                raise ObjectOpenError(f"cannot read BPF object {self.path}: {e.strerror}; check its permissions") from None
            if not readable:
                raise ObjectOpenError(
                    f"BPF object {self.path} does not exist or is not readable; compile it first (`scxpy compile`)"
                )
            if name:
                keep.append(L.ffi.new("char[]", name.encode()))
                opts.object_name = keep[-1]
            with L.captured_messages() as messages:
                self._obj = self.lib.bpf_object__open_file(str(self.path).encode(), opts)
        if self._obj == L.ffi.NULL:
            err = L.ffi.errno
            detail = "".join(messages).strip()
            raise ObjectOpenError(
                f"libbpf cannot open {label}: {L.errno_name(err)}"
                + (f"\n{detail}" if detail else "")
                + "\nIs it a BPF ELF object built with `clang -target bpf -g`?"
            )
        self.name = L.ffi.string(self.lib.bpf_object__name(self._obj)).decode()
        self.btf = self.lib.bpf_object__btf(self._obj)
        self.maps: dict[str, Map] = {}
        ptr = self.lib.bpf_object__next_map(self._obj, L.ffi.NULL)
        while ptr != L.ffi.NULL:
            m = Map(self, ptr)
            self.maps[m.name] = m
            ptr = self.lib.bpf_object__next_map(self._obj, ptr)
        self.programs: dict[str, Program] = {}
        ptr = self.lib.bpf_object__next_program(self._obj, L.ffi.NULL)
        while ptr != L.ffi.NULL:
            p = Program(self, ptr)
            self.programs[p.name] = p
            ptr = self.lib.bpf_object__next_program(self._obj, ptr)
        self.globals = Globals(self)

    # -- configuration and data --------------------------------------------

    def __getitem__(self, name: str):
        return self.globals.get(name)

    def __setitem__(self, name: str, value) -> None:
        self.globals.set(name, value)

    def map(self, name: str) -> Map:
        try:
            return self.maps[name]
        except KeyError:
            from scxpy.runtime.errors import SymbolNotFound

            raise SymbolNotFound(
                f"no map {name!r} in {self.name} (maps: {', '.join(self.maps) or 'none'})"
            ) from None

    # -- load ---------------------------------------------------------------

    def load(self) -> None:
        if self.loaded:
            return
        missing = privileges.missing_caps(need_sys_admin=False)
        if missing:
            raise NotPrivileged(privileges.not_privileged_message(missing, f"loading {self.name}"))
        with L.captured_messages() as messages:
            err = self.lib.bpf_object__load(self._obj)
        if err == 0:
            self.loaded = True
            return
        self._raise_load_error(err, messages)

    def _raise_load_error(self, err: int, messages: list[str]) -> None:
        log = L.ffi.string(self._log_buf).decode(errors="replace")
        libbpf_text = "".join(messages).strip()
        if err == -1 and not log:  # EPERM
            raise NotPrivileged(privileges.not_privileged_message(["CAP_BPF", "CAP_SYS_ADMIN"], f"loading {self.name}"))
        kfuncs = verifier_log.kfunc_problems(log, libbpf_text)
        if kfuncs:
            raise KernelMismatch(
                verifier_log.kfunc_mismatch_message(self.name, kfuncs, os.uname().release,
                                                    _kernel_btf_has_kfunc_decl_tags()),
                log=log or libbpf_text, kfuncs=[k.name for k in kfuncs],
            )
        m = re.search(r"prog '([^']+)': (?:failed to load|-- BEGIN PROG LOAD LOG)", libbpf_text)
        prog = m.group(1) if m else None
        if not log.strip():
            raise LoaderError(
                f"libbpf could not load {self.name}: {L.errno_name(err)}"
                + (f"\nlibbpf said:\n{libbpf_text}" if libbpf_text else "")
            )
        tail = "\n".join(log.rstrip().splitlines()[-LOG_TAIL_LINES:])
        sources = verifier_log.source_report(log, self.c_source, self.policy_source)
        msg = f"the kernel's verifier rejected {f'program {prog!r} of ' if prog else ''}{self.name} ({L.errno_name(err)})"
        msg += f"\n--- verifier log (last {LOG_TAIL_LINES} lines) ---\n{tail}\n---"
        if sources:
            msg += "\nsource lines involved:\n  " + "\n  ".join(sources)
        msg += "\nFix the code the log points at; the full log is in the error's .log attribute."
        raise VerifierRejected(msg, log=log, source_lines=sources)

    # -- teardown -----------------------------------------------------------

    def close(self) -> None:
        if getattr(self, "_obj", L.ffi.NULL) != L.ffi.NULL:
            self.globals.close()
            self.lib.bpf_object__close(self._obj)
            self._obj = L.ffi.NULL
            self.loaded = False

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def _kernel_btf_has_kfunc_decl_tags() -> bool | None:
    try:
        return verifier_log.btf_has_kfunc_decl_tags(Path("/sys/kernel/btf/vmlinux").read_bytes())
    except OSError:
        return None
