"""The raw-C escape hatch, validated: which callbacks take raw C, where it runs, where it was written.

EXPERT ONLY. A policy may add C to any sched_ext callback (RawC), declare
its own maps, globals and helper functions (RawDecl) and run C
periodically from a BPF timer (RawTimer). scxpy does not understand that
C; it checks statically what the kernel would otherwise only find at run
time (kfunc contexts, see kfuncs.py), keeps it from breaking the file
around it (no preprocessor directives), and compiles it under #line
directives so clang's errors point at the policy's own lines and columns,
wherever the string was written (kfuncs.py, srcloc.string_origin()).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from scxpy.codegen import dsl, kfuncs
from scxpy.codegen.errors import PolicyError
from scxpy.codegen.srcloc import SrcLoc, c_line_file, string_origin


@dataclass(frozen=True)
class Callback:
    ret: str  # C return type
    params: str  # C parameter list (6.12 struct sched_ext_ops)
    returns: str = ""  # what a returned value means (documented in docs/dsl-reference.md)
    no_instead: bool = False  # scxpy's own part must run (init: DSQs; exit: exit info)
    no_after: bool = False  # the generated part decides the result (select_cpu)


_TASK = "struct task_struct *p"
_STATUS = "0 or a negative errno; an error fails the operation"

# Every callback of struct sched_ext_ops in 6.12 (all later kernels keep them), and the
# cgroup ones added since.
CALLBACKS: dict[str, Callback] = {
    "select_cpu": Callback("s32", f"{_TASK}, s32 prev_cpu, u64 wake_flags",
                           "before: a CPU >= 0 is the answer (the generated selection is skipped), "
                           "a negative value (or falling off the end) goes on to it; "
                           "instead: the CPU (falling off the end: prev_cpu)", no_after=True),
    "enqueue": Callback("void", f"{_TASK}, u64 enq_flags"),
    "dequeue": Callback("void", f"{_TASK}, u64 deq_flags"),
    "dispatch": Callback("void", "s32 cpu, struct task_struct *prev"),
    "tick": Callback("void", _TASK),
    "runnable": Callback("void", f"{_TASK}, u64 enq_flags"),
    "running": Callback("void", _TASK),
    "stopping": Callback("void", f"{_TASK}, bool runnable"),
    "quiescent": Callback("void", f"{_TASK}, u64 deq_flags"),
    "yield": Callback("bool", "struct task_struct *from, struct task_struct *to",
                      "true if `from` yielded to `to` (falling off the end: false)"),
    "core_sched_before": Callback("bool", "struct task_struct *a, struct task_struct *b",
                                  "true if `a` should run before `b` (falling off the end: false)"),
    "set_weight": Callback("void", f"{_TASK}, u32 weight"),
    "set_cpumask": Callback("void", f"{_TASK}, const struct cpumask *cpumask"),
    "update_idle": Callback("void", "s32 cpu, bool idle"),
    "cpu_acquire": Callback("void", "s32 cpu, struct scx_cpu_acquire_args *args"),
    "cpu_release": Callback("void", "s32 cpu, struct scx_cpu_release_args *args"),
    "init_task": Callback("s32", f"{_TASK}, struct scx_init_task_args *args", _STATUS, no_instead=True),
    "exit_task": Callback("void", f"{_TASK}, struct scx_exit_task_args *args"),
    "enable": Callback("void", _TASK),
    "disable": Callback("void", _TASK),
    "dump": Callback("void", "struct scx_dump_ctx *dctx"),
    "dump_cpu": Callback("void", "struct scx_dump_ctx *dctx, s32 cpu, bool idle"),
    "dump_task": Callback("void", f"struct scx_dump_ctx *dctx, {_TASK}"),
    "cgroup_init": Callback("s32", "struct cgroup *cgrp, struct scx_cgroup_init_args *args", _STATUS),
    "cgroup_exit": Callback("void", "struct cgroup *cgrp"),
    "cgroup_prep_move": Callback("s32", f"{_TASK}, struct cgroup *from, struct cgroup *to", _STATUS),
    "cgroup_move": Callback("void", f"{_TASK}, struct cgroup *from, struct cgroup *to"),
    "cgroup_cancel_move": Callback("void", f"{_TASK}, struct cgroup *from, struct cgroup *to"),
    "cgroup_set_weight": Callback("void", "struct cgroup *cgrp, u32 weight"),
    # Newer than 6.12 (base/ops_versions.py): declared through scxpy's own ops type
    # (templates/ops_type.c.j2); on an older kernel the runtime names the version.
    "cgroup_set_bandwidth": Callback("void", "struct cgroup *cgrp, u64 period_us, u64 quota_us, u64 burst_us"),
    "cgroup_set_idle": Callback("void", "struct cgroup *cgrp, bool idle"),
    "cpu_online": Callback("void", "s32 cpu"),
    "cpu_offline": Callback("void", "s32 cpu"),
    "init": Callback("s32", "", _STATUS, no_instead=True),
    "exit": Callback("void", "struct scx_exit_info *ei", no_instead=True),
}
POSITIONS = ("before", "after", "instead")

# Inserting `p` is the generated enqueue's job: a second insert is a run-time error.
_INSERTS = ("scxpy_dsq_insert", "scxpy_dsq_insert_vtime", "scx_bpf_dsq_insert", "scx_bpf_dsq_insert_vtime",
            "scx_bpf_dispatch", "scx_bpf_dispatch_vtime")


def default_at(callback: str) -> str:
    return "before" if CALLBACKS[callback].no_after else "after"


def fallthrough_return(callback: str, at: str) -> str:
    """The statement that ends a raw body that does not return (empty for void)."""
    cb = CALLBACKS[callback]
    if cb.ret == "void":
        return ""
    if callback == "select_cpu":
        return "return -1;" if at == "before" else "return prev_cpu;"
    return "return false;" if cb.ret == "bool" else "return 0;"


@dataclass
class RawSpec:
    """One raw-C body: a callback hook, a declaration block or a timer callback."""
    callback: str  # a sched_ext callback, "decl" or "timer"
    at: str  # before | after | instead ("" for decl/timer)
    ret: str
    params: str
    body_c: str  # the C text under #line directives, ready to paste
    files: list[str]  # policy files the #line directives name
    loc: SrcLoc  # where RawC(...) was called
    fallthrough: str = ""  # ends a body that does not return (see fallthrough_return)

    @property
    def head_line(self) -> str:
        """The body's first #line directive, to stand before the wrapper function's head
        too: clang's BTF line info names the file of the function an instruction is
        inlined from, so the wrapper must be "in" the policy file for a verifier
        rejection to name the policy's lines."""
        first = self.body_c.split("\n", 1)[0]
        return first if first.startswith("#line ") else ""


