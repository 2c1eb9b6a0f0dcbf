"""snnc's neuron extensions to Lava's LIF, defined once for the CPU engine and the Lava models.

Neither the adaptive threshold nor winner-take-all is part of Lava's LIF; both backends
apply these functions each step, after the LIF update decided the candidate spikes, so
that they give the same spikes (fixed precision: the same integers).

Per step t, with `vth_eff` the LIF threshold (fixed: `vth * 2**6`) and `th` the adaptive
offset (0 at rest):

    candidates s[i]  = v[i] > vth_eff[i] + th[i]
    spikes           = wta_select(s, v - vth_eff - th)   (only with `wta`)
    th               = adapt_update(th, spikes)          (only with `adapt`)

so the offset after step t's spikes raises the threshold of step t + 1.
"""

from __future__ import annotations

import numpy as np


def adapt_decay_fixed(tau: float) -> int:
    """12-bit decay constant of the fixed-point adaptive threshold: round(4096 / tau) in 0..4096.

    tau <= 0 means no decay.
    """
    if tau <= 0:
        return 0
    return int(min(4096, max(0, round(4096.0 / tau))))


def adapt_update(th: np.ndarray, spikes: np.ndarray, increment: float, tau: float,
                 fixed: bool) -> None:
    """Adaptive threshold update, in place, after this step's spikes were decided.

    Fixed: `th[t+1] = trunc(th[t] * (4096 - d) / 4096) + round(increment * 2**6) * s[t]` with
    `d = adapt_decay_fixed(tau)`, th in units of v (the increment is scaled by 2**6 like vth),
    integers only. Float: `th[t+1] = th[t] - th[t] / tau + increment * s[t]` (no decay for
    tau <= 0). `th` may be float64 (CPU engine) or int64 (Lava model): the fixed-point results
    are the same integers, since |th| * 4096 < 2**53 keeps `th * (4096 - d) / 4096` exact.
    """
    if fixed:
        d = adapt_decay_fixed(tau)
        if d:
            th[...] = np.trunc(th * ((4096 - d) / 4096.0))
        inc = round(increment * 64)
    else:
        if tau > 0:
            th -= th / tau
        inc = increment
    if inc:
        th[spikes] += inc


def wta_select(s: np.ndarray, margin: np.ndarray) -> np.ndarray:
    """Winner-take-all: of the candidate spikes `s`, keep only the one with the largest
    `margin` (v minus its threshold): `k = argmax_{i: s[i]} margin[i]`, spikes = one-hot(k);
    the lowest index wins a tie. `s` itself when at most one candidate. Not native on Loihi."""
    if np.count_nonzero(s) <= 1:
        return s
    k = int(np.argmax(np.where(s, margin, -np.inf)))
    out = np.zeros_like(s)
    out[k] = True
    return out
