"""Memory layout of the compiled cpu engine: neuron blocks and synapses packed per block.

A population's neurons are cut into contiguous blocks, one unit of work for a thread; cuts
fall on core boundaries of the compiled placement where there is one. A projection's
synapses are stored per destination block, sorted by pre neuron (a CSR per block), with
local post indices (16 bits in blocks of up to 65,536 neurons) and the narrowest weight /
delay dtypes that hold the values, so a thread walks only synapses onto its own neurons.
"""

from __future__ import annotations

import numpy as np

MIN_BLOCK = 32768  # neurons: smaller populations are one block (measured: two threads on two
# blocks of 5,000 neurons were 1.6x slower than one, the parallel regions' start and barrier
# cost more than the work; at 50,000 neurons per block two threads were 1.7x faster)


def block_count(n: int, threads: int) -> int:
    """Blocks for a population of n neurons on `threads` threads: one per thread.

    More blocks than threads (to keep a block's input in L2) measured slower: each spiking
    neuron's row is then cut into short segments, and their offsets are looked up per block.
    """
    return max(1, min(int(threads), int(n)))


def partition(n: int, blocks: int, core_ids: np.ndarray | None = None,
              min_block: int = MIN_BLOCK) -> np.ndarray:
    """Block bounds (int64, first 0, last n) splitting n neurons into <= `blocks` blocks
    of at least `min_block` neurons.

    Equal sizes; with `core_ids` (core per neuron) each cut moves to the nearest core
    boundary, so no core is split between two threads.
    """
    nblk = max(1, min(int(blocks), n // max(1, min_block)))
    cuts = np.linspace(0, n, nblk + 1).round().astype(np.int64)
    if core_ids is not None and len(core_ids) == n and n and nblk > 1:
        edges = np.flatnonzero(np.diff(np.asarray(core_ids))) + 1  # first neuron of a core
        if edges.size:
            near = edges[np.abs(edges[None, :] - cuts[1:-1, None]).argmin(axis=1)]
            cuts[1:-1] = near
    return np.unique(cuts)


def narrow_int(values: np.ndarray) -> np.ndarray:
    """values as int16 if they fit, else int32 (int64 beyond that)."""
    lo = int(values.min(initial=0))
    hi = int(values.max(initial=0))
    for dt in (np.int16, np.int32):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return values.astype(dt)
    return values.astype(np.int64)


class BlockCSR:
    """One projection's synapses, each pre neuron's row split by post block.

    Synapses come by (pre, block); `ptr[i, b]:ptr[i, b + 1]` are those from pre i onto
    block b (so one cache line holds a spiking neuron's offsets for every block), and
    `ptr[i, nblk] == ptr[i + 1, 0]`. `post` holds the post index minus the block's first
    neuron. `order[k]` is the position of synapse k in the arrays it was built from
    (plastic projections read their weights through it; static ones drop it).
    """

    def __init__(self, pre: np.ndarray, post: np.ndarray, delay: np.ndarray,
                 n_pre: int, bounds: np.ndarray, presorted: bool = False):
        """`presorted`: the synapses already come by (pre, block) (then `order` is None)."""
        self.bounds = np.asarray(bounds, dtype=np.int64)
        self.n_pre = int(n_pre)
        nblk = self.bounds.shape[0] - 1
        order = None
        if not presorted:
            block = np.searchsorted(self.bounds, post, side="right") - 1
            # stable by (pre, block): inputs sorted by (pre, delay, post) keep that order
            order = np.argsort(np.asarray(pre, dtype=np.int64) * nblk + block, kind="stable")
            del block
            pre, post, delay = pre[order], post[order], delay[order]
        blk = np.searchsorted(self.bounds, post, side="right") - 1
        counts = np.bincount(np.asarray(pre, dtype=np.int64) * nblk + blk,
                             minlength=n_pre * nblk)
        ptr = np.zeros(n_pre * nblk + 1, dtype=np.int64)
        np.cumsum(counts, out=ptr[1:])
        # rows of nblk + 1 offsets: row i is ptr[i * nblk : (i + 1) * nblk + 1]
        idx = np.arange(n_pre)[:, None] * nblk + np.arange(nblk + 1)[None, :]
        self.ptr = ptr[idx].astype(np.int32) if post.shape[0] < 2**31 else ptr[idx]
        del ptr, idx, counts
        # unsigned (no wrap-around test), 16 bits where every block has at most 2**16 neurons
        narrow = nblk == 0 or int(np.diff(self.bounds).max()) <= 2**16
        self.post = (post - self.bounds[blk]).astype(np.uint16 if narrow else np.uint32)
        del blk
        self.max_delay = int(delay.max(initial=0))
        uniform = delay.size == 0 or bool(np.all(delay == delay[0]))
        self.uniform_delay = self.max_delay if uniform else -1
        if uniform:
            self.delay = np.zeros(0, dtype=np.uint8)
        else:
            self.delay = delay.astype(np.uint8 if self.max_delay < 256 else np.int32)
        self.order: np.ndarray | None = order  # dropped by the caller once not needed

    def block_of(self) -> np.ndarray:
        """Block of every stored synapse (int64)."""
        nblk = self.bounds.shape[0] - 1
        counts = np.diff(self.ptr, axis=1).ravel()
        return np.tile(np.arange(nblk, dtype=np.int64), self.n_pre).repeat(counts)

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays the engine keeps (without the weights)."""
        extra = self.order.nbytes if self.order is not None else 0
        return self.ptr.nbytes + self.post.nbytes + self.delay.nbytes + extra

    def pre_of(self) -> np.ndarray:
        """Pre neuron of every stored synapse (int64), rebuilt from the CSR."""
        counts = self.ptr[:, -1] - self.ptr[:, 0]
        return np.arange(self.n_pre, dtype=np.int64).repeat(counts)

    def post_of(self) -> np.ndarray:
        """Global post neuron of every stored synapse (int64)."""
        return self.post.astype(np.int64) + self.bounds[self.block_of()]

    def delay_of(self) -> np.ndarray:
        """Delay of every stored synapse (int64)."""
        if self.uniform_delay >= 0:
            return np.full(self.post.shape[0], self.uniform_delay, dtype=np.int64)
        return self.delay.astype(np.int64)
