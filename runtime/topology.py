"""Machine facts the loader writes into .rodata before load (manifest "config").

Each source is a function of the running machine, evaluated where the
scheduler loads (the guest, not the host that compiled it).
"""

from __future__ import annotations

from pathlib import Path

from scxpy.runtime.errors import LoaderError
from scxpy.runtime.maps import possible_cpus

CPU_SYSFS = Path("/sys/devices/system/cpu")


def _cpu_attr(cpu: int, rel: str) -> int | None:
    try:
        return int((CPU_SYSFS / f"cpu{cpu}" / rel).read_text().strip())
    except (OSError, ValueError):
        return None


def nr_cpus() -> int:
    return possible_cpus()


def llc_of_cpu() -> list[int]:
    """LLC index per CPU, numbered densely 0..nr_llcs-1 (the BPF side indexes arrays
    with it): CPUs sharing an L3 (else L2) cache id, else a package, share an index."""
    raw = []
    for cpu in range(possible_cpus()):
        llc = _cpu_attr(cpu, "cache/index3/id")
        if llc is None:
            llc = _cpu_attr(cpu, "cache/index2/id")
        if llc is None:
            llc = _cpu_attr(cpu, "topology/physical_package_id")
        raw.append(llc or 0)
    dense: dict[int, int] = {}
    return [dense.setdefault(llc, len(dense)) for llc in raw]


def node_of_cpu() -> list[int]:
    out = []
    for cpu in range(possible_cpus()):
        node = 0
        for p in (CPU_SYSFS / f"cpu{cpu}").glob("node*"):
            node = int(p.name[4:])
            break
        out.append(node)
    return out


def nr_llcs() -> int:
    return len(set(llc_of_cpu()))


SOURCES = {"nr_cpus": nr_cpus, "nr_possible_cpus": nr_cpus, "llc_of_cpu": llc_of_cpu,
           "node_of_cpu": node_of_cpu, "nr_llcs": nr_llcs}


def value_of(source: str):
    try:
        return SOURCES[source]()
    except KeyError:
        raise LoaderError(
            f"the manifest asks for machine fact {source!r}, which this runtime does not know "
            f"(known: {', '.join(sorted(SOURCES))}); update scxpy or the policy"
        ) from None
