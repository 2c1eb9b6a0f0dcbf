"""Loihi learning-engine number formats, as Lava 0.10's bit-approximate engine uses them.

Widths come from `lava/magma/core/learning/constants.py`; the arithmetic they imply is
documented where it is used (`backends/cpu/learning.py`). Kept free of Lava imports so the
compiler runs without Lava.
"""

from __future__ import annotations

import math

W_EPOCH_TIME = 6  # within-epoch spike time tx/ty: t_epoch <= 63
W_WEIGHTS_U = 8  # weights: 8 bits + sign
W_TAG_U = 8  # tag_1 (t) and tag_2 (d): 8 bits + sign
W_TRACE = 7  # traces x1, x2, y1, y2, y3: unsigned 7-bit integers, 0..127
W_TRACE_FRACTIONAL_PART = 8  # impulses carry 8 fractional bits (stochastically rounded)
W_S_MANT = 4  # product scale mantissa: signed 4 bits, [-8, 7]
W_ACCUMULATOR_U = 15  # accumulator of synaptic changes: 15 bits + sign
MAC_BITS = 31  # Lava multiplies factors in an int32 register: widths must sum to <= 31

MANT_MIN, MANT_MAX = -8, 7
EXP_MIN, EXP_MAX = -7, 8
MAX_T_EPOCH = 2**W_EPOCH_TIME - 1
MAX_IMPULSE = 2**W_TRACE - 1

# bit width of each factor in a product (signed variables count their sign bit)
FACTOR_WIDTH = {"x0": 1, "y0": 1, "x1": W_TRACE, "x2": W_TRACE, "y1": W_TRACE, "y2": W_TRACE,
                "y3": W_TRACE, "w": W_WEIGHTS_U + 1, "d": W_TAG_U + 1, "t": W_TAG_U + 1}

# shift between a synaptic variable and its accumulator: W_ACCUMULATOR_S - W_VAR_S = 16 - 9
ACC_SHIFT = (W_ACCUMULATOR_U + 1) - (W_WEIGHTS_U + 1)


def product_shift(factors: list[str] | tuple[str, ...]) -> int:
    """Right shift Lava's fixed-point engine applies to a product with these factor variables.

    The MAC keeps 15 bits: a product whose factor widths plus the 4-bit mantissa exceed 15
    bits is shifted right by the excess before the 2^exponent scaling (Lava
    `LearningRuleApplierBitApprox.apply`), i.e. it is 2^shift smaller than in floating point.
    """
    width = sum(FACTOR_WIDTH[f] for f in factors) + W_S_MANT
    return max(0, width - W_ACCUMULATOR_U)


def mac_width(factors: list[str] | tuple[str, ...]) -> int:
    """Bits the int32 MAC needs for a product of these factors (sign included)."""
    return sum(FACTOR_WIDTH[f] for f in factors) + W_S_MANT


def normalize(mantissa: int, exponent: int) -> tuple[int, int]:
    """Lava's normalisation of a product scale: halve even mantissas beyond 7 while e < 8."""
    while abs(mantissa) > MANT_MAX and mantissa % 2 == 0 and exponent < EXP_MAX:
        mantissa //= 2
        exponent += 1
    return mantissa, exponent


def representable(mantissa: int, exponent: int) -> bool:
    """Whether m * 2^e fits the learning engine's scale field (m in [-8, 7], e in [-7, 8])."""
    return MANT_MIN <= mantissa <= MANT_MAX and EXP_MIN <= exponent <= EXP_MAX


def to_mant_exp(value: float, exp_min: int = EXP_MIN, exp_max: int = EXP_MAX) -> tuple[int, int] | None:
    """Exact (mantissa, exponent) with value == m * 2^e, m in [-8, 7], e in [exp_min, exp_max]; else None.

    The smallest exponent is preferred (most mantissa bits used), as Lava would normalise it.
    """
    if value == 0:
        return 0, 0
    if not math.isfinite(value):
        return None
    for e in range(exp_min, exp_max + 1):
        m = value / 2.0**e
        if m == int(m) and MANT_MIN <= m <= MANT_MAX:
            return int(m), e
    return None


def nearest(value: float, exp_min: int = EXP_MIN, exp_max: int = EXP_MAX) -> tuple[int, int]:
    """The representable m * 2^e nearest to `value` (for error messages)."""
    best = (0, 0)
    best_err = abs(value)
    for e in range(exp_min, exp_max + 1):
        for m in range(MANT_MIN, MANT_MAX + 1):
            err = abs(m * 2.0**e - value)
            if err < best_err:
                best, best_err = (m, e), err
    return best


def fmt_scale(mantissa: int, exponent: int) -> str:
    """'m*2^e = value' for messages."""
    return f"{mantissa}*2^{exponent} = {mantissa * 2.0 ** exponent:g}"

