"""Cores of a rank's neurons in a distributed build: each rank partitions its own share.

The rank's network for the partitioner holds its LIF neurons (renumbered from the start
of its range) and, for every pre population of its synapses, a stand-in spike source of
the pre population's full size (its neurons are inputs to the rank's cores wherever they
live). `sequential`, `greedy` and `tile` need nothing else; `auto` runs `sequential`;
`graph` (a METIS partition of the whole neuron graph) is refused: it would need a
distributed graph partitioner over every rank's synapses. Core ids are offset by the
cores of the ranks before (one reduce), so they are global and distinct. Known limits:
no placement on chips, and each core's output axons count only the rank's own synapses
(outgoing spikes to other ranks' cores are not seen).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from .errors import InputError
from .ir import LIFParams, NetworkIR, Population, SpikeSource
from .sharding import expected_rate
from .target import Target

RANK_METHODS = ("sequential", "greedy", "tile")
LIF_ARRAYS = ("du", "dv", "vth", "bias_mant", "bias_exp")


def rank_method(partitioner: str) -> str:
    """The partition method a rank runs for `partitioner` (InputError for graph)."""
    if partitioner in ("auto", *RANK_METHODS):
        return "sequential" if partitioner == "auto" else partitioner
    raise InputError(f"--partitioner {partitioner}: a rank build partitions each rank's "
                     f"neurons alone; allowed: auto (sequential), {', '.join(RANK_METHODS)}; "
                     "graph needs the whole network: use --build whole")


def rank_cores(net: NetworkIR, posts: dict[str, tuple[int, int]], target: Target,
               method: str, rank: int, n_ranks: int,
               reduce: Callable[[np.ndarray, str], np.ndarray]) -> dict[str, np.ndarray]:
    """Per LIF population, the global core id of each neuron (-1: held by another rank)."""
    from .passes.partition import partition

    local = _rank_network(net, posts)
    part = partition(local, target, method=method) if local.projections or any(
        not p.is_source for p in local.populations.values()) else None
    n_cores = int(part.n_cores) if part is not None else 0
    counts = np.zeros(n_ranks)
    counts[rank] = n_cores
    offset = int(reduce(counts, "max")[:rank].sum())
    out = {}
    for pop in net.neuron_populations:
        core = np.full(pop.size, -1, dtype=np.int32)
        lo, hi = posts.get(pop.name, (0, 0))
        if part is not None and hi > lo:
            core[lo:hi] = np.asarray(part.core_of[pop.name]) + offset
        out[pop.name] = core
    return out


def _rank_network(net: NetworkIR, posts: dict[str, tuple[int, int]]) -> NetworkIR:
    """The rank's LIF neurons and stand-in sources for every pre population."""
    pops: dict[str, Population] = {}
    for pop in net.neuron_populations:
        lo, hi = posts.get(pop.name, (0, 0))
        if hi > lo:
            pops[pop.name] = dataclasses.replace(pop, size=hi - lo,
                                                 lif=_sliced(pop.lif, lo, hi, pop.size))
    projs = {}
    for name, proj in net.projections.items():
        if proj.post not in pops:
            continue
        pre = net.populations[proj.pre]
        stand = f"{proj.pre}.in"
        pops.setdefault(stand, Population(stand, pre.size, "spike_source",
                                          source=SpikeSource("poisson", rate=expected_rate(pre))))
        projs[name] = dataclasses.replace(
            proj, pre=stand, post_idx=(proj.post_idx - posts[proj.post][0]).astype(np.int32))
    return NetworkIR(name=net.name, precision=net.precision, seed=net.seed,
                     populations=pops, projections=projs)


def _sliced(params: LIFParams, lo: int, hi: int, size: int) -> LIFParams:
    """`params` of neurons [lo, hi) of a population of `size` (per-neuron arrays sliced)."""
    changes = {name: np.asarray(getattr(params, name))[lo:hi] for name in LIF_ARRAYS
               if np.ndim(getattr(params, name)) >= 1
               and np.shape(getattr(params, name))[0] == size}
    return dataclasses.replace(params, **changes) if changes else params
