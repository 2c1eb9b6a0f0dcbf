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


# Count with an index over the key space instead of sorting when the (neuron, core) key space
# has at most this many entries per key, and at most COUNT_MAX_SPACE entries (int32 each).
COUNT_SPACE_PER_KEY = 4
COUNT_MAX_SPACE = 1 << 26


def distinct_neuron_cores(neuron: np.ndarray, core: np.ndarray, n_neurons: int,
                          cores: tuple[int, int], sh: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct (neuron << sh | core) int64 keys of paired arrays and how often each
    occurs (as `runs` of the sorted keys); cores[0] <= core < cores[1] <= 2**sh.

    Where the key space (n_neurons x the core range) is small next to the number of pairs,
    marking keys in an array over it replaces the comparison sort (same result, linear time).
    """
    lo, width = int(cores[0]), int(cores[1]) - int(cores[0])
    space = int(n_neurons) * width
    if neuron.size and space <= min(COUNT_SPACE_PER_KEY * neuron.size, COUNT_MAX_SPACE):
        key = neuron.astype(np.int64)
        key *= width
        key += core
        key -= lo
        index = np.zeros(space, np.int32)
        index[key] = 1
        flat = np.flatnonzero(index)
        index[flat] = np.arange(flat.size, dtype=np.int32)  # key -> rank among distinct keys
        counts = np.bincount(index[key], minlength=flat.size)
        del key, index
        ukeys, c = np.divmod(flat, width)
        ukeys <<= sh
        c += lo
        ukeys |= c
        return ukeys, counts
    key = neuron.astype(np.int64)
    key <<= sh
    key |= core
    key.sort()
    starts, counts = runs(key)
    return key[starts], counts
