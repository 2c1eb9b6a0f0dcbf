"""One projection as the compiled engine stores it, and a Synapses-like view of it.

`pack` turns a `Synapses` into a `Packed` (block CSR, narrow weights, the weight_exp
handling of the kernels). For static projections the simulator then keeps only a
`PackedSynapses`, which answers what the phase controls and probes ask of `Synapses`
(weight, pre, post, dense, set_weights) from the packed arrays, in their order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    events: np.ndarray  # synaptic events per block of the last delivery

    @property
    def nblk(self) -> int:
        return int(self.csr.bounds.shape[0] - 1)

    @property
    def nbytes(self) -> int:
        return int(self.csr.nbytes + self.weight.nbytes + self.perm.nbytes
                   + self.scratch.nbytes)


def pack(syn: Synapses, bounds: np.ndarray) -> Packed:
    """The packed form of `syn` for post blocks `bounds`."""
    csr = BlockCSR(syn.pre, syn.post, syn.delay, syn.n_pre, bounds)
    e = syn.weight_exp if syn.fixed else 0
    if syn.plastic:
        weight, perm = np.zeros(0), csr.order
    else:
        weight, perm = narrow_weights(syn.weight[csr.order], syn.fixed), np.zeros(0, np.int64)
        csr.order = None
    scratch = np.zeros((csr.max_delay + 1, syn.n_post) if e < 0 else (1, 1))
    return Packed(csr=csr, weight=weight, perm=perm, scale=float(2.0 ** max(e, 0)),
                  shift=float(2.0**e) if e < 0 else 0.0, scratch=scratch,
                  events=np.zeros(len(bounds) - 1, dtype=np.int64))


class PackedSynapses:
    """A static projection's synapses read from its `Packed` form (Synapses' attributes).

    The arrays come in the packed order and are built on each access: for the phase
    controls and weight probes, not for the step loop.
    """

    plastic = False

    def __init__(self, syn: Synapses, packed: Packed):
        self.name, self.n_pre, self.n_post, self.fixed = syn.name, syn.n_pre, syn.n_post, syn.fixed
        self.weight_exp, self.num_weight_bits = syn.weight_exp, syn.num_weight_bits
        self.max_delay, self.uniform_delay = syn.max_delay, syn.uniform_delay
        self.packed = packed
        self._dtype = syn.weight.dtype

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
