"""The parent's side of a Lava worker job: what goes into it and how its recordings come back.

`without_synapses` slims projections for the job (the plan's blocks carry the synapses),
`default_learning` picks snnc's rule lowering for plastic projections, and `assemble`
puts the worker's per-process recordings back into per-population arrays (cpu layout).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from backends.result import RunResult
from compiler.ir import Probe, Projection
from compiler.program import Program

from .plan import LavaPlan


def default_learning(program: Program, options: dict[str, Any]) -> None:
    """Plastic projections: use snnc's rule lowering (backends/lava/learning.py) by default."""
    if not any(p.plasticity is not None for p in program.network.projections.values()):
        return
    from .learning import LearningFactory, proc_model_map

    options["learning_rule_factory"] = LearningFactory(program.network.seed)
    options.setdefault("proc_model_map", proc_model_map)


def without_synapses(proj: Projection) -> Projection:
    """`proj` with empty synapse arrays: the worker needs only its name and plasticity."""
    empty = np.zeros(0, dtype=np.int32)
    return dataclasses.replace(proj, pre_idx=empty, post_idx=empty, weight=empty[:0].astype(
        proj.weight.dtype), delay=empty.astype(np.int16))


def assemble(program: Program, plan: LavaPlan, steps: int, probes: list[Probe],
              sources: dict[str, np.ndarray], out: dict[str, Any]) -> RunResult:
    """Put the per-process recordings back into per-population arrays (CPU backend layout);
    `meta["lava_process_spikes"]`: the spikes each LIF process recorded, by process name."""
    net = program.network
    fixed = net.precision == "fixed"
    vdtype = np.int64 if fixed else np.float64
    res = RunResult(backend="lava", steps=steps)
    records = {key: np.load(path) for key, path in out["records"].items()}
    want = {p.key for p in probes}
    fired: dict[str, int] = {}  # spikes recorded by each LIF process, by process name
    res.meta["lava_process_spikes"] = fired
    for pop in net.populations.values():
        if pop.is_source:
            res.spikes[pop.name] = np.asarray(sources[pop.name], dtype=bool)
            continue
        spikes = np.zeros((steps, pop.size), dtype=bool)
        state = {var: np.zeros((steps, pop.size), dtype=vdtype) for var in ("v", "u")
                 if f"{pop.name}.{var}" in want}  # only what was probed: runs can be long
        for g in plan.groups_of(pop.name):
            rec = records[g.key]
            spikes[:, g.index] = rec[0] != 0
            fired[g.name] = int(np.count_nonzero(rec[0]))
            if rec.shape[0] == 3:
                for row, var in ((1, "v"), (2, "u")):
                    if var in state:
                        state[var][:, g.index] = rec[row]
        res.spikes[pop.name] = spikes
        for var, arr in state.items():
            res.values[f"{pop.name}.{var}"] = arr
    for p in probes:
        if p.var == "spikes":
            res.values[p.key] = res.spikes[p.target]
        elif p.var == "weights":
            proj = net.projections[p.target]
            n_post, n_pre = net.populations[proj.post].size, net.populations[proj.pre].size
            w = np.zeros((n_post, n_pre), dtype=vdtype)
            for key, block_w in out["weights"].get(p.target, []):
                b = plan.blocks[key]
                rows = plan.groups[b.post_group].index
                cols, pre = plan.pre_columns(b, proj.pre)
                w[np.ix_(rows, pre)] = np.asarray(block_w)[:, cols]
            res.values[p.key] = w
    return res
