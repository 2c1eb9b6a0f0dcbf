"""Core sharing: bin-pack the partly used cores of a valid assignment into fewer cores.

A method cuts each population (or graph part) into cores; the last core of a population
is often nearly empty, so a network of many populations wastes up to a core per
population. `pack` takes the cores whose fullest limit is below PACK_LOAD as items and
packs them first-fit decreasing (by that load) into shared cores, the fuller cores with
room for the lightest item (`_hosts`) open from the start: an item goes into the
first open core where it fits, preferring, among the first AFFINITY_TRIES that fit, the
one sharing the most presynaptic neurons with it or holding its presynaptic neurons
(slices that talk to each other). Fit is checked per limit: neurons add up exactly,
input axons are the exact union of the presynaptic neurons, synapse bits and output axons
add up (merging cores never raises anyone's output axons; synapse lists of one
presynaptic neuron merge). The exact resource model then counts the packed assignment;
a shared core still over a limit is split back into the cores it came from, which were
valid (every count only shrank elsewhere), so every limit holds. Packing that would save
fewer than MIN_GAIN of the cores is skipped (the recount costs a pass over all synapses).
"""

from __future__ import annotations

import numpy as np

from ..resources import LIMITS, Usage, usage_with_traffic
from .context import Context
from .repair import renumber

PACK_LOAD = 0.75  # cores whose fullest limit is below this fraction are packed
MAX_ITEMS = 4096  # at most this many (the lightest) cores are packed
AFFINITY_TRIES = 8  # among this many fitting shared cores, the best connected one wins
MAX_TRIES = 32  # input axons are checked on at most this many open cores per slice
FUTILE = 256  # this many slices in a row without a shared core: the rest are not tried
MIN_GAIN = 0.005  # sharing that saves fewer cores than this fraction is not worth the
# exact recount of every synapse (e.g. the last core of a 1M-neuron population)
MAX_HOSTS = 64  # at most this many fuller cores (most room first) are open bins too


def pack(ctx: Context, cg: np.ndarray, n: int, usage: Usage) -> tuple[np.ndarray, int, Usage]:
    """Fewer cores for the valid assignment `cg` (per lif gid) by sharing partly used
    cores; returns (per-gid cores, cores, exact usage), renumbered 0..cores-1 when packed,
    the input itself when nothing packs."""
    caps = np.array([getattr(ctx.cap, lim) for lim in LIMITS], np.float64)
    vals = np.stack([getattr(usage, lim) for lim in LIMITS], axis=1).astype(np.int64)
    load = (vals / caps).max(axis=1) if n else np.zeros(0)
    items = np.flatnonzero(load < PACK_LOAD)
    if items.size > MAX_ITEMS:
        items = items[np.argsort(load[items], kind="stable")[:MAX_ITEMS]]
    hosts = _hosts(vals, caps, load, items)
    # the most packing can save: items less the bins their neurons alone fill
    most = items.size - (0 if hosts.size else int(np.ceil(vals[items, 0].sum() / caps[0])))
    if items.size < (1 if hosts.size else 2) or most < max(1, MIN_GAIN * n):
        return cg, n, usage  # not worth a pass over all synapses
    items = items[np.argsort(-load[items], kind="stable")]
    pres, own = touch_sets(ctx, cg, np.concatenate((hosts, items)), n)
    bin_of = _first_fit(items, vals[items], caps.astype(np.int64), pres[hosts.size:],
                        own[hosts.size:], (vals[hosts], pres[:hosts.size], own[:hosts.size]))
    if items.size - (bin_of.max() + 1 - hosts.size) < max(1, MIN_GAIN * n):
        return cg, n, usage  # not worth a recount
    lut = np.arange(n, dtype=np.int64)
    # bin b < hosts.size is that host core; a new bin b takes the id items[b - hosts.size]
    # (distinct ids per bin: bin b is opened by item >= b - hosts.size)
    lut[items] = np.concatenate((hosts, items))[bin_of]
    packed = lut[cg].astype(np.int32)
    new = usage_with_traffic(ctx.net, ctx.split(packed), n, ctx.target)
    bad = new.bad_cores(ctx.target)
    if bad.size:  # undo the shared cores still over a limit
        undo = np.isin(lut, bad) & (lut != np.arange(n))
        lut[undo] = np.flatnonzero(undo)
        packed = lut[cg].astype(np.int32)
        new = usage_with_traffic(ctx.net, ctx.split(packed), n, ctx.target)
        if new.bad_cores(ctx.target).size:
            return cg, n, usage
    packed, m, old_ids = renumber(packed)
    ctx.info["packed"] = {"items": int(items.size), "saved": n - m, "undone": int(bad.size)}
    return packed, m, new.relabelled(old_ids)


