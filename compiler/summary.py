"""What `snnc compile` prints: the placement summary (docs/cli.md) as data or a table."""

from __future__ import annotations

from typing import Any

import numpy as np

from .artifact import jsonable
from .program import Program

LIMITS = ("neurons", "synapse_bits", "in_axons", "out_axons")
MAX_ROWS = 12
NEAR_FULL = 0.9  # a core at >= this fraction of a limit counts as held by it
CLOSE_TO_BOUND = 1.1  # above this many times the lower bound, the summary says why

# Why a limit can bind the cores used well above the lower bound (which counts totals).
WHY = {
    "neurons": "the cores are full of neurons",
    "synapse_bits": "a synapse list cut over several cores pays a block header and word "
                    "rounding on each",
    "in_axons": "a core needs one input axon per distinct presynaptic neuron of its "
                "neurons; with unclustered (random) connectivity of probability p a core "
                "of k neurons receives from ~N(1-(1-p)^k) of N presynaptic neurons, so "
                "few neurons fit a core, which a bound from totals cannot see",
    "out_axons": "a neuron takes one output axon per core its targets lie on; targets "
                 "spread over many cores make this bind, which a bound from totals "
                 "cannot see",
}


def _limits(program: Program) -> dict[str, int]:
    core = program.target.core
    return {k: int(getattr(core, k)) for k in LIMITS}


def _values(program: Program) -> np.ndarray:
    """(cores, 4) usage of each limit, in LIMITS order."""
    return np.array([[c.n_neurons, c.synapse_bits, c.in_axons, c.out_axons] for c in program.cores],
                    dtype=np.int64).reshape(-1, len(LIMITS))


def _usage_matrix(program: Program) -> np.ndarray:
    """(cores, 4) fraction of each limit used, in LIMITS order."""
    caps = np.array([_limits(program)[k] for k in LIMITS], dtype=np.float64)
    return _values(program) / caps


def binding(program: Program) -> dict[str, Any] | None:
    """The fullest core and the limit that binds it (highest fraction used)."""
    if not program.cores:
        return None
    frac = _usage_matrix(program)
    i, j = np.unravel_index(int(np.argmax(frac)), frac.shape)
    core = program.cores[int(i)]
    return {"core": core.id, "chip": core.chip, "limit": LIMITS[j],
            "value": int(_values(program)[i, j]),
            "capacity": _limits(program)[LIMITS[j]], "fraction": float(frac[i, j])}


def bound_gap(program: Program) -> dict[str, Any] | None:
    """The limit the lower bound comes from and how far the cores used are above it."""
    lb = program.report.lower_bound
    by_limit = program.report.lower_bound_by_limit or {}
    if not lb:
        return None
    n = len(program.cores)
    return {"lower_bound_limit": by_limit.get("binding"),
            "cores_over_lower_bound": round(n / lb, 4), "cores_above_lower_bound": n - lb}


def near_full(program: Program) -> dict[str, int]:
    """Per limit, the cores at >= NEAR_FULL of it (from the exact per-core usage)."""
    counts = (_usage_matrix(program) >= NEAR_FULL).sum(axis=0)
    return {k: int(counts[j]) for j, k in enumerate(LIMITS)}


def binds_in_practice(program: Program) -> dict[str, Any] | None:
    """The limit holding the most cores at >= NEAR_FULL (None without cores): what binds
    the result, beside the lower bound's limit; `cores_worth_used`: the cores' total use
    of it over one core's capacity. `explained`: a reason it can bind above the bound,
    given when the cores used exceed CLOSE_TO_BOUND x the bound."""
    if not program.cores:
        return None
    near = near_full(program)
    limit = max(LIMITS, key=lambda k: near[k])
    lb = program.report.lower_bound
    far = bool(lb) and len(program.cores) > CLOSE_TO_BOUND * lb
    used = _values(program)[:, LIMITS.index(limit)].sum() / _limits(program)[limit]
    out: dict[str, Any] = {"limit": limit if near[limit] else None, "cores": near[limit],
                           "of": len(program.cores), "threshold": NEAR_FULL,
                           "capacity": _limits(program)[limit] if near[limit] else None,
                           "cores_worth_used": round(float(used), 2) if near[limit] else None}
    out["explained"] = (WHY[limit] if near[limit] else
                        "no limit holds any core at >= 90 %: the partition leaves room on "
                        "every core") if far else None
    return out


def compile_summary(program: Program) -> dict[str, Any]:
    """JSON-serializable placement summary: per-core placement and limits plus lower bound,
    partitioner, traffic, quantization and host-side inputs."""
    report = program.report
    part = report.partition or {}
    net = program.network
    cores = [{
        "chip": c.chip, "core": c.core, "x": c.x, "y": c.y,
        "neurons": {pop: np.asarray(idx).tolist() for pop, idx in c.neurons.items()},
        "synapse_bits": int(c.synapse_bits), "in_axons": int(c.in_axons),
        "out_axons": int(c.out_axons),
    } for c in program.cores]
    summary = {
        "network": net.name,
        "target": program.target.name,
        "chips": program.n_chips if program.cores else 0,
        "cores": cores,
        "limits": _limits(program),
        "target_capacity": {"chips": program.target.chips,
                            "cores_per_chip": program.target.cores_per_chip,
                            "mesh": list(program.target.mesh)},
        "lower_bound": report.lower_bound,
        "partitioner": program.partitioner,
        "packets_per_spike": part.get("packets_per_spike"),
        "synapses_cut": part.get("synapses_cut"),
        "binding": binding(program),
        "precision": net.precision,
        "quantization": report.quantization,
        "inputs": [{"population": p.name, "size": p.size,
                    "kind": p.source.kind if p.source else None}
                   for p in net.source_populations],
        "compile_time_s": report.compile_time_s,
        "warnings": report.warnings,
        "not_native": report.not_native,
    }
    summary.update(bound_gap(program) or {})
    summary["cores_near_limit"] = near_full(program) if program.cores else None
    summary["binds_in_practice"] = binds_in_practice(program)
    return jsonable(summary)


