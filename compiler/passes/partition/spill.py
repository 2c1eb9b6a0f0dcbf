"""Spilling: the neurons of a population's nearly empty core move into the room left on
that population's other cores, so fewer and smaller remainders are left to `pack`.

A method cuts a population into cores that are full but for a margin, and a last core
holding the rest. Its neurons go, first come first served, to the population's other
cores (most room first) as far as their room allows by a per-limit estimate: neurons
exactly, synapse bits and output axons at the small core's mean per neuron, input axons
as every presynaptic neuron of the small core the host lacks. The exact resource model
then counts the result; if any core is over a limit the spill is not kept. Like packing,
spilling is skipped when fewer than MIN_GAIN of the cores are nearly empty.
"""

from __future__ import annotations

import numpy as np

from ..resources import LIMITS, Usage, usage_with_traffic
from .context import Context
from .pack import MIN_GAIN, touch_sets
from .repair import renumber

SPILL_LOAD = 0.25  # a single-population core whose fullest limit is below this spills


def spill(ctx: Context, cg: np.ndarray, n: int, usage: Usage) -> tuple[np.ndarray, int, Usage]:
    """Move the neurons of nearly empty cores onto their population's other cores where
    room allows; returns (per-gid cores, cores, exact usage), the input when nothing moved."""
    caps = np.array([getattr(ctx.cap, lim) for lim in LIMITS], np.float64)
    vals = np.stack([getattr(usage, lim) for lim in LIMITS], axis=1).astype(np.float64)
    load = (vals / caps).max(axis=1) if n else np.zeros(0)
    pop = _population_of_cores(ctx, cg, n)
    small = np.flatnonzero((load < SPILL_LOAD) & (pop >= 0))
    hosts = np.flatnonzero((load >= SPILL_LOAD) & (pop >= 0) & np.isin(pop, pop[small]))
    if small.size < max(2, MIN_GAIN * n) or not hosts.size:  # not worth a recount
        return cg, n, usage
    cores = np.concatenate((small, hosts))
    pres, _ = touch_sets(ctx, cg, cores, n)
    pre_of = dict(zip(cores.tolist(), pres, strict=True))
    order = np.argsort(cg, kind="stable")
    bounds = np.searchsorted(cg[order], np.arange(n + 1))
    out = cg.copy()
    moved = 0
    for s in small[np.argsort(load[small], kind="stable")]:
        gids = order[bounds[s]:bounds[s + 1]]
        per = vals[s] / gids.size
        mine = hosts[pop[hosts] == pop[s]]
        for h in mine[np.argsort(load[mine], kind="stable")]:
            k = _room(vals[h], per, caps, np.setdiff1d(pre_of[s], pre_of[h]).size, gids.size)
            if k == 0:
                continue
            out[gids[:k]] = h
            vals[h] += per * k
            vals[h, LIMITS.index("in_axons")] = np.union1d(pre_of[h], pre_of[s]).size
            pre_of[h] = np.union1d(pre_of[h], pre_of[s])
            gids, moved = gids[k:], moved + k
            if not gids.size:
                break
    if not moved:
        return cg, n, usage
    new = usage_with_traffic(ctx.net, ctx.split(out), n, ctx.target)
    if new.bad_cores(ctx.target).size:
        ctx.info["spilled"] = {"neurons": 0, "undone": moved}
        return cg, n, usage
    out, m, old_ids = renumber(out)
    ctx.info["spilled"] = {"neurons": moved, "cores_freed": n - m}
    return out, m, new.relabelled(old_ids)


def _room(host: np.ndarray, per: np.ndarray, caps: np.ndarray, new_in: int, want: int) -> int:
    """How many neurons of per-neuron cost `per` fit the host's room (`new_in` input axons
    added as soon as one moves)."""
    ia = LIMITS.index("in_axons")
    if host[ia] + new_in > caps[ia]:
        return 0
    room = caps - host
    k = want
    for i in range(len(LIMITS)):
        if i != ia and per[i] > 0:
            k = min(k, int(np.floor(room[i] / per[i] + 1e-9)))
    return max(k, 0)


def _population_of_cores(ctx: Context, cg: np.ndarray, n: int) -> np.ndarray:
    """Per core: the index of its only population, -1 when empty, -2 when shared."""
    pop = np.full(n, -1, np.int64)
    for i, name in enumerate(ctx.pops):
        o = ctx.loff[name]
        cores = np.unique(cg[o:o + ctx.net.populations[name].size])
        pop[cores] = np.where(pop[cores] == -1, i, -2)
    return pop
