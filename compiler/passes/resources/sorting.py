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


# Count with an int32 index over the key space instead of sorting when that space has at most
# this many entries per (neuron, core) pair, and at most COUNT_MAX_SPACE entries.
COUNT_SPACE_PER_KEY = 8
COUNT_MAX_SPACE = 1 << 26


def distinct_neuron_cores(neuron: np.ndarray, target: np.ndarray, target_core: np.ndarray,
                          n_neurons: int, sh: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct (neuron << sh | core) int64 keys of the pairs (neuron[i], core of
    target[i]), with target_core[t] < 2**sh the core of target neuron t, and how often each
    key occurs (as `runs` of the sorted keys)."""
    out = indexed_neuron_cores(neuron, target, target_core, n_neurons, sh)
    if out is not None:
        return out
    key = neuron.astype(np.int64)
    key <<= sh
    key |= target_core[target]
    key.sort()
    starts, counts = runs(key)
    return key[starts], counts


def indexed_neuron_cores(neuron: np.ndarray, target: np.ndarray, target_core: np.ndarray,
                         n_neurons: int, sh: int) -> tuple[np.ndarray, np.ndarray] | None:
    """`distinct_neuron_cores` without a sort, by marking keys in an index over the key space
    (n_neurons x the distinct cores of the targets); None where that space is not small next
    to the number of pairs (then sorting costs less)."""
    if not neuron.size:
        return None
    cores = np.unique(target_core)
    space = int(n_neurons) * int(cores.size)
    if space > min(COUNT_SPACE_PER_KEY * neuron.size, COUNT_MAX_SPACE):
        return None
    key = neuron.astype(np.int64)  # neuron x core rank among `cores`
    key *= cores.size
    key += np.searchsorted(cores, target_core).astype(np.int32)[target]
    index = np.zeros(space, np.int32)
    index[key] = 1
    flat = np.flatnonzero(index)
    index[flat] = np.arange(flat.size, dtype=np.int32)  # key -> its rank among distinct keys
    rank = index[key]
    del key, index
    counts = np.bincount(rank, minlength=flat.size)
    del rank
    ukeys, c = np.divmod(flat, cores.size)
    ukeys <<= sh
    ukeys |= cores[c]
    return ukeys, counts
