"""Lava's fixed-point weight quantization (Dense/Sparse `clip_weights` + `truncate_weights`).

Mirrors lava/utils/weightutils.py as used by lava/proc/dense/models.py (PyDenseModelBitAcc,
PyDelayDenseModelBitAcc): weights are stored in an int32 Var (floats truncated toward 0),
the sign mode is taken from the WHOLE matrix, weights are clipped to 8 bits and then the
low `8 - num_weight_bits + is_mixed` bits are dropped (arithmetic shifts).
"""

from __future__ import annotations

import numpy as np

EXCITATORY, INHIBITORY, MIXED = "excitatory", "inhibitory", "mixed"


def sign_mode(weight: np.ndarray) -> str:
    """Lava's `determine_sign_mode`: all >= 0 excitatory, all <= 0 inhibitory, else mixed.

    Absent synapses (zeros of Lava's dense matrix) never change the outcome, so the
    per-synapse array gives the same mode as the dense matrix. Empty means excitatory.
    """
    w = np.asarray(weight)
    if w.size == 0 or w.min() >= 0:
        return EXCITATORY
    if w.max() <= 0:
        return INHIBITORY
    return MIXED


def effective_weights(weight: np.ndarray, num_weight_bits: int = 8) -> np.ndarray:
    """Weights exactly as Lava's fixed_pt Dense holds them after clip and truncation (int64).

    `weight` is one whole projection (per-synapse array or dense matrix): mixed weights are
    clipped to [-256, 255], excitatory to [0, 255], inhibitory to [-255, 0]; then
    `k = 8 - num_weight_bits + (mode == mixed)` low bits are dropped: `(w >> k) << k`
    (inhibitory weights are negated around the shift, so -13 with k = 2 becomes -12).
    """
    nwb = int(num_weight_bits)
    if not 1 <= nwb <= 8:
        raise ValueError(f"num_weight_bits must be 1..8, got {num_weight_bits}")
    # Lava keeps weights in an int32 Var: assignment truncates floats toward zero.
    w = np.asarray(weight).astype(np.int32).astype(np.int64)
    mode = sign_mode(w)
    mixed = mode == MIXED
    if mode == INHIBITORY:
        w = -w
    w = np.clip(w, -256 if mixed else 0, 255)
    k = 8 - nwb + int(mixed)
    w = (w >> k) << k
    if mode == INHIBITORY:
        w = -w
    return w
