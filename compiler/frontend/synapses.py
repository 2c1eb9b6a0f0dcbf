"""Vectorized synapse generation: connectivity patterns as (pre, post) index arrays.

All functions return int32 index arrays sorted by (pre, post) and never build a dense
(post, pre) matrix, so a 1M-neuron projection with 100 synapses per neuron is O(synapses).

Random draws are made per block of POST_BLOCK post neurons (block b: posts
[b * POST_BLOCK, (b + 1) * POST_BLOCK)), each block from its own stream, so the synapses
onto any run of whole blocks are the same whether the whole projection is drawn or only
those blocks (a rank of the mpi backend building its share): `block_major_order` groups
a pattern's synapses by block (the order draws are made in), `block_major_to_sorted`
turns block-major synapses back into (pre, post) order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_CHUNK = 1 << 22  # geometric gaps drawn per round (bounds temporary memory)
POST_BLOCK = 4096  # post neurons per random-draw block (fixed: changing it changes networks)


def block_range(n_post: int, lo: int = 0, hi: int | None = None) -> range:
    """The indices of the blocks holding post neurons [lo, hi) (default: all)."""
    hi = n_post if hi is None else min(hi, n_post)
    if hi <= lo:
        return range(0)
    return range(lo // POST_BLOCK, -(-hi // POST_BLOCK))


def block_bounds(block: int, n_post: int) -> tuple[int, int]:
    """The post neurons [lo, hi) of one block."""
    lo = block * POST_BLOCK
    return lo, min(lo + POST_BLOCK, n_post)


def random_blocks(rng_of: Callable[[int], np.random.Generator], n_pre: int, n_post: int,
                  p: float, blocks: range) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`random_pairs` of each block from its own stream `rng_of(block)`: (pre, post, counts),
    block-major (block by block, each in (pre, post) order), counts per block."""
    pres, posts, counts = [], [], []
    for b in blocks:
        lo, hi = block_bounds(b, n_post)
        pre, post = random_pairs(rng_of(b), n_pre, hi - lo, p)
        pres.append(pre)
        posts.append(post + np.int32(lo))
        counts.append(pre.shape[0])
    if not pres:
        empty = np.zeros(0, dtype=np.int32)
        return empty, empty.copy(), np.zeros(0, dtype=np.int64)
    return np.concatenate(pres), np.concatenate(posts), np.asarray(counts, dtype=np.int64)


def block_major_to_sorted(pre: np.ndarray, counts: np.ndarray, n_pre: int
                          ) -> tuple[np.ndarray, np.ndarray] | None:
    """(permutation, sorted pre) taking block-major synapses (each block in (pre, post)
    order, blocks in post order) to (pre, post) order: a stable counting sort by pre (one
    transpose, no comparison sort); None when they are in that order already."""
    if np.count_nonzero(counts) <= 1:
        return None
    import scipy.sparse as sp

    indptr = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    rows = sp.csr_matrix((np.arange(pre.size, dtype=np.int32), pre, indptr),
                         shape=(counts.size, max(int(n_pre), 1)))
    cols = rows.tocsc()
    del rows
    per_pre = np.diff(cols.indptr)
    return cols.data, np.repeat(np.arange(per_pre.size, dtype=np.int32), per_pre)


