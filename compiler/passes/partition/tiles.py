"""Tiles of positioned neurons: near-square groups cut at coordinate quantiles.

The tile method sizes these groups like greedy sizes index blocks. Cuts follow neuron
positions, not ids, so a shuffled sheet tiles the same; on a 2-D lattice the tiles are
the regular squares graph partitioners approach.
"""

from __future__ import annotations

import math

import numpy as np


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


def weighted_tiles(pos: np.ndarray, m: int, weight: np.ndarray) -> np.ndarray:
    """Per neuron, its tile among exactly `m` (fewer only with fewer neurons) tiles of about
    equal total `weight`, cut like `tile_blocks`' exact tiles but at weight quantiles and
    splitting neurons at one coordinate by the other coordinates, then by id (a feature
    map's channels at one position: a tile may end part-way through a row and through a
    position's channels, so its weight can match the others' exactly). Slabs along the
    first axis with extent, tiles along the last."""
    n, d = pos.shape
    axes = [i for i in range(d) if np.ptp(pos[:, i]) > 0]
    tile = np.zeros(n, np.int64)
    if m > 1 and n:
        w = np.asarray(weight, np.float64)
        _weighted(pos, w, np.arange(n), int(min(m, n)), axes, 0, tile)
    return np.unique(tile, return_inverse=True)[1].astype(np.int32)


def _weighted(pos: np.ndarray, w: np.ndarray, idx: np.ndarray, m: int, axes: list[int],
              first: int, out: np.ndarray) -> None:
    """`weighted_tiles` for neurons `idx` (in id order) cut into m tiles from `first`."""
    if m <= 1 or idx.size <= 1:
        out[idx] = first
        return
    if axes and len(axes) > 1:
        span = np.ptp(pos[np.ix_(idx, axes)], axis=0)
        live = span > 0
        side = (float(np.prod(span[live])) / m) ** (1.0 / max(int(live.sum()), 1))
        t = int(min(m, max(1, round(span[0] / side)))) if live[0] else 1
    else:
        t = m
    k = np.full(t, m // t, np.int64)
    k[:m % t] += 1
    # by this axis, then the others (a cut through a row runs along it), then id (channel)
    keys = [idx] + [pos[idx, a] for a in range(pos.shape[1])[::-1] if not axes or a != axes[0]]
    order = np.lexsort(keys + [pos[idx, axes[0]]]) if axes else np.arange(idx.size)
    cw = np.cumsum(w[idx[order]])
    mid = cw - 0.5 * w[idx[order]]
    bounds = cw[-1] * np.cumsum(k)[:-1] / m
    slab = np.searchsorted(bounds, mid, side="right")
    base = first + np.concatenate(([0], np.cumsum(k)))
    for i in range(t):
        members = np.sort(idx[order[slab == i]])
        _weighted(pos, w, members, int(k[i]), axes[1:], int(base[i]), out)