@dataclass
class TimerSpec:
    name: str
    every_ns: int
    raw: RawSpec


@dataclass
class RawPart:
    """Everything raw in one policy (model.Policy.raw_part)."""
    hooks: list[RawSpec] = field(default_factory=list)
    decls: list[RawSpec] = field(default_factory=list)
    timers: list[TimerSpec] = field(default_factory=list)
    # Names RawDecl blocks declare at file scope, and where (see check_decl_clashes).
    decl_names: dict[str, SrcLoc] = field(default_factory=dict)

    @property
    def any(self) -> bool:
        return bool(self.hooks or self.decls or self.timers)

    def files(self) -> list[str]:
        return sorted({f for r in self.hooks + self.decls + [t.raw for t in self.timers] for f in r.files})

    def hook(self, callback: str) -> RawSpec | None:
        return next((h for h in self.hooks if h.callback == callback), None)

    @property
    def ops_flags(self) -> list[str]:
        # Hooking update_idle turns the kernel's idle tracking off unless asked to
        # keep it; the generated select_cpu and the idle kfuncs need it.
        return ["SCX_OPS_KEEP_BUILTIN_IDLE"] if self.hook("update_idle") else []


def _c_with_lines(code: str, loc: SrcLoc) -> tuple[str, list[str], list[tuple[SrcLoc, str]]]:
    """`code` under #line directives naming where each line was written, indented as
    written (so clang's columns are the file's). Also (loc, text) per kept line."""
    origin = string_origin(code, loc)
    lines = code.split("\n")
    out, files, where = [], set(), []
    expect = None
    for k, text in enumerate(lines):
        if not text.strip():
            continue
        if origin is not None and origin.exact:
            file, line = origin.file, origin.line + k
            text = " " * origin.col + text if k == 0 else text
        else:
            # Computed at run time, or written with escaped newlines: every line
            # points at the literal (or the call) and clang shows the C text itself.
            file, line = (origin.file, origin.line) if origin else (loc.file, loc.line)
        if (file, line) != expect:
            out.append(f'#line {line} "{c_line_file(file)}"')
        files.add(file)
        out.append(text)
        where.append((SrcLoc(file, line), text))
        expect = (file, line + 1)
    return "\n".join(out), sorted(files), where


