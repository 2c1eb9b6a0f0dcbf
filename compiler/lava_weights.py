"""Lava's fixed-point weight storage: sign mode, 8-bit clip and low-bit truncation.

One definition for the compiler (quantization, fit checks, NIR export, plasticity), the
CPU backend and the Lava lowering. Mirrors lava/utils/weightutils.py as used by Lava's
fixed_pt Dense/Sparse models: weights live in an int32 Var (floats truncated toward 0),
the sign mode is taken from the whole matrix, weights are clipped to 8 bits and the low
`8 - num_weight_bits + is_mixed` bits are dropped.
"""

from __future__ import annotations

import numpy as np

EXCITATORY, INHIBITORY, MIXED = "excitatory", "inhibitory", "mixed"
SIGN_MODES = (EXCITATORY, INHIBITORY, MIXED)


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


def clip_range(mode: str) -> tuple[int, int]:
    """The 8-bit range Lava clips weights of a sign mode to (`clip_weights(..., num_bits=8)`)."""
    return {MIXED: (-256, 255), EXCITATORY: (0, 255), INHIBITORY: (-255, 0)}[mode]


def truncate_bits(num_weight_bits: int, mode: str) -> int:
    """Low bits Lava's Dense drops: 8 - num_weight_bits (+1 for mixed sign)."""
    return 8 - int(num_weight_bits) + int(mode == MIXED)


def effective_weights(weight: np.ndarray, num_weight_bits: int = 8,
                      mode: str | None = None) -> np.ndarray:
    """Weights exactly as Lava's fixed_pt Dense holds them after clip and truncation (int64).

    `weight` is one whole projection (per-synapse array or dense matrix); `mode` defaults to
    its own sign mode (pass the projection's mode for a sub-block of it). Mixed weights are
    clipped to [-256, 255], excitatory to [0, 255], inhibitory to [-255, 0]; then
    `(w >> k) << k` drops k low bits (inhibitory weights are negated around the shift, so
    -13 with k = 2 becomes -12).
    """
    nwb = int(num_weight_bits)
    if not 1 <= nwb <= 8:
        raise ValueError(f"num_weight_bits must be 1..8, got {num_weight_bits}")
    w = np.asarray(weight).astype(np.int32).astype(np.int64)  # Lava's int32 Var
    mode = sign_mode(w) if mode is None else mode
    k = truncate_bits(nwb, mode)
    if mode == INHIBITORY:
        return -((np.clip(-w, 0, 255) >> k) << k)
    lo, hi = clip_range(mode)
    return (np.clip(w, lo, hi) >> k) << k


def scaled_weights(w0: np.ndarray, scale: float, num_weight_bits: int) -> np.ndarray:
    """Compiled effective weights `w0` scaled by `scale` and re-quantized as Lava would store
    them (a phase's `weight_scale`): `effective_weights(rint(scale * w0), num_weight_bits)`."""
    return effective_weights(np.rint(float(scale) * np.asarray(w0)), num_weight_bits)
