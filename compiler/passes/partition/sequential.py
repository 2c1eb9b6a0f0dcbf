"""Sequential fill: cores as contiguous runs of neurons in population and index order.

Like Lava's mapper, a new core starts as soon as any limit would be exceeded, and at every
population (a population's neurons stay aligned to core boundaries). Neurons, synapse
bits and input axons of a run are exact (`table.prefix_fit`). Output axons depend on
later cores: when targets spread (`spread` >= SPREAD_ONE_PASS, e.g. random nets) each
neuron counts its synapses, an upper bound, so one fill is exact and its usage sort also
yields the core traffic for placement; otherwise a running estimate (destination
populations per neuron), one refill with the first pass's exact counts if needed, and
the repair pass.

A bounded fill (auto's race) stops as soon as the cores used plus a lower bound on the
rest exceed the bound, and is first tried on a prefix of the neurons (`early_worse`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..resources import Usage, projection_format, usage_with_destinations, usage_with_traffic
from .context import Context, Fill, Worse, unfit_neuron_error
from .table import FillTable, prefix_fit

SPREAD_ONE_PASS = 0.9  # one fill with an out-axon upper bound at or above this spread
PREFIX_PART = 32  # a bounded fill first fills this fraction of the neurons (`early_worse`)
REFILL_MARGIN = 1.1  # a refill counts 10 % more destination cores than the first pass saw


def sequential(ctx: Context) -> Fill:
    """The sequential method: a new core at every population start, or, when fewer
    cores, no break at all (consecutive populations share a core)."""
    return Fill(np.array([ctx.loff[p] for p in ctx.pops], np.int64), shared=True)


def fill_cores(ctx: Context, breaks: np.ndarray | None
               ) -> tuple[np.ndarray, int, Usage | None]:
    """Fill cores in gid order, never across a break; returns (per-gid core, cores, the
    exact usage when already counted). Raises Worse beyond `ctx.bound`."""
    # targets spread over cores (random nets): fill with an out-axon upper bound, so one
    # pass is exact; else fill with the running estimate and refill if needed
    est = fanout_bound(ctx) if spread(ctx) >= SPREAD_ONE_PASS else None
    early_worse(ctx, breaks, est)
    tab = ctx.table or FillTable(ctx)
    if ctx.keep_table:  # a second fill of the same network follows (shared cores)
        ctx.table = tab
    cg, n = fill(ctx, breaks, est_out=est, tab=tab)
    if ctx.bound is not None and n > ctx.bound:
        raise Worse(n)
    count = usage_with_traffic if est is not None else usage_with_destinations
    usage = count(ctx.net, ctx.split(cg), n, ctx.target)
    if est is None and (usage.out_axons > ctx.cap.out_axons).any():
        # refill with each neuron's exact destination-core count of this first pass
        # (+ a margin: the refilled cores are smaller, so targets spread over more cores)
        est = np.ceil(ctx.gid_array(usage.destinations) * REFILL_MARGIN).astype(np.int64)
        est = np.maximum(ctx.est_out, est)
        np.minimum(est, ctx.cap.out_axons, out=est)
        cg, n = fill(ctx, breaks, est_out=est, tab=tab)
        usage = None
    return cg, n, usage


def fill(ctx: Context, breaks: np.ndarray | None, est_out: np.ndarray | None = None,
         tab: FillTable | None = None, stop: int | None = None) -> tuple[np.ndarray, int]:
    """Cores as contiguous runs in gid order, never crossing a break; returns per-gid core.

    `est_out` (per lif gid) is the running estimate of each neuron's output axons.
    `stop`: fill gids < stop only (with `ctx.bound`: is the whole fill already worse?).
    """
    n = ctx.n
    tab = tab or FillTable(ctx)
    est = ctx.est_out if est_out is None else est_out
    out = np.empty(n, np.int32)
    bounds = np.unique(np.append(breaks if breaks is not None else [], n)).astype(np.int64)
    s, core, last, bi = 0, 0, 64, 0
    if ctx.bound is not None and ctx.rest is None:
        ctx.rest = cores_left(ctx)
    end = n if stop is None else stop
    while s < end:
        while bounds[bi] <= s:
            bi += 1
        size = _next_core(ctx, tab, est, s, int(min(bounds[bi], s + ctx.cap.neurons, end)),
                          max(2 * last, 64))
        out[s:s + size] = core
        core += 1
        s += size
        last = size
        if ctx.bound is not None:
            # at a stop the last core may be cut short: count it with what follows
            least = core + ctx.rest(s) - (1 if s == end < n else 0)
            if least > ctx.bound:
                raise Worse(least)
    return out, core


def _next_core(ctx: Context, tab: FillTable, est: np.ndarray, s: int, hard: int,
               guess: int) -> int:
    """Neurons from gid s (up to `hard`) that fit on one core: windows doubling from
    `guess` until one is not all taken."""
    w = min(hard - s, guess)
    while True:
        size = prefix_fit(ctx, tab, est, s, s + w)
        if size < w or s + w >= hard:
            break
        w = min(hard - s, 2 * w)
    if size == 0:
        raise unfit_neuron_error(ctx, s)
    return size


def early_worse(ctx: Context, breaks: np.ndarray | None, est_out: np.ndarray | None) -> None:
    """Raise Worse when filling the first 1/PREFIX_PART of the neurons already shows the
    whole fill needs more than `ctx.bound` cores (sorts ~1/32 of the synapses, not all)."""
    stop = ctx.n // PREFIX_PART
    if ctx.bound is None or stop < 16 * ctx.cap.neurons:
        return
    fill(ctx, breaks, est_out, FillTable(ctx, stop=stop), stop=stop)


def cores_left(ctx: Context) -> Callable[[int], int]:
    """A function: fill position s -> a lower bound on the cores the neurons from s on
    need (their count, and their synapses at the bare per-synapse bits, over capacity),
    so a fill stops as soon as the cores it used plus this bound exceed `ctx.bound`."""
    bits = np.zeros(ctx.n, np.float64)
    for pr in ctx.projs:
        if pr.n_synapses:
            size = ctx.net.populations[pr.post].size
            o = ctx.loff[pr.post]
            bits[o:o + size] += np.bincount(pr.post_idx, minlength=size) * \
                float(projection_format(pr, ctx.target).bits)
    left = np.cumsum(bits[::-1])[::-1] / ctx.cap.synapse_bits  # from s to the end
    left = np.append(left, 0.0)
    cap_n = ctx.cap.neurons
    return lambda s: max(int(math.ceil(left[s] - 1e-9)), -(-(ctx.n - s) // cap_n))


def fanout_bound(ctx: Context) -> np.ndarray:
    """Per lif gid: synapses it sends (capped at out_axons), >= its destination cores."""
    out = np.zeros(ctx.n, np.int64)
    for pr in ctx.projs:
        if ctx.net.populations[pr.pre].is_source or pr.n_synapses == 0:
            continue
        o = ctx.loff[pr.pre]
        out[o:o + ctx.net.populations[pr.pre].size] += np.bincount(
            pr.pre_idx, minlength=ctx.net.populations[pr.pre].size)
    return np.minimum(out, ctx.cap.out_axons, out=out)


def spread(ctx: Context, stride: int = 64) -> float:
    """Distinct (neuron, id block) / synapses over 1/stride of the lif neurons.

    Blocks are as large as the biggest average core (lower bound); near 1.0 means a
    neuron's targets land on about as many cores as it has synapses, whatever the fill.
    """
    block = max(1, ctx.n // max(int(ctx.lb["cores"]), 1))
    blocks, syn = [], 0
    for pr in ctx.projs:
        if ctx.net.populations[pr.pre].is_source or pr.n_synapses == 0:
            continue
        sel = np.flatnonzero((pr.pre_idx & (stride - 1)) == 0)  # stride: a power of 2
        syn += sel.size
        k = (pr.pre_idx[sel].astype(np.int64) + ctx.loff[pr.pre]) << 32
        k |= (pr.post_idx[sel].astype(np.int64) + ctx.loff[pr.post]) // block
        blocks.append(k)
    if not syn:
        return 0.0
    return np.unique(np.concatenate(blocks)).size / syn