def _checked_code(obj, what: str) -> str:
    if not isinstance(obj.code, str):
        raise PolicyError(f"{what} code must be a str of C", obj.loc)
    if "\0" in obj.code:
        raise PolicyError(f"{what} code contains a NUL byte", obj.loc)
    if not obj.code.strip():
        raise PolicyError(f"{what} code is empty", obj.loc)
    return obj.code


def _refuse_directives(where: list[tuple[SrcLoc, str]], what: str) -> None:
    for loc, text in where:
        if text.lstrip().startswith("#"):
            raise PolicyError(f"{what} code may not contain preprocessor directives (#...): they would "
                              "change the generated C around it; use C constants, enums or inline functions", loc)


_FUNC_HEAD = re.compile(r"\b(\w+)\s*\([^;{}()]*(?:\([^;{}()]*\)[^;{}()]*)*\)\s*$")
_NOT_FUNCS = frozenset({"if", "for", "while", "switch", "return", "sizeof", "SEC", "__attribute__"})


def _user_functions(decls: list[list[tuple[SrcLoc, str]]]) -> dict[str, tuple[str, list[SrcLoc]]]:
    """C functions defined at file scope in RawDecl blocks: name -> (body text, loc per body line)."""
    out = {}
    for where in decls:
        lines = [t for _, t in where]
        text = "\n".join(lines)
        depth, start, name, body_start = 0, 0, None, 0
        for i, ch in enumerate(text):
            if ch == "{":
                if depth == 0:
                    # A `{` at file scope after `name(...)` opens a function body.
                    m = _FUNC_HEAD.search(text[start:i])
                    name = m.group(1) if m and m.group(1) not in _NOT_FUNCS else None
                    body_start = i
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    if name:
                        first, last = text.count("\n", 0, body_start), text.count("\n", 0, i)
                        out[name] = ("\n".join(lines[first:last + 1]), [loc for loc, _ in where][first:last + 1])
                    start = i + 1
            elif ch == ";" and depth == 0:
                start = i + 1
    return out


def _check_contexts(code_where, context: str, funcs, what: str) -> None:
    code = "\n".join(t for _, t in code_where)
    bodies = {n: b for n, (b, _) in funcs.items()}
    for fn, off, msg in kfuncs.violations(code, context, bodies):
        loc = funcs[fn][1][off] if fn is not None else code_where[off][0]
        raise PolicyError(f"in {what}: {msg}", loc)


def _refuse_missing_kfuncs(code_where) -> None:
    for off, msg in kfuncs.missing_somewhere("\n".join(t for _, t in code_where)):
        raise PolicyError(msg, code_where[off][0])


def _refuse_insert(m: RawSpec, code_where) -> None:
    """enqueue before/after: scxpy's part inserts the task; a second insert is a run-time error."""
    for loc, text in code_where:
        if any(re.search(rf"\b{name}\s*\(", text) for name in _INSERTS):
            raise PolicyError(f"RawC('enqueue', at={m.at!r}) inserts the task, but the generated enqueue "
                              "already does (a second insert is a run-time error); use at='instead' "
                              "to place tasks yourself", loc)


