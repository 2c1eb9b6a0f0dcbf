"""Sort-based counting on packed int64 keys: the primitive behind every distinct count.

Counting distinct (neuron, core) pairs by sorting packed keys keeps 100M-synapse networks
to a few numpy passes, with no Python loop over neurons or synapses.
"""

from __future__ import annotations

import numpy as np


def runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start positions and lengths of runs of equal values in a sorted array."""
    if sorted_keys.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    flag = np.empty(sorted_keys.size, bool)
    flag[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=flag[1:])
    starts = np.flatnonzero(flag)
    del flag
    lengths = np.empty_like(starts)
    # out=: an expression temporary of 100M entries costs seconds of page faults here
    np.subtract(starts[1:], starts[:-1], out=lengths[:-1])
    lengths[-1] = sorted_keys.size - starts[-1]
    return starts, lengths


def distinct_pairs_per_key(keys: list[np.ndarray], size: int) -> np.ndarray:
    """For (high << 32 | low) int64 keys: number of distinct `low` per `high` (0..size-1)."""
    u = np.unique(np.concatenate(keys))
    return np.bincount(u >> 32, minlength=size)
