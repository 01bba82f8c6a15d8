"""From raw samples to results: statistics per contender, ratios to the fair baseline, the table.

results.json holds everything needed to re-derive every figure: the
environment, the plan, every raw sample (warm-up ones included, marked),
the costs and failures, plus the summary computed here.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

from scxpy.bench import stats, workloads

SCHEMA_VERSION = 1
BASELINE = "fair"


def summarize_samples(samples: list[dict], contenders: list[str], workload_names: list[str]) -> dict:
    """summary[workload][metric][contender] = Summary + ratio to the baseline.

    Only measured rounds count (warm-up samples are kept in the JSON but
    never summarized). A metric's ratio is the contender's median over
    the baseline's median; `paired` summarizes the per-round ratios.
    """
    out: dict = {}
    for wname in workload_names:
        w = workloads.get(wname)
        per_metric: dict = {}
        for m in w.metrics:
            by_contender: dict[str, dict[int, float]] = {}
            for s in samples:
                if s["workload"] != wname or s["round"] < 0 or m.key not in s["metrics"]:
                    continue
                v = s["metrics"][m.key]
                if v is None or not math.isfinite(v):
                    continue
                by_contender.setdefault(s["contender"], {})[s["round"]] = v
            base = by_contender.get(BASELINE)
            base_summary = stats.summarize(list(base.values())) if base else None
            entries = {}
            for c in contenders:
                vals = by_contender.get(c)
                if not vals:
                    continue
                summ = stats.summarize(list(vals.values()))
                entry = summ.to_json()
                entry["ratio"] = stats.ratio(summ.median, base_summary.median) if base_summary else None
                paired = stats.paired_ratios(vals, base) if base else []
                entry["paired"] = stats.summarize(paired).to_json() if paired else None
                entry["better"] = m.better
                entries[c] = entry
            per_metric[m.key] = entries
        out[wname] = per_metric
    return out


def _primary_by_round(samples: list[dict], workload: str, metric: str) -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, float]] = {}
    for s in samples:
        v = s["metrics"].get(metric)
        if s["workload"] == workload and s["round"] >= 0 and v is not None and math.isfinite(v):
            out.setdefault(s["contender"], {})[s["round"]] = v
    return out


def pairwise_ratios(summary: dict, workload_list: list[dict], contenders: list[str]) -> dict:
    """pairwise[workload][a][b] = median(a) / median(b) of the workload's primary metric.

    Fair is the baseline of the table; this answers the other question a
    reader has, such as "does our fifo match scx_simple -f?".
    """
    out: dict = {}
    for w in workload_list:
        entries = summary.get(w["name"], {}).get(w["primary"], {})
        out[w["name"]] = {
            a: {b: stats.ratio(entries[a]["median"], entries[b]["median"]) for b in contenders if b in entries}
            for a in contenders if a in entries
        }
    return out


def pairwise_paired(samples: list[dict], workload_list: list[dict], contenders: list[str]) -> dict:
    """paired[workload][a][b] = summary of the per-round ratios a/b (primary metric).

    Same-round ratios cancel drift between rounds; their spread says how
    far a ratio of medians can be trusted.
    """
    out: dict = {}
    for w in workload_list:
        by = _primary_by_round(samples, w["name"], w["primary"])
        out[w["name"]] = {
            a: {b: stats.summarize(p).to_json()
                for b in contenders if b != a and b in by and (p := stats.paired_ratios(by[a], by[b]))}
            for a in contenders if a in by
        }
    return out


def summarize_costs(costs: list[dict]) -> dict:
    """costs[contender][callback] = {calls, total_ns, mean_ns}, summed over the rounds measured."""
    out: dict = {}
    for entry in costs:
        per = out.setdefault(entry["contender"], {})
        for cb, v in entry["callbacks"].items():
            acc = per.setdefault(cb, {"prog": v.get("prog"), "run_cnt": 0, "run_time_ns": 0})
            acc["run_cnt"] += int(v.get("run_cnt", 0))
            acc["run_time_ns"] += int(v.get("run_time_ns", 0))
    for per in out.values():
        for acc in per.values():
            acc["mean_ns"] = acc["run_time_ns"] / acc["run_cnt"] if acc["run_cnt"] else None
    return out


def build_results(guest_doc: dict, environment: dict, contenders_info: list[dict]) -> dict:
    plan = guest_doc["plan"]
    names = [c["name"] for c in plan["contenders"]]
    samples = guest_doc["samples"]
    return {
        "schema": SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "environment": {**environment, "guest": guest_doc.get("guest", {})},
        "relative_only": environment.get("accelerator") != "kvm",
        "baseline": BASELINE,
        "rounds": plan["rounds"],
        "warmup": plan["warmup"],
        "long": plan["long"],
        "contenders": contenders_info,
        "workloads": [workloads.get(w).to_json() for w in plan["workloads"]],
        "samples": samples,
        "summary": (summary := summarize_samples(samples, names, plan["workloads"])),
        "pairwise": pairwise_ratios(summary, [workloads.get(w).to_json() for w in plan["workloads"]], names),
        "pairwise_paired": pairwise_paired(samples, [workloads.get(w).to_json() for w in plan["workloads"]], names),
        "cost_method": guest_doc.get("cost_method"),
        "costs": summarize_costs(guest_doc.get("costs", [])),
        "raw_costs": guest_doc.get("costs", []),
        "policy_counters": guest_doc.get("policy_counters", []),
        "floors": guest_doc.get("floors", {}),
        "failures": guest_doc.get("failures", []),
        "finished": guest_doc.get("finished", False),
    }


# --- terminal table ---------------------------------------------------------


def _fmt(v: float | None, unit: str = "") -> str:
    if v is None:
        return "-"
    if math.isinf(v):
        return "overflow"
    if abs(v) >= 1000:
        s = f"{v:,.0f}"
    elif abs(v) >= 100:
        s = f"{v:.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.3g}"
    return s


def _ratio_cell(entry: dict) -> str:
    r = entry.get("ratio")
    if r is None:
        return "-"
    mark = ""
    # Mark "better than fair" so the reader need not remember each metric's direction.
    if (entry["better"] == "lower" and r < 1) or (entry["better"] == "higher" and r > 1):
        mark = " +"
    elif r != 1:
        mark = " -"
    return f"{r:.3f}{mark}"


def format_table(results: dict) -> str:
    env = results["environment"]
    lines = []
    lines.append(
        f"kernel {env.get('guest', {}).get('kernel_release', env.get('kernel_release', '?'))}, "
        f"{env.get('guest', {}).get('cpus', env.get('cpus', '?'))} vCPUs, accelerator {env.get('accelerator', '?')}, "
        f"{results['rounds']} round(s) after {results['warmup']} warm-up, {'long' if results['long'] else 'short'} sizes"
    )
    if results["relative_only"]:
        lines.append("TCG (software emulation): figures are relative only; absolute numbers mean nothing, compare ratios.")
    lines.append("ratio = median / fair's median; + better than fair, - worse; spread = interquartile range [q1, q3]")
    for w in results["workloads"]:
        wsum = results["summary"].get(w["name"], {})
        lines.append("")
        lines.append(f"== {w['name']}: {w['description']}")
        header = f"  {'contender':<22} {'metric':<34} {'median':>10} {'[q1, q3]':>21} {'min..max':>21} {'ratio':>9} {'n':>3}"
        lines.append(header)
        for m in w["metrics"]:
            if not wsum.get(m["key"]):
                lines.append(f"  {'(all)':<22} {m['label'] + ' (' + m['unit'] + ')':<34} "
                             "not measured: too few samples for this percentile (try --long)")
            for c, e in wsum.get(m["key"], {}).items():
                label = f"{m['label']} ({m['unit']})"
                spread = f"[{_fmt(e['q1'])}, {_fmt(e['q3'])}]"
                rng = f"{_fmt(e['min'])}..{_fmt(e['max'])}"
                lines.append(
                    f"  {c:<22} {label:<34} {_fmt(e['median']):>10} {spread:>21} {rng:>21} {_ratio_cell(e):>9} {e['n']:>3}"
                )
        floor = results.get("floors", {}).get(w["name"])
        if floor:
            lines.append(f"  emulator floor (the probe alone on an otherwise idle guest, once, no scheduler attached): "
                         + (", ".join(f"{k.removesuffix('_us')} {_fmt(v)} us" for k, v in floor["metrics"].items()
                                      if k.endswith("_us") and v is not None)
                            if "metrics" in floor else f"not measured: {floor['error'].splitlines()[0][:200]}"))
    for w in results["workloads"]:
        matrix = results.get("pairwise", {}).get(w["name"], {})
        others = [c for c in matrix if c != results["baseline"]]
        if len(others) < 2:
            continue
        lines.append("")
        lines.append(f"== {w['name']}: row / column, ratio of medians of {w['primary']} "
                     "(results.json pairwise_paired has the per-round ratios)")
        width = max(8, *(len(c) for c in others)) + 2
        lines.append("  " + " " * 22 + "".join(f"{c:>{width}}" for c in others))
        for a in others:
            cells = "".join(f"{_fmt(matrix[a].get(b)) if b != a else '':>{width}}" for b in others)
            lines.append(f"  {a:<22}{cells}")
    if results["costs"]:
        lines.append("")
        method = results.get("cost_method") or {}
        when = ("measured rounds: stats on, so these samples carry their overhead"
                if method.get("perturbs_samples") else "warm-up round, whose samples never count")
        lines.append(f"== cost per callback (mean ns per call; kernel BPF run-time stats; {when})")
        if results["relative_only"] and (env.get("cpus") or 1) > 1:
            lines.append("  TCG runs one vCPU at a time: a callback spinning on a lock whose holder's vCPU is not")
            lines.append("  being emulated counts that wait, so these are inflated and noisy; compare with the peers.")
        lines.append(f"  {'contender':<22} {'callback':<18} {'calls':>10} {'mean ns':>9}")
        for c, per in results["costs"].items():
            for cb, v in sorted(per.items(), key=lambda kv: -kv[1]["run_time_ns"]):
                lines.append(f"  {c:<22} {cb:<18} {v['run_cnt']:>10} {_fmt(v['mean_ns']):>9}")
    if results["failures"]:
        lines.append("")
        lines.append(f"== {len(results['failures'])} failure(s): these runs have no sample")
        for f in results["failures"]:
            where = f"round {f['round'] + 1}" if f["round"] >= 0 else "warm-up"
            lines.append(f"  {f['contender']} ({where}{', ' + f['workload'] if f['workload'] else ''}): "
                         f"{f['error'].splitlines()[0][:300]}")
    return "\n".join(lines)


def format_across_kernels(all_results: list[dict]) -> str:
    """Each contender's ratios on each kernel side by side: to fair, and to every peer run.

    A ratio is median(contender) / median(reference) of the workload's
    primary metric, both measured in the same guest boot, so ratios from
    different kernels compare even where absolute figures do not.
    """
    releases = [r["environment"].get("kernel_release", "?") for r in all_results]
    width = max(12, *(len(k) for k in releases)) + 2
    lines = ["== across kernels: row / reference, ratio of medians of the primary metric "
             "(each measured in one boot of that kernel)"]
    for w in all_results[0]["workloads"]:
        better = next((m["better"] for m in w["metrics"] if m["key"] == w["primary"]), "?")
        lines.append(f"  {w['name']} ({w['primary']}, {better} is better)")
        lines.append(f"    {'contender':<22} {'reference':<18}" + "".join(f"{k:>{width}}" for k in releases))
        names = [c["name"] for c in all_results[0]["contenders"]]
        refs = [BASELINE] + [c["name"] for c in all_results[0]["contenders"] if c["kind"] == "peer"]
        for a in names:
            for ref in refs:
                if a == BASELINE or a == ref or (a in refs and ref != BASELINE):
                    continue  # fair is the reference; a peer against a peer says nothing about scxpy
                cells = [_fmt(r.get("pairwise", {}).get(w["name"], {}).get(a, {}).get(ref)) for r in all_results]
                lines.append(f"    {a:<22} {ref:<18}" + "".join(f"{c:>{width}}" for c in cells))
    return "\n".join(lines)
