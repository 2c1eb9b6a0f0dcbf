"""`--build ranks`: every rank builds its own shard from the network description
(compiler/distributed.py), then the run goes on as with a launcher's shards.

No process ever holds the whole network: each rank draws only the synapses onto its
neurons; the facts of whole projections come from one allreduce. Rank 0 gets the result,
with each rank's build time, memory and cores in `meta["mpi"]["build"]`, and the synapse lists
of weight-probed projections (gathered, in the whole build's (pre, post) order) in
`meta["synapses"]` for the runtime's result lists (`attach_synapses`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from backends.result import RunResult
from compiler.distributed import Description, build_rank
from compiler.ir import Probe
from compiler.program import Program

from .exchange import collective_timeout, wait_for
from .session import Plan, guarded, peak_rss_mb

Progress = Callable[[int, int], None]
ARRAYS = ("pre_idx", "post_idx", "weight", "delay")


def allreduce(comm: Any) -> Callable[[np.ndarray, str], np.ndarray]:
    """The `reduce` of compiler.distributed over `comm` (elementwise min / max)."""
    from mpi4py import MPI

    ops = {"min": MPI.MIN, "max": MPI.MAX}

    def reduce(values: np.ndarray, op: str) -> np.ndarray:
        send = np.ascontiguousarray(values, dtype=np.float64)
        out = np.empty_like(send)
        wait_for(comm.Iallreduce(send, out, ops[op]), collective_timeout(),
                 "building the network")
        return out

    return reduce


def build_here(desc: Description, comm: Any) -> tuple[Program, Plan, dict[str, float]]:
    """This rank's shard program, its plan and what building it took."""
    t0 = time.perf_counter()
    program, decomp, facts = build_rank(desc, comm.Get_rank(), comm.Get_size(), allreduce(comm))
    cores = np.unique(np.concatenate([c for c in program.core_of.values()] or [np.zeros(0)]))
    info = {"build_s": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb(),
            "synapses": int(sum(p.n_synapses for p in program.network.projections.values())),
            "cores": int(np.count_nonzero(cores >= 0))}
    return program, (decomp, facts), info


def run_built(desc: Description, job: dict[str, Any], probes: list[Probe], comm: Any,
              progress: Progress | None) -> RunResult | None:
    """Build this rank's shard, run `job` ("run" with `steps`, or "phases"); the result
    on rank 0 (None elsewhere)."""
    from .phases import run_phases_ranks
    from .session import run_ranks

    program, plan, info = guarded(comm, lambda: build_here(desc, comm))
    weights = [p.target for p in probes if p.var == "weights"]
    mine = {w: tuple(getattr(program.network.projections[w], a) for a in ARRAYS)
            for w in weights}  # kept: the run releases the shard's synapse arrays
    if job["mode"] == "phases":
        result = run_phases_ranks(program, probes, comm, progress, plan)
    else:
        result = run_ranks(program, int(job["steps"]), probes, comm, progress, plan)
    shares = guarded(comm, lambda: comm.gather((info, mine), root=0))
    if result is None:
        return None
    result.meta.setdefault("mpi", {})["build"] = {
        "per_rank_s": [s[0]["build_s"] for s in shares],
        "per_rank_peak_rss_mb": [s[0]["peak_rss_mb"] for s in shares],
        "per_rank_synapses": [s[0]["synapses"] for s in shares],
        "per_rank_cores": [s[0]["cores"] for s in shares]}
    result.meta["synapses"] = {w: _sorted_lists([s[1][w] for s in shares]) for w in weights}
    return result


def _sorted_lists(parts: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """The ranks' (pre, post, weight, delay) of one projection in (pre, post) order."""
    arrays = [np.concatenate([p[i] for p in parts]) for i in range(len(ARRAYS))]
    order = np.lexsort((arrays[1], arrays[0]))
    return tuple(a[order] for a in arrays)


def attach_synapses(program: Program, result: RunResult) -> None:
    """Give the skeleton `program` the gathered synapses of the weight-probed projections
    (so the result's synapse lists are the whole build's)."""
    lists = result.meta.pop("synapses", None) or {}
    projs = program.network.projections
    for name, arrays in lists.items():
        projs[name] = dataclasses.replace(projs[name], **dict(zip(ARRAYS, arrays, strict=True)))
