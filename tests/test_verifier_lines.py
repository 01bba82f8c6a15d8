"""runtime.verifier_log: a verifier rejection in raw C names the policy's own lines
(raw C is compiled under #line directives, so its BTF line info names the policy file)."""

from __future__ import annotations

from scxpy.runtime import verifier_log


def test_raw_c_line_info_names_the_policy_line(tmp_path):
    policy = tmp_path / "pol.py"
    policy.write_text("a\nb\n    u64 *n = lookup();\n    *n += 1;\n")
    c = tmp_path / "pol.bpf.c"
    c.write_text("int f(void)\n{\n\t/* rule fast: pol.py:1 */\n\tint x = 1;\n#line 3 \"pol.py\"\n")
    log = ("; int x = 1; @ pol.bpf.c:4\n0: (b7) r0 = 1\n"
           "; u64 *n = lookup(); @ pol.py:3\n1: (85) call 1\n"
           "; *n += 1; @ pol.py:4\n2: (79) r1 = *(u64 *)(r0 +0)\nR0 invalid mem access 'map_value_or_null'\n")
    lines = verifier_log.source_report(log, c, policy)
    assert lines[-1] == f"{policy}:4: *n += 1;  (raw C)", lines
    assert lines[-2] == f"{policy}:3: u64 *n = lookup();  (raw C)", lines
    assert lines[0] == "pol.bpf.c:4: int x = 1;"
    assert not any("rule fast" in ln for ln in lines[1:]), lines


def test_other_files_are_left_out(tmp_path):
    c = tmp_path / "pol.bpf.c"
    c.write_text("x\n")
    log = "; foo @ vmlinux.h:12\n; bar @ common.bpf.h:3\n"
    assert verifier_log.source_report(log, c, None) == []

