"""Which rank holds which neurons: the compiled placement's cores grouped into ranks,
balanced by a static cost estimate (neuron updates + expected synaptic events per step).

Neurons are taken in network order, population by population, each population's neurons
ordered by their compiled core (then index), so a rank receives whole cores where the
balance allows (cores of one chip are consecutive ids, so ranks follow chips too).
A winner-take-all population stays whole on one rank (its winner is chosen over all of it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compiler.ir import DATASET_KIND, NetworkIR, Population
from compiler.program import Program

NEURON_COST = 1.0  # one neuron update
EVENT_COST = 1.0  # one synaptic event
LIF_RATE = 0.05  # spikes per neuron and step assumed for LIF populations
DATASET_RATE = 0.1  # dataset sources (their rate depends on the samples)
SNAP = 0.1  # a cut moves to a core boundary when that costs at most this share of a rank


@dataclass
class Decomposition:
    """`owner[pop]`: the rank (int32) of every neuron of each LIF population;
    `cost[r]`: the estimated cost per step of rank r (arbitrary units)."""

    n_ranks: int
    owner: dict[str, np.ndarray]
    cost: np.ndarray

    def local(self, pop: str, rank: int) -> np.ndarray:
        """The sorted indices of population `pop` that rank `rank` holds."""
        return np.flatnonzero(self.owner[pop] == rank)

    @property
    def imbalance(self) -> float:
        """max / mean of the estimated per-rank cost (1.0: perfectly balanced)."""
        mean = float(self.cost.mean()) if self.cost.size else 0.0
        return float(self.cost.max()) / mean if mean > 0 else 1.0


def expected_rate(pop: Population) -> float:
    """Spikes per neuron and step a population is expected to emit (static estimate)."""
    src = pop.source
    if src is None:
        return LIF_RATE
    if src.kind == "poisson":
        return float(src.rate)
    if src.kind == "periodic":
        return 1.0 / max(int(src.period), 1)
    if src.kind == "array" and src.data is not None and np.size(src.data):
        return float(np.mean(src.data))
    return DATASET_RATE if src.kind == DATASET_KIND else LIF_RATE


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
    cuts = _cuts(c, np.concatenate(allowed) if allowed else np.zeros(0, bool),
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


def _cuts(cost: np.ndarray, at_core: np.ndarray, legal: np.ndarray, k: int) -> np.ndarray:
    """K start positions (non-decreasing, first 0) splitting `cost` into K balanced runs;
    cuts only where `legal`, moved to a core boundary (`at_core`) when that is cheap."""
    n = cost.size
    before = np.r_[0.0, np.cumsum(cost)]  # cost before position i
    total = before[-1]
    legal_pos = np.flatnonzero(legal)
    core_pos = np.flatnonzero(legal & at_core)
    starts = [0]
    for r in range(1, k):
        goal = total * r / k
        i = _nearest(legal_pos, before, goal, n)
        j = _nearest(core_pos, before, goal, n)
        if abs(before[j] - goal) <= SNAP * total / k:
            i = j
        starts.append(max(i, starts[-1]))
    return np.asarray(starts, dtype=np.int64)


def _nearest(candidates: np.ndarray, before: np.ndarray, goal: float, n: int) -> int:
    """The candidate position whose cost-before is nearest `goal` (n if none)."""
    if candidates.size == 0:
        return n
    vals = before[candidates]
    k = int(np.searchsorted(vals, goal))
    best = [candidates[x] for x in (k - 1, k) if 0 <= x < candidates.size]
    return int(min(best, key=lambda p: abs(before[p] - goal)))
