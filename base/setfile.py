"""Tunable values kept in a file: what `scxpy tune` writes (best.toml) and `--set-file` reads.

    policy = "deadline"          # what it was tuned for (informational)
    [set]
    crit_wakeups = 37
    min_run = 800000             # integers in the tunable's unit (ns for durations), or "800us"

Only the [set] table is applied; everything else (comments, policy,
workload) says where the values came from.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from scxpy.base.errors import ScxpyError


class SetFileError(ScxpyError):
    """A --set-file that cannot be read or holds no usable [set] table."""


def read(path: str | Path) -> dict[str, int | bool | str]:
    """The file's [set] table: tunable name -> value (int, bool, or a string such as "5ms")."""
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text())
    except OSError as e:
        raise SetFileError(f"--set-file {p}: cannot read it ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise SetFileError(f"--set-file {p} is not valid TOML ({e}); it should hold a [set] table "
                           "of NAME = VALUE lines, as `scxpy tune` writes best.toml") from None
    table = doc.get("set")
    if not isinstance(table, dict) or not table:
        raise SetFileError(f"--set-file {p} has no [set] table of NAME = VALUE lines (as `scxpy tune` writes "
                           "best.toml)")
    for name, value in table.items():
        if not isinstance(value, (int, bool, str)) or isinstance(value, float):
            raise SetFileError(f"--set-file {p}: {name} = {value!r} is not an integer, a boolean or a "
                               "duration string such as \"5ms\"")
    return dict(table)


def as_set_items(path: str | Path) -> list[str]:
    """The file's values as `--set NAME=VALUE` texts, for commands that take those."""
    out = []
    for name, value in read(path).items():
        text = ("1" if value else "0") if isinstance(value, bool) else str(value)
        out.append(f"{name}={text}")
    return out
