"""Event-driven synapses of one projection: CSR by pre neuron, delivery into a delay ring buffer.

Lava semantics (lava/proc/dense/models.py): a spike emitted at step t through a synapse
with delay d is part of the post neuron's a_in at step t + d + 1. In fixed precision each
projection's sum per (post neuron, delay, emission step) is shifted by weight_exp before it
is added to the buffer (DelayDense shifts `a_accum` per delay column, then accumulates);
contributions of several projections add after their own shift, as Lava's LIF InPort sums them.
"""

from __future__ import annotations

import numpy as np

from compiler.errors import BackendError
from compiler.ir import Projection
from compiler.lava_weights import effective_weights

from .ring import InputRing

try:  # scipy's C++ kernels behind csr_matrix[rows] and csc @ x; numpy fallbacks below.
    from scipy.sparse._sparsetools import csc_matvec as _csc_matvec
    from scipy.sparse._sparsetools import csr_row_index as _csr_row_index
except ImportError:  # pragma: no cover - depends on scipy internals
    _csr_row_index = _csc_matvec = None


def merge_duplicates(pre: np.ndarray, post: np.ndarray, delay: np.ndarray, weight: np.ndarray,
                      n_pre: int, n_post: int) -> tuple[np.ndarray, ...]:
    """Sum weights of synapses with equal (pre, post, delay), as Lava's dense matrix would."""
    key = (delay.astype(np.int64) * n_pre + pre) * n_post + post
    uniq, inv = np.unique(key, return_inverse=True)
    if uniq.size == key.size:
        return pre, post, delay, weight
    w = np.zeros(uniq.size, dtype=weight.dtype)
    np.add.at(w, inv, weight)
    post_u = uniq % n_post
    rest = uniq // n_post
    return rest % n_pre, post_u, rest // n_pre, w


