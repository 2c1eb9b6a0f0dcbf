"""Boundary refinement of a k-way partition: label propagation on the full synapse graph.

METIS sees an edge-sampled graph and balances parts tightly, so its part boundaries are
ragged; a neuron near a ragged boundary sends spikes to more cores than needed. Each round
moves neurons most of whose presynaptic neurons lie in one other part into that part
(a positive gain in synapses cut), never letting a part's weight exceed its limit. The
first round reads every synapse; later ones only the inputs of boundary neurons whose
gain a move can have changed. All work is numpy passes over synapse arrays (no Python
loop over neurons or synapses), and deterministic.
"""

from __future__ import annotations

import numpy as np

BAND = 0.4  # after round 1 only neurons with at least this fraction of inputs cut can move
# (a move needs > 0.5), so later rounds look at their inputs only


def refine_parts(part: np.ndarray, k: int, pre: np.ndarray, post: np.ndarray,
                 weight: np.ndarray, limit: np.ndarray, rounds: int = 12,
                 band: float = BAND, deg: np.ndarray | None = None
                 ) -> tuple[np.ndarray, dict]:
    """Move vertices to the part holding most of their inputs; returns (part, info).

    `pre`/`post`: vertex ids of every edge (self-loops allowed); `weight`: per vertex;
    `limit`: per part, the weight no part may exceed through a move (moves into a part
    are taken by higher gain, then lower vertex id). After the first round only vertices
    whose gain a moved input can have made positive, or whose move did not fit, are
    looked at again. `deg`: each vertex's edge count as post, if known (saves a pass).
    """
    n = part.size
    part = part.astype(np.int32, copy=True)
    deg = np.bincount(post, minlength=n) if deg is None else deg
    pw = np.bincount(part, weights=weight, minlength=k)
    info: dict = {"rounds": 0, "moved": 0, "moved_per_round": []}
    epre, epost = pre, post  # the inputs of the vertices looked at this round
    looked = slice(None)
    best = np.full(n, -np.inf)  # per vertex: >= its gain (exact when looked at)
    for r in range(rounds):
        ncross, first, w_first, last, w_last = _candidates(part, epre, epost, n)
        if r == 0 and band > 0:
            # moves stay near the boundary: keep only the inputs of neurons in its band
            sel = np.flatnonzero((ncross >= band * np.maximum(deg, 1))[post])
            pre, post = pre[sel], post[sel]
            del sel
        use_last = w_last > w_first
        cand = np.where(use_last, last, first)
        gain = np.where(use_last, w_last, w_first) - (deg - ncross)
        del ncross, first, w_first, last, w_last, use_last
        best[looked] = gain[looked]
        ok = (cand >= 0) & (gain > 0)
        info["rounds"] = r + 1
        v, dest = _fitting_moves(np.flatnonzero(ok), cand, gain, weight, limit - pw)
        if v.size == 0:
            break
        pw -= np.bincount(part[v], weights=weight[v], minlength=k)
        pw += np.bincount(dest, weights=weight[v], minlength=k)
        part[v] = dest
        best[v] = -best[v]  # the part left behind holds fewer inputs than the new one
        info["moved_per_round"].append(int(v.size))
        if r + 1 < rounds:
            looked = _look_again(ok, v, pre, post, best, n)
            sel = np.flatnonzero(looked[post])
            epre, epost = pre[sel], post[sel]
            del sel
    info["moved"] = sum(info["moved_per_round"])
    return part, info


def _candidates(part: np.ndarray, pre: np.ndarray, post: np.ndarray, n: int):
    """Per vertex: inputs from other parts, and the parts of its first and last such input
    (array order) with their input counts; a vertex with one or two other parts gets both."""
    if part.size and int(part.max()) < 1 << 15:
        part = part.astype(np.int16)  # a smaller table: faster random gathers
    cut = np.flatnonzero(part[pre] != part[post])
    ends = post[cut]
    other = part[pre[cut]]
    del cut
    last = np.full(n, -1, np.int32)
    last[ends] = other  # last write wins
    first = np.full(n, -1, np.int32)
    first[ends[::-1]] = other[::-1]
    # one counting pass: code 1 = input from `last`'s part, 2 = from `first`'s, 3 = both
    code = (other == last[ends]).astype(np.int64)
    code += 2 * (other == first[ends])
    code += 4 * ends.astype(np.int64)
    c = np.bincount(code, minlength=4 * n).reshape(n, 4)
    return c.sum(axis=1), first, c[:, 2] + c[:, 3], last, c[:, 1] + c[:, 3]


def _fitting_moves(v: np.ndarray, cand: np.ndarray, gain: np.ndarray, weight: np.ndarray,
                   room: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The moves of vertices `v` to `cand[v]` that fit: per destination, best gains first
    (then lower ids), while the weight moved in stays within the destination's `room`."""
    dest = cand[v]
    o = np.lexsort((v, -gain[v], dest))
    v, dest = v[o], dest[o]
    cw = np.cumsum(weight[v])
    starts = np.flatnonzero(np.r_[True, dest[1:] != dest[:-1]]) if v.size else v
    seg = np.repeat(starts, np.diff(np.r_[starts, v.size]))
    before = np.where(seg > 0, cw[seg - 1], 0.0)
    acc = (cw - before) <= room[dest]
    return v[acc], dest[acc]


def _look_again(ok: np.ndarray, v: np.ndarray, pre: np.ndarray, post: np.ndarray,
                best: np.ndarray, n: int) -> np.ndarray:
    """Vertices to look at next round: moves that did not fit, and vertices whose gain
    can now be > 0 (each moved input changes a gain by at most 2). Updates `ok` and the
    gain bounds `best` in place."""
    moved = np.zeros(n, bool)
    moved[v] = True
    ok[v] = False
    hit = np.bincount(post[moved[pre]], minlength=n)
    best += 2 * hit  # an upper bound until the vertex is looked at again
    ok |= (hit > 0) & (best > 0)
    return ok
