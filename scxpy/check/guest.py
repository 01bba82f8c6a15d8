"""Guest side of `scxpy check`: run the named probes once, under whatever is attached.

    python -m scxpy.check.guest '{"checks": ["weight_fairness", ...], "duration": 3, "warmup": 0.5,
                                  "args": {"weight_fairness": {"nices": [-5, 0, 5]}}}'

Prints one line, RESULT_MARK followed by a JSON object {check: figures}
(a probe that could not measure gives {"error": TEXT}). The host side
(runner.py) starts it through the agent's run request.
"""

from __future__ import annotations

import json
import sys
import time

RESULT_MARK = "scxpy-check-result "


def measure(checks: list[str], duration: float, warmup: float, args: dict | None = None) -> dict:
    from scxpy.check.probes import PROBES

    out = {}
    for name in checks:
        t0 = time.monotonic()
        print(f"scxpy check: measuring {name}", file=sys.stderr, flush=True)
        try:
            out[name] = PROBES[name](duration, warmup, **(args or {}).get(name, {}))
        except Exception as e:  # one probe's failure must not lose the others
            out[name] = {"error": f"{type(e).__name__}: {e}"}
        out[name]["elapsed_s"] = round(time.monotonic() - t0, 2)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    req = json.loads(argv[0])
    result = measure(req["checks"], float(req.get("duration", 3.0)), float(req.get("warmup", 0.5)),
                     req.get("args"))
    print(RESULT_MARK + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
