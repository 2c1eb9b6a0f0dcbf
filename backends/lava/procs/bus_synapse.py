"""DelaySparse for the merged synapse blocks of granularity 'core' / 'chip'.

Lava 0.10's DelaySparse models rebuild their per-delay weight matrix (one sparse matrix
stacked per delay) on every step. A bus block's weights never change (plastic projections
use learning processes), so these models build it once, on the first step, after the
fixed-point model has clipped and truncated the weights, and compute the same products.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.sparse.models import PyDelaySparseModelBitAcc, PyDelaySparseModelFloat
from lava.proc.sparse.process import DelaySparse


class BusDelaySparse(DelaySparse):
    """A DelaySparse whose weights and delays stay as built (see the module docstring)."""


class _CachedDelays:
    """Mixin: `calc_act` with the per-delay matrix built once."""

    _snnc_stacked = None

    def calc_act(self, s_in: np.ndarray) -> np.ndarray:
        if self._snnc_stacked is None:
            self._snnc_stacked = self.get_delay_wgts_mat(self.weights, self.delays,
                                                         self.a_buff.shape[-1] - 1)
        return np.reshape(self._snnc_stacked.dot(s_in),
                          (self.a_buff.shape[-1], self.weights.shape[0])).T


@implements(proc=BusDelaySparse, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyBusDelaySparseModelFloat(_CachedDelays, PyDelaySparseModelFloat):
    """Lava's floating_pt DelaySparse model, per-delay matrix built once."""

    implements_process = None  # set by @implements (Lava refuses to re-point a subclass)


@implements(proc=BusDelaySparse, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyBusDelaySparseModelBitAcc(_CachedDelays, PyDelaySparseModelBitAcc):
    """Lava's fixed_pt DelaySparse model, per-delay matrix built once."""

    implements_process = None  # set by @implements (Lava refuses to re-point a subclass)
