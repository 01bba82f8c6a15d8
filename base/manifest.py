"""The manifest: what the runtime and the CLI need to know about a compiled policy.

codegen writes it (beside the object, in the same cache entry and under
the same key); the runtime, `scxpy run` and `bench/` read it. It is
typed and frozen, and it carries its format version: a manifest written
by another version is refused with a message that says to recompile,
never half-read.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from scxpy.base.errors import ScxpyError

# Bump on any change of the fields below (added, removed, renamed, retyped).
# 1 was the untyped dict (no "version" key); 2 kept counters in a per-CPU array map.
VERSION = 3
# The global that generated code fills in ops.exit() (runtime/include/scxpy/exit_info.h
# describes its layout); an object without a manifest is read with this name too.
EXIT_SYMBOL = "scxpy_exit"


def path_for(obj_path: str | os.PathLike) -> str:
    """Where the manifest of an object lives: NAME.bpf.o (or NAME.o) -> NAME.json."""
    p = os.fspath(obj_path)
    return (p[: -len(".bpf.o")] if p.endswith(".bpf.o") else os.path.splitext(p)[0]) + ".json"


class ManifestError(ScxpyError):
    """A manifest that cannot be used: unreadable, malformed, or from another version."""


@dataclass(frozen=True)
class Tunable:
    """A knob of the policy, set by name (`--set NAME=VALUE`, Scheduler.set)."""

    name: str
    symbol: str  # the BPF global that holds it
    default: int
    min: int | None
    max: int | None
    live: bool  # changeable while attached (.bss/.data); else set before load only (.rodata)
    unit: str | None  # "ns" for durations
    doc: str

    def describe(self) -> str:
        """One line for a user choosing a value: name, default, range, whether live, doc."""
        unit = f" {self.unit}" if self.unit else ""
        rng = "" if self.min is None and self.max is None else \
            f", {'' if self.min is None else self.min}..{'' if self.max is None else self.max}{unit}"
        when = "live" if self.live else "before load"
        return f"{self.name} (default {self.default}{unit}{rng}; {when})" + (f": {self.doc}" if self.doc else "")


@dataclass(frozen=True)
class Stats:
    """Where the policy's counters are: the global `symbol`, an array of one row
    per CPU, `row_bytes` apart; the i-th u64 of each row counts names[i]. The
    total of a counter is the sum over the rows."""

    symbol: str
    names: tuple[str, ...] = ()
    row_bytes: int = 64


@dataclass(frozen=True)
class ConfigItem:
    """A .rodata global the loader fills from the machine's topology before load."""

    symbol: str
    source: str  # a fact runtime/topology.py knows: nr_cpus, nr_llcs, llc_of_cpu


@dataclass(frozen=True)
class Manifest:
    name: str  # sched_ext_ops.name: what /sys/kernel/sched_ext/root/ops shows
    description: str  # the docstring's first line
    source: str  # absolute path of the policy file ("" if none)
    tunables: tuple[Tunable, ...] = ()
    stats: Stats | None = None
    config: tuple[ConfigItem, ...] = ()
    exit_symbol: str = EXIT_SYMBOL
    # What the policy's cgroup shares honour ("weight", "idle", "bandwidth"; empty: it
    # does not schedule by cgroup): the runtime checks the kernel supports each.
    cgroup: tuple[str, ...] = ()
    version: int = field(default=VERSION)

    def tunable(self, name: str) -> Tunable | None:
        """The tunable called `name`, or whose BPF symbol is `name`."""
        return next((t for t in self.tunables if name in (t.name, t.symbol)), None)

    # --- JSON ----------------------------------------------------------------

    def to_dict(self) -> dict:
        d = asdict(self)
        if not d["cgroup"]:
            del d["cgroup"]  # optional: manifests of policies without cgroup shares stay as they were
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, d: dict, origin: str = "the manifest") -> Manifest:
        if not isinstance(d, dict):
            raise ManifestError(f"{origin} is not a JSON object; recompile the policy (`scxpy compile POLICY -o OUT`)")
        version = d.get("version", 1)
        if version != VERSION:
            raise ManifestError(
                f"{origin} is manifest version {version}, but this scxpy reads version {VERSION}: "
                "it was written by another scxpy. Recompile the policy with this one "
                "(`scxpy compile POLICY -o OUT.bpf.o` writes OUT.json beside the object)."
            )
        try:
            stats = d.get("stats")
            return cls(
                name=d["name"], description=d["description"], source=d["source"],
                tunables=tuple(Tunable(**t) for t in d["tunables"]),
                stats=Stats(stats["symbol"], tuple(stats["names"]), stats["row_bytes"]) if stats else None,
                config=tuple(ConfigItem(**c) for c in d["config"]),
                exit_symbol=d["exit_symbol"], version=version,
                cgroup=tuple(str(f) for f in d.get("cgroup", ())),
            )
        except (KeyError, TypeError) as e:
            raise ManifestError(f"{origin} is malformed ({type(e).__name__}: {e}); "
                                "recompile the policy (`scxpy compile POLICY -o OUT.bpf.o`)") from None

    @classmethod
    def from_json(cls, text: str, origin: str = "the manifest") -> Manifest:
        try:
            d = json.loads(text)
        except ValueError as e:
            raise ManifestError(f"{origin} is not valid JSON ({e}); "
                                "recompile the policy (`scxpy compile POLICY -o OUT.bpf.o`)") from None
        return cls.from_dict(d, origin)

    @classmethod
    def read(cls, path: str | os.PathLike) -> Manifest:
        try:
            text = Path(path).read_text()
        except OSError as e:
            raise ManifestError(f"cannot read manifest {path}: {e.strerror or e}") from None
        return cls.from_json(text, f"manifest {path}")

    def write(self, path: str | os.PathLike) -> None:
        Path(path).write_text(self.to_json())
