"""Gathering the ranks' recordings on rank 0 into one RunResult, laid out as the cpu
backend's (every population's full spike raster, full u / v, dense final weights)."""

from __future__ import annotations

from typing import Any

import numpy as np

from backends.result import RunResult
from compiler.ir import NetworkIR

from .decompose import Decomposition


def place(parts: list[np.ndarray], ids: list[np.ndarray], size: int, axis: int = 1
          ) -> np.ndarray:
    """One array from per-rank pieces: rank r's columns (or rows, axis 0) at `ids[r]`."""
    first = next((p for p in parts if p is not None), None)
    shape = list(first.shape)
    shape[axis] = size
    out = np.zeros(shape, dtype=first.dtype)
    for part, idx in zip(parts, ids, strict=True):
        if axis == 1:
            out[:, idx] = part
        else:
            out[idx] = part
    return out


def rank_ids(decomp: Decomposition, pop: str) -> list[np.ndarray]:
    """The neurons of `pop` that each rank holds."""
    return [decomp.local(pop, r) for r in range(decomp.n_ranks)]


def per_rank_meta(decomp: Decomposition, shares: list[dict[str, Any]], steps: int
                  ) -> dict[str, Any]:
    """`meta["mpi"]`: per rank compute / exchange / wait seconds per step, sizes, and the
    load imbalance (max / mean of the ranks' compute time; 1.0 is perfect balance)."""
    n = max(steps, 1)
    ranks = []
    for r, s in enumerate(shares):
        t = s["timing"]
        ranks.append({"rank": r, "neurons": s["neurons"], "synapses": s["synapses"],
                      "estimated_cost": float(decomp.cost[r]),
                      "compute_ms_per_step": 1e3 * t.get("compute", 0.0) / n,
                      "exchange_ms_per_step": 1e3 * t.get("exchange", 0.0) / n,
                      "wait_ms_per_step": 1e3 * t.get("wait", 0.0) / n,
                      "ids_sent": s.get("sent", 0), "peak_rss_mb": s.get("peak_rss_mb")})
    compute = np.array([r["compute_ms_per_step"] for r in ranks])
    mean = float(compute.mean()) if compute.size else 0.0
    return {"ranks": len(ranks), "per_rank": ranks,
            "imbalance": float(compute.max()) / mean if mean > 0 else 1.0,
            "estimated_imbalance": decomp.imbalance}


def assemble_run(net: NetworkIR, decomp: Decomposition, shares: list[dict[str, Any]],
                 sources: dict[str, np.ndarray], probes: list, steps: int, t0: int,
                 wall: float) -> RunResult:
    """The cpu backend's RunResult of a plain run from every rank's share."""
    spikes = dict.fromkeys(net.populations)
    for name in spikes:
        if name in sources:
            spikes[name] = sources[name]
        else:
            spikes[name] = place([s["spikes"][name] for s in shares], rank_ids(decomp, name),
                                 net.populations[name].size)
    values: dict[str, np.ndarray] = {}
    for p in probes:
        if p.var in ("u", "v"):
            values[p.key] = place([s["records"][p.key] for s in shares],
                                  rank_ids(decomp, p.target), net.populations[p.target].size)
    for p in probes:
        if p.var == "spikes":
            values[p.key] = spikes[p.target]
    for p in probes:
        if p.var == "weights":
            values[p.key] = full_weights(net, decomp, shares, p.target)
    synops_step = {k: sum(s["synops"][k] for s in shares) for k in net.projections}
    meta = {"precision": net.precision, "t_start": t0, "t_end": t0 + steps,
            "synops": {k: int(v.sum()) for k, v in synops_step.items()},
            "synops_per_step": synops_step, "ms_per_step": 1e3 * wall / max(steps, 1),
            "mpi": per_rank_meta(decomp, shares, steps)}
    return RunResult(backend="mpi", steps=steps, spikes=spikes, values=values, wall_s=wall,
                     meta=meta)


def full_weights(net: NetworkIR, decomp: Decomposition, shares: list[dict[str, Any]],
                 proj: str) -> np.ndarray:
    """The (post, pre) weight matrix of `proj` from the ranks' rows."""
    post = net.projections[proj].post
    return place([s["weights"][proj] for s in shares], rank_ids(decomp, post),
                 net.populations[post].size, axis=0)
