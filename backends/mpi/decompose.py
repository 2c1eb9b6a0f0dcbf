"""Which rank holds which neurons: the compiled placement's cores grouped into ranks,
balanced by a static cost estimate (neuron updates + expected synaptic events per step).

Neurons are taken in network order, population by population, each population's neurons
ordered by their compiled core (then index), so a rank receives whole cores where the
balance allows (cores of one chip are consecutive ids, so ranks follow chips too).
A winner-take-all population stays whole on one rank (its winner is chosen over all of it).
"""

from __future__ import annotations

import numpy as np

from compiler.ir import NetworkIR, Population
from compiler.program import Program
from compiler.sharding import (
    EVENT_COST,
    NEURON_COST,
    Decomposition,
    balanced_cuts,
    expected_rate,
)

__all__ = ["Decomposition", "decompose", "expected_rate", "neuron_costs"]


def neuron_costs(net: NetworkIR) -> dict[str, np.ndarray]:
    """Per LIF neuron: one update plus the expected synaptic events onto it per step."""
    cost = {p.name: np.full(p.size, NEURON_COST) for p in net.neuron_populations}
    for proj in net.projections.values():
        if proj.post in cost:
            rate = expected_rate(net.populations[proj.pre])
            post = np.asarray(proj.post_idx, dtype=np.int64)
            cost[proj.post] += EVENT_COST * rate * np.bincount(post, minlength=cost[proj.post].size)
    return cost


def _order(program: Program, pop: Population) -> tuple[np.ndarray, np.ndarray]:
    """A population's neurons ordered by core, and the core of each (or -1 unplaced)."""
    core = program.core_of.get(pop.name) if program.core_of else None
    if core is None or len(core) != pop.size:
        return np.arange(pop.size), np.full(pop.size, -1)
    core = np.asarray(core, dtype=np.int64)
    order = np.lexsort((np.arange(pop.size), core))
    return order, core[order]


def decompose(program: Program, n_ranks: int) -> Decomposition:
    """Split the LIF neurons of `program` into `n_ranks` ranks of about equal cost."""
    net = program.network
    costs = neuron_costs(net)
    pops = list(net.neuron_populations)
    orders, seq_cost, allowed, wta_free = [], [], [], []
    for pop in pops:
        order, core = _order(program, pop)
        orders.append(order)
        seq_cost.append(costs[pop.name][order])
        # a cut may go before position i when the core changes there (or anywhere unplaced)
        bound = np.ones(pop.size, dtype=bool) if core.size and core[0] < 0 else \
            np.r_[True, core[1:] != core[:-1]] if core.size else np.zeros(0, bool)
        allowed.append(bound)
        free = np.zeros(pop.size, dtype=bool) if pop.lif.wta else np.ones(pop.size, dtype=bool)
        if pop.size:
            free[0] = True  # a population's start is always a possible cut
        wta_free.append(free)
    c = np.concatenate(seq_cost) if seq_cost else np.zeros(0)
    cuts = balanced_cuts(c, np.concatenate(allowed) if allowed else np.zeros(0, bool),
                 np.concatenate(wta_free) if wta_free else np.zeros(0, bool), n_ranks)
    rank_of_pos = np.searchsorted(cuts, np.arange(c.size), side="right").astype(np.int32) - 1
    owner, start = {}, 0
    for pop, order in zip(pops, orders, strict=True):
        own = np.empty(pop.size, dtype=np.int32)
        own[order] = rank_of_pos[start:start + pop.size]
        owner[pop.name] = own
        start += pop.size
    per_rank = np.bincount(rank_of_pos, weights=c, minlength=n_ranks)[:n_ranks]
    return Decomposition(n_ranks=n_ranks, owner=owner, cost=per_rank)
