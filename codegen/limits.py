"""Limits shared by the model (Python) and the generated C, each defined once.

Those the C headers need are `#define SCXPY_<NAME> <number>` lines in
include/scxpy/common.bpf.h, read from there; those only the templates
need are defined here and rendered into the C.
"""

from __future__ import annotations

import re
from pathlib import Path

from scxpy.base.manifest import EXIT_SYMBOL  # noqa: F401 (the global ops.exit fills; the runtime reads it)


HEADER = Path(__file__).resolve().parent / "include" / "scxpy" / "common.bpf.h"
_DEFINE = re.compile(r"^#define SCXPY_(?P<name>\w+)\s+(?P<value>\d+)(?:U?LL|U)?\b", re.M)


def _header_defines() -> dict[str, int]:
    return {m.group("name"): int(m.group("value")) for m in _DEFINE.finditer(HEADER.read_text())}


_H = _header_defines()
MAX_CPUS = _H["MAX_CPUS"]  # CPU ids the generated code handles (bitmaps, per-CPU queues)
# Constant slices are checked against these; computed ones are clamped to them in C.
SLICE_MIN_NS = _H["SLICE_MIN_NS"]  # below this, scheduling overhead dominates (CFS' minimum base slice)
SLICE_MAX_NS = _H["SLICE_MAX_NS"]  # longer slices would defeat the 30 s watchdog

# A vtime weight (100 = nice 0, as p->scx.weight): constants are checked, computed ones clamped.
WEIGHT_MIN = 1
WEIGHT_MAX = 10_000
