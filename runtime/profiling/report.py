"""The profile as JSON-ready data (`profile_report`) and as a terminal table (`format_profile`).

Report keys: `network`, `target`, `partitioner`, `precision`, `backend`, `steps`;
`static` (see static.py: `limits`, `summary` with cores used / lower bound / fullest core /
binding limit, `totals`, `chips`, `cores`); `activity` (`totals` of every count, `derived`
ratios, `per_core` totals, `per_step` series summaries binned to <= 100 values, `traffic`
matrix or top pairs); `cost` (cost.py: `model`, `figures` with sources, `missing`,
`energy_pj`, `time_ns`, `per_step` series). `activity` and `cost` are None without a run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from compiler.program import Program

from .activity import Activity, activity
from .cost import estimate_cost
from .static import RESOURCES, static_profile

# per-step-and-core counts reported, in table order
COUNTS = ("spikes", "synops", "local", "packets_out", "packets_in", "host_in", "hops",
          "chip_packets", "chip_hops", "learning")
MAX_BINS = 100


def format_ids(ids: list[int], max_items: int = 8) -> str:
    """Sorted ids as ranges, the first `max_items` runs only: `0-12, 15, 17-20, ...`."""
    runs: list[list[int]] = []
    for i in sorted({int(v) for v in ids}):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    text = [f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:max_items]]
    return ", ".join(text + (["..."] if len(runs) > max_items else []))


def spikes_of(result: Any) -> dict[str, np.ndarray]:
    """Spikes by population from a RunResult (its `spikes`) or a mapping pop -> array."""
    spikes = getattr(result, "spikes", result)
    if not isinstance(spikes, Mapping):
        raise TypeError(f"expected a RunResult or a dict of spikes, got {type(result).__name__}")
    return dict(spikes)


def summarize_series(x: np.ndarray, max_bins: int = MAX_BINS) -> dict[str, Any]:
    """Mean/min/max/p95 of a per-step series plus the series itself, binned to <= max_bins means."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return {"mean": 0.0, "min": 0.0, "max": 0.0, "p95": 0.0, "bin_steps": 1, "values": []}
    width = int(np.ceil(x.size / max_bins))
    n_full = x.size // width
    binned = x[: n_full * width].reshape(n_full, width).mean(axis=1)
    if x.size % width:
        binned = np.append(binned, x[n_full * width:].mean())
    return {"mean": float(x.mean()), "min": float(x.min()), "max": float(x.max()),
            "p95": float(np.percentile(x, 95)), "bin_steps": width,
            "values": [round(float(v), 4) for v in binned]}


def activity_summary(program: Program, act: Activity) -> dict[str, Any]:
    """Totals, derived ratios, per-core totals and per-step series of an activity record."""
    totals = {k: int(getattr(act, k).sum()) for k in COUNTS}
    totals["neurons_updated_per_step"] = int(act.neurons.sum())
    fired = max(totals["spikes"], 1)
    derived = {
        "packets_per_spike": totals["packets_out"] / fired,
        "messages_per_spike": (totals["packets_out"] + totals["local"]) / fired,
        "synops_per_step": totals["synops"] / max(act.steps, 1),
        "spikes_per_neuron_step": totals["spikes"] / max(act.steps * int(act.neurons.sum()), 1),
        "local_fraction": totals["local"] / max(totals["local"] + totals["packets_out"], 1),
        "hops_per_packet": totals["hops"] / max(totals["packets_out"], 1),
    }
    ids = {c.id: c for c in program.cores}
    per_core = []
    for cid in range(act.n_cores):
        c = ids.get(cid)
        row: dict[str, Any] = {"id": cid, "chip": c.chip if c else None, "core": c.core if c else None,
                               "neurons": int(act.neurons[cid])}
        row.update({k: int(getattr(act, k)[:, cid].sum()) for k in COUNTS})
        per_core.append(row)
    series = {k: summarize_series(getattr(act, k).sum(axis=1)) for k in
              ("spikes", "synops", "packets_out", "hops", "learning")}
    series["max_hops"] = summarize_series(act.max_hops)
    traffic = {"matrix": act.traffic.tolist(), "host": act.host_traffic.tolist()} \
        if act.n_cores <= 64 else {"top_pairs": _top_pairs(act.traffic, 64), "host": act.host_traffic.tolist()}
    return {"steps": act.steps, "totals": totals, "derived": derived, "per_core": per_core,
            "per_step": series, "traffic": traffic}


