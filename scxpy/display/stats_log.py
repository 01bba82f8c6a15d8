"""Each interval's counters: read, printed as a table, written as a JSON line, kept.

`scxpy run --stats/--stats-json/--plot` drives one StatsLog per attached
scheduler, on the host or in the guest.
"""

from __future__ import annotations

import json
import sys

from scxpy.runtime.counters import Sample, interval_record
from scxpy.display.table import render_table


class StatsLog:
    """Reads counters each interval: prints the rates table, appends a JSON line, keeps the records.

    `read()` returns {name: total}; `table_width` None prints no table. `notes`: what
    the kernel keeps the policy from honouring (Scheduler.notices), shown with every table
    and kept in every record, so that figures are never read without them.
    """

    def __init__(self, name: str, read, *, table_width: int | None = None, json_path=None, out=None,
                 notes=()):
        self.name = name
        self.read = read
        self.table_width = table_width
        self.out = out or sys.stdout
        self.json_file = open(json_path, "w") if json_path else None
        self.records: list[dict] = []
        self.notes = list(notes)
        self.first = self.last = Sample(read())
        self.start = self.first.t

    def _record(self, now: Sample) -> dict:
        """The interval since the previous sample, written as a JSON line."""
        rec = interval_record(self.name, now, self.last, self.start)
        if self.notes:
            rec["notes"] = self.notes
        if self.json_file:
            self.json_file.write(json.dumps(rec) + "\n")
            self.json_file.flush()
        return rec

    def tick(self) -> dict:
        now = Sample(self.read())
        rec = self._record(now)
        self.last = now
        self.records.append(rec)
        if self.table_width:
            self.out.write(render_table(rec["rates"], f"{self.name}  {rec['elapsed_s']:.0f} s  (per second)",
                                        self.table_width))
            self.out.write("".join(f"  note: {n}\n" for n in self.notes))
            self.out.flush()
        return rec

    def finish(self) -> None:
        """Totals since attach (printed when there is a table); the JSON file gets a last record
        for the part interval since the previous one, so its totals are the run's, and closes."""
        now = Sample(self.read())
        if self.table_width:
            self.out.write(render_table(now.totals, f"{self.name}  totals after {now.t - self.start:.0f} s",
                                        self.table_width))
            self.out.flush()
        if self.json_file:
            self._record(now)
            self.json_file.close()
            self.json_file = None
