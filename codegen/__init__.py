"""scxpy's code generator: policy DSL -> validated model -> BPF C -> cached object.

Public API (docs/contracts.md):
    load_policy_file(path) -> Scheduler subclass
    render(policy) -> str                      # the BPF C
    compile(policy, vmlinux_h) -> Compiled     # obj_path, c_path, manifest, cache_hit
    build_model(policy) -> model.Policy        # the validated, planned model (manifest(), stats, ...)
        (each takes counters=True/False to override the policy's `counters` setting)
    manifest_path_for(obj_path) -> str         # NAME.bpf.o -> NAME.json, written by compile()
    PolicyError                                # a user mistake, at the policy's file:line
A `policy` is a Scheduler subclass or a path to a policy file (stock names are
resolved above codegen, by schedulers.policy_file()).
The DSL itself is codegen.dsl; docs/dsl-reference.md describes it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from scxpy.base.manifest import Manifest, path_for as manifest_path_for

from scxpy.codegen.errors import InternalCodegenError, PolicyError
from scxpy.codegen.loader import load_policy_file

__all__ = ["Compiled", "PolicyError", "InternalCodegenError", "compile", "load_policy_file",
           "render", "resolve", "build_model", "manifest_path_for"]


@dataclass(frozen=True)
class Compiled:
    obj_path: str
    c_path: str
    manifest: Manifest
    cache_hit: bool = False


def resolve(policy):
    """Scheduler subclass from a class or a .py path (schedulers.policy_file() maps stock names)."""
    from scxpy.codegen import dsl

    if isinstance(policy, type) and issubclass(policy, dsl.Scheduler):
        return policy
    if isinstance(policy, (str, os.PathLike)):
        p = os.fspath(policy)
        if p.endswith(".py") or os.sep in p:
            return load_policy_file(p)
        raise PolicyError(f"{p!r} is not a path to a policy file; stock policies are found by name "
                          "through schedulers.policy_file() (the scxpy commands do that)")
    raise PolicyError(f"{policy!r} is not a policy (Scheduler subclass or .py path)")


def build_model(policy, counters: bool | None = None):
    from scxpy.codegen import loader
    from scxpy.codegen.build import build

    with loader.LOCK:  # building parses the policy's source (see loader.LOCK)
        return build(resolve(policy), counters)


def render(policy, counters: bool | None = None) -> str:
    from scxpy.codegen.emit import render_model

    return render_model(build_model(policy, counters))


def compile(policy, vmlinux_h: str, counters: bool | None = None) -> Compiled:  # noqa: A001 (the contract's name)
    """Render and compile; the manifest is stored with the object, under the same key."""
    from scxpy.codegen.compiler import compile_c
    from scxpy.codegen.emit import render_model

    m = build_model(policy, counters)
    c_text = render_model(m)
    manifest = m.manifest()
    obj, c_path, hit = compile_c(c_text, os.fspath(vmlinux_h), name=m.name,
                                 raw_files=m.raw_part.files(),
                                 files={f"{m.name}.json": manifest.to_json()})
    return Compiled(obj, c_path, manifest, hit)
