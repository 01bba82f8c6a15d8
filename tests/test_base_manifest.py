"""base.manifest: the typed manifest round-trips, and refuses another version with a clear fix."""

import json

import pytest

from scxpy.base.manifest import VERSION, ConfigItem, Manifest, ManifestError, Stats, Tunable

M = Manifest(
    name="demo", description="a demo", source="/p/demo.py",
    tunables=(Tunable("slice", "tun_slice", 5_000_000, 100_000, None, True, "ns", "time slice"),
              Tunable("depth", "tun_depth", 4, None, None, False, None, "")),
    stats=Stats("scxpy_stats", ("rule.a.enqueued",), row_bytes=64),
    config=(ConfigItem("scxpy_nr_cpus", "nr_cpus"),),
)


def test_round_trip_through_json(tmp_path):
    path = tmp_path / "demo.json"
    M.write(path)
    assert Manifest.read(path) == M
    d = json.loads(path.read_text())
    assert d["version"] == VERSION
    assert "struct_ops" not in d  # nobody reads it


def test_lookup_by_name_or_symbol_and_description():
    assert M.tunable("slice") is M.tunable("tun_slice") is M.tunables[0]
    assert M.tunable("nope") is None
    assert M.tunables[0].describe() == "slice (default 5000000 ns, 100000.. ns; live): time slice"
    assert M.tunables[1].describe() == "depth (default 4; before load)"


def test_another_version_is_refused_naming_both_and_the_fix():
    old = {k: v for k, v in M.to_dict().items() if k != "version"}  # version 1 had no key
    with pytest.raises(ManifestError) as e:
        Manifest.from_dict(old, "manifest x.json")
    msg = str(e.value)
    assert "manifest x.json is manifest version 1" in msg and f"reads version {VERSION}" in msg
    assert "Recompile" in msg and "scxpy compile" in msg
    with pytest.raises(ManifestError, match=f"version {VERSION + 1}, but this scxpy reads version {VERSION}"):
        Manifest.from_dict({**M.to_dict(), "version": VERSION + 1})


def test_malformed_and_unreadable(tmp_path):
    with pytest.raises(ManifestError, match="malformed.*recompile"):
        Manifest.from_dict({"version": VERSION, "name": "x"})
    with pytest.raises(ManifestError, match="not valid JSON"):
        Manifest.from_json("{", "m.json")
    with pytest.raises(ManifestError, match="cannot read manifest"):
        Manifest.read(tmp_path / "none.json")
    with pytest.raises(ManifestError, match="not a JSON object"):
        Manifest.from_json("[]")


def test_the_manifest_sits_beside_its_object():
    from scxpy.base.manifest import path_for

    assert path_for("/c/k/fifo.bpf.o") == "/c/k/fifo.json"
    assert path_for("out/mine.o") == "out/mine.json"