def block_major_order(pre: np.ndarray, post: np.ndarray, n_pre: int
                      ) -> tuple[np.ndarray | None, int, np.ndarray]:
    """For synapses in (pre, post) order: the permutation listing them block by block (a
    stable counting sort by block; None when that is the identity), the first block
    holding a synapse and the count per block from there on."""
    block = (post // POST_BLOCK).astype(np.int32)
    if block.size == 0:
        return None, 0, np.zeros(0, dtype=np.int64)
    first = int(block.min())
    block -= first
    counts = np.bincount(block).astype(np.int64)
    if counts.size <= 1:
        return None, first, counts
    import scipy.sparse as sp

    indptr = np.zeros(int(n_pre) + 1, dtype=np.int64)
    np.cumsum(np.bincount(pre, minlength=int(n_pre)), out=indptr[1:])
    rows = sp.csr_matrix((np.arange(pre.size, dtype=np.int32), block, indptr),
                         shape=(int(n_pre), counts.size))
    return rows.tocsc().data, first, counts


def all_to_all(n_pre: int, n_post: int, lo: int = 0, hi: int | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Every pre neuron to every post neuron (of posts [lo, hi), default all)."""
    hi = n_post if hi is None else hi
    pre = np.repeat(np.arange(n_pre, dtype=np.int32), max(hi - lo, 0))
    post = np.tile(np.arange(lo, max(hi, lo), dtype=np.int32), n_pre)
    return pre, post


def one_to_one(n: int, lo: int = 0, hi: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Neuron i to neuron i (for posts i in [lo, hi), default all)."""
    idx = np.arange(lo, max(min(n, n if hi is None else hi), lo), dtype=np.int32)
    return idx, idx.copy()


def random_pairs(rng: np.random.Generator, n_pre: int, n_post: int,
                 p: float) -> tuple[np.ndarray, np.ndarray]:
    """Each (pre, post) pair independently with probability p (exact Bernoulli, O(synapses)).

    Walks the flattened pair index `pre * n_post + post` with geometric gaps between
    successes (the gap after a success is Geometric(p)), which is the same distribution
    as one Bernoulli(p) draw per pair and yields the pairs already sorted.
    """
    total = int(n_pre) * int(n_post)
    if p <= 0 or total == 0:
        empty = np.zeros(0, dtype=np.int32)
        return empty, empty.copy()
    if p >= 1:
        return all_to_all(n_pre, n_post)
    pre_parts: list[np.ndarray] = []
    post_parts: list[np.ndarray] = []
    last = -1  # flat index of the last success so far
    while last < total:
        expected = (total - last) * p
        size = int(min(_CHUNK, expected + 6 * np.sqrt(expected) + 16))
        pos = last + np.cumsum(rng.geometric(p, size=size).astype(np.int64))
        last = int(pos[-1])
        pos = pos[pos < total]
        pre_parts.append((pos // n_post).astype(np.int32))
        post_parts.append((pos % n_post).astype(np.int32))
    return np.concatenate(pre_parts), np.concatenate(post_parts)


def sort_order(pre: np.ndarray, post: np.ndarray, n_post: int) -> np.ndarray:
    """The permutation that sorts synapses by (pre, post): the stable argsort of the key
    pre * n_post + post. Two orders come without a comparison sort: already sorted with
    distinct pairs (the identity), and sorted by (post, pre) with distinct pairs, as a
    sparse (post, pre) matrix lists them (a counting sort by pre, stable, so the same)."""
    key = pre.astype(np.int64) * max(int(n_post), 1) + post.astype(np.int64)
    if _increasing(key):
        return np.arange(key.size, dtype=np.intp)
    n_pre = int(pre.max()) + 1 if pre.size else 1
    if pre.min() >= 0 and post.min() >= 0 and _increasing(post.astype(np.int64) * n_pre + pre):
        return _counting_order(pre, post, n_post, n_pre)
    return np.argsort(key, kind="stable")


def _increasing(key: np.ndarray) -> bool:
    """Whether `key` is strictly increasing (distinct and sorted)."""
    return bool(np.all(key[1:] > key[:-1]))


def _counting_order(pre: np.ndarray, post: np.ndarray, n_post: int, n_pre: int) -> np.ndarray:
    """The stable order by pre of synapses grouped by post (a CSR to CSC conversion: one
    counting pass, no comparison sort)."""
    import scipy.sparse as sp

    indptr = np.zeros(max(int(n_post), int(post.max()) + 1) + 1, dtype=np.int64)
    np.cumsum(np.bincount(post, minlength=indptr.size - 1), out=indptr[1:])
    rows = sp.csr_matrix((np.arange(pre.size, dtype=np.intp), pre, indptr),
                         shape=(indptr.size - 1, n_pre))
    return rows.tocsc().data.astype(np.intp, copy=False)


def duplicate_pairs(pre: np.ndarray, post: np.ndarray) -> np.ndarray:
    """Indices (into sorted arrays) of synapses that repeat the previous (pre, post) pair."""
    same = (pre[1:] == pre[:-1]) & (post[1:] == post[:-1])
    return np.flatnonzero(same) + 1


def local_pairs(pos_pre: np.ndarray, pos_post: np.ndarray, radius: float,
                wrap: tuple[float, ...] | None = None, same: bool = False
                ) -> tuple[np.ndarray, np.ndarray]:
    """Every (pre, post) pair at Euclidean distance <= radius (a k-d tree, no dense matrix).

    `wrap`: a periodic box of that size per axis (a torus sheet); positions must lie in
    [0, wrap). `same`: pre and post are one population, and a neuron gets no synapse from
    itself.
    """
    from scipy.spatial import cKDTree

    box = None if wrap is None else np.asarray(wrap, np.float64)
    t_post = cKDTree(pos_post, boxsize=box)
    if same:
        ij = t_post.query_pairs(radius, output_type="ndarray")  # i < j, both directions below
        pre = np.concatenate((ij[:, 0], ij[:, 1]))
        post = np.concatenate((ij[:, 1], ij[:, 0]))
    else:
        res = t_post.sparse_distance_matrix(cKDTree(pos_pre, boxsize=box), radius,
                                            output_type="ndarray")
        pre, post = res["j"], res["i"]
    order = sort_order(pre, post, pos_post.shape[0])
    return pre[order].astype(np.int32), post[order].astype(np.int32)
