"""The search space: which tunables a tune varies, and over which range.

By default every live tunable of the policy, over its own min..max. A
range that spans more than a decade is searched on a log scale: a slice
of 50 us and one of 100 ms are both plausible, and a linear search would
spend nearly all its trials above 10 ms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scxpy.tune.errors import TuneError

_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}


@dataclass(frozen=True)
class Param:
    """One tunable searched over lo..hi (integers, in the tunable's unit: ns for durations)."""

    name: str
    lo: int
    hi: int
    default: int
    log: bool
    unit: str | None = None


def parse_value(text: str, unit: str | None) -> int:
    """An integer, or for a duration tunable a number with a unit: 500us, 2ms, 1.5ms."""
    text = text.strip()
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*(ns|us|ms|s)?", text)
    if not m:
        raise TuneError(f"{text!r} is not a number; write e.g. 500, or for durations 500us, 2ms")
    number, suffix = m.groups()
    if suffix and unit != "ns":
        raise TuneError(f"{text!r} has a time unit, but the tunable is not a duration; give a plain number")
    value = float(number) * _UNITS.get(suffix or "ns", 1)
    if value != int(value):
        raise TuneError(f"{text!r} is not a whole number of {'ns' if unit == 'ns' else 'units'}")
    return int(value)


def _use_log(lo: int, hi: int) -> bool:
    return lo > 0 and hi / lo > 10


def build(tunables, params: list[str] | None, *, rebuild: bool = False) -> list[Param]:
    """The space for `tunables` (a manifest's) from `--param NAME=LO..HI` texts.

    Errors (each before any guest boots): an unknown tunable, a range
    outside the tunable's own min..max or empty, a tunable that is not
    live without `rebuild`, no tunable to search at all.
    """
    by_name = {t.name: t for t in tunables}
    names = ", ".join(f"{t.name} ({'live' if t.live else 'before load'})" for t in tunables) or "none"
    chosen: dict[str, tuple[int | None, int | None]] = {}
    for text in params or []:
        name, _, rng = text.partition("=")
        name = name.strip()
        if name not in by_name:
            raise TuneError(f"--param {text!r}: the policy has no tunable {name!r}; its tunables: {names}")
        if ".." not in rng:
            raise TuneError(f"--param {text!r} is not NAME=LO..HI; write e.g. --param {name}=100us..5ms")
        t = by_name[name]
        lo_text, hi_text = rng.split("..", 1)
        lo, hi = parse_value(lo_text, t.unit), parse_value(hi_text, t.unit)
        if lo >= hi:
            raise TuneError(f"--param {text!r}: the range is empty (LO must be below HI)")
        if (t.min is not None and lo < t.min) or (t.max is not None and hi > t.max):
            raise TuneError(f"--param {text!r} goes outside {name}'s own range {t.min}..{t.max}"
                            f"{' ' + t.unit if t.unit else ''}; narrow it to fit")
        chosen[name] = (lo, hi)
    if not chosen:
        chosen = {t.name: (t.min, t.max) for t in tunables if t.live or rebuild}
        if not chosen:
            hint = ("it has tunables only set before load: pass --rebuild to reload the policy each trial"
                    if tunables else "add `NAME = Tunable(default, min=..., max=..., live=True)` to it")
            raise TuneError(f"the policy has no live tunable to search; {hint}")
    space = []
    for name, (lo, hi) in chosen.items():
        t = by_name[name]
        if not t.live and not rebuild:
            raise TuneError(f"tunable {name!r} is not live (it is set before load): pass --rebuild to reload "
                            "the policy with each trial's values, or leave it out of --param")
        if lo is None or hi is None:
            raise TuneError(f"tunable {name!r} has no {'min' if lo is None else 'max'} to search up to; "
                            f"give its range: --param {name}=LO..HI")
        if isinstance(t.default, bool):
            raise TuneError(f"tunable {name!r} is a bool; the tuner searches integer and duration tunables")
        space.append(Param(name, int(lo), int(hi), int(t.default), _use_log(lo, hi), t.unit))
    return space


def suggest(trial, space: list[Param]) -> dict[str, int]:
    """The trial's values, drawn by optuna's sampler."""
    return {p.name: trial.suggest_int(p.name, p.lo, p.hi, log=p.log) for p in space}


def distributions(space: list[Param]) -> dict:
    import optuna

    return {p.name: optuna.distributions.IntDistribution(p.lo, p.hi, log=p.log) for p in space}