def build(raw_v, setting_loc: SrcLoc) -> RawPart:
    """Validate the policy's `raw` list (RawC, RawDecl, RawTimer) into a RawPart."""
    if not isinstance(raw_v, (list, tuple)):
        raise PolicyError("raw must be a list of RawC(...), RawDecl(...) and RawTimer(...)", setting_loc)
    part = RawPart()
    decl_where, hooks_where, timers_where = [], [], []
    seen: dict[str, SrcLoc] = {}
    for r in raw_v:
        if isinstance(r, dsl.RawDecl):
            code = _checked_code(r, "RawDecl")
            body, files, where = _c_with_lines(code, r.loc)
            _refuse_directives(where, "RawDecl")
            part.decls.append(RawSpec("decl", "", "", "", body, files, r.loc))
            decl_where.append(where)
        elif isinstance(r, dsl.RawTimer):
            code = _checked_code(r, "RawTimer")
            name = r.name
            if not isinstance(name, str) or not name.isidentifier() or not name.isascii():
                raise PolicyError(f"RawTimer name {name!r}: use a C identifier (letters, digits, _)", r.loc)
            if name in {t.name for t in part.timers}:
                raise PolicyError(f"two RawTimers named {name!r}", r.loc)
            every = r.every.const_value() if hasattr(r.every, "const_value") else None
            if getattr(r.every, "type", None) is not dsl.DURATION or not every or every < 100_000:
                raise PolicyError("RawTimer every= must be a constant duration of at least 100 * us, "
                                  "e.g. every=1 * ms", r.loc)
            body, files, where = _c_with_lines(code, r.loc)
            _refuse_directives(where, "RawTimer")
            t = TimerSpec(name, int(every), RawSpec("timer", "", "void", "", body, files, r.loc))
            part.timers.append(t)
            timers_where.append((t, where))
        elif isinstance(r, dsl.RawC):
            cb = r.callback
            if cb not in CALLBACKS:
                raise PolicyError(f"RawC callback {cb!r}: choose one of {', '.join(CALLBACKS)}", r.loc)
            if cb in seen:
                raise PolicyError(f"two RawC blocks for {cb} (the other at line {seen[cb].line}); merge them", r.loc)
            seen[cb] = r.loc
            at = r.at if r.at is not None else default_at(cb)
            if at not in POSITIONS:
                raise PolicyError(f"RawC at={at!r}: choose one of {', '.join(POSITIONS)}", r.loc)
            spec = CALLBACKS[cb]
            if at == "instead" and spec.no_instead:
                raise PolicyError(f"RawC({cb!r}) cannot replace scxpy's {cb}: what it does there is needed "
                                  "(DSQs, task storage, exit info); use at='before' or at='after'", r.loc)
            if at == "after" and spec.no_after:
                raise PolicyError(f"RawC({cb!r}, at='after') is not offered: the generated {cb} decides "
                                  "the result; use at='before' (return a CPU to decide) or at='instead'", r.loc)
            code = _checked_code(r, f"RawC({cb!r})")
            body, files, where = _c_with_lines(code, r.loc)
            _refuse_directives(where, f"RawC({cb!r})")
            m = RawSpec(cb, at, spec.ret, spec.params, body, files, r.loc, fallthrough_return(cb, at))
            part.hooks.append(m)
            hooks_where.append((m, where))
        else:
            raise PolicyError(f"raw entries must be RawC(...), RawDecl(...) or RawTimer(...), "
                              f"got {type(r).__name__}", setting_loc)

    for where in decl_where + [w for _, w in hooks_where] + [w for _, w in timers_where]:
        _refuse_missing_kfuncs(where)
    funcs = _user_functions(decl_where)
    for where in decl_where:
        for name, loc in _declared_names(where).items():
            part.decl_names.setdefault(name, loc)
    for m, where in hooks_where:
        _check_contexts(where, m.callback, funcs, f"RawC({m.callback!r})")
        if m.callback == "enqueue" and m.at != "instead":
            _refuse_insert(m, where)
    for t, where in timers_where:
        _check_contexts(where, "timer", funcs, f"RawTimer({t.name!r})")
    return part


# -- names declared at file scope ------------------------------------------------

