"""base.cache.Cache: keys, the atomic group write, the builders' lock, stale staging."""

import subprocess
import sys
import threading
import time

import pytest

from scxpy.base.cache import Cache, digest


def test_key_covers_every_part_and_the_kind(tmp_path):
    c = Cache("objects", root=tmp_path)
    assert c.key("a", "b") == c.key("a", "b")
    assert c.key("a", "b") != c.key("ab", "")  # parts are length-prefixed
    assert c.key("a", b"b") == c.key("a", "b")
    assert Cache("peers", root=tmp_path).key("a", "b") != c.key("a", "b")
    assert digest("x") != digest("x", "")


def test_group_is_published_whole_on_success(tmp_path):
    c = Cache("objects", root=tmp_path)
    key = c.key("one")
    assert c.get(key, "a.o") is None
    with c.writing(key) as stage:
        (stage / "a.o").write_text("obj")
        assert c.get(key) is None  # nothing visible before the end
        (stage / "a.json").write_text("{}")
    d = c.get(key, "a.o", "a.json")
    assert d == tmp_path / "objects" / key
    assert (d / "a.o").read_text() == "obj"
    assert oct(d.stat().st_mode & 0o777) == "0o755"
    assert [p.name for p in c.dir.iterdir()] == [key]  # no staging left


def test_failed_build_publishes_nothing(tmp_path):
    c = Cache("objects", root=tmp_path)
    key = c.key("two")
    with pytest.raises(RuntimeError):
        with c.writing(key) as stage:
            (stage / "a.o").write_text("half")
            raise RuntimeError("clang failed")
    assert c.get(key) is None
    assert list(c.dir.iterdir()) == []


def test_lost_race_keeps_the_first_entry(tmp_path):
    c = Cache("objects", root=tmp_path)
    key = c.key("three")
    with c.writing(key) as s1:
        (s1 / "f").write_text("first")
        with c.writing(key) as s2:
            (s2 / "f").write_text("second")
    assert (c.get(key, "f") / "f").read_text() == "second"  # the inner writer finished first
    assert len(list(c.dir.iterdir())) == 1


def test_required_files_decide_a_hit(tmp_path):
    c = Cache("kernels", root=tmp_path)
    (c.dir / "k").mkdir(parents=True)
    assert c.get("k") == c.dir / "k"
    assert c.get("k", "bzImage") is None
    with pytest.raises(ValueError):
        c.path("../escape")


def test_get_or_build_builds_once_and_waiters_take_the_winners_entry(tmp_path):
    c = Cache("peers", root=tmp_path)
    key = c.key("peer")
    builds, waited = [], []

    def build(stage):
        builds.append(1)
        time.sleep(0.3)
        (stage / "bin").write_text("x")

    results = []
    threads = [threading.Thread(target=lambda: results.append(
        c.get_or_build(key, build, "bin", lock=True, on_wait=lambda: waited.append(1))))
        for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1
    assert len(waited) >= 1
    assert sorted(hit for _, hit in results) == [False, True, True]
    assert {d for d, _ in results} == {c.path(key)}


def test_stale_staging_of_a_dead_builder_is_removed(tmp_path):
    c = Cache("objects", root=tmp_path)
    # A child process starts a write and is killed before it publishes.
    code = ("import os\nfrom base.cache import Cache\n"
            f"c = Cache('objects', root={str(tmp_path)!r})\n"
            "with c.writing('k') as s:\n    (s / 'f').write_text('x'); os._exit(9)\n")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 9
    assert any(p.name.startswith(".stage-") for p in c.dir.iterdir())
    with c.writing("other") as s:
        (s / "f").write_text("y")
    assert sorted(p.name for p in c.dir.iterdir()) == ["other"]


def test_atomic_write_replaces_whole_and_leaves_no_temp(tmp_path):
    from scxpy.base.cache import atomic_write

    target = tmp_path / "d" / "out.json"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]
