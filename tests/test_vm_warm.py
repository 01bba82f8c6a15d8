"""vm.warm's channel, pure: marked lines are replies or events, anything else is the
guest's own output (the boot, the agent and its reply round trips: tests/test_dev_boot.py)."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

from scxpy.vm.warm import MARK, WarmGuest


def test_marked_lines_are_replies_events_go_aside_the_rest_is_output(capsys):
    g = WarmGuest(["agent"])
    events = []
    g.on_event = events.append
    stream = "".join([
        "guest says hello\n",
        MARK + json.dumps({"ready": True}) + "\n",
        MARK + json.dumps({"event": "interval", "record": {"t": 1}}) + "\n",
        "partial line then " + MARK + json.dumps({"ok": True, "n": 2}) + "\n",
        MARK + "{not json\n",
    ])
    g._read_stdout(SimpleNamespace(stdout=io.BytesIO(stream.encode())))
    replies = [g._replies.get_nowait() for _ in range(g._replies.qsize())]
    assert replies == [{"ready": True}, {"ok": True, "n": 2}, None]  # None: the channel closed
    assert events == [{"event": "interval", "record": {"t": 1}}]
    out = capsys.readouterr().out
    assert "guest says hello" in out and "partial line then" in out and "{not json" in out
    assert out.count(MARK) == 1  # only the line that is not JSON passes through


def test_a_closed_guest_is_closed_once():
    g = WarmGuest(["agent"])
    assert g.close() is None and not g.alive  # never started: nothing to stop