def _pct(v: float, cap: int) -> str:
    return f"{v}/{cap} ({100.0 * v / cap:.0f}%)" if cap else str(v)


def _head_line(program: Program) -> str:
    """Cores and chips used, the lower bound, the partitioner and the compile time."""
    report = program.report
    n = len(program.cores)
    lb = report.lower_bound
    head = (f"{program.network.name} -> {program.target.name}: {n} core{'s' * (n != 1)} on "
            f"{program.n_chips if n else 0} chip(s)"
            + (f" (lower bound {lb})" if lb is not None else "")
            + f", partitioner {program.partitioner}")
    if report.compile_time_s is not None:
        head += f", {report.compile_time_s:.2f} s"
    return head


def _bound_line(program: Program) -> list[str]:
    """Where the lower bound comes from and how far the cores used are above it."""
    gap = bound_gap(program)
    if gap is None:
        return []
    limit = gap["lower_bound_limit"]
    return [f"  lower bound {program.report.lower_bound}"
            + (f" from {limit} (total demand / per-core capacity)" if limit else "")
            + f"; cores used {gap['cores_over_lower_bound']:.2f}x the bound "
            + f"(+{gap['cores_above_lower_bound']})"] + _practice_line(program)


def _practice_line(program: Program) -> list[str]:
    """Which limit holds the cores used (cores at >= 90 % of it) and, far above the lower
    bound, why that limit can bind there."""
    b = binds_in_practice(program)
    if b is None:
        return []
    if b["limit"] is None:
        line = f"  no limit at >= {100 * NEAR_FULL:.0f}% on any core"
    else:
        line = (f"  {b['limit']} binds in practice: {b['cores']} of {b['of']} cores at >= "
                f"{100 * NEAR_FULL:.0f}% of {b['capacity']} {b['limit'].replace('_', ' ')}; "
                f"all cores use {b['cores_worth_used']:.1f} cores' worth of it")
    return [line] + ([f"    why above the bound: {b['explained']}"] if b["explained"] else [])


def _core_table(program: Program) -> list[str]:
    """Per-core usage rows (fullest first, at most MAX_ROWS) and the binding limit."""
    lim = _limits(program)
    n = len(program.cores)
    frac = _usage_matrix(program).max(axis=1)
    order = np.argsort(-frac, kind="stable")[:MAX_ROWS]
    lines = [f"  {'core':>5} {'chip':>4} {'x,y':>6}  {'neurons':>16} {'synapse bits':>22} "
             f"{'in axons':>16} {'out axons':>16}"]
    for i in order:
        c = program.cores[int(i)]
        lines.append(f"  {c.id:>5} {c.chip:>4} {f'{c.x},{c.y}':>6}  "
                     f"{_pct(c.n_neurons, lim['neurons']):>16} "
                     f"{_pct(c.synapse_bits, lim['synapse_bits']):>22} "
                     f"{_pct(c.in_axons, lim['in_axons']):>16} "
                     f"{_pct(c.out_axons, lim['out_axons']):>16}")
    if n > MAX_ROWS:
        lines.append(f"  ... {n - MAX_ROWS} more cores")
    b = binding(program)
    assert b is not None
    lines.append(f"  fullest core {b['core']} (chip {b['chip']}): binding limit {b['limit']} "
                 f"at {100 * b['fraction']:.0f}% ({b['value']}/{b['capacity']})")
    return lines


def format_summary(program: Program) -> str:
    """A short table: cores used vs lower bound, per-core usage (fullest first), binding limit."""
    report = program.report
    lines = [_head_line(program)] + _bound_line(program)
    part = report.partition or {}
    if part.get("packets_per_spike") is not None:
        lines.append(f"  packets per spike {float(part['packets_per_spike']):.2f}"
                     + (f", synapses cut {part['synapses_cut']}" if "synapses_cut" in part else ""))
    if program.cores:
        lines += _core_table(program)
    srcs = program.network.source_populations
    if srcs:
        lines.append("  inputs (host side, not on cores): "
                     + ", ".join(f"{p.name} ({p.size})" for p in srcs))
    q = report.quantization or {}
    errs = {n: r.get("rel_error", 0.0) for n, r in q.get("projections", {}).items()}
    if errs and max(errs.values()) > 0:
        worst = max(errs, key=lambda n: errs[n])
        kind = "float -> fixed" if q.get("converted") else "Lava weight truncation"
        lost = [f"{n} {r['lost_bits']}" for n, r in q["projections"].items() if r.get("lost_bits")]
        lines.append(f"  quantization ({kind}): largest weight error {100 * errs[worst]:.2f}% "
                     f"({worst})" + (f"; bits lost: {', '.join(lost[:5])}" if lost else ""))
    for w in report.warnings:
        lines.append(f"  warning: {w}")
    for note in report.not_native:
        lines.append(f"  not Loihi-native: {note}")
    return "\n".join(lines)
