"""Plain-words rendering of model values for the generated file's comments and
the CLI: durations ("5 ms") and CPU sets ("0-3,8")."""

from __future__ import annotations


def fmt_ns(ns: int) -> str:
    for unit, div in (("s", 10**9), ("ms", 10**6), ("us", 10**3)):
        if ns % div == 0:
            return f"{ns // div} {unit}"
    return f"{ns} ns"


def fmt_cpus(words: list[int]) -> str:
    cpus = [w * 64 + b for w, word in enumerate(words) for b in range(64) if word >> b & 1]
    out, i = [], 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
            j += 1
        out.append(str(cpus[i]) if i == j else f"{cpus[i]}-{cpus[j]}")
        i = j + 1
    return ",".join(out)