_TOKEN = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|[A-Za-z_]\w*|\S', re.S)
# Identifiers at file scope that are not the name being declared.
_NOT_NAMES = frozenset({"SEC", "__attribute__", "__uint", "__type", "__array", "__always_inline", "__weak",
                        "__ksym", "static", "const", "volatile", "struct", "union", "enum", "extern",
                        "inline", "private", "__hidden", "unsigned", "signed"})


def _file_scope(text: str):
    """(token, line index) of the C tokens outside braces, parentheses and brackets, each `(`, `[`, `=`,
    `;`, `,`, `[` at that level included; comments, strings and directives skipped."""
    braces = parens = 0
    # Block comments may span lines: blank them out, keeping the line count.
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group().count("\n"), text, flags=re.S)
    for lineno, line in enumerate(text.split("\n")):
        if line.lstrip().startswith("#"):
            continue
        for m in _TOKEN.finditer(line):
            tok = m.group()
            if tok.startswith(("/*", "//", '"', "'")):
                continue
            if tok == "{":
                braces += 1
            elif tok == "}":
                braces -= 1
            elif braces == 0 and tok in ("(", "["):
                if parens == 0:
                    yield tok, lineno
                parens += 1
            elif braces == 0 and tok in (")", "]"):
                parens -= 1
            elif braces == 0 and parens == 0:
                yield tok, lineno


def _declared_names(where: list[tuple[SrcLoc, str]]) -> dict[str, SrcLoc]:
    """What one RawDecl block declares at file scope (variables, maps, functions), each
    with the policy line it is declared at."""
    out: dict[str, SrcLoc] = {}
    last, in_init = None, False
    for tok, k in _file_scope("\n".join(t for _, t in where)):
        if tok[0].isalpha() or tok[0] == "_":
            if not in_init and tok not in _NOT_NAMES:
                last = (tok, k)
        elif tok in ("(", "[") and last and not in_init:
            out.setdefault(last[0], where[last[1]][0])
        elif tok in ("=", ";", ","):
            if last and not in_init:
                out.setdefault(last[0], where[last[1]][0])
            in_init = tok == "="
            last = None if tok != "=" else last
    return out


def generated_names(c_text: str, name: str) -> set[str]:
    """Identifiers at file scope of scxpy's own part of a rendered policy (its globals,
    functions, maps, macros); the raw blocks (between a #line naming a policy file
    and the #line back to <name>.bpf.c) are left out."""
    own = f'"{c_line_file(name)}.bpf.c"'
    kept, in_raw = [], False
    for line in c_text.split("\n"):
        if line.startswith("#line "):
            in_raw = not line.endswith(own)
            continue
        if in_raw:
            continue
        m = re.match(r"\s*#\s*define\s+(\w+)", line)
        if m:
            kept.append(f"{m.group(1)};")
        kept.append(line)
    return {tok for tok, _ in _file_scope("\n".join(kept)) if tok[0].isalpha() or tok[0] == "_"}


def check_decl_clashes(c_text: str, part: RawPart, name: str) -> None:
    """A RawDecl name that scxpy's C defines too is refused: C takes `u64 x;` twice as one
    tentative definition, so the two would silently share one variable."""
    if not part.decl_names:
        return
    ours = generated_names(c_text, name)
    for decl, loc in part.decl_names.items():
        if decl in ours:
            tunable = f" (it holds the tunable {decl[4:]!r})" if decl.startswith("tun_") else ""
            raise PolicyError(f"RawDecl declares {decl!r}, a name scxpy's generated C already "
                              f"defines{tunable}; C would merge or clash the two. Rename yours "
                              f"(e.g. my_{decl}), or use scxpy's where it is what you mean", loc)


LINE_RESTORE = "#line __SCXPY_LINE__"


def restore_lines(c_text: str, name: str) -> str:
    """Point the lines after each raw block back at the generated file itself
    (templates mark the spot with LINE_RESTORE), so diagnostics and BTF line info
    for generated code name `<name>.bpf.c`, not the policy."""
    if LINE_RESTORE not in c_text:
        return c_text
    lines = c_text.split("\n")
    for i, line in enumerate(lines):
        if line == LINE_RESTORE:
            lines[i] = f'#line {i + 2} "{c_line_file(name)}.bpf.c"'
    return "\n".join(lines)
