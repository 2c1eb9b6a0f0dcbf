"""The greedy and tile methods: each population cut into the fewest blocks that all fit.

- `greedy`: like nengo-loihi's `split_blocks`, each population is cut into `m` equal
  blocks of consecutive indices, `m` the smallest count whose blocks all fit.
- `tile`: for populations with declared `positions` (a retinotopic sheet, a conv layer),
  the same search over tiles (`tiles.tile_blocks`) instead of index blocks: a grid of
  near-square tiles, as many as needed for every tile to fit, then exactly-m equal-count
  tiles below the grid's count (kept when fewer fit); other populations get equal blocks.
  Feature maps (several neurons, e.g. channels, at one position) then try tiles of equal
  synapse memory that may cut through a position's channels (`tiles.weighted_tiles`),
  kept when fewer fit: equal-count tiles leave room on a padded map's border cores.

The count is found by a ratio-guided search then bisection; above SAMPLE_BLOCKS blocks
each try counts a sample of the blocks (the final exact check splits one the sample
missed). Populations never share a core.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from functools import partial

import numpy as np

from ...ir import Projection
from ..resources import LIMITS, incoming_usage, projection_format, synapse_list_bits
from .context import Context, Cores, Worse, unfit_neuron_error
from .tiles import tile_blocks, weighted_tiles

SAMPLE_BLOCKS = 256  # block counts above this are sized on a sample of blocks
GROWTH = 1.02  # a failed count m with worst ratio r tries next ceil(m * r * GROWTH)
BISECTIONS = 4  # bisection steps between the last failing and first fitting count
WEIGHTED_BISECTIONS = 8  # feature maps' equal-memory tiles: bisection steps
CALIBRATIONS = 4  # feature maps: recuts with weights scaled by the counted memory


def greedy(ctx: Context) -> Cores:
    """Equal index blocks per population."""
    return _blocks(ctx, geometric=False)


def tile(ctx: Context) -> Cores:
    """Tiles for positioned populations, equal index blocks for the others."""
    return _blocks(ctx, geometric=True)


def _blocks(ctx: Context, geometric: bool) -> Cores:
    cg = np.empty(ctx.n, np.int32)
    base = 0
    for name in ctx.pops:
        pop = ctx.net.populations[name]
        if pop.size == 0:
            continue
        local = _population_blocks(ctx, name, base, geometric and pop.positions is not None)
        o = ctx.loff[name]
        cg[o:o + pop.size] = base + local
        base += int(local.max()) + 1
        if ctx.bound is not None and base > ctx.bound:
            raise Worse(base)
    return Cores(cg, base)


def _population_blocks(ctx: Context, name: str, base: int, tiles: bool) -> np.ndarray:
    """Per neuron of population `name`, its block among the fewest that fit (`base`: the
    cores taken by earlier populations, for the bound)."""
    pop = ctx.net.populations[name]
    size = pop.size
    projs = [pr for pr in ctx.projs if pr.post == name]
    blocks = partial(tile_blocks, pop.positions, regular=True) if tiles \
        else partial(_equal_blocks, size)
    m0 = min(_pop_lb(ctx, name), size)
    found = _search(ctx, name, projs, blocks, m0, base)
    if found is None and tiles:  # positions too tied to cut finer (many at one point)
        tiles, blocks = False, partial(_equal_blocks, size)
        found = _search(ctx, name, projs, blocks, m0, base)
    if found is None:
        raise unfit_neuron_error(ctx, ctx.loff[name])
    fail, ok = found
    local = blocks(ok)
    if tiles:
        # a grid rounds the tile count up to a product; exactly-m tiles may fit in
        # fewer (fits are not monotone in m on a lattice: try, keep the fewer)
        exact = partial(tile_blocks, pop.positions)
        k = int(local.max()) + 1
        m = _bisect(partial(_block_ratio, ctx, name, projs, exact), max(fail, m0 - 1), k)
        if m < k:
            local = exact(m)
        local = _weighted_fewer(ctx, name, projs, local, m0)
    return local


def _weighted_fewer(ctx: Context, name: str, projs: list[Projection], local: np.ndarray,
                    m0: int) -> np.ndarray:
    """Feature maps (`_tied` positions): tiles of equal synapse memory (`weighted_tiles`,
    cutting through a position's channels) when fewer fit than the `local` tiles' count;
    else `local`.
    Tiles of equal neuron counts leave room on the cores of a map's border (fewer
    synapses there) and cannot split the neurons at one position."""
    k = int(local.max()) + 1
    if k <= m0 or not _tied(ctx.net.populations[name].positions):
        return local
    cap = ctx.cap
    size = ctx.net.populations[name].size
    payload = np.zeros(size, np.float64)
    for pr in projs:
        payload += np.bincount(pr.post_idx, minlength=size) * projection_format(pr, ctx.target).bits
    weight = np.maximum(payload / cap.synapse_bits, 1.0 / cap.neurons)
    tiles = partial(_calibrated_tiles, ctx, name, projs, weight)
    found: dict[int, np.ndarray] = {}

    def ratio(m: int) -> float:
        found[m], r = tiles(m)
        return r

    fail, m = m0 - 1, m0
    while m < k:  # such tiles scale evenly: m x the worst ratio predicts the count
        r = ratio(m)
        if r <= 1.0:
            m = _bisect(ratio, fail, m, WEIGHTED_BISECTIONS)
            return found[m]
        fail, m = m, max(m + 1, int(math.ceil(m * r)))
    return local


def _tied(pos: np.ndarray) -> bool:
    """Whether two neurons share a position (a feature map: channels at each position)."""
    s = pos[np.lexsort(pos.T[::-1])]
    return bool((s[1:] == s[:-1]).all(axis=1).any())


def _calibrated_tiles(ctx: Context, name: str, projs: list[Projection], weight: np.ndarray,
                      m: int) -> tuple[np.ndarray, float]:
    """`weighted_tiles` of `m` tiles and their worst usage ratio; the weights (synapse
    payload) miss the block headers and word rounding, so each neuron's weight is scaled
    by its tile's counted / estimated synapse memory and the map recut, CALIBRATIONS
    times or until the tiles fit."""
    pos = ctx.net.populations[name].positions
    w = weight
    for _ in range(CALIBRATIONS + 1):
        local = weighted_tiles(pos, m, w)
        k = int(local.max()) + 1
        if k > SAMPLE_BLOCKS:
            return local, _block_ratio(ctx, name, projs, lambda _m, t=local: t, m)
        u = incoming_usage(ctx.net, {name: local}, k, ctx.target, projs)
        r = max(float(getattr(u, lim)[:k].max()) / getattr(ctx.cap, lim)
                for lim in LIMITS if lim != "out_axons")
        if r <= 1.0:
            break
        est = np.bincount(local, weights=w, minlength=k)
        scale = u.synapse_bits[:k] / ctx.cap.synapse_bits / np.maximum(est, 1e-12)
        w = w * np.where(scale > 0, scale, 1.0)[local]
    return local, r


def _search(ctx: Context, name: str, projs: list[Projection],
            blocks: Callable[[int], np.ndarray], m: int, base: int) -> tuple[int, int] | None:
    """(largest failing, smallest fitting) block counts from `m` up, bisected; None when
    even one neuron per block does not fit."""
    size = ctx.net.populations[name].size
    ratio = partial(_block_ratio, ctx, name, projs, blocks)
    fail = 0
    while True:
        r = ratio(m)
        if r <= 1.0:
            return fail, _bisect(ratio, fail, m)
        if m >= size:
            return None
        fail = m
        if ctx.bound is not None and base + fail + 1 > ctx.bound:
            raise Worse(base + fail + 1)
        m = min(size, max(m + 1, int(math.ceil(m * r * GROWTH))))


def _bisect(ratio: Callable[[int], float], fail: int, ok: int, steps: int = BISECTIONS) -> int:
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


def _equal_blocks(size: int, m: int) -> np.ndarray:
    """`m` blocks of consecutive indices, sizes differing by at most one."""
    return (np.arange(size, dtype=np.int64) * m // size).astype(np.int32)


def _pop_lb(ctx: Context, name: str) -> int:
    """Per-population lower bound on blocks (neurons, bits, in-axons)."""
    net, cap = ctx.net, ctx.cap
    size = net.populations[name].size
    bits = 0
    seen: dict[str, np.ndarray] = {}
    for pr in ctx.projs:
        if pr.post != name:
            continue
        cnt = np.bincount(pr.pre_idx, minlength=net.populations[pr.pre].size)
        bits += int(synapse_list_bits(cnt[cnt > 0], projection_format(pr, ctx.target).bits).sum())
        seen[pr.pre] = seen[pr.pre] | (cnt > 0) if pr.pre in seen else cnt > 0
    pres = sum(int(v.sum()) for v in seen.values())
    return max(1, -(-size // cap.neurons), -(-bits // cap.synapse_bits), -(-pres // cap.in_axons))


def _block_ratio(ctx: Context, name: str, projs: list[Projection],
                 blocks: Callable[[int], np.ndarray], m: int) -> float:
    """Worst usage / cap over the blocks `blocks(m)` of population `name` (out_axons excluded).

    Over SAMPLE_BLOCKS blocks, only a sample is counted: the largest blocks and blocks
    spread evenly over the rest (the final exact check repairs a block the sample missed).
    """
    local = blocks(m)
    k = int(local.max()) + 1
    if k > SAMPLE_BLOCKS:
        bits_of = {pr.name: projection_format(pr, ctx.target).bits for pr in projs}
        local, k, projs = _sampled(local, k, projs)
        u = incoming_usage(ctx.net, {name: local}, k + 1, ctx.target, projs, bits_of)
    else:
        u = incoming_usage(ctx.net, {name: local}, k, ctx.target, projs)
    return max(float(getattr(u, lim)[:k].max()) / getattr(ctx.cap, lim)
               for lim in LIMITS if lim != "out_axons")


def _sampled(local: np.ndarray, k: int, projs: list[Projection]
             ) -> tuple[np.ndarray, int, list[Projection]]:
    """SAMPLE_BLOCKS of the k blocks renumbered 0.., the rest gathered into one more block,
    and the synapses onto the sampled blocks only."""
    size = np.bincount(local, minlength=k)
    pick = np.zeros(k, bool)
    pick[np.argsort(-size, kind="stable")[:SAMPLE_BLOCKS // 4]] = True
    pick[np.linspace(0, k - 1, SAMPLE_BLOCKS - SAMPLE_BLOCKS // 4).astype(np.int64)] = True
    newid = np.full(k + 1, -1, np.int64)
    newid[np.flatnonzero(pick)] = np.arange(int(pick.sum()))
    newid[-1] = k = int(pick.sum())  # one more core gathers the unsampled neurons
    local = newid[np.where(pick[local], local, -1)].astype(np.int32)
    sub = []
    for pr in projs:
        sel = np.flatnonzero(local[pr.post_idx] < k)
        sub.append(dataclasses.replace(pr, pre_idx=pr.pre_idx[sel], post_idx=pr.post_idx[sel],
                                       weight=pr.weight[sel], delay=pr.delay[sel]))
    return local, k, sub
