"""Partitioners: assign every lif neuron to a neuro-core so that all per-core limits hold.

Methods (all end with the same exact check-and-repair, see `_repair`):

- `sequential`: fill cores in population order, neuron index order (like Lava's mapper),
  starting a new core as soon as any limit would be exceeded and at every population
  (so a population's neurons stay aligned to core boundaries). Neurons, synapse bits and
  input axons of a prefix are exact. Output axons depend on later cores: when targets
  spread (`_spread` >= SPREAD_ONE_PASS, e.g. random nets) each neuron counts its synapse
  count, an upper bound, so one fill is exact and its usage sort also yields the core
  traffic for placement; otherwise a running estimate (destination populations per
  neuron), one refill with the first pass's exact counts if needed, and the repair pass.
- `greedy`: like nengo-loihi `split_blocks`: each population is cut into `m` equal blocks
  with `m` the smallest count whose blocks all fit (largest block size), found by a
  ratio-guided search then bisection (over SAMPLE_BLOCKS blocks, each try counts a
  sample of the blocks; the final exact check splits one the sample missed);
  populations never share a core.
- `graph`: METIS (pymetis) k-way partition of the lif neuron graph (sources are off-chip
  and excluded). Vertex weights balance the binding resource, edge weights count
  synapses (lif firing rates are unknown before running, so all lif rates are equal).
  Large graphs are edge-sampled to GRAPH_DEGREE synapses per neuron to bound METIS time,
  and handed to METIS in reverse Cuthill-McKee order (cache-friendly when neuron ids
  carry no locality). METIS's ragged part boundaries are then smoothed by label
  propagation on all synapses (`refine.refine_parts`: a neuron moves to the part holding
  most of its inputs, no part growing past METIS's heaviest). Each part is then a core
  (the exact check and repair splits a part over a limit; if the refined parts need
  more cores than METIS's parts, those are checked too and the fewer cores kept).
- `tile`: for populations with declared `positions` (a retinotopic sheet, a conv layer),
  greedy's search over tiles instead of index blocks: a grid of near-square tiles cut at
  coordinate quantiles (`tile_blocks`), as many as needed for every tile to fit, then
  exactly-m equal-count tiles below the grid's count (kept when fewer fit); other
  populations get greedy's blocks. Independent of neuron ids (a shuffled sheet tiles the
  same); on a 2-D lattice it gives the regular square tiling graph partitioners approach.
- `auto` (default): tile (when some population has positions), graph (if its estimated
  time fits the budget, or, when over budget by at most PROMISING_BUDGETS budgets, if
  `locality_probe` predicts a clear win over sequential that no earlier candidate already
  has), then sequential (always), then greedy (if time is left); a candidate is abandoned
  as soon as it needs more cores than the current limit (`_core_limit`: CORE_TOLERANCE
  above the fewest so far, never above sequential's). Keeps the fewest packets per spike
  among the candidates within that limit (`_pick`), so it never needs more cores than
  sequential. A method that cannot finish (a neuron's targets spread over too many
  cores) falls back to sequential and says so in `method` and `stats["fallback"]`.

The repair pass computes exact usage (`resources.core_usage`) and splits every core over
a limit in two until none is; splitting only shrinks cores, so it terminates.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from ..errors import Diagnostic, FitError, InputError
from ..ir import NetworkIR
from ..target import Target
from .refine import refine_parts
from .resources import (
    BLOCK_SYNAPSES,
    LIMITS,
    Usage,
    _runs,
    all_offsets,
    check_fit,
    incoming_usage,
    lif_offsets,
    on_chip_projections,
    projection_format,
    synapse_list_bits,
    traffic_stats,
)

METHODS = ("auto", "sequential", "greedy", "graph", "tile")
PROMISING_CUT_RATIO = 0.5  # auto: graph "promising" when its probe cut < this x sequential's
GRAPH_DEGREE = 30.0  # graph: synapses kept per neuron for METIS (1M sheet: 10 -> 1.49
# other-core packets per spike, 20 -> 1.37, 30 -> 1.33, 45 -> 1.30 at +25 % time)
REFINE_ROUNDS = 12  # graph: label-propagation rounds after METIS (100k shuffled sheet: other-core
# packets per spike 1.317 -> 1.249 after 4 rounds, 1.240 after 8, 1.239 after 12 or 16; 1M:
# 1.325 -> 1.247 in 10 rounds, 6.4 s)
REFINE_MAX_CUT = 0.5  # graph: no refinement when METIS cut more synapses than this (not local)
PROMISING_BUDGETS = 4.0  # auto: a promising graph may take up to this many time budgets
CORE_TOLERANCE = 0.02  # auto: candidates within 2 % of the fewest cores compete on packets
MASK32 = (1 << 32) - 1
SPREAD_ONE_PASS = 0.9  # sequential: one fill with an out-axon upper bound above this spread
PREFIX_PART = 32  # a bounded fill first fills this fraction of the neurons (`_early_worse`)
SAMPLE_BLOCKS = 256  # greedy / tile: block counts above this are sized on a sample of blocks


@dataclass
class Partition:
    """A valid assignment: lif population -> int32 core id per neuron, and its usage."""

    core_of: dict[str, np.ndarray]
    n_cores: int
    usage: Usage
    method: str
    stats: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- context

class _Ctx:
    """Per-network precomputations shared by all partitioners."""

    def __init__(self, net: NetworkIR, target: Target, lb: dict):
        self.net, self.target, self.lb = net, target, lb
        self.cap = target.core
        self.loff, self.n = lif_offsets(net)
        self.aoff, _ = all_offsets(net)
        self.projs = on_chip_projections(net)
        self.pops = [p.name for p in net.neuron_populations]
        # pslot: one id per (projection, presynaptic neuron): the unit of a synapse list
        self.pslot_off, off = [], 0
        gids, bits = [], []
        for pr in self.projs:
            size = net.populations[pr.pre].size
            self.pslot_off.append(off)
            off += size
            gids.append(self.aoff[pr.pre] + np.arange(size, dtype=np.int64))
            bits.append(np.full(size, projection_format(pr, target).bits, np.int64))
        self.pslot_gid = np.concatenate(gids) if gids else np.zeros(0, np.int64)
        self.pslot_bits = np.concatenate(bits) if bits else np.zeros(0, np.int64)
        # bits added by the kth synapse of a list depend only on (width, kth % 64):
        # delta_lut[fmt * 64 + kth % 64], with fmt the index of the list's width
        widths = np.unique(self.pslot_bits)
        self.pslot_fmt = np.searchsorted(widths, self.pslot_bits).astype(np.int64)
        kk = np.where(np.arange(BLOCK_SYNAPSES) == 0, BLOCK_SYNAPSES, np.arange(BLOCK_SYNAPSES))
        self.delta_lut = (synapse_list_bits(kk[None, :], widths[:, None])
                          - synapse_list_bits(kk[None, :] - 1, widths[:, None])).ravel()
        pres = [pr.pre for pr in self.projs]
        self.one_slot_per_pre = len(pres) == len(set(pres))
        # running estimate of out axons: distinct destination populations per lif neuron
        est = np.zeros(self.n, np.int64)
        dests: dict[str, dict[str, np.ndarray]] = {}
        for pr in self.projs:
            if net.populations[pr.pre].is_source or pr.n_synapses == 0:
                continue
            has = np.bincount(pr.pre_idx, minlength=net.populations[pr.pre].size) > 0
            d = dests.setdefault(pr.pre, {})
            d[pr.post] = d[pr.post] | has if pr.post in d else has
        for pre, d in dests.items():
            o = self.loff[pre]
            for has in d.values():
                est[o:o + has.size] += has
        self.est_out = est
        self.bound: int | None = None  # abandon a candidate needing more cores than this
        self.alt: tuple | None = None  # graph: unrefined (parts, count), the cores fallback
        self.rest = None  # `_cores_left(self)` once a bounded fill needs it
        self.info: dict = {}  # method-specific facts reported in Partition.stats

    def split(self, cg: np.ndarray) -> dict[str, np.ndarray]:
        """Global core array (per lif gid) -> per-population int32 arrays."""
        out = {}
        for name in self.pops:
            o = self.loff[name]
            out[name] = np.ascontiguousarray(cg[o:o + self.net.populations[name].size],
                                             dtype=np.int32)
        return out


# ----------------------------------------------------------------------------- fill

class _Table:
    """Synapses onto lif neurons sorted by the gid of their postsynaptic neuron."""

    def __init__(self, ctx: _Ctx, stop: int | None = None):
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


def _prefix_fit(ctx: _Ctx, tab: _Table, est_out: np.ndarray, s: int, e: int) -> int:
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
        starts, lengths = _runs(ps_s)
        kth = np.arange(1, ks.size + 1) - np.repeat(starts, lengths)
        kth &= BLOCK_SYNAPSES - 1
        kth += ctx.pslot_fmt[ps_s] * BLOCK_SYNAPSES
        bits = np.cumsum(np.bincount(loc_s, weights=ctx.delta_lut[kth], minlength=w))
        fit = min(fit, int(np.searchsorted(bits, cap.synapse_bits, side="right")))
        if ctx.one_slot_per_pre:
            first = loc_s[starts]
        else:
            kg = (ctx.pslot_gid[ps] << nb) | local
            kg.sort()
            st, _ = _runs(kg >> nb)
            first = kg[st] & ((1 << nb) - 1)
        ins = np.cumsum(np.bincount(first, minlength=w))
        fit = min(fit, int(np.searchsorted(ins, cap.in_axons, side="right")))
    outs = np.cumsum(est_out[s:e])
    return min(fit, int(np.searchsorted(outs, cap.out_axons, side="right")))


def _fill(ctx: _Ctx, breaks: np.ndarray | None, est_out: np.ndarray | None = None,
          tab: _Table | None = None, stop: int | None = None) -> tuple[np.ndarray, int]:
    """Cores as contiguous runs in gid order, never crossing a break; returns per-gid core.

    `est_out` (per lif gid) is the running estimate of each neuron's output axons.
    `stop`: fill gids < stop only (with `ctx.bound`: is the whole fill already worse?).
    """
    n = ctx.n
    tab = tab or _Table(ctx)
    est = ctx.est_out if est_out is None else est_out
    out = np.empty(n, np.int32)
    bounds = np.unique(np.append(breaks if breaks is not None else [], n)).astype(np.int64)
    s, core, last, bi = 0, 0, 64, 0
    if ctx.bound is not None and ctx.rest is None:
        ctx.rest = _cores_left(ctx)
    end = n if stop is None else stop
    while s < end:
        while bounds[bi] <= s:
            bi += 1
        hard = int(min(bounds[bi], s + ctx.cap.neurons, end))
        w = min(hard - s, max(2 * last, 64))
        while True:
            size = _prefix_fit(ctx, tab, est, s, s + w)
            if size < w or s + w >= hard:
                break
            w = min(hard - s, 2 * w)
        if size == 0:
            raise _single_error(ctx, s)
        out[s:s + size] = core
        core += 1
        s += size
        last = size
        if ctx.bound is not None:
            # at a stop the last core may be cut short: count it with what follows
            least = core + ctx.rest(s) - (1 if s == end < n else 0)
            if least > ctx.bound:
                raise _Worse(least)
    return out, core


def _early_worse(ctx: _Ctx, breaks: np.ndarray | None, est_out: np.ndarray | None) -> None:
    """Raise _Worse when filling the first 1/PREFIX_PART of the neurons already shows the
    whole fill needs more than `ctx.bound` cores (sorts ~1/32 of the synapses, not all:
    auto's sequential candidate on the 1M shuffled sheet takes ~2 s instead of ~6 s)."""
    stop = ctx.n // PREFIX_PART
    if ctx.bound is None or stop < 16 * ctx.cap.neurons:
        return
    _fill(ctx, breaks, est_out, _Table(ctx, stop=stop), stop=stop)


def _cores_left(ctx: _Ctx):
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


def _single_error(ctx: _Ctx, gid: int) -> FitError:
    pop = next(p for p in reversed(ctx.pops) if ctx.loff[p] <= gid)
    msg = (f"population '{pop}' neuron {gid - ctx.loff[pop]} fits on no core of target "
           f"'{ctx.target.name}' even alone (its inputs and outputs exceed a per-core "
           f"limit); remedy: fewer weight bits, smaller fan-in or fan-out, or a bigger target")
    return FitError(Diagnostic.at(ctx.net.loc(f"populations.{pop}"), msg))


# ----------------------------------------------------------------------------- methods

def _sequential(ctx: _Ctx):
    starts = np.array([ctx.loff[p] for p in ctx.pops], np.int64)
    return "fill", None, starts  # a new core at every population start


def _pop_lb(ctx: _Ctx, name: str) -> int:
    """Per-population lower bound on blocks (neurons, bits, in-axons)."""
    net, cap = ctx.net, ctx.cap
    size = net.populations[name].size
    bits, pres = 0, 0
    seen: dict[str, np.ndarray] = {}
    for pr in ctx.projs:
        if pr.post != name:
            continue
        cnt = np.bincount(pr.pre_idx, minlength=net.populations[pr.pre].size)
        bits += int(synapse_list_bits(cnt[cnt > 0], projection_format(pr, ctx.target).bits).sum())
        seen[pr.pre] = seen[pr.pre] | (cnt > 0) if pr.pre in seen else cnt > 0
    pres = sum(int(v.sum()) for v in seen.values())
    return max(1, -(-size // cap.neurons), -(-bits // cap.synapse_bits), -(-pres // cap.in_axons))


def _block_ratio(ctx: _Ctx, name: str, projs: list, blocks, m: int) -> float:
    """Worst usage / cap over the blocks `blocks(m)` of population `name` (out_axons excluded).

    Over SAMPLE_BLOCKS blocks, only a sample is counted: the largest blocks and blocks
    spread evenly over the rest (the final exact check repairs a block the sample missed).
    """
    local = blocks(m)
    k = int(local.max()) + 1
    bits_of = None
    if k > SAMPLE_BLOCKS:
        size = np.bincount(local, minlength=k)
        pick = np.zeros(k, bool)
        pick[np.argsort(-size, kind="stable")[:SAMPLE_BLOCKS // 4]] = True
        pick[np.linspace(0, k - 1, SAMPLE_BLOCKS - SAMPLE_BLOCKS // 4).astype(np.int64)] = True
        newid = np.full(k + 1, -1, np.int64)
        newid[np.flatnonzero(pick)] = np.arange(int(pick.sum()))
        newid[-1] = k = int(pick.sum())  # one more core gathers the unsampled neurons
        local = newid[np.where(pick[local], local, -1)].astype(np.int32)
        bits_of = {pr.name: projection_format(pr, ctx.target).bits for pr in projs}
        sub = []
        for pr in projs:
            sel = np.flatnonzero(local[pr.post_idx] < k)
            sub.append(dataclasses.replace(pr, pre_idx=pr.pre_idx[sel],
                                           post_idx=pr.post_idx[sel], weight=pr.weight[sel],
                                           delay=pr.delay[sel]))
        projs = sub
        u = incoming_usage(ctx.net, {name: local}, k + 1, ctx.target, projs, with_out=False,
                           bits_of=bits_of)
    else:
        u = incoming_usage(ctx.net, {name: local}, k, ctx.target, projs, with_out=False)
    return max(float(getattr(u, lim)[:k].max()) / getattr(ctx.cap, lim)
               for lim in LIMITS if lim != "out_axons")


def _equal_blocks(size: int, m: int) -> np.ndarray:
    """`m` blocks of consecutive indices, sizes differing by at most one."""
    return (np.arange(size, dtype=np.int64) * m // size).astype(np.int32)


def tile_blocks(pos: np.ndarray, m: int, regular: bool = False) -> np.ndarray:
    """Per neuron, its tile among about `m` tiles over positions `pos` (size, d).

    Default: exactly `m` tiles of equal neuron counts. The first axis with extent is cut
    into slabs at neuron-count quantiles, as many as make the tiles about as long as wide;
    slab i holds k_i of the m tiles (k_i differ by at most one) and is cut the same way
    along the next axis, the last axis into exactly k_i tiles. `regular`: a grid, the same
    count of cuts at global quantiles on every slab, the least per-axis counts (tiles
    about as long as wide) whose product reaches m. On a 1000 x 1000 grid with m = 2500
    both give 20 x 20 squares. Neurons at one coordinate stay together; ids follow the
    slab order; tiles left empty by ties are dropped.
    """
    n, d = pos.shape
    axes = [i for i in range(d) if np.ptp(pos[:, i]) > 0]
    tile = np.zeros(n, np.int64)
    if axes and m > 1 and regular:
        span = np.ptp(pos[:, axes], axis=0)
        side = (float(np.prod(span)) / m) ** (1.0 / len(axes))
        for i, sp_i in zip(axes, span, strict=True):
            t = int(max(1, math.ceil(sp_i / side - 1e-9)))
            col = pos[:, i]
            tile = tile * t + np.searchsorted(np.sort(col), col, side="left") * t // n
    elif axes and m > 1:
        _slabs(pos, np.arange(n), int(m), axes, 0, tile)
    return np.unique(tile, return_inverse=True)[1].astype(np.int32)


def _slabs(pos: np.ndarray, idx: np.ndarray, m: int, axes: list[int], first: int,
           out: np.ndarray) -> None:
    """`tile_blocks` for neurons `idx` cut into m tiles numbered from `first` (recursive
    over axes: one call per slab, never per neuron)."""
    if m <= 1 or not axes or idx.size == 0:
        out[idx] = first
        return
    sub = pos[np.ix_(idx, axes)]
    span = np.ptp(sub, axis=0)
    live = span > 0
    if not live[0]:
        _slabs(pos, idx, m, axes[1:], first, out)
        return
    if len(axes) == 1:
        t = m
    else:
        side = (float(np.prod(span[live])) / m) ** (1.0 / int(live.sum()))
        t = int(min(m, max(1, round(span[0] / side))))
    k = np.full(t, m // t, np.int64)
    k[:m % t] += 1
    col = sub[:, 0]
    first_rank = np.searchsorted(np.sort(col), col, side="left")
    bounds = idx.size * np.cumsum(k)[:-1] / m
    slab = np.searchsorted(bounds, first_rank, side="right")
    order = np.argsort(slab, kind="stable")
    starts = np.searchsorted(slab[order], np.arange(t + 1))
    base = first + np.concatenate(([0], np.cumsum(k)))
    for i in range(t):
        members = idx[order[starts[i]:starts[i + 1]]]
        _slabs(pos, members, int(k[i]), axes[1:], int(base[i]), out)


def _greedy(ctx: _Ctx, geometric: bool = False):
    """Equal blocks per population (nengo-loihi style); `geometric`: tiles of positioned
    lif populations instead (`tile_blocks`), equal blocks for the others."""
    cg = np.empty(ctx.n, np.int32)
    base = 0
    for name in ctx.pops:
        pop = ctx.net.populations[name]
        size = pop.size
        if size == 0:
            continue
        projs = [pr for pr in ctx.projs if pr.post == name]
        tiles = geometric and pop.positions is not None
        blocks = partial(tile_blocks, pop.positions, regular=True) if tiles \
            else partial(_equal_blocks, size)
        ratio = partial(_block_ratio, ctx, name, projs, blocks)
        m0 = m = min(_pop_lb(ctx, name), size)
        fail, ok = 0, None
        while ok is None:
            r = ratio(m)
            if r <= 1.0:
                ok = m
            elif m >= size and tiles:
                # positions too tied to cut finer (many neurons at one point): index blocks
                tiles, blocks = False, partial(_equal_blocks, size)
                ratio = partial(_block_ratio, ctx, name, projs, blocks)
                m, fail = m0, 0
            elif m >= size:
                raise _single_error(ctx, ctx.loff[name])
            else:
                fail = m
                if ctx.bound is not None and base + fail + 1 > ctx.bound:
                    raise _Worse(base + fail + 1)
                m = min(size, max(m + 1, int(math.ceil(m * r * 1.02))))
        ok = _bisect(ratio, fail, ok)
        local = blocks(ok)
        if tiles:
            # a grid rounds the tile count up to a product; exactly-m tiles may fit in
            # fewer (fits are not monotone in m on a lattice: try, keep the fewer)
            exact = partial(tile_blocks, pop.positions)
            k = int(local.max()) + 1
            m = _bisect(partial(_block_ratio, ctx, name, projs, exact), max(fail, m0 - 1), k)
            if m < k:
                local = exact(m)
        o = ctx.loff[name]
        cg[o:o + size] = base + local
        base += int(local.max()) + 1
        if ctx.bound is not None and base > ctx.bound:
            raise _Worse(base)
    return "cores", cg, base


def _bisect(ratio, fail: int, ok: int, steps: int = 4) -> int:
    """The smallest block count found in `steps` bisections between a count that does
    not fit (`fail`) and one that does (`ok`)."""
    for _ in range(steps):
        if ok - fail <= 1:
            break
        mid = (fail + ok) // 2
        if ratio(mid) <= 1.0:
            ok = mid
        else:
            fail = mid
    return ok


def _sample_positions(rng: np.random.Generator, total: int, p: float) -> np.ndarray:
    """Sorted positions 0..total-1, each kept independently with probability p.

    Geometric gaps between kept positions: draws ~p * total numbers, not total.
    """
    parts, last = [], -1
    while last < total - 1:
        exp = (total - 1 - last) * p
        size = int(min(1 << 24, exp + 6 * math.sqrt(exp) + 16))
        pos = last + np.cumsum(rng.geometric(p, size=size))
        last = int(pos[-1])
        parts.append(pos[pos < total])
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def _graph_edges(ctx: _Ctx, max_degree: float, seed: int):
    """Symmetric CSR adjacency of lif neurons (edge-sampled to ~max_degree per vertex)."""
    import scipy.sparse as sp

    net, n = ctx.net, ctx.n
    lif_projs = [pr for pr in ctx.projs if not net.populations[pr.pre].is_source]
    total = sum(pr.n_synapses for pr in lif_projs)
    keep = min(1.0, max_degree * n / total) if total else 1.0
    rng = np.random.default_rng([seed, 7321])
    rows, cols = [], []
    for pr in lif_projs:
        pre, post = pr.pre_idx, pr.post_idx
        if keep < 1.0:
            idx = _sample_positions(rng, pr.n_synapses, keep)
            pre, post = pre[idx], post[idx]
            del idx
        rows.append(pre.astype(np.int32) + np.int32(ctx.loff[pr.pre]))
        cols.append(post.astype(np.int32) + np.int32(ctx.loff[pr.post]))
    r = np.concatenate(rows) if rows else np.zeros(0, np.int32)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int32)
    del rows, cols
    m = r != c
    r, c = r[m], c[m]
    # both directions in one conversion (duplicates are summed: weight = synapses sampled)
    a = sp.csr_matrix((np.ones(2 * r.size, np.int32),
                       (np.concatenate((r, c)), np.concatenate((c, r)))), shape=(n, n))
    a.sum_duplicates()
    return a


def graph_cost_estimate(net: NetworkIR, max_degree: float = GRAPH_DEGREE) -> float:
    """Rough seconds for the graph method on this machine class (METIS on sampled edges).

    Calibrated on the 2-core machine: 1M-neuron sheet, 100M synapses, degree 30: ~28 s,
    plus ~7 s of boundary refinement (0.07 us per synapse).
    """
    n = sum(p.size for p in net.neuron_populations)
    s = sum(pr.n_synapses for pr in net.projections.values())
    adj = 2 * min(s, max_degree * n)
    return 0.2e-6 * adj + 0.22e-6 * s + 2e-6 * n


def locality_probe(ctx: _Ctx, k: int, sample: int = 50_000) -> tuple[float, float]:
    """Cut fractions (METIS, id-order blocks) of k parts of a random induced subgraph.

    Each part holds as many sampled neurons as a real core holds neurons, so the two
    fractions predict whether the graph method can beat sequential fill (local nets: far
    lower METIS cut; random nets: both near 1) at a small fraction of its cost.
    """
    import pymetis
    import scipy.sparse as sp

    n = ctx.n
    syn = sum(pr.n_synapses for pr in ctx.projs if not ctx.net.populations[pr.pre].is_source)
    # sample fraction f keeps a mean degree of about 2 * syn / n * f <= 8 (METIS stays cheap)
    f = min(1.0, sample / max(n, 1), 4.0 * n / max(syn, 1))
    rng = np.random.default_rng([int(ctx.net.seed) & 0x7FFFFFFF, 991])
    sel = np.flatnonzero(rng.random(n) < f).astype(np.int32)
    m = sel.size
    k = max(2, min(int(k), m // 4))
    if m < 8:
        return 1.0, 1.0
    newid = np.full(n, -1, np.int32)
    newid[sel] = np.arange(m, dtype=np.int32)
    rows, cols = [], []
    for pr in ctx.projs:
        if ctx.net.populations[pr.pre].is_source or pr.n_synapses == 0:
            continue
        a = newid[ctx.loff[pr.pre]:][:ctx.net.populations[pr.pre].size][pr.pre_idx]
        b = newid[ctx.loff[pr.post]:][:ctx.net.populations[pr.post].size][pr.post_idx]
        keep = (a >= 0) & (b >= 0) & (a != b)
        rows.append(a[keep])
        cols.append(b[keep])
    r = np.concatenate(rows) if rows else np.zeros(0, np.int32)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int32)
    if r.size == 0:
        return 1.0, 1.0
    adj = sp.coo_matrix((np.ones(r.size, np.int64), (r, c)), shape=(m, m)).tocsr()
    adj = (adj + adj.T).tocsr()
    res = pymetis.part_graph(k, pymetis.CSRAdjacency(adj.indptr.astype(np.int64),
                                                     adj.indices.astype(np.int64)),
                             eweights=adj.data.astype(np.int64),
                             options=pymetis.Options(seed=1, ufactor=30))
    part = np.asarray(res.vertex_part, dtype=np.int64)
    block = sel.astype(np.int64) * k // n
    return (float(np.count_nonzero(part[r] != part[c])) / r.size,
            float(np.count_nonzero(block[r] != block[c])) / r.size)


def _graph(ctx: _Ctx, slack: float = 1.04, max_degree: float = GRAPH_DEGREE,
           refine_rounds: int = REFINE_ROUNDS):
    import pymetis
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    n, cap = ctx.n, ctx.cap
    # vertex weight: each neuron's share of the binding additive resource (neurons or bits)
    indeg = np.zeros(n, np.int64)
    lif_indeg = np.zeros(n, np.int64)  # inputs from lif neurons only (refinement)
    for pr in ctx.projs:
        o, size = ctx.loff[pr.post], ctx.net.populations[pr.post].size
        cnt = np.bincount(pr.post_idx, minlength=size)
        indeg[o:o + size] += cnt
        if not ctx.net.populations[pr.pre].is_source:
            lif_indeg[o:o + size] += cnt
        del cnt
    total_syn = max(int(indeg.sum()), 1)
    bits_per_syn = ctx.lb.get("_bits_total", 0) / total_syn
    per_neuron = np.maximum(1.0 / cap.neurons, indeg * bits_per_syn / cap.synapse_bits)
    del indeg
    est = max(ctx.lb["cores"], per_neuron.sum())
    k = max(int(ctx.lb["cores"]), int(round(est * slack)))
    k = max(1, min(k, n))
    ctx.info["graph_parts"] = k
    if k == 1:
        return "fill", None, None
    a = _graph_edges(ctx, max_degree, int(ctx.net.seed))
    vw = np.maximum(1, np.round(per_neuron * cap.neurons * 16)).astype(np.int64)
    # METIS in reverse Cuthill-McKee vertex order: neighbours get nearby ids, which makes
    # METIS 2-3x faster on nets whose ids carry no locality (1M shuffled sheet: 31 -> 13 s)
    perm = np.asarray(reverse_cuthill_mckee(a, symmetric_mode=True))
    indptr, indices, data = _permuted(a, perm)
    total = int(a.data.sum()) // 2
    del a
    opts = pymetis.Options(seed=int(ctx.net.seed) & 0x7FFFFFFF, ufactor=10)
    adj = pymetis.CSRAdjacency(indptr, indices)
    res = pymetis.part_graph(k, adj, vweights=vw[perm], eweights=data, options=opts)
    part = np.empty(n, np.int32)
    part[perm] = res.vertex_part
    cut = res.edge_cuts / max(total, 1)  # METIS's cut fraction (sampled)
    del adj, perm, indptr, indices, data
    ctx.info["graph_cut_fraction"] = round(cut, 3)
    if refine_rounds > 0 and cut <= REFINE_MAX_CUT:
        pre, post = _lif_edges(ctx)
        weight = vw.astype(np.float64)
        pw = np.bincount(part, weights=weight, minlength=k)
        t0 = time.perf_counter()
        refined, info = refine_parts(part, k, pre, post, weight, np.full(k, pw.max()),
                                     rounds=refine_rounds, deg=lif_indeg)
        del pre, post
        info["time_s"] = round(time.perf_counter() - t0, 2)
        ctx.info["graph_refine"] = info
        ctx.alt = (part, k)
        part = refined
    del lif_indeg
    return "cores", part, k


def _permuted(a, perm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr, indices, data) as int64 of `a[perm][:, perm]` for a CSR matrix, rows left
    unsorted (METIS does not need them sorted; scipy's fancy indexing takes 3x longer)."""
    inv = np.empty(perm.size, np.int64)
    inv[perm] = np.arange(perm.size)
    lens = np.diff(a.indptr)[perm]
    indptr = np.zeros(perm.size + 1, np.int64)
    np.cumsum(lens, out=indptr[1:])
    idx = np.repeat(a.indptr[perm].astype(np.int64) - indptr[:-1], lens)
    idx += np.arange(indptr[-1], dtype=np.int64)
    return indptr, inv[a.indices[idx]], a.data[idx].astype(np.int64)


def _lif_edges(ctx: _Ctx) -> tuple[np.ndarray, np.ndarray]:
    """(pre, post) lif gids of every lif -> lif synapse (no copy for one projection at 0)."""
    projs = [pr for pr in ctx.projs
             if not ctx.net.populations[pr.pre].is_source and pr.n_synapses]
    if len(projs) == 1 and ctx.loff[projs[0].pre] == 0 and ctx.loff[projs[0].post] == 0:
        return projs[0].pre_idx, projs[0].post_idx
    if not projs:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    return (np.concatenate([pr.pre_idx.astype(np.int32) + np.int32(ctx.loff[pr.pre])
                            for pr in projs]),
            np.concatenate([pr.post_idx.astype(np.int32) + np.int32(ctx.loff[pr.post])
                            for pr in projs]))


# ----------------------------------------------------------------------------- repair

def _repair(ctx: _Ctx, cg: np.ndarray, n_cores: int, usage: Usage | None = None,
            max_rounds: int = 64):
    """Split every core over a limit into ceil(worst ratio) pieces until all limits hold.

    Returns (cg, n_cores, usage). Splitting only shrinks cores, so it terminates.
    """
    for _ in range(max_rounds):
        if usage is None:
            usage = incoming_usage(ctx.net, ctx.split(cg), n_cores, ctx.target, traffic=True)
        bad = usage.bad_cores(ctx.target)
        if not bad.size:
            return cg, n_cores, usage
        ratio = np.max([getattr(usage, lim)[bad] / getattr(ctx.cap, lim) for lim in LIMITS],
                       axis=0)
        pieces = np.zeros(n_cores, np.int64)
        pieces[bad] = np.maximum(2, np.ceil(ratio)).astype(np.int64)
        sel = np.flatnonzero(pieces[cg] > 0)
        cores = cg[sel]
        o = np.argsort(cores, kind="stable")
        sel, cores = sel[o], cores[o]
        starts, lengths = _runs(cores)
        if (lengths == 1).any():
            c = int(cores[starts[lengths == 1][0]])
            gid = int(sel[starts[lengths == 1][0]])
            over = [lim for lim in LIMITS if getattr(usage, lim)[c] > getattr(ctx.cap, lim)]
            raise _limit_error(ctx, gid, over[0], int(getattr(usage, over[0])[c]))
        run = np.repeat(np.arange(starts.size), lengths)
        pos = np.arange(sel.size) - np.repeat(starts, lengths)
        m = np.minimum(pieces[cores], np.repeat(lengths, lengths))
        piece = pos * m // np.repeat(lengths, lengths)  # 0 .. m-1, equal sizes
        extra_base = n_cores + np.concatenate(([0], np.cumsum(m[starts] - 1)))[:-1]
        new = np.where(piece == 0, cores, extra_base[run] + piece - 1)
        cg[sel] = new
        n_cores += int((m[starts] - 1).sum())
        usage = None
    raise FitError(f"partition repair did not converge after {max_rounds} rounds")


def _limit_error(ctx: _Ctx, gid: int, limit: str, value: int) -> FitError:
    pop = next(p for p in reversed(ctx.pops) if ctx.loff[p] <= gid)
    capv = getattr(ctx.cap, limit)
    msg = (f"population '{pop}' neuron {gid - ctx.loff[pop]} alone needs {limit} {value} > "
           f"{capv} on target '{ctx.target.name}'; remedy: reduce its fan-out or fan-in, "
           f"split the population, or use a bigger target")
    return FitError(Diagnostic.at(ctx.net.loc(f"populations.{pop}"), msg,
                                  allowed=f"{limit} <= {capv}"))


def _renumber(cg: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """Relabel cores 0..n-1 in order of their first (lowest-id) neuron, dropping empty ids.

    Returns the new per-gid cores, n, and the old id of each new id.
    """
    if cg.size == 0:
        return cg, 0, np.zeros(0, np.int64)
    ids, first = np.unique(cg, return_index=True)
    order = ids[np.argsort(first)]
    lut = np.full(int(ids.max()) + 1, -1, np.int32)
    lut[order] = np.arange(order.size, dtype=np.int32)
    return lut[cg], int(order.size), order


def _take(usage: Usage, old_ids: np.ndarray) -> Usage:
    """Usage with cores relabelled (new core i = old core old_ids[i])."""
    f = {k: getattr(usage, k)[old_ids] for k in ("neurons", "synapse_bits", "in_axons",
                                                 "out_axons", "synapses")}
    extra = {k: v for k, v in usage.extra.items() if k != "out_of"}
    if "traffic" in extra:  # core x core spikes, for place: relabel rows and columns
        extra["traffic"] = extra["traffic"][old_ids][:, old_ids].tocsr()
    return Usage(**f, lif_senders=usage.lif_senders,
                 source_messages_per_step=usage.source_messages_per_step, extra=extra)


# ----------------------------------------------------------------------------- driver

_RUN = {"sequential": _sequential, "greedy": _greedy, "graph": _graph,
        "tile": partial(_greedy, geometric=True)}


class _Worse(Exception):
    """A candidate already needs more cores than the best one found so far."""


def _candidate(ctx: _Ctx, method: str, bound: int | None = None) -> Partition:
    t0 = time.perf_counter()
    ctx.bound, ctx.alt = bound, None
    kind, a, b = _RUN[method](ctx)
    alt, ctx.alt = ctx.alt, None
    try:
        cg, n, usage = _assign(ctx, kind, a, b, bound)
    except _Worse:
        if alt is None:
            raise
        cg = None
    del a, b
    if alt is not None:
        # the graph's refined parts: when they need more cores than its unrefined parts
        # (each part takes >= 1 core), assign those too and keep the fewer (ties: refined)
        info = ctx.info.setdefault("graph_refine", {})
        info["kept"] = True
        if cg is None or n > alt[1] + 1:
            try:
                cg0, n0, usage0 = _assign(ctx, "cores", alt[0], alt[1], bound)
            except _Worse:
                if cg is None:
                    raise
            else:
                if cg is None or n0 < n:
                    cg, n, usage = cg0, n0, usage0
                    info["kept"] = False
        del alt
    cg, n, old_ids = _renumber(cg)
    usage = _take(usage, old_ids)
    core_of = ctx.split(cg)
    stats = traffic_stats(ctx.net, core_of, usage)
    stats["time_s"] = time.perf_counter() - t0
    stats["cores"] = n
    stats.update(ctx.info)
    ctx.info = {}
    return Partition(core_of, n, usage, method, stats)


def _assign(ctx: _Ctx, kind: str, a, b, bound: int | None):
    """A method's result -> (per-gid core, cores, usage) with every limit held (repaired)."""
    usage = None
    if kind == "fill":  # b: gids where a new core must start (population starts)
        # targets spread over cores (random nets): fill with an out-axon upper bound, so
        # one pass is exact; else fill with the running estimate and refill if needed
        est = _fanout_bound(ctx) if _spread(ctx) >= SPREAD_ONE_PASS else None
        _early_worse(ctx, b, est)
        tab = _Table(ctx)
        cg, n = _fill(ctx, b, est_out=est, tab=tab)
        if bound is not None and n > bound:
            raise _Worse(n)
        usage = incoming_usage(ctx.net, ctx.split(cg), n, ctx.target,
                               per_neuron_out=est is None, traffic=True)
        if est is None and (usage.out_axons > ctx.cap.out_axons).any():
            # refill with each neuron's exact destination-core count of this first pass
            # (+10 %: the refilled cores are smaller, so targets spread over more cores)
            est = np.ceil(_gid_array(ctx, usage.extra["out_of"]) * 1.1).astype(np.int64)
            est = np.maximum(ctx.est_out, est)
            np.minimum(est, ctx.cap.out_axons, out=est)
            cg, n = _fill(ctx, b, est_out=est, tab=tab)
            usage = None
        del tab
    else:
        cg, n = a, b
    if bound is not None and n > bound:
        raise _Worse(n)
    return _repair(ctx, np.asarray(cg, np.int32), n, usage)


def _fanout_bound(ctx: _Ctx) -> np.ndarray:
    """Per lif gid: synapses it sends (capped at out_axons), >= its destination cores."""
    out = np.zeros(ctx.n, np.int64)
    for pr in ctx.projs:
        if ctx.net.populations[pr.pre].is_source or pr.n_synapses == 0:
            continue
        o = ctx.loff[pr.pre]
        out[o:o + ctx.net.populations[pr.pre].size] += np.bincount(
            pr.pre_idx, minlength=ctx.net.populations[pr.pre].size)
    return np.minimum(out, ctx.cap.out_axons, out=out)


def _spread(ctx: _Ctx, stride: int = 64) -> float:
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


def _gid_array(ctx: _Ctx, per_pop: dict[str, np.ndarray]) -> np.ndarray:
    out = np.zeros(ctx.n, np.int64)
    for name, arr in per_pop.items():
        o = ctx.loff[name]
        out[o:o + arr.size] = arr
    return out


def partition(net: NetworkIR, target: Target, method: str = "auto",
              time_budget_s: float = 30.0) -> Partition:
    """Assign every lif neuron to a core so all limits of `target` hold (see module doc)."""
    if method not in METHODS:
        raise InputError(Diagnostic(f"unknown partitioner {method!r}", field="partitioner",
                                    allowed=", ".join(METHODS)))
    t0 = time.perf_counter()
    lb = check_fit(net, target)
    ctx = _Ctx(net, target, lb)
    lb["_bits_total"] = _lb_bits(ctx)
    public_lb = {k: v for k, v in lb.items() if not k.startswith("_")}
    if ctx.n == 0:
        usage = incoming_usage(net, {}, 0, target)
        return Partition({p: np.zeros(0, np.int32) for p in ctx.pops}, 0, usage, method,
                         {"lower_bound": public_lb, "time_s": 0.0, "synapses_cut": 0,
                          "packets_per_spike": 0.0})
    if method != "auto":
        try:
            best = _candidate(ctx, method)
        except FitError as e:
            if method == "sequential":
                raise
            # this method spread some neuron's targets too far; sequential keeps
            # populations aligned to cores: use it and say so
            best = _candidate(ctx, "sequential")
            best.method = f"{method}->sequential"
            best.stats["fallback"] = str(e)
    else:
        # tile first (when positions are declared) and graph (when it fits the budget),
        # so that sequential can be abandoned as soon as it needs more cores; sequential
        # always runs (auto is never worse)
        cands: dict = {}
        kept: list[Partition] = []
        seq_time, seq_cores = 0.0, None
        order = ("tile",) if _has_positions(ctx) else ()
        for m in order + ("graph", "sequential", "greedy"):
            tc = time.perf_counter()
            left = time_budget_s - (time.perf_counter() - t0)
            probe = None
            if m == "graph":
                est = graph_cost_estimate(net)
                if left < est <= PROMISING_BUDGETS * time_budget_s:
                    # over budget: run it anyway when a cheap probe predicts a clear win
                    # over sequential that the tiles did not already get (sequential is
                    # then abandoned early, so the total stays small). q estimates
                    # id-order blocks' cut fraction, comparable to a candidate's real one
                    g, q = locality_probe(ctx, int(lb["cores"]))
                    probe = {"graph_cut": round(g, 3), "sequential_cut": round(q, 3)}
                    won = any(c.stats["synapses_cut_fraction"] < PROMISING_CUT_RATIO * q
                              for c in kept)
                    if g < PROMISING_CUT_RATIO * q and not won:
                        left = est
                    elif won:
                        probe["tiles_won"] = True
            elif m == "greedy":
                est = 1.5 * seq_time
            if m in ("graph", "greedy") and est > left:
                cands[m] = {"skipped": f"estimated {est:.1f} s > {left:.1f} s left"}
                if probe is not None:
                    cands[m]["probe"] = probe
                continue
            try:
                c = _candidate(ctx, m, bound=_core_limit(kept, seq_cores))
            except FitError as e:  # e.g. a neuron whose targets this method spread too far
                if m == "sequential":
                    raise
                cands[m] = {"failed": str(e)}
                continue
            except _Worse as e:
                cands[m] = {"abandoned": f"needs at least {e.args[0]} cores",
                            "time_s": time.perf_counter() - tc}
                continue
            finally:
                if m == "sequential":
                    seq_time = time.perf_counter() - tc
            if m == "sequential":
                seq_cores = c.n_cores
            cands[m] = _summary(c)
            if probe is not None:
                cands[m]["probe"] = probe
            kept.append(c)
        best = _pick(kept, seq_cores)
        best.method = f"auto:{best.method}"
        best.stats["candidates"] = cands
    best.stats["lower_bound"] = public_lb
    best.stats["cores_over_lb"] = best.n_cores / max(lb["cores"], 1)
    best.stats["total_time_s"] = time.perf_counter() - t0
    return best


def _has_positions(ctx: _Ctx) -> bool:
    return any(ctx.net.populations[p].positions is not None for p in ctx.pops)


def _core_limit(kept: list[Partition], seq_cores: int | None) -> int | None:
    """Most cores a candidate may use and still be kept: within CORE_TOLERANCE of the
    fewest so far, and never more than sequential's."""
    if not kept:
        return None
    fewest = min(c.n_cores for c in kept)
    limit = fewest + int(fewest * CORE_TOLERANCE)
    return limit if seq_cores is None else min(limit, max(seq_cores, fewest))


def _pick(kept: list[Partition], seq_cores: int | None) -> Partition:
    """auto's choice: fewest packets per spike among the candidates within the core limit
    (ties: fewer cores, then the earlier candidate)."""
    limit = _core_limit(kept, seq_cores)
    ok = [c for c in kept if c.n_cores <= limit]
    return min(ok, key=lambda c: (c.stats["packets_per_spike"], c.n_cores))


def _summary(p: Partition) -> dict:
    out = {"cores": p.n_cores, "packets_per_spike": p.stats["packets_per_spike"],
           "synapses_cut": p.stats["synapses_cut"], "time_s": p.stats["time_s"]}
    if "graph_refine" in p.stats:
        out["refine"] = p.stats["graph_refine"]
    return out


def _lb_bits(ctx: _Ctx) -> int:
    total = 0
    for pr in ctx.projs:
        cnt = np.bincount(pr.pre_idx, minlength=ctx.net.populations[pr.pre].size)
        total += int(synapse_list_bits(cnt[cnt > 0], projection_format(pr, ctx.target).bits).sum())
    return total