class Synapses:
    """One projection's synapses in CSR sorted by pre neuron.

    Arrays of length n_synapses, all aligned: `pre`, `post`, `delay` (int64) and `weight`
    (int64 effective Lava weights in fixed precision, float64 in float). Row i of the CSR
    is `indptr[i]:indptr[i + 1]`. A learning engine may modify `weight` in place between
    steps (fixed precision: integer values); the simulator reads it on every step when the
    projection is `plastic`, while static projections use a frozen float64 copy for speed.
    """

    def __init__(self, proj: Projection, n_pre: int, n_post: int, fixed: bool,
                 plastic: bool = False):
        self.name, self.n_pre, self.n_post = proj.name, int(n_pre), int(n_post)
        self.fixed, self.plastic = fixed, plastic
        self.weight_exp = int(proj.weight_exp) if fixed else 0
        self.num_weight_bits = int(proj.num_weight_bits)
        pre = np.asarray(proj.pre_idx, dtype=np.int64)
        post = np.asarray(proj.post_idx, dtype=np.int64)
        delay = np.asarray(proj.delay, dtype=np.int64)
        raw = np.asarray(proj.weight)
        if not (pre.shape == post.shape == delay.shape == raw.shape) or pre.ndim != 1:
            raise BackendError(f"projection '{self.name}': pre_idx, post_idx, weight and delay "
                               "must be 1-D arrays of equal length")
        if pre.size and (pre.min() < 0 or pre.max() >= self.n_pre or post.min() < 0
                         or post.max() >= self.n_post):
            raise BackendError(f"projection '{self.name}': neuron index out of range "
                               f"(pre < {self.n_pre}, post < {self.n_post})")
        if delay.size and delay.min() < 0:
            raise BackendError(f"projection '{self.name}': negative delay")
        if fixed:
            # Lava's int32 Var (float -> int toward zero), duplicates summed like its dense matrix.
            raw = raw.astype(np.int32).astype(np.int64)
        else:
            raw = raw.astype(np.float64)
        pre, post, delay, raw = merge_duplicates(pre, post, delay, raw, self.n_pre, self.n_post)
        if fixed:
            try:
                weight = effective_weights(raw, self.num_weight_bits)
            except ValueError as exc:
                raise BackendError(f"projection '{self.name}': {exc}") from exc
        else:
            weight = raw
        order = np.lexsort((post, delay, pre))
        self.pre, self.post, self.delay = pre[order], post[order], delay[order]
        self.weight = weight[order]
        counts = np.bincount(self.pre, minlength=self.n_pre)
        self.indptr = np.zeros(self.n_pre + 1, dtype=np.int64)
        np.cumsum(counts, out=self.indptr[1:])
        self.max_delay = int(self.delay.max()) if self.delay.size else 0
        uniform = self.delay.size == 0 or bool(np.all(self.delay == self.delay[0]))
        self.uniform_delay: int | None = self.max_delay if uniform else None
        # Gather key: the post index (one delay) or delay * n_post + post (several delays).
        self._key = self.post if uniform else self.delay * self.n_post + self.post
        self._wsrc = self.weight if plastic else self.weight.astype(np.float64)
        self._kbuf = np.empty(0, dtype=np.int64)
        self._wbuf = np.empty(0, dtype=self._wsrc.dtype)
        self._fanout = counts.astype(np.int64)
        self._apbuf = np.empty(0, dtype=np.int64)
        # factor for the fused kernel: << weight_exp is exact as a product when weight_exp >= 0
        self._scale = float(2 ** max(self.weight_exp, 0))
        self._xbuf = np.empty(0)

    def set_weights(self, weight: np.ndarray) -> None:
        """Replace `weight` (same length and order) and the copy that delivery reads."""
        self.weight = weight
        self._wsrc = self.weight if self.plastic else self.weight.astype(np.float64)

    @property
    def n_synapses(self) -> int:
        return int(self.post.shape[0])

    def gather(self, spiking: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keys and weights of all synapses of the `spiking` pre neurons (int64 indices)."""
        starts = self.indptr[spiking]
        counts = self.indptr[spiking + 1] - starts
        total = int(counts.sum())
        if total == 0:
            return self._kbuf[:0], self._wbuf[:0]
        if self.plastic and self._wsrc is not self.weight:  # a learner replaced the array
            self._wsrc = self.weight
        if self._kbuf.shape[0] < total or self._wbuf.dtype != self._wsrc.dtype:
            size = min(self.n_synapses, max(total, 2 * self._kbuf.shape[0]))
            self._kbuf = np.empty(size, dtype=np.int64)
            self._wbuf = np.empty(size, dtype=self._wsrc.dtype)
        k, w = self._kbuf[:total], self._wbuf[:total]
        if _csr_row_index is not None:
            _csr_row_index(spiking.shape[0], spiking, self.indptr, self._key, self._wsrc, k, w)
        else:
            idx = np.repeat(starts - (np.cumsum(counts) - counts), counts)
            idx += np.arange(total)
            np.take(self._key, idx, out=k)
            np.take(self._wsrc, idx, out=w)
        return k, w

    def _shift(self, acc: np.ndarray) -> np.ndarray:
        """Lava's `a_accum << weight_exp` (or arithmetic >> for negative), on exact integers."""
        e = self.weight_exp
        if e > 0:
            acc *= float(2**e)
        elif e < 0:
            acc *= 2.0**e
            np.floor(acc, out=acc)
        return acc

    def deliver(self, spiking: np.ndarray, t: int, ring: InputRing) -> int:
        """Add the input caused by `spiking` pre neurons (ascending indices) at step t into `ring`.

        Delay d lands in the input of step t + d + 1. Returns the number of synaptic events.
        """
        if spiking.shape[0] == 0:
            return 0
        if (self.uniform_delay is not None and _csc_matvec is not None
                and self._wsrc.dtype == np.float64 and not self.plastic):
            return self._deliver_fused(spiking, t, ring)
        k, w = self.gather(spiking)
        n = int(k.shape[0])
        if n == 0:
            return 0
        n_post = self.n_post
        if self.uniform_delay is not None:
            ring.add(t + self.uniform_delay + 1, self._shift(np.bincount(k, w, minlength=n_post)))
            return n
        n_slots = self.max_delay + 1
        if 4 * n >= n_slots * n_post:  # dense: one bincount over all (delay, post) bins
            acc = np.bincount(k, w, minlength=n_slots * n_post).reshape(n_slots, n_post)
            acc = self._shift(acc)
            for d in np.flatnonzero(acc.any(axis=1)):
                ring.add(t + 1 + int(d), acc[d])
        else:  # sparse: sum per distinct (delay, post), then scatter slot by slot
            uniq, inv = np.unique(k, return_inverse=True)
            acc = self._shift(np.bincount(inv, w).astype(np.float64))
            delay = uniq // n_post
            cuts = np.flatnonzero(np.diff(delay)) + 1
            for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, uniq.shape[0]], strict=True):
                ring.slot(t + 1 + int(delay[lo]))[uniq[lo:hi] - delay[lo] * n_post] += acc[lo:hi]
        return n

    def _deliver_fused(self, spiking: np.ndarray, t: int, ring: InputRing) -> int:
        """One delay: scatter-add the rows of the spiking neurons straight into the ring.

        scipy's csc_matvec walks column ranges Ap[j]:Ap[j+1]; with the spiking rows in
        descending order and Ap = [s0, e0, s1, e1, ...], every odd 'column' (e_m, s_m+1)
        is empty (s_m+1 < e_m), so only the spiking neurons' synapses are visited.
        """
        rows = spiking[::-1]
        k = rows.shape[0]
        if self._apbuf.shape[0] < 2 * k:
            size = min(2 * self.n_pre, max(2 * k, 2 * self._apbuf.shape[0]))
            self._apbuf = np.empty(size, dtype=np.int64)
            self._xbuf = np.full(size, self._scale)
        ap = self._apbuf[:2 * k]
        ap[0::2] = self.indptr[rows]
        ap[1::2] = self.indptr[rows + 1]
        n = int(self._fanout[spiking].sum())
        if n == 0:
            return 0
        arrive = t + self.uniform_delay + 1
        if self.weight_exp < 0:  # floor shift of the per-post sum: accumulate apart first
            acc = np.zeros(self.n_post)
            _csc_matvec(self.n_post, 2 * k - 1, ap, self._key, self._wsrc, self._xbuf, acc)
            ring.add(arrive, self._shift(acc))
        else:
            _csc_matvec(self.n_post, 2 * k - 1, ap, self._key, self._wsrc, self._xbuf,
                        ring.slot(arrive))
        return n

    def dense(self) -> np.ndarray:
        """The current (post, pre) weight matrix (duplicates summed), as Lava Dense holds it."""
        out = np.zeros((self.n_post, self.n_pre), dtype=self.weight.dtype)
        np.add.at(out, (self.post, self.pre), self.weight)
        return out
