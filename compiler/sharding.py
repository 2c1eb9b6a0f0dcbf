"""What the ranks of a distributed run share: which rank holds which neurons (a
`Decomposition`, cut by a static cost estimate) and the facts of each whole projection a
rank needs besides its own synapses (`ProjectionFacts`).

Used by the mpi backend (decomposing a compiled program) and by compiler/distributed.py
(decomposing a network description before any synapse exists).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ir import DATASET_KIND, Population

NEURON_COST = 1.0  # one neuron update
EVENT_COST = 1.0  # one synaptic event
LIF_RATE = 0.05  # spikes per neuron and step assumed for LIF populations
DATASET_RATE = 0.1  # dataset sources (their rate depends on the samples)
SNAP = 0.1  # a cut moves to a preferred boundary when that costs at most this share of a rank


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


@dataclass(frozen=True)
class ProjectionFacts:
    """What a rank needs to know of a whole projection besides its own synapses."""

    mode: str  # fixed: the sign mode of the merged int32 weights (Lava's clip / truncation)
    w_min: float  # fixed: smallest and largest effective weight (for `weight_scale`)
    w_max: float
    uniform: bool  # one delay for every synapse (float: which delivery path sums)
    learn_mode: str  # the sign mode the learning engine keeps (of the raw weights)


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


def balanced_cuts(cost: np.ndarray, preferred: np.ndarray, legal: np.ndarray, k: int
                  ) -> np.ndarray:
    """K start positions (non-decreasing, first 0) splitting `cost` into K balanced runs;
    cuts only where `legal`, moved to a `preferred` position when that is cheap."""
    n = cost.size
    before = np.r_[0.0, np.cumsum(cost)]  # cost before position i
    total = before[-1]
    legal_pos = np.flatnonzero(legal)
    pref_pos = np.flatnonzero(legal & preferred)
    starts = [0]
    for r in range(1, k):
        goal = total * r / k
        i = _nearest(legal_pos, before, goal, n)
        j = _nearest(pref_pos, before, goal, n)
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


def owners(sizes: list[int], cuts: np.ndarray) -> list[np.ndarray]:
    """Per population (in sequence order, `sizes`), the rank of each neuron from the K
    start positions `cuts` over their concatenation."""
    total = int(sum(sizes))
    rank_of_pos = np.searchsorted(cuts, np.arange(total), side="right").astype(np.int32) - 1
    return np.split(rank_of_pos, np.cumsum(sizes)[:-1]) if sizes else []
