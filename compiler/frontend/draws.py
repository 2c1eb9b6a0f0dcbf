"""A generated projection's synapses, weights and delays, drawn per block of post neurons.

Every random draw (random connectivity, `{dist: uniform}` weights, the jitter of
`{dataset_mean}` weights, `{dist: uniform_int}` delays) is made per block of
`synapses.POST_BLOCK` post neurons from its own stream
`rng_for(seed, "projection", <name>, "connectivity" | "weights" | "delays", <block>)`,
over the block's synapses in (pre, post) order. So the synapses onto a run of whole
blocks do not depend on which other blocks are drawn: a parse inside `drawing_posts`
draws only the synapses onto the given post neurons (a rank's share, see
compiler/distributed.py), exactly those the whole network has there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ir import Population
from . import init_weights, synapses

BlockRng = Callable[[str, int], np.random.Generator]  # (what, block) -> its stream


@dataclass
class DrawScope:
    """Which post neurons a parse draws synapses onto (`posts`: population -> [lo, hi);
    populations not named: all; None: no synapses at all), and what it saw of each
    projection (`rules`: the normalized connectivity, weight and delay, without arrays)."""

    posts: Mapping[str, tuple[int, int]] | None
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    sort: bool = True  # False: random projections stay block-major (cheaper; same synapses)


_SCOPE: ContextVar[DrawScope | None] = ContextVar("snnc_draw_scope", default=None)


@contextmanager
def drawing_posts(posts: Mapping[str, tuple[int, int]] | None, sort: bool = True
                  ) -> Iterator[DrawScope]:
    """Parse networks inside this block drawing only the synapses onto `posts`; with
    `sort` False random projections keep the block-major order they are drawn in."""
    scope = DrawScope(posts, sort=sort)
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


def current_scope() -> DrawScope | None:
    """The active `drawing_posts` scope, None outside one (draw everything)."""
    return _SCOPE.get()


def post_range(post: str, n_post: int) -> tuple[int, int]:
    """The post neurons [lo, hi) of population `post` to draw synapses onto."""
    scope = _SCOPE.get()
    if scope is not None and scope.posts is None:
        return 0, 0
    if scope is None or post not in scope.posts:
        return 0, n_post
    lo, hi = scope.posts[post]
    return max(0, int(lo)), min(n_post, int(hi))


def record_rule(name: str, rule: dict[str, Any]) -> None:
    """Remember projection `name`'s rule in the active scope (if any)."""
    scope = _SCOPE.get()
    if scope is not None:
        scope.rules[name] = rule


def draw(conn: dict, weight: dict, delay: dict, pre: Population, post: Population,
         fixed: bool, rng: BlockRng, lo: int, hi: int
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """(pre, post, weight, delay) of the synapses onto posts [lo, hi), in (pre, post)
    order; weight is None where it is not drawn (a constant or a matrix: the caller's)."""
    drawn = "dist" in weight or "dataset_mean" in weight
    if hi <= lo:  # no post neuron to draw for (a skeleton parse): nothing is generated
        empty = np.zeros(0, dtype=np.int32)
        return empty, empty.copy(), (np.zeros(0) if drawn else None), np.zeros(0, np.int16)
    if conn["kind"] == "random":
        blocks = synapses.block_range(post.size, lo, hi)
        pre_i, post_i, counts = synapses.random_blocks(
            lambda b: rng("connectivity", b), pre.size, post.size, conn["p"], blocks)
        scope = _SCOPE.get()  # the order first: its temporaries gone before the draws
        to_sorted = synapses.block_major_to_sorted(pre_i, counts, pre.size) \
            if scope is None or scope.sort else None
        w, d = _block_values(weight, delay, pre_i, blocks.start if blocks else 0, counts,
                             fixed, rng)
        if to_sorted is not None:
            perm, pre_i = to_sorted
            post_i = post_i[perm]
            w = None if w is None else w[perm]
            d = None if d is None else d[perm]
    else:
        pre_i, post_i = pattern(conn, pre, post, lo, hi)
        w = d = None
        if drawn or "dist" in delay:
            order, first, counts = synapses.block_major_order(pre_i, post_i, pre.size)
            w, d = _block_values(weight, delay, pre_i if order is None else pre_i[order],
                                 first, counts, fixed, rng)
            if order is not None:
                w = None if w is None else _scatter(w, order)
                d = None if d is None else _scatter(d, order)
    if d is None:
        d = np.full(pre_i.shape[0], delay["const"], dtype=np.int16)
    return pre_i, post_i, w, d


def pattern(conn: dict, pre: Population, post: Population, lo: int, hi: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic pattern's synapses onto posts [lo, hi), in (pre, post) order."""
    if conn["kind"] == "all_to_all":
        return synapses.all_to_all(pre.size, post.size, lo, hi)
    if conn["kind"] == "one_to_one":
        return synapses.one_to_one(pre.size, lo, hi)
    pre_i, post_i = synapses.local_pairs(pre.positions, post.positions, conn["radius"],
                                         conn["wrap"], same=pre.name == post.name)
    if lo > 0 or hi < post.size:
        keep = np.flatnonzero((post_i >= lo) & (post_i < hi))
        pre_i, post_i = pre_i[keep], post_i[keep]
    return pre_i, post_i


def _scatter(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """`out` with out[order] = values (block-major values back to (pre, post) order)."""
    out = np.empty_like(values)
    out[order] = values
    return out


def _block_values(weight: dict, delay: dict, pre_bm: np.ndarray, first: int,
                  counts: np.ndarray, fixed: bool, rng: BlockRng
                  ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Drawn weights and delays of block-major synapses (None: not drawn), block by block
    from each block's own streams."""
    n = pre_bm.shape[0]
    w = np.empty(n, dtype=np.int32 if fixed else np.float64) \
        if ("dist" in weight or "dataset_mean" in weight) else None
    d = np.empty(n, dtype=np.int16) if "dist" in delay else None
    start = 0
    for i, count in enumerate(counts.tolist()):
        if count == 0:
            continue
        b, end = first + i, start + count
        if w is not None:
            w[start:end] = _weights(weight, pre_bm[start:end], fixed, rng("weights", b))
        if d is not None:
            d[start:end] = rng("delays", b).integers(delay["low"], delay["high"], size=count,
                                                     endpoint=True, dtype=np.int16)
        start = end
    return w, d


def _weights(spec: dict, pre: np.ndarray, fixed: bool, r: np.random.Generator) -> np.ndarray:
    """One block's drawn weights (uniform, or the dataset mean plus jitter)."""
    if "dataset_mean" in spec:
        return init_weights.generate(spec, spec["mean"], pre, fixed, lambda _what: r)
    if fixed:  # integers, uniform on [low, high] inclusive
        return r.integers(int(spec["low"]), int(spec["high"]), size=pre.shape[0],
                          endpoint=True, dtype=np.int32)
    return r.uniform(float(spec["low"]), float(spec["high"]), size=pre.shape[0])
