"""The fill table: synapses onto lif neurons sorted by postsynaptic gid, and how many
consecutive neurons of it fit on one core.

Sequential fill cuts the gid order into cores; with the synapses sorted by target gid,
every per-core count of a run of neurons is a prefix sum, so the longest run that fits is
a binary search instead of one trial per neuron.
"""

from __future__ import annotations

import numpy as np

from ..resources import BLOCK_SYNAPSES, runs
from .context import Context

MASK32 = (1 << 32) - 1


class FillTable:
    """Synapses onto lif neurons as (post gid << 32 | pslot) keys, sorted, and the offset
    of each gid's first synapse (`indptr`)."""

    def __init__(self, ctx: Context, stop: int | None = None):
        """`stop`: only the synapses onto gids < stop (a prefix fill)."""
        n = ctx.n
        counts = np.zeros(n, np.int64)
        projs = [(i, pr) for i, pr in enumerate(ctx.projs) if pr.n_synapses]
        sel = {}
        if stop is not None:
            for i, pr in projs:
                sel[i] = np.flatnonzero(pr.post_idx < stop - ctx.loff[pr.post])
        total = sum(sel[i].size if sel else pr.n_synapses for i, pr in projs)
        self.keys = np.empty(total, np.int64)
        pos = 0
        for i, pr in projs:
            post_idx = pr.post_idx[sel[i]] if sel else pr.post_idx
            pre_idx = pr.pre_idx[sel[i]] if sel else pr.pre_idx
            k = self.keys[pos:pos + post_idx.size]  # filled in place: no int64 temporaries
            pos += post_idx.size
            k[:] = post_idx
            k += ctx.loff[pr.post]
            counts += np.bincount(k, minlength=n)
            k <<= 32
            k |= pre_idx
            k += ctx.pslot_off[i]
        self.keys.sort()
        self.indptr = np.concatenate(([0], np.cumsum(counts)))


def prefix_fit(ctx: Context, tab: FillTable, est_out: np.ndarray, s: int, e: int) -> int:
    """How many neurons of gids s, s+1, ..., e-1 fit on one core (exact except out_axons).

    Every per-neuron increment is >= 0, so each cumulative use is sorted and its prefix
    that fits is found by binary search.
    """
    cap = ctx.cap
    w = e - s
    k = tab.keys[tab.indptr[s]:tab.indptr[e]]
    fit = min(w, int(cap.neurons))
    if k.size:
        nb = max(1, int(w).bit_length())
        local = (k >> 32) - s
        ps = k & MASK32
        ks = (ps << nb) | local
        ks.sort()
        ps_s = ks >> nb
        loc_s = ks & ((1 << nb) - 1)
        starts, lengths = runs(ps_s)
        kth = np.arange(1, ks.size + 1) - np.repeat(starts, lengths)
        kth &= BLOCK_SYNAPSES - 1
        kth += ctx.pslot_fmt[ps_s] * BLOCK_SYNAPSES
        bits = np.cumsum(np.bincount(loc_s, weights=ctx.delta_lut[kth], minlength=w))
        fit = min(fit, int(np.searchsorted(bits, cap.synapse_bits, side="right")))
        first = loc_s[starts] if ctx.one_slot_per_pre else _first_inputs(ctx, ps, local, nb)
        ins = np.cumsum(np.bincount(first, minlength=w))
        fit = min(fit, int(np.searchsorted(ins, cap.in_axons, side="right")))
    outs = np.cumsum(est_out[s:e])
    return min(fit, int(np.searchsorted(outs, cap.out_axons, side="right")))


def _first_inputs(ctx: Context, ps: np.ndarray, local: np.ndarray, nb: int) -> np.ndarray:
    """Per distinct presynaptic neuron (over all its pslots), the local index of the first
    neuron it reaches: the neuron whose inclusion costs the core that input axon."""
    kg = (ctx.pslot_gid[ps] << nb) | local
    kg.sort()
    st, _ = runs(kg >> nb)
    return kg[st] & ((1 << nb) - 1)
