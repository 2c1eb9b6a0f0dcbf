"""One rank's share of a network: its neurons' parameters and the synapses onto them.

A rank holds every synapse whose post neuron it holds, so each neuron's input is summed
on one rank, in the same order as on one process (the cpu engine's order): results do
not depend on the rank count. Fixed precision keeps each projection's sign mode (Lava's
clip and truncation depend on the whole projection), float the delivery path.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np

from backends.cpu.synapses import Synapses, merge_duplicates
from compiler.ir import LIFParams, NetworkIR, Projection
from compiler.lava_weights import effective_weights, sign_mode
from compiler.program import Program
from compiler.sharding import ProjectionFacts as Facts

LIF_ARRAYS = ("du", "dv", "vth", "bias_mant", "bias_exp")


def local_params(params: LIFParams, ids: np.ndarray, size: int) -> LIFParams:
    """`params` of the neurons `ids` of a population of `size` (per-neuron arrays sliced)."""
    changes = {}
    for name in LIF_ARRAYS:
        value = getattr(params, name)
        if np.ndim(value) >= 1 and np.shape(value)[0] == size:
            changes[name] = np.asarray(value)[ids]
    return dataclasses.replace(params, **changes) if changes else params


def projection_facts(net: NetworkIR) -> dict[str, Facts]:
    """`Facts` of every projection of `net` (from its whole synapse arrays)."""
    out = {}
    for name, proj in net.projections.items():
        n_pre, n_post = net.populations[proj.pre].size, net.populations[proj.post].size
        mode, lo, hi = fixed_mode(proj, n_pre, n_post) if net.precision == "fixed" else \
            (sign_mode(proj.weight), 0.0, 0.0)
        d = np.asarray(proj.delay)
        out[name] = Facts(mode, lo, hi, d.size == 0 or bool(np.all(d == d.flat[0])),
                          sign_mode(proj.weight))
    return out


def shard(program: Program, owner: dict[str, np.ndarray], rank: int) -> Program:
    """`program` with only the synapses onto the neurons `rank` holds (global indices)."""
    net = copy.copy(program.network)
    net.projections = {}
    for name, proj in program.network.projections.items():
        keep = np.flatnonzero(owner[proj.post][np.asarray(proj.post_idx, dtype=np.int64)] == rank)
        net.projections[name] = dataclasses.replace(
            proj, pre_idx=proj.pre_idx[keep], post_idx=proj.post_idx[keep],
            weight=proj.weight[keep], delay=proj.delay[keep], conv=None)
    out = copy.copy(program)
    out.network = net
    return out


def fixed_mode(proj: Projection, n_pre: int, n_post: int) -> tuple[str, float, float]:
    """The sign mode the cpu engine gives the whole projection (of its merged int32
    weights), and the smallest and largest of its effective weights."""
    raw = np.asarray(proj.weight).astype(np.int32).astype(np.int64)
    pre = np.asarray(proj.pre_idx, dtype=np.int64)
    post = np.asarray(proj.post_idx, dtype=np.int64)
    delay = np.asarray(proj.delay, dtype=np.int64)
    merged = merge_duplicates(pre, post, delay, raw, n_pre, n_post)[3]
    mode = sign_mode(merged)
    eff = effective_weights(merged, proj.num_weight_bits, mode=mode)
    return mode, float(eff.min(initial=0)), float(eff.max(initial=0))


def local_synapses(proj: Projection, ids: np.ndarray, n_pre: int, fixed: bool, plastic: bool,
                   facts: Facts) -> Synapses:
    """The synapses of `proj` onto post neurons `ids` (sorted), posts renumbered 0..len(ids)-1,
    with the whole projection's sign mode and delivery path (`facts`)."""
    return synapses_of(local_projection(proj, ids, n_pre, fixed, facts), n_pre,
                       int(ids.shape[0]), fixed, plastic, facts)


def local_projection(proj: Projection, ids: np.ndarray, n_pre: int, fixed: bool, facts: Facts
                     ) -> Projection:
    """`proj`'s synapses onto post neurons `ids` (sorted), posts renumbered, in the order
    `Synapses` keeps; fixed: duplicates merged, effective weights in the whole
    projection's sign mode (`facts`)."""
    post = np.asarray(proj.post_idx, dtype=np.int64)
    lpost = np.searchsorted(ids, post)
    mine = ids[np.minimum(lpost, max(ids.shape[0] - 1, 0))] == post if ids.size else \
        np.zeros(post.shape, dtype=bool)
    keep: slice | np.ndarray = slice(None) if mine.all() else np.flatnonzero(mine)  # a shard
    del mine, post
    pre = np.asarray(proj.pre_idx, dtype=np.int64)[keep]
    lpost = lpost[keep]
    delay = np.asarray(proj.delay, dtype=np.int64)[keep]
    n_local = int(ids.shape[0])
    if fixed:
        raw = np.asarray(proj.weight)[keep].astype(np.int32).astype(np.int64)
        pre, lpost, delay, raw = merge_duplicates(pre, lpost, delay, raw, n_pre, n_local)
        order = np.lexsort((lpost, delay, pre))  # the order Synapses keeps (a no-op there)
        pre, lpost, delay = pre[order], lpost[order], delay[order]
        weight = effective_weights(raw[order], proj.num_weight_bits, mode=facts.mode)
        del raw, order
    else:
        weight = np.asarray(proj.weight, dtype=np.float64)[keep]
    return dataclasses.replace(proj, pre_idx=pre.astype(np.int32),
                               post_idx=lpost.astype(np.int32),
                               weight=weight.astype(np.int32) if fixed else weight,
                               delay=delay.astype(np.int16), conv=None)


def synapses_of(sub: Projection, n_pre: int, n_local: int, fixed: bool, plastic: bool,
                facts: Facts) -> Synapses:
    """The engine's synapses of a `local_projection`, on the whole projection's delivery
    path and (fixed) its clip and truncation."""
    # float sums depend on the path: keep the whole projection's (one delay: the fused
    # scatter; several: bincount in pre order, which a plastic Synapses always takes)
    path_plastic = plastic or (not fixed and not facts.uniform)
    syn = Synapses(sub, n_pre, n_local, fixed, plastic=path_plastic)
    if fixed:  # the whole projection's clip and truncation (effective weights fit int32)
        syn.set_weights(np.asarray(sub.weight).astype(np.int64))
    return syn


def emptied(proj: Projection) -> Projection:
    """`proj` without synapses (its shard's arrays released once the engine holds them)."""
    return dataclasses.replace(proj, pre_idx=proj.pre_idx[:0].copy(),
                               post_idx=proj.post_idx[:0].copy(), weight=proj.weight[:0].copy(),
                               delay=proj.delay[:0].copy(), conv=None)


def scale_mode(w_min: float, w_max: float, scale: float) -> str:
    """The sign mode of a whole projection's effective weights scaled by `scale` (rint)."""
    lo, hi = sorted((float(np.rint(scale * w_min)), float(np.rint(scale * w_max))))
    return sign_mode(np.array([lo, hi]))
