"""One projection as the compiled engine stores it, and a Synapses-like view of it.

`pack` turns a `Synapses` into a `Packed` (block CSR, narrow weights, the weight_exp
handling of the kernels). For static projections the simulator then keeps only a
`PackedSynapses`, which answers what the phase controls and probes ask of `Synapses`
(weight, pre, post, dense, set_weights) from the packed arrays, in their order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compiler.errors import BackendError
from compiler.ir import Projection
from compiler.lava_weights import effective_weights

from .layout import BlockCSR, narrow_int
from .synapses import Synapses


def narrow_weights(weight: np.ndarray, fixed: bool) -> np.ndarray:
    """Weights in the narrowest dtype that holds them exactly (int16/int32; float32/64)."""
    if fixed:
        return narrow_int(np.asarray(weight))
    w = np.asarray(weight, dtype=np.float64)
    w32 = w.astype(np.float32)
    return w32 if np.array_equal(w32.astype(np.float64), w) else w


@dataclass
class Packed:
    """Kernel arguments of one projection (see kernels.deliver_par)."""

    csr: BlockCSR
    weight: np.ndarray  # static: in csr order, narrow; plastic: unused (Synapses.weight)
    perm: np.ndarray  # plastic: csr position -> Synapses position; static: empty
    scale: float  # each weight times this (2**weight_exp for weight_exp >= 0)
    shift: float  # 0, or 2**weight_exp < 1: per-(delay, post) sums floor-shifted
    scratch: np.ndarray  # (max_delay + 1, n_post) sums for shift != 0, else (1, 1)

    @property
    def nblk(self) -> int:
        return int(self.csr.bounds.shape[0] - 1)

    @property
    def nbytes(self) -> int:
        return int(self.csr.nbytes + self.weight.nbytes + self.perm.nbytes
                   + self.scratch.nbytes)


def _packed(csr: BlockCSR, weight: np.ndarray, perm: np.ndarray, e: int, n_post: int) -> Packed:
    scratch = np.zeros((csr.max_delay + 1, n_post) if e < 0 else (1, 1))
    return Packed(csr=csr, weight=weight, perm=perm, scale=float(2.0 ** max(e, 0)),
                  shift=float(2.0**e) if e < 0 else 0.0, scratch=scratch)


def pack(syn: Synapses, bounds: np.ndarray) -> Packed:
    """The packed form of a plastic projection's `syn` (weights read through `perm`)."""
    csr = BlockCSR(syn.pre, syn.post, syn.delay, syn.n_pre, bounds)
    return _packed(csr, np.zeros(0), csr.order, syn.weight_exp if syn.fixed else 0, syn.n_post)


def _sorted_merged(proj: Projection, n_pre: int, n_post: int, fixed: bool,
                   bounds: np.ndarray) -> tuple[np.ndarray, ...]:
    """(pre, post, delay, raw weight) sorted by (pre, block, delay, post), synapses with
    equal (pre, post, delay) summed (as Synapses does), with one sort and no int64 copies
    of the whole projection beyond the sort key and order."""
    pre, post = np.asarray(proj.pre_idx), np.asarray(proj.post_idx)
    delay, raw = np.asarray(proj.delay), np.asarray(proj.weight)
    if not (pre.shape == post.shape == delay.shape == raw.shape) or pre.ndim != 1:
        raise BackendError(f"projection '{proj.name}': pre_idx, post_idx, weight and delay "
                           "must be 1-D arrays of equal length")
    if pre.size and (pre.min() < 0 or pre.max() >= n_pre or post.min() < 0
                     or post.max() >= n_post):
        raise BackendError(f"projection '{proj.name}': neuron index out of range "
                           f"(pre < {n_pre}, post < {n_post})")
    if delay.size and delay.min() < 0:
        raise BackendError(f"projection '{proj.name}': negative delay")
    slots = int(delay.max(initial=0)) + 1
    nblk = len(bounds) - 1
    key = pre.astype(np.int64) * nblk
    key += np.searchsorted(bounds, post, side="right") - 1
    key *= slots
    key += delay
    key *= n_post
    key += post
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.ones(key.shape[0], dtype=bool)
    np.not_equal(key[1:], key[:-1], out=first[1:])
    del key
    raw = raw[order].astype(np.int32).astype(np.int64) if fixed else raw[order].astype(np.float64)
    pre, post, delay = pre[order], post[order], delay[order]
    del order
    if not first.all():  # duplicates: one synapse with the summed weight, as Lava's matrix
        starts = np.flatnonzero(first)
        raw = np.add.reduceat(raw, starts)
        pre, post, delay = pre[starts], post[starts], delay[starts]
    return pre, post, delay, raw


def pack_static(proj: Projection, n_pre: int, n_post: int, fixed: bool,
                bounds: np.ndarray) -> PackedSynapses:
    """A static projection straight into its packed form (no `Synapses` in between)."""
    pre, post, delay, raw = _sorted_merged(proj, n_pre, n_post, fixed, bounds)
    nbits = int(proj.num_weight_bits)
    if fixed:
        try:
            weight = narrow_weights(effective_weights(raw, nbits), True)
        except ValueError as exc:
            raise BackendError(f"projection '{proj.name}': {exc}") from exc
    else:
        weight = narrow_weights(raw, False)
    del raw
    csr = BlockCSR(pre, post, delay, n_pre, bounds, presorted=True)
    e = int(proj.weight_exp) if fixed else 0
    packed = _packed(csr, weight, np.zeros(0, np.int64), e, n_post)
    return PackedSynapses(proj.name, n_pre, n_post, fixed, e, nbits, packed,
                          np.int64 if fixed else np.float64)


class PackedSynapses:
    """A static projection's synapses read from its `Packed` form (Synapses' attributes).

    The arrays come in the packed order and are built on each access: for the phase
    controls and weight probes, not for the step loop.
    """

    plastic = False

    def __init__(self, name: str, n_pre: int, n_post: int, fixed: bool, weight_exp: int,
                 num_weight_bits: int, packed: Packed, dtype: type):
        self.name, self.n_pre, self.n_post, self.fixed = name, int(n_pre), int(n_post), fixed
        self.weight_exp, self.num_weight_bits = weight_exp, num_weight_bits
        self.max_delay = packed.csr.max_delay
        ud = packed.csr.uniform_delay
        self.uniform_delay = ud if ud >= 0 else None
        self.packed = packed
        self._dtype = dtype

    @property
    def n_synapses(self) -> int:
        return int(self.packed.csr.post.shape[0])

    @property
    def pre(self) -> np.ndarray:
        return self.packed.csr.pre_of()

    @property
    def post(self) -> np.ndarray:
        return self.packed.csr.post_of()

    @property
    def delay(self) -> np.ndarray:
        return self.packed.csr.delay_of()

    @property
    def weight(self) -> np.ndarray:
        return self.packed.weight.astype(self._dtype)

    def set_weights(self, weight: np.ndarray) -> None:
        """Replace the weights (packed order, as `weight` returns them)."""
        self.packed.weight = narrow_weights(weight, self.fixed)

    def dense(self) -> np.ndarray:
        """The (post, pre) weight matrix, as Synapses.dense."""
        out = np.zeros((self.n_post, self.n_pre), dtype=self._dtype)
        np.add.at(out, (self.post, self.pre), self.weight)
        return out
