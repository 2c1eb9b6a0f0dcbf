"""One rank's share of a network: its neurons' parameters and the synapses onto them.

A rank holds every synapse whose post neuron it holds, so each neuron's input is summed
on one rank, in the same order as on one process (the cpu engine's order): results do
not depend on the rank count. Fixed precision keeps each projection's sign mode (Lava's
clip and truncation depend on the whole projection), float the delivery path.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from backends.cpu.synapses import Synapses
from compiler.ir import LIFParams, Projection
from compiler.lava_weights import effective_weights, sign_mode

LIF_ARRAYS = ("du", "dv", "vth", "bias_mant", "bias_exp")


def local_params(params: LIFParams, ids: np.ndarray, size: int) -> LIFParams:
    """`params` of the neurons `ids` of a population of `size` (per-neuron arrays sliced)."""
    changes = {}
    for name in LIF_ARRAYS:
        value = getattr(params, name)
        if np.ndim(value) >= 1 and np.shape(value)[0] == size:
            changes[name] = np.asarray(value)[ids]
    return dataclasses.replace(params, **changes) if changes else params


def _merged(pre: np.ndarray, post: np.ndarray, delay: np.ndarray, raw: np.ndarray,
            n_pre: int, n_post: int) -> tuple[np.ndarray, ...]:
    """Synapses of equal (pre, post, delay) summed (their raw weights, in input order)."""
    key = (delay.astype(np.int64) * n_pre + pre) * n_post + post
    uniq, inv = np.unique(key, return_inverse=True)
    if uniq.size == key.size:
        return pre, post, delay, raw
    w = np.zeros(uniq.size, dtype=raw.dtype)
    np.add.at(w, inv, raw)
    rest = uniq // n_post
    return rest % n_pre, uniq % n_post, rest // n_pre, w


def fixed_mode(proj: Projection, n_pre: int, n_post: int) -> tuple[str, float, float]:
    """The sign mode the cpu engine gives the whole projection (of its merged int32
    weights), and the smallest and largest of its effective weights."""
    raw = np.asarray(proj.weight).astype(np.int32).astype(np.int64)
    pre = np.asarray(proj.pre_idx, dtype=np.int64)
    post = np.asarray(proj.post_idx, dtype=np.int64)
    delay = np.asarray(proj.delay, dtype=np.int64)
    merged = _merged(pre, post, delay, raw, n_pre, n_post)[3]
    mode = sign_mode(merged)
    eff = effective_weights(merged, proj.num_weight_bits, mode=mode)
    return mode, float(eff.min(initial=0)), float(eff.max(initial=0))


def local_synapses(proj: Projection, ids: np.ndarray, n_pre: int, fixed: bool, plastic: bool,
                   mode: str | None = None) -> Synapses:
    """The synapses of `proj` onto post neurons `ids` (sorted), posts renumbered 0..len(ids)-1;
    fixed precision: `mode` is the whole projection's sign mode (`fixed_mode`)."""
    post = np.asarray(proj.post_idx, dtype=np.int64)
    keep = np.flatnonzero(np.isin(post, ids, assume_unique=False))
    pre = np.asarray(proj.pre_idx, dtype=np.int64)[keep]
    lpost = np.searchsorted(ids, post[keep])
    delay = np.asarray(proj.delay, dtype=np.int64)[keep]
    n_local = int(ids.shape[0])
    if fixed:
        raw = np.asarray(proj.weight)[keep].astype(np.int32).astype(np.int64)
        pre, lpost, delay, raw = _merged(pre, lpost, delay, raw, n_pre, n_local)
        order = np.lexsort((lpost, delay, pre))  # the order Synapses keeps (a no-op there)
        pre, lpost, delay = pre[order], lpost[order], delay[order]
        weight = effective_weights(raw[order], proj.num_weight_bits,
                                   mode=mode)
    else:
        weight = np.asarray(proj.weight, dtype=np.float64)[keep]
    sub = dataclasses.replace(proj, pre_idx=pre.astype(np.int32), post_idx=lpost.astype(np.int32),
                              weight=weight.astype(np.int32) if fixed else weight,
                              delay=delay.astype(np.int16), conv=None)
    full_delays = np.asarray(proj.delay)
    uniform = full_delays.size == 0 or bool(np.all(full_delays == full_delays.flat[0]))
    # float sums depend on the path: keep the whole projection's (one delay: the fused
    # scatter; several: bincount in pre order, which a plastic Synapses always takes)
    path_plastic = plastic or (not fixed and not uniform)
    syn = Synapses(sub, n_pre, n_local, fixed, plastic=path_plastic)
    if fixed:
        syn.set_weights(weight.astype(np.int64))  # the whole projection's clip and truncation
    return syn


def scale_mode(w_min: float, w_max: float, scale: float) -> str:
    """The sign mode of a whole projection's effective weights scaled by `scale` (rint)."""
    lo, hi = sorted((float(np.rint(scale * w_min)), float(np.rint(scale * w_max))))
    return sign_mode(np.array([lo, hi]))
