"""VM tier: one object per policy, compiled against the 6.12 vmlinux.h, binds to the
newest kfuncs the running guest kernel has (6.12 names on 6.12; the 6.13 renames,
6.19's ___v2 insert and args-struct vtime insert, 7.1's ___v2 move_to_local on 7.x).

The verifier drops the branches bpf_ksym_exists() rules out, so the
translated program (bpftool prog dump xlated) calls exactly the kfuncs chosen.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from scxpy.base.tools import require_tool

pytestmark = pytest.mark.vm

# kfunc expected per kernel (major, minor) range: the newest form it offers.
EXPECTED = [
    # (since, insert, vtime insert, move to local)
    ((7, 1), "scx_bpf_dsq_insert___v2", "__scx_bpf_dsq_insert_vtime", "scx_bpf_dsq_move_to_local___v2"),
    ((6, 19), "scx_bpf_dsq_insert___v2", "__scx_bpf_dsq_insert_vtime", "scx_bpf_dsq_move_to_local"),
    ((6, 13), "scx_bpf_dsq_insert", "scx_bpf_dsq_insert_vtime", "scx_bpf_dsq_move_to_local"),
    ((6, 12), "scx_bpf_dispatch", "scx_bpf_dispatch_vtime", "scx_bpf_consume"),
]
ALL = {k for row in EXPECTED for k in row[1:]}


def _called_kfuncs(prog_fd: int) -> set[str]:
    info = open(f"/proc/self/fdinfo/{prog_fd}").read()
    prog_id = re.search(r"prog_id:\s*(\d+)", info).group(1)
    out = subprocess.run([require_tool("bpftool"), "prog", "dump", "xlated", "id", prog_id],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return set(re.findall(r"call (\w+)#", out))


def test_one_object_binds_to_the_newest_kfuncs_of_this_kernel():
    from scxpy.runtime.bpf_object import BpfObject
    from scxpy.build import compile_policy_spec

    release = os.uname().release
    version = tuple(int(x) for x in re.match(r"(\d+)\.(\d+)", release).groups())
    since, insert, vtime, move = next(row for row in EXPECTED if version >= row[0])
    compiled = compile_policy_spec("vtime")  # vtime queues: both inserts and move_to_local
    with BpfObject(compiled.obj_path) as o:
        o.load()
        called = set().union(*(_called_kfuncs(p.fd) for p in o.programs.values()))
    assert {insert, vtime, move} <= called, (release, sorted(called))
    assert not (called & ALL) - {insert, vtime, move}, (release, sorted(called & ALL))