def _top_pairs(traffic: np.ndarray, k: int) -> list[dict[str, int]]:
    """The k busiest (src, dst) core pairs of a traffic matrix."""
    flat = traffic.ravel()
    top = np.argsort(flat)[::-1][:k]
    n = traffic.shape[1]
    return [{"src": int(i // n), "dst": int(i % n), "messages": int(flat[i])} for i in top if flat[i] > 0]


def profile_report(program: Program, result: Any = None, backend: str | None = None) -> dict[str, Any]:
    """Static utilization and, given a run's spikes, activity, time and energy: JSON-ready."""
    net = program.network
    rep: dict[str, Any] = {
        "network": net.name, "target": program.target.name, "partitioner": program.partitioner,
        "precision": net.precision, "static": static_profile(program),
        "backend": backend or getattr(result, "backend", None), "activity": None, "cost": None,
    }
    if result is None:
        return rep
    act = activity(program, spikes_of(result))
    cost = estimate_cost(program, act)
    rep["steps"] = act.steps
    rep["activity"] = activity_summary(program, act)
    series = cost.pop("series")
    cost["per_step"] = {k: summarize_series(v) for k, v in series.items()}
    rep["cost"] = cost
    return rep


# ---- terminal table ---------------------------------------------------------------------------

def _si(x: float, unit: str) -> str:
    """A number with an SI prefix: 1.23 kX, 4.5 uX ... (input in base units)."""
    ax = abs(x)
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"), (1e-6, "u"),
                          (1e-9, "n"), (1e-12, "p")):
        if ax >= scale:
            return f"{x / scale:.3g} {prefix}{unit}"
    return "0" if ax == 0 else f"{x:.3g} {unit}"


def _pct(p: float | None) -> str:
    return "inf" if p is None else f"{p:5.1f}%"


def _header_lines(report: dict[str, Any]) -> list[str]:
    """Title, cores used against the lower bound, binding limit, over-limit cores."""
    sm = report["static"]["summary"]
    lines = [f"snnc profile: {report['network']} on {report['target']} "
             f"(partitioner {report.get('partitioner')}, precision {report.get('precision')})"]
    lb = sm.get("lower_bound")
    lines.append(f"cores used {sm['cores_used']} of {sm['cores_available']} "
                 f"on {sm['chips_used']} chip(s)"
                 + (f"; lower bound {lb} ({sm['cores_over_lower_bound']}x)" if lb else ""))
    fc = sm.get("fullest_core")
    if fc:
        lines.append(f"binding limit: {sm['binding_limit']} "
                     f"(fullest core {fc['id']} at {_pct(fc['percent'])})")
    if sm.get("over_limit_cores"):
        lines.append(f"OVER LIMIT on cores {format_ids(sm['over_limit_cores'], 20)}")
    return lines


def _limit_lines(st: dict[str, Any]) -> list[str]:
    """Per-core limits and whole-program totals with their mean/max percent of a core."""
    lim, tot = st["limits"], st["totals"]
    return ["limits per core: " + ", ".join(f"{r} {lim[r]}" for r in RESOURCES),
            "totals: " + ", ".join(f"{r} {tot[r]['used']} (mean {_pct(tot[r]['mean_percent'])}"
                                   f", max {_pct(tot[r]['max_percent'])})" for r in RESOURCES)]


def _core_row(c: dict[str, Any], a: dict[str, Any] | None) -> str:
    """One row of the core table: placement, percent per resource, and activity `a` if run."""
    row = (f"{c['id']:>5} {c['chip']:>4} {str(c['x']) + ',' + str(c['y']):>6}"
           + "".join(f" {_pct(c[r]['percent']):>{w}}" for r, w in
                     zip(RESOURCES, (8, 8, 7, 7), strict=True)))
    if a is not None:
        row += (f" {a.get('spikes', 0):>9} {a.get('synops', 0):>10} {a.get('packets_out', 0):>9}"
                f" {a.get('packets_in', 0):>9}")
    return row


def _load_key(c: dict[str, Any]) -> tuple[float, int]:
    """Sort key of a core row: highest max percent first (None, an unbounded use, before all)."""
    return (-(c["max_percent"] if c["max_percent"] is not None else 1e18), c["id"])


def _core_table(st: dict[str, Any], act: dict[str, Any] | None, top: int) -> list[str]:
    """The `top` cores by highest percent of any limit (unbounded first), with activity if run."""
    per_core_act = {c["id"]: c for c in act["per_core"]} if act else {}
    cores = sorted(st["cores"], key=_load_key)
    head = (f"{'core':>5} {'chip':>4} {'x,y':>6} {'neurons':>8} {'syn_bits':>8} {'in_ax':>7}"
            f" {'out_ax':>7}")
    if act:
        head += f" {'spikes':>9} {'synops':>10} {'pkt_out':>9} {'pkt_in':>9}"
    lines = ["", f"top {min(top, len(cores))} cores by load (% of limit):", head]
    lines += [_core_row(c, per_core_act.get(c["id"], {}) if act else None) for c in cores[:top]]
    return lines


def _activity_lines(report: dict[str, Any], act: dict[str, Any]) -> list[str]:
    """Activity totals over the run: spikes, synops, messages, hops, learning, ratios."""
    tot, der = act["totals"], act["derived"]
    backend = f" (backend {report['backend']})" if report.get("backend") else ""
    return [
        "",
        f"activity over {act['steps']} steps{backend}:",
        f"  spikes {tot['spikes']}, synaptic ops {tot['synops']}, messages "
        f"{tot['packets_out'] + tot['local']} ({tot['packets_out']} packets between cores, "
        f"{tot['local']} local), host input messages {tot['host_in']}",
        f"  mesh hops {tot['hops']}, inter-chip packets {tot['chip_packets']}, "
        f"learning updates {tot['learning']}",
        f"  packets/spike {der['packets_per_spike']:.2f}, "
        f"hops/packet {der['hops_per_packet']:.2f}, local fraction {der['local_fraction']:.2f}",
    ]


def _cost_lines(cost: dict[str, Any], steps: int) -> list[str]:
    """Modelled time and energy per step, energy by component (largest first)."""
    t, e = cost["time_ns"], cost["energy_pj"]
    bd = t["breakdown_per_step"]
    lines = ["",
             f"time per step: {_si(t['per_step'] * 1e-9, 's')} "
             f"(compute {_si(bd['compute'] * 1e-9, 's')}"
             f" + network {_si(bd['network'] * 1e-9, 's')} + barrier {_si(bd['barrier'] * 1e-9, 's')});"
             f" max {_si(t['per_step_max'] * 1e-9, 's')}; run {_si(t['total'] * 1e-9, 's')}",
             f"energy per step: {_si(e['per_step'] * 1e-12, 'J')}; "
             f"run {_si(e['total'] * 1e-12, 'J')}"]
    total = max(e["total"], 1e-30)
    for k, v in sorted(e["by_component_total"].items(), key=lambda kv: -kv[1]):
        if v > 0:
            per_step = _si(v / max(steps, 1) * 1e-12, "J")
            lines.append(f"  {k:<15} {per_step:>11}/step  {100 * v / total:5.1f}%")
    return lines


def _figure_lines(cost: dict[str, Any]) -> list[str]:
    """Where the cost figures come from: missing ones, their source, the assumed ones."""
    lines = []
    if cost["missing"]:
        lines.append(f"figures missing in target (counted as 0): {', '.join(cost['missing'])}")
    if cost.get("source"):
        lines.append(f"figures from: {cost['source']} (per figure: cost.figures in --json)")
    assumed = [f"{kind}.{k}" for kind, figs in cost["figures"].items() for k, f in figs.items()
               if any(w in f["source"].lower() for w in ("assumed", "not published", "estimate"))]
    if assumed:
        lines.append(f"assumed figures (not published): {', '.join(assumed)}")
    return lines


def format_profile(report: dict[str, Any], top: int = 10) -> str:
    """A readable summary: utilization, top cores by load, activity totals, time and energy
    per step."""
    st = report["static"]
    act = report.get("activity")
    lines = _header_lines(report) + _limit_lines(st) + _core_table(st, act, top)
    if not act:
        lines += ["", "(no run: activity, time and energy need spikes)"]
        return "\n".join(lines)
    lines += _activity_lines(report, act)
    lines += _cost_lines(report["cost"], act["steps"])
    lines += _figure_lines(report["cost"])
    return "\n".join(lines)
