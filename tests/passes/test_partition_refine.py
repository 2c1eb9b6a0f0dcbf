"""Boundary refinement after METIS: hand-checked moves, limits, cores never up, packets down."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from test_partition import SMALL, assert_valid, random_net, sheet_net

import compiler.passes.partition as P
import compiler.passes.partition.graph as G
from compiler.passes.partition.refine import refine_parts


def ring(n: int, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """Edges of a ring: every vertex gets inputs from the 2 * reach nearest others."""
    offs = np.array([d for d in range(-reach, reach + 1) if d], np.int64)
    post = np.repeat(np.arange(n), offs.size)
    pre = (post + np.tile(offs, n)) % n
    return pre.astype(np.int32), post.astype(np.int32)


def other_core_packets(net, p) -> float:
    """Per presynaptic spike: distinct other cores among its targets (counted from scratch)."""
    pairs = set()
    for pr in net.projections.values():
        if net.populations[pr.pre].is_source:  # off-chip sources send no core packets
            continue
        pre_core = p.core_of[pr.pre][pr.pre_idx]
        post_core = p.core_of[pr.post][pr.post_idx]
        pairs |= {(pr.pre, int(a), int(c))
                  for a, c, pc in zip(pr.pre_idx, post_core, pre_core, strict=True) if c != pc}
    return len(pairs) / sum(q.size for q in net.neuron_populations)


# ----------------------------------------------------------------------------- refine_parts

def test_stray_vertex_moves_home():
    # ring of 20, inputs from +-2: halves 0..9 / 10..19, vertex 5 wrongly in part 1.
    # Vertex 5's 4 inputs (3, 4, 6, 7) are all in part 0: gain 4 - 0 > 0, so it moves; then
    # every vertex has >= 2 of its 4 inputs in its own part and the ends (9/10, 19/0)
    # have exactly 2 vs 2: no positive gain, nothing else moves.
    pre, post = ring(20, 2)
    part = (np.arange(20) >= 10).astype(np.int32)
    part[5] = 1
    before = part.copy()
    out, info = refine_parts(part, 2, pre, post, np.ones(20), np.array([10.0, 11.0]))
    expect = (np.arange(20) >= 10).astype(np.int32)
    assert out.tolist() == expect.tolist()
    assert info["moved"] == 1
    assert part.tolist() == before.tolist()  # input not modified


def test_move_blocked_by_weight_limit():
    pre, post = ring(20, 2)
    part = (np.arange(20) >= 10).astype(np.int32)
    part[5] = 1
    # part 0 holds weight 9 and may not exceed 9: vertex 5 must stay
    out, info = refine_parts(part, 2, pre, post, np.ones(20), np.array([9.0, 11.0]))
    assert out.tolist() == part.tolist()
    assert info["moved"] == 0
    # with weights, vertex 5 (weight 3) fits into part 0 (weight 9) only if the limit is >= 12
    w = np.ones(20)
    w[5] = 3.0
    assert refine_parts(part, 2, pre, post, w, np.array([11.0, 13.0]))[0][5] == 1
    assert refine_parts(part, 2, pre, post, w, np.array([12.0, 13.0]))[0][5] == 0


def test_refinement_keeps_weights_and_is_deterministic():
    rng = np.random.default_rng(3)
    pre, post = ring(300, 4)
    part = (np.arange(300) // 50).astype(np.int32)  # 6 arcs, then 30 random flips
    flip = rng.choice(300, 30, replace=False)
    part[flip] = rng.integers(0, 6, 30)
    w = rng.integers(1, 4, 300).astype(np.float64)
    limit = np.full(6, np.bincount(part, weights=w, minlength=6).max())
    a, ia = refine_parts(part, 6, pre, post, w, limit)
    b, ib = refine_parts(part, 6, pre, post, w, limit)
    assert a.tolist() == b.tolist() and ia == ib
    assert (np.bincount(a, weights=w, minlength=6) <= limit).all()
    cut = lambda p: int(np.count_nonzero(p[pre] != p[post]))  # noqa: E731
    assert ia["moved"] > 0 and cut(a) < cut(part)


# ----------------------------------------------------------------------------- in partition

def _graph_pair(monkeypatch, net, target, degree):
    """The graph method without and with refinement (METIS on `degree` sampled synapses)."""
    res = []
    for rounds in (0, G.REFINE_ROUNDS):
        monkeypatch.setitem(P.RUNS, "graph", partial(G.graph, refine_rounds=rounds,
                                                    max_degree=degree))
        res.append(P.partition(net, target, "graph"))
    return res


@pytest.mark.parametrize("seed", [5, 11])
def test_refinement_lowers_packets_on_shuffled_sheet(monkeypatch, seed):
    # 24 neighbours each, METIS sees 8 sampled synapses per neuron (like 30 of 100 at 1M)
    net = sheet_net(side=40, radius=2, shuffle_seed=seed)
    plain, refined = _graph_pair(monkeypatch, net, SMALL, 8.0)
    for p in (plain, refined):
        assert_valid(net, p, SMALL)
    assert "graph_refine" not in plain.stats
    assert refined.stats["graph_refine"]["moved"] > 0
    assert refined.n_cores <= plain.n_cores
    a, b = other_core_packets(net, plain), other_core_packets(net, refined)
    assert b < a
    assert b == pytest.approx(refined.stats["intercore_packets_per_spike"])


@pytest.mark.parametrize("seed", [5, 11])
def test_refinement_never_costs_cores(monkeypatch, seed):
    # tight axon limits: here the refined parts can need more cores after repair; the
    # unrefined METIS parts are then assigned too and kept
    net = sheet_net(side=40, radius=3, shuffle_seed=seed)
    plain, refined = _graph_pair(monkeypatch, net, SMALL, 30.0)
    assert_valid(net, refined, SMALL)
    assert refined.n_cores <= plain.n_cores
    assert "kept" in refined.stats["graph_refine"]


def test_bad_refinement_is_dropped(monkeypatch):
    # a refinement that piles neurons into part 0 far past any limit: cores must not go up
    net = sheet_net(side=40, radius=2, shuffle_seed=7)
    monkeypatch.setitem(P.RUNS, "graph", partial(G.graph, refine_rounds=0))
    plain = P.partition(net, SMALL, "graph")

    def pile(part, k, pre, post, weight, limit, **kw):
        out = part.copy()
        out[out < k // 2] = 0
        return out, {"rounds": 1, "moved": int(np.count_nonzero(out != part))}

    monkeypatch.setattr(G, "refine_parts", pile)
    monkeypatch.setitem(P.RUNS, "graph", G.graph)
    p = P.partition(net, SMALL, "graph")
    assert_valid(net, p, SMALL)
    assert p.stats["graph_refine"]["kept"] is False
    assert p.n_cores == plain.n_cores
    assert [a.tolist() for a in p.core_of.values()] == \
        [a.tolist() for a in plain.core_of.values()]


def test_random_net_skips_refinement():
    # METIS cuts most synapses of a random net: no refinement is run (it cannot help)
    net = random_net(1)
    p = P.partition(net, SMALL, "graph")
    assert_valid(net, p, SMALL)
    assert p.stats["graph_cut_fraction"] > G.REFINE_MAX_CUT
    assert "graph_refine" not in p.stats


def split_sheet(side=40, radius=2, seed=3):
    """The shuffled sheet as two lif populations (gids split in half) plus a source."""
    from test_resources import lif, net_of, proj, src

    one = sheet_net(side=side, radius=radius, shuffle_seed=seed).projections["s_s"]
    half = side * side // 2
    pops = [src("in", 20), lif("a", half), lif("b", half)]
    projs = [proj("in_a", "in", "a", np.arange(half) % 20, np.arange(half))]
    for pre_name, pre_lo in (("a", 0), ("b", half)):
        for post_name, post_lo in (("a", 0), ("b", half)):
            m = ((one.pre_idx >= half) == bool(pre_lo)) & ((one.post_idx >= half) == bool(post_lo))
            projs.append(proj(f"{pre_name}_{post_name}", pre_name, post_name,
                              one.pre_idx[m] - pre_lo, one.post_idx[m] - post_lo))
    return net_of(pops, projs)


def test_refinement_with_several_populations(monkeypatch):
    # same graph as the one-population sheet, spread over 4 projections (+ a source)
    net = split_sheet()
    plain, refined = _graph_pair(monkeypatch, net, SMALL, 8.0)
    for p in (plain, refined):
        assert_valid(net, p, SMALL)
    assert refined.stats["graph_refine"]["moved"] > 0
    assert refined.n_cores <= plain.n_cores
    assert other_core_packets(net, refined) < other_core_packets(net, plain)
