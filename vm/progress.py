"""Progress lines for long operations (kernel build, boot, benchmarks).

A line per phase; counts update in place on a terminal and are printed
every 10% otherwise (CI logs stay short but never silent).
"""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, label: str, enabled: bool = True, stream=None):
        self.label = label
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_decile = -1
        self._last_draw = 0.0
        self._live = False

    def phase(self, text: str) -> None:
        self.done_counting()
        self._write(f"[{self.label}] {text}\n")

    def note(self, text: str) -> None:
        if self._tty:
            return  # the live count line already shows activity
        self._write(f"[{self.label}]   {text}\n")

    def count(self, n: int, total: int, unit: str) -> None:
        if not self.enabled:
            return
        pct = min(100, int(100 * n / total)) if total else 0
        if self._tty:
            now = time.monotonic()
            if now - self._last_draw > 0.2:
                self._last_draw = now
                self.stream.write(f"\r[{self.label}]   {n}/{total} {unit} ({pct}%)\x1b[K")
                self.stream.flush()
                self._live = True
        elif pct // 10 != self._last_decile:
            self._last_decile = pct // 10
            self._write(f"[{self.label}]   {n}/~{total} {unit} ({pct}%)\n")

    def done_counting(self) -> None:
        if self._live:
            self.stream.write("\n")
            self._live = False
        self._last_decile = -1

    def _write(self, text: str) -> None:
        if self.enabled:
            self.stream.write(text)
            self.stream.flush()
