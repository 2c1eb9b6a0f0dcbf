"""Time and energy of a run from activity counts and the target's per-event figures (see MODEL)."""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler.program import Program

from .activity import Activity

MODEL = """\
SANA-FE's barrier-synchronized step model, kept simple:
  core_ns[t, c] = neuron_update * neurons[c] + synop * synops[t, c]
                  + spike_out * spikes[t, c] + message * messages[t, c]
                  + learning_update * learning[t, c]
  network_ns[t] = spike_hop * max_hops[t] + chip_hop * max_chip_hops[t]
                  (the longest packet route sent in step t; routes overlap in time)
  step_ns[t]    = max_c core_ns[t, c] + network_ns[t] + barrier
Energy per step is the sum over all cores of count x figure, per component. Messages
(one per fired neuron and destination core, own core included, as in SANA-FE) are
charged on the sender; host input messages are charged like messages. A figure the
target lacks counts as 0 and is listed under `missing`."""

# energy component -> (target figure, what it multiplies)
ENERGY_COMPONENTS = {
    "synops": "synop",
    "neuron_updates": "neuron_update",
    "spikes_out": "spike_out",
    "messages": "message",
    "input_messages": "message",
    "hops": "spike_hop",
    "chip_hops": "chip_hop",
    "learning": "learning_update",
}
TIME_FIGURES = ("neuron_update", "synop", "spike_out", "message", "learning_update", "spike_hop",
                "chip_hop", "barrier")


def _sources(program: Program, kind: str) -> dict[str, str]:
    """Source of each figure of `kind` (energy_pj | time_ns): the target's per-figure `sources`
    entry (`<kind>.<figure>` or `<figure>`) if given, else its overall `source`; "*" = default."""
    t = program.target
    default = t.source or t.file or t.name
    given = getattr(t, "sources", None) or {}
    out = {"*": default}
    for k in getattr(t, kind) or {}:
        nested = given.get(kind)
        src = given.get(f"{kind}.{k}") or (nested.get(k) if isinstance(nested, dict) else None)
        out[k] = str(src) if src else default
    return out


def component_counts(act: Activity) -> dict[str, np.ndarray]:
    """Per step and core, the count that each energy component multiplies."""
    return {
        "synops": act.synops,
        "neuron_updates": np.broadcast_to(act.neurons[None, :], act.synops.shape),
        "spikes_out": act.spikes,
        "messages": act.messages,
        "input_messages": act.host_in,
        "hops": act.hops,
        "chip_hops": act.chip_hops,
        "learning": act.learning,
    }


def estimate_cost(program: Program, act: Activity) -> dict[str, Any]:
    """Energy (pJ) by component and time (ns) per step and per run; figures cite their source."""
    e_fig = {k: float(v) for k, v in (program.target.energy_pj or {}).items()}
    t_fig = {k: float(v) for k, v in (program.target.time_ns or {}).items()}
    e_src, t_src = _sources(program, "energy_pj"), _sources(program, "time_ns")
    missing = sorted({f"energy_pj.{f}" for f in ENERGY_COMPONENTS.values() if f not in e_fig}
                     | {f"time_ns.{f}" for f in TIME_FIGURES if f not in t_fig})

    counts = component_counts(act)
    energy_steps = {k: counts[k].sum(axis=1) * e_fig.get(f, 0.0) for k, f in ENERGY_COMPONENTS.items()}
    energy_cores = {k: counts[k].sum(axis=0) * e_fig.get(f, 0.0) for k, f in ENERGY_COMPONENTS.items()}
    e_step = sum(energy_steps.values()) if energy_steps else np.zeros(act.steps)

    tf = t_fig.get
    core_ns = (tf("neuron_update", 0.0) * act.neurons[None, :] + tf("synop", 0.0) * act.synops
               + tf("spike_out", 0.0) * act.spikes + tf("message", 0.0) * act.messages
               + tf("learning_update", 0.0) * act.learning)
    compute = core_ns.max(axis=1) if act.n_cores else np.zeros(act.steps)
    critical = core_ns.argmax(axis=1) if act.n_cores else np.zeros(act.steps, np.int64)
    network = tf("spike_hop", 0.0) * act.max_hops + tf("chip_hop", 0.0) * act.max_chip_hops
    barrier = tf("barrier", 0.0)
    t_step = compute + network + barrier
    steps = max(act.steps, 1)

    def figs(values: dict[str, float], src: dict[str, str]) -> dict[str, dict[str, Any]]:
        return {k: {"value": v, "source": src.get(k, src["*"])} for k, v in values.items()}

    total_e = float(e_step.sum())
    return {
        "model": MODEL,
        "source": program.target.source or program.target.file or program.target.name,
        "figures": {"energy_pj": figs(e_fig, e_src), "time_ns": figs(t_fig, t_src)},
        "missing": missing,
        "steps": act.steps,
        "energy_pj": {
            "total": total_e,
            "per_step": total_e / steps,
            "by_component_total": {k: float(v.sum()) for k, v in energy_steps.items()},
            "by_component_per_step": {k: float(v.sum()) / steps for k, v in energy_steps.items()},
            "per_core_total": [float(x) for x in sum(energy_cores.values())] if act.n_cores else [],
        },
        "time_ns": {
            "total": float(t_step.sum()),
            "per_step": float(t_step.sum()) / steps,
            "per_step_max": float(t_step.max()) if act.steps else 0.0,
            "breakdown_per_step": {"compute": float(compute.mean()) if act.steps else 0.0,
                                   "network": float(network.mean()) if act.steps else 0.0,
                                   "barrier": barrier},
            "critical_core_steps": {int(c): int(n) for c, n in
                                    zip(*np.unique(critical, return_counts=True), strict=True)},
        },
        "series": {"energy_pj": e_step.astype(np.float64), "time_ns": t_step.astype(np.float64),
                   "compute_ns": compute.astype(np.float64)},
    }
