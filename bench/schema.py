"""The shape of results.json, checked in code (no jsonschema dependency).

`problems(results)` lists what is missing or inconsistent; the host
checks its own output with it before writing, and tests use it too.
"""

from __future__ import annotations

import math

TOP_LEVEL = {
    "schema": int, "created": str, "environment": dict, "relative_only": bool, "baseline": str,
    "rounds": int, "warmup": int, "long": bool, "contenders": list, "workloads": list,
    "samples": list, "summary": dict, "costs": dict, "failures": list, "finished": bool,
}
ENVIRONMENT = {"accelerator": str, "cpus": int, "kernel_release": str, "host": dict, "guest": dict, "scxpy": dict}
CONTENDER = {"name": str, "kind": str, "description": str}
SAMPLE = {"workload": str, "contender": str, "round": int, "warmup": bool, "metrics": dict, "wall_s": float,
          "commands": list}
SUMMARY_ENTRY = ("n", "median", "q1", "q3", "min", "max", "iqr", "ratio", "paired", "better")


def _check(d: dict, spec: dict, where: str, out: list[str]) -> None:
    for key, typ in spec.items():
        if key not in d:
            out.append(f"{where}: missing {key!r}")
        elif typ is float and isinstance(d[key], int) and not isinstance(d[key], bool):
            continue
        elif not isinstance(d[key], typ):
            out.append(f"{where}.{key}: {type(d[key]).__name__}, expected {typ.__name__}")


def problems(results: dict) -> list[str]:
    out: list[str] = []
    _check(results, TOP_LEVEL, "results", out)
    if out:
        return out
    _check(results["environment"], ENVIRONMENT, "environment", out)
    names = [c.get("name") for c in results["contenders"]]
    if results["baseline"] not in names:
        out.append(f"baseline {results['baseline']!r} is not among the contenders")
    for i, c in enumerate(results["contenders"]):
        _check(c, CONTENDER, f"contenders[{i}]", out)
        if c.get("kind") != "fair" and not c.get("hash"):
            out.append(f"contenders[{i}] ({c.get('name')}): no hash of what ran")
    for i, s in enumerate(results["samples"]):
        _check(s, SAMPLE, f"samples[{i}]", out)
        if s.get("contender") not in names:
            out.append(f"samples[{i}]: unknown contender {s.get('contender')!r}")
    wnames = [w["name"] for w in results["workloads"]]
    for w in results["workloads"]:
        wsum = results["summary"].get(w["name"])
        if wsum is None:
            out.append(f"summary: no entry for workload {w['name']!r}")
            continue
        for m in w["metrics"]:
            for c, e in wsum.get(m["key"], {}).items():
                for k in SUMMARY_ENTRY:
                    if k not in e:
                        out.append(f"summary.{w['name']}.{m['key']}.{c}: missing {k!r}")
                r = e.get("ratio")
                if r is not None and not (isinstance(r, float) and (math.isfinite(r) or math.isinf(r))):
                    out.append(f"summary.{w['name']}.{m['key']}.{c}: ratio {r!r} is not a number")
    for s in results["samples"]:
        if s.get("workload") not in wnames:
            out.append(f"sample of unknown workload {s.get('workload')!r}")
    return out