def _hosts(vals: np.ndarray, caps: np.ndarray, load: np.ndarray,
           items: np.ndarray) -> np.ndarray:
    """Cores at or above PACK_LOAD with room for the lightest item in every limit (its
    input axons counted as if none were shared; at most MAX_HOSTS, most room first):
    bins open from the start, so a small slice can join a nearly full core."""
    if not items.size:
        return np.zeros(0, np.int64)
    need = vals[items].min(axis=0)
    room = (vals + need <= caps).all(axis=1)
    room[items] = False
    hosts = np.flatnonzero(room)
    return hosts[np.argsort(load[hosts], kind="stable")[:MAX_HOSTS]]


def touch_sets(ctx: Context, cg: np.ndarray, items: np.ndarray, n: int
                ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per item core (in `items` order): its sorted distinct presynaptic neurons, and its
    own lif neurons, both as global ids over all populations."""
    pos = np.full(n, -1, np.int64)
    pos[items] = np.arange(items.size)
    keys = []
    for pr in ctx.projs:
        if not pr.n_synapses:
            continue
        where = pos[cg[ctx.loff[pr.post] + pr.post_idx]]
        sel = np.flatnonzero(where >= 0)
        keys.append(np.unique(where[sel] << 32 | (ctx.aoff[pr.pre] + pr.pre_idx[sel])))
    k = np.unique(np.concatenate(keys)) if keys else np.zeros(0, np.int64)
    pres = _per_item(k >> 32, k & 0xFFFFFFFF, items.size)
    gids = np.flatnonzero(pos[cg] >= 0)
    owner = pos[cg[gids]]
    o = np.argsort(owner, kind="stable")
    glob = _lif_to_all(ctx, gids[o])
    return pres, _per_item(owner[o], glob, items.size)


def _lif_to_all(ctx: Context, gids: np.ndarray) -> np.ndarray:
    """Lif gids -> global ids over all populations (sources included)."""
    shift = np.zeros(ctx.n, np.int64)
    for p in ctx.pops:
        o = ctx.loff[p]
        shift[o:o + ctx.net.populations[p].size] = ctx.aoff[p] - o
    return gids + shift[gids]


def _per_item(owner: np.ndarray, values: np.ndarray, count: int) -> list[np.ndarray]:
    """`values` grouped by `owner` (sorted, 0..count-1) into `count` arrays."""
    bounds = np.searchsorted(owner, np.arange(count + 1))
    return [values[bounds[i]:bounds[i + 1]] for i in range(count)]


def _first_fit(items: np.ndarray, vals: np.ndarray, caps: np.ndarray,
               pres: list[np.ndarray], own: list[np.ndarray],
               hosts: tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]) -> np.ndarray:
    """Per item (heaviest first), its bin: the best connected of the first AFFINITY_TRIES
    open bins where it fits (of the first MAX_TRIES where the other limits fit), else a
    new bin. `hosts` (usage, presynaptic and own neurons) are bins open from the start,
    numbered first. After FUTILE items in a row found no bin, the rest get their own bins."""
    ia = LIMITS.index("in_axons")
    other = [i for i in range(len(LIMITS)) if i != ia]
    hv, bpre, bown = hosts[0], list(hosts[1]), list(hosts[2])
    binv = np.zeros((hv.shape[0] + items.size, len(LIMITS)), np.int64)
    binv[:hv.shape[0]] = hv
    bin_of = np.empty(items.size, np.int64)
    nb, misses = hv.shape[0], 0
    for i in range(items.size):
        ok = np.flatnonzero((binv[:nb, other] + vals[i, other] <= caps[other]).all(axis=1))
        best, best_aff = -1, -1
        tried = 0
        for b in ok[:MAX_TRIES] if misses < FUTILE else ():
            shared = _common(bpre[b], pres[i])
            if bpre[b].size + pres[i].size - shared > caps[ia]:
                continue
            aff = shared + _common(bown[b], pres[i]) + _common(own[i], bpre[b])
            if aff > best_aff:
                best, best_aff = int(b), aff
            tried += 1
            if tried >= AFFINITY_TRIES:
                break
        misses = misses + 1 if best < 0 else 0
        if best < 0:
            best, nb = nb, nb + 1
            binv[best] = vals[i]
            bpre.append(pres[i])
            bown.append(own[i])
        else:
            binv[best, other] += vals[i, other]
            bpre[best] = np.union1d(bpre[best], pres[i])
            binv[best, ia] = bpre[best].size
            bown[best] = np.union1d(bown[best], own[i])
        bin_of[i] = best
    return bin_of


def _common(a: np.ndarray, b: np.ndarray) -> int:
    """Elements of sorted unique `b` also in sorted unique `a` (binary search, no sort)."""
    if not a.size or not b.size:
        return 0
    idx = np.searchsorted(a, b)
    np.minimum(idx, a.size - 1, out=idx)
    return int(np.count_nonzero(a[idx] == b))
