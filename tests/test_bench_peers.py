"""bench.peers: naming and the cache key of the kernel's example schedulers (no build here)."""

from pathlib import Path
from types import SimpleNamespace

import pytest


from scxpy.bench import peers  # noqa: E402


def test_peer_names():
    assert peers.is_peer("peer:scx_simple") and not peers.is_peer("fifo")
    s = peers.spec("peer:scx_simple-f")
    assert (s.binary, s.args, s.ops_name) == ("scx_simple", ("-f",), "simple")
    assert peers.spec("peer:scx_qmap").ops_name == "qmap"
    binary, args = peers.binary(Path("/c"), "peer:scx_simple-f")
    assert binary == Path("/c/scx_simple") and args == ("-f",)


def test_unknown_peer_lists_the_known_ones():
    with pytest.raises(peers.PeerError, match="peer:scx_simple-f"):
        peers.spec("peer:scx_nope")


def test_cache_key_follows_the_kernel_btf(tmp_path):
    vmlinux = tmp_path / "vmlinux"
    vmlinux.write_bytes(b"BTF one")
    k = SimpleNamespace(vmlinux=vmlinux, release="6.12.0-scxpy-abc")
    first = peers.cache_key(k, "linux-source-6.12=6.12.1")
    assert first.startswith("6.12.0-scxpy-abc-")
    assert peers.cache_key(k, "linux-source-6.12=6.12.1") == first
    assert peers.cache_key(k, "linux-source-6.12=6.12.2") != first
    vmlinux.write_bytes(b"BTF two")
    assert peers.cache_key(k, "linux-source-6.12=6.12.1") != first


def test_missing_vmlinux_is_a_user_error(tmp_path):
    k = SimpleNamespace(vmlinux=tmp_path / "nope", release="x")
    with pytest.raises(peers.PeerError, match="vmlinux"):
        peers.peers_dir(k)
