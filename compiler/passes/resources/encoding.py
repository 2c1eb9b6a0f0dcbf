"""Synapse encoding: the bits a projection's synapses take in a core's synapse memory.

For every (projection, presynaptic neuron, core) a core stores one synapse list, cut into
blocks of <= 64 synapses; a block costs `10 + n * (weight_bits + delay_bits + tag_bits +
index_bits)` bits rounded up to 64-bit words. This follows nengo-loihi's
`SynapseConfig.bits_per_axon` (nengo_loihi/block.py): 4 synapse-format-id bits + 6
synapse-count bits of header, `n_synapses + 1 <= 64` synapses per block, 64-bit memory
words. Projections with different formats need separate blocks (a block names one format).

- `weight_bits`: the projection's `num_weight_bits`, rounded up to a width Loihi can store
  (nengo-loihi `WEIGHT_BITS_MAP` = 0..6, 8). A mixed-sign projection keeps its sign inside
  these bits (Lava and nengo-loihi drop `8 - num_weight_bits + is_mixed` bits of the 9-bit
  mixed range), so no extra sign bit is charged.
- `delay_bits = ceil(log2(max_delay + 1))` (0 without delays);
  `index_bits = ceil(log2(target.core.neurons))`.
- `tag_bits`: the learning tags a plastic projection's rule (in learning-engine form) reads
  or writes, as Lava's engine holds them per synapse: `t` (tag_1, 8 bits + sign) 9 bits,
  `d` (tag_2, 8 bits) 8 bits; 0 for static synapses and rules of traces and weights only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...ir import Projection
from ...plasticity.fixed import W_TAG_U
from ...plasticity.grammar import TARGET_VAR
from ...plasticity.rules import lower
from ...target import Target

HEADER_BITS = 10  # 4-bit synapse-format id + 6-bit synapse count (nengo-loihi bits_per_axon)
BLOCK_SYNAPSES = 64  # a 6-bit count field stores n_synapses - 1
WORD_BITS = 64  # synapse memory is allocated in 64-bit words
WEIGHT_BITS_MAP = (0, 1, 2, 3, 4, 5, 6, 8)  # storable weight widths (nengo-loihi SynapseConfig)
TAG_BITS = {"t": W_TAG_U + 1, "d": W_TAG_U}  # Lava's tag_1 (signed) and tag_2 (unsigned)


@dataclass(frozen=True)
class SynapseFormat:
    """Per-synapse encoding widths of one projection on a target."""

    weight_bits: int
    delay_bits: int
    index_bits: int
    tag_bits: int = 0

    @property
    def bits(self) -> int:
        return self.weight_bits + self.delay_bits + self.tag_bits + self.index_bits


def projection_format(proj: Projection, target: Target) -> SynapseFormat:
    """The synapse encoding of `proj` on `target` (see the module docstring)."""
    nwb = int(proj.num_weight_bits)
    wb = next((v for v in WEIGHT_BITS_MAP if v >= nwb), nwb)
    max_delay = int(proj.delay.max()) if proj.delay.size else 0
    db = int(math.ceil(math.log2(max_delay + 1))) if max_delay > 0 else 0
    ib = int(math.ceil(math.log2(target.core.neurons))) if target.core.neurons > 1 else 0
    return SynapseFormat(wb, db, ib, learning_tag_bits(proj))


def learning_tag_bits(proj: Projection) -> int:
    """Per-synapse bits of the tags (`t`, `d`) that `proj`'s learning rule reads or writes."""
    if proj.plasticity is None:
        return 0
    # which variables a rule uses does not depend on precision; float skips the fixed-point
    # range checks, which the pipeline ran on the network's own precision already
    spec = lower(proj.plasticity, "float", name=proj.name)
    used = {TARGET_VAR[t] for t, prods in spec.products.items() if prods}
    used |= {f.var for prods in spec.products.values() for p in prods for f in p.factors}
    return sum(bits for var, bits in TAG_BITS.items() if var in used)


def _round_words(bits):
    return -(-bits // WORD_BITS) * WORD_BITS


def synapse_list_bits(n, bits_per_synapse):
    """Encoded bits of synapse lists of `n` synapses each (vectorized over n and bits)."""
    n = np.asarray(n, dtype=np.int64)
    b = np.asarray(bits_per_synapse, dtype=np.int64)
    full, rest = np.divmod(n, BLOCK_SYNAPSES)
    out = full * _round_words(HEADER_BITS + BLOCK_SYNAPSES * b)
    out = out + np.where(rest > 0, _round_words(HEADER_BITS + rest * b), 0)
    return out


def list_bits_f64(counts: np.ndarray, bits_per_synapse: int) -> np.ndarray:
    """`synapse_list_bits(counts, b)` for one width b as float64 (bincount weights), by
    table lookup when counts are small (no int64 intermediate per list)."""
    if counts.size and int(counts.max()) <= 1 << 16:
        lut = synapse_list_bits(np.arange(int(counts.max()) + 1), bits_per_synapse)
        return lut.astype(np.float64)[counts]
    return synapse_list_bits(counts, bits_per_synapse).astype(np.float64)
