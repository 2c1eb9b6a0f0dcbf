"""LIF neuron state and one-step updates, bit-exact to Lava's PyLifModelBitAcc / PyLifModelFloat.

Fixed precision keeps u, v in float64 arrays holding exact integers (every intermediate is
below 2**53, and `trunc(x * k / 4096)` with dyadic k / 4096 is exact), which is faster in
numpy than int64 and equal to Lava's int32 arithmetic, including its wrap-arounds.
The adaptive threshold and winner-take-all (not in Lava's LIF) come from
`compiler.neuron_math`, which the Lava backend's models use too.
"""

from __future__ import annotations

import numpy as np

from compiler.errors import BackendError
from compiler.ir import LIFParams
from compiler.neuron_math import adapt_update, wta_select

M24 = 2**23  # Lava's max_uv_val
TWO32 = 2.0**32
TWO31 = 2.0**31


def wrap_int32(x: np.ndarray) -> np.ndarray:
    """x reduced to int32 range by wrap-around (two's complement), as float64."""
    return x - TWO32 * np.floor((x + TWO31) / TWO32)


def lava_wrap24(x: np.ndarray) -> np.ndarray:
    """Lava's 24-bit 'wrap' of u exactly as coded (one correction of 2**24, not a modulo).

    `x > 2**23` -> `x - 2**24`; then entries `<= -2**23` (tested on the corrected value)
    become `x + 2**24` of the uncorrected value. So 2**23 itself stays 2**23.
    """
    w = np.where(x > M24, x - 2 * M24, x)
    return np.where(w <= -M24, x + 2 * M24, w)


def _as_int(value: object, what: str, pop: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
        raise BackendError(f"population '{pop}': fixed precision needs integer {what}, got {value!r}")
    return arr.astype(np.int64)


def fixed_bias(bias_mant: np.ndarray, bias_exp: np.ndarray) -> np.ndarray:
    """Lava's effective bias: bias_mant stored as int16, shifted by bias_exp in int32."""
    mant = np.asarray(bias_mant, dtype=np.int64).astype(np.int16).astype(np.int64)
    exp = np.asarray(bias_exp, dtype=np.int64).astype(np.int16).astype(np.int64)
    mant, exp = np.broadcast_arrays(mant, exp)
    left = mant << np.clip(exp, 0, 63)
    right = mant >> np.clip(-exp, 0, 63)
    out = np.where(exp >= 0, left, right).astype(np.float64)
    return wrap_int32(out)


class LIFState:
    """State (u, v, adaptive threshold) and parameters of one LIF population."""

    def __init__(self, name: str, size: int, params: LIFParams, fixed: bool):
        self.name, self.size, self.fixed = name, int(size), fixed
        self.u = np.zeros(self.size)
        self.v = np.zeros(self.size)
        self.adapt = params.adapt
        self.wta = bool(params.wta)
        self.th = np.zeros(self.size) if self.adapt is not None else None
        if fixed:
            du = _as_int(params.du, "du", name)
            dv = _as_int(params.dv, "dv", name)
            if np.any((du < 0) | (du > 4095)) or np.any((dv < 0) | (dv > 4095)):
                raise BackendError(f"population '{name}': du and dv must be in 0..4095")
            # Lava: decay factors (4096 - (du + 1)) and (4096 - dv), then >> 12 toward zero.
            self.fu = (4095 - du).astype(np.float64)
            self.fv = (4096 - dv).astype(np.float64)
            vth = _as_int(params.vth, "vth", name)
            self.thr = np.broadcast_to((vth << 6).astype(np.float64), (self.size,)).copy()
            self.bias = np.broadcast_to(
                fixed_bias(_as_int(params.bias_mant, "bias_mant", name),
                           _as_int(params.bias_exp, "bias_exp", name)), (self.size,)).copy()
            self.cu = self.fu / 4096.0
            self.cv = self.fv / 4096.0
        else:
            self.cu = 1.0 - np.asarray(params.du, dtype=np.float64)
            self.cv = 1.0 - np.asarray(params.dv, dtype=np.float64)
            self.thr = np.broadcast_to(np.asarray(params.vth, np.float64), (self.size,)).copy()
            self.bias = np.broadcast_to(np.asarray(params.bias_mant, np.float64), (self.size,)).copy()
        # A bias near the int32 limit could wrap v's int32 sum even when u is small.
        self._big_bias = bool(np.max(np.abs(self.bias), initial=0) > 2**30)
        self._uniform_bias = bool(np.all(self.bias == self.bias[0])) if self.size else True
        if self._uniform_bias and self.size:
            self.bias = float(self.bias[0])
        self._scratch = np.empty(self.size)
        self._may_wrap = True  # until set_input_bound proves u can never leave 24 bits

    def set_input_bound(self, max_abs_input: float) -> None:
        """Skip the u overflow checks when |a_in| <= max_abs_input makes |u| < 2**23 certain.

        |u| <= 64 * max_abs_input * 4096 / (du + 1) (geometric sum of the decayed inputs).
        """
        if self.fixed:
            du_min = float(np.min(4095 - self.fu))
            self._may_wrap = not (64.0 * max_abs_input * 4096.0 / (du_min + 1) < M24)

    def step(self, a_in: np.ndarray) -> np.ndarray:
        """One time step with synaptic input a_in (float64; exact integers in fixed); returns spikes."""
        if self.fixed:
            return self._step_fixed(a_in)
        return self._step_float(a_in)

    def _step_float(self, a_in: np.ndarray) -> np.ndarray:
        u, v = self.u, self.v
        u *= self.cu
        u += a_in
        v *= self.cv
        v += u
        v += self.bias
        thr = self.thr if self.th is None else self.thr + self.th
        s = v > thr
        if self.wta:
            s = wta_select(s, v - thr)
        v[s] = 0.0
        if self.adapt is not None:
            adapt_update(self.th, s, float(self.adapt.increment), float(self.adapt.tau), False)
        return s

    def _step_fixed(self, a_in: np.ndarray) -> np.ndarray:
        u, v = self.u, self.v
        # u = rtz(u * (4095 - du) / 4096) + (a_in << 6), then Lava's int32 and 24-bit wraps.
        if np.ndim(self.fu) == 0 and self.fu == 0:
            np.multiply(a_in, 64.0, out=u)
        else:
            u *= self.cu
            np.trunc(u, out=u)
            np.multiply(a_in, 64.0, out=self._scratch)
            u += self._scratch
        wide = self._may_wrap and bool(self.size) and (u.max() > M24 or u.min() <= -M24)
        if wide:
            u[...] = lava_wrap24(wrap_int32(u))
        # v = clip(rtz(v * (4096 - dv) / 4096) + u + bias, -(2**23 - 1), 2**23 - 1)
        if np.ndim(self.fv) or self.fv != 4096:
            v *= self.cv
            np.trunc(v, out=v)
        v += u
        v += self.bias
        if wide or self._big_bias:
            v[...] = wrap_int32(v)
        np.clip(v, -(M24 - 1), M24 - 1, out=v)
        thr = self.thr if self.th is None else self.thr + self.th
        s = v > thr
        if self.wta:
            s = wta_select(s, v - thr)
        v[s] = 0.0
        if self.adapt is not None:
            adapt_update(self.th, s, float(self.adapt.increment), float(self.adapt.tau), True)
        return s
