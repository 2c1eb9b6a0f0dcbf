"""The graph method: METIS k-way partition of the lif neuron graph, then refinement.

Sources are off-chip and excluded. Vertex weights balance the binding resource (neurons
or synapse bits), edge weights count synapses (lif firing rates are unknown before
running, so all rates are equal). Large graphs are edge-sampled to GRAPH_DEGREE synapses
per neuron to bound METIS time, and handed to METIS in reverse Cuthill-McKee order (cache
friendly when neuron ids carry no locality). METIS's ragged part boundaries are then
smoothed on all synapses (`refine.refine_parts`). Each part is a core: the exact check
and repair split a part over a limit; when the refined parts need more cores than the
unrefined ones, those are assigned too and the fewer cores kept.

With many small populations (at least POPS_PER_CORE per core of the lower bound: their
neurons' inputs are mostly their population's), each population is partitioned on its own synapses (its parts
never hold other populations' neurons, whose input axons METIS cannot see: pymetis takes
one vertex weight per vertex), into as many parts as its binding resource needs; the
partly used last parts are then packed into shared cores like every method's
(`pack`). Run alone (not in auto's race, which runs sequential itself), a graph partition
over 1.1x the lower bound is compared with the sequential fill and the fewer cores kept
(`stats["fill_kept"]`, method `graph->sequential`).

`locality_probe` runs METIS on a small sample so that auto can tell whether this method
would pay off before paying for it.
"""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp

from ...ir import NetworkIR
from .context import Context, Cores, Fill
from .refine import refine_parts
from .sequential import sequential

GRAPH_DEGREE = 30.0  # synapses kept per neuron for METIS (more: slightly fewer packets, slower)
REFINE_ROUNDS = 12  # label-propagation rounds after METIS (gains level off by about 8-12)
REFINE_MAX_CUT = 0.5  # no refinement when METIS cut more synapses than this (not local)
SLACK = 1.04  # parts = binding-resource estimate of the cores x this (room for repair)
METIS_UFACTOR = 10  # METIS imbalance tolerance, in 1/1000
POPS_PER_CORE = 0.25  # populations of <= 4 cores on average: each population on its own


def graph(ctx: Context, slack: float = SLACK, max_degree: float = GRAPH_DEGREE,
          refine_rounds: int = REFINE_ROUNDS) -> Fill | Cores:
    """METIS parts (refined when METIS found locality) as cores; one part: a plain fill."""
    per_neuron, lif_indeg = _vertex_weights(ctx)
    if len(ctx.pops) > 1 and len(ctx.pops) >= POPS_PER_CORE * ctx.lb["cores"]:
        return _per_population(ctx, per_neuron, slack, max_degree)
    est = max(ctx.lb["cores"], per_neuron.sum())
    k = max(int(ctx.lb["cores"]), int(round(est * slack)))
    k = max(1, min(k, ctx.n))
    ctx.info["graph_parts"] = k
    if k == 1:
        return Fill(None)
    vw = np.maximum(1, np.round(per_neuron * ctx.cap.neurons * 16)).astype(np.int64)
    del per_neuron
    part, cut = _metis(ctx, k, vw, max_degree)
    ctx.info["graph_cut_fraction"] = round(cut, 3)
    if refine_rounds > 0 and cut <= REFINE_MAX_CUT:
        refined = _refine(ctx, part, k, vw, lif_indeg, refine_rounds)
        return Cores(refined, k, unrefined=Cores(part, k), fill=_guard(ctx))
    return Cores(part, k, fill=_guard(ctx))


def _per_population(ctx: Context, per_neuron: np.ndarray, slack: float,
                    max_degree: float) -> Cores:
    """Each population cut on its own recurrent synapses into METIS parts: as many parts
    of 1/slack of a core's binding resource as its demand fills (when neurons bind: of
    a core less METIS's imbalance), and one smaller part for the rest (index blocks without recurrent synapses)."""
    cg = np.empty(ctx.n, np.int32)
    base, cut = 0, [0, 0]
    for name in ctx.pops:
        size = ctx.net.populations[name].size
        o = ctx.loff[name]
        share = per_neuron[o:o + size]
        # neurons bind (exact count): room for METIS's imbalance only
        room = 1.0 + METIS_UFACTOR / 1000 if share.max() * ctx.cap.neurons <= 1.0 else slack
        tp = _target_weights(float(share.sum()) * room, size)
        vw = np.maximum(1, np.round(share * ctx.cap.neurons * 16)).astype(np.int64)
        cg[o:o + size] = base + _population_parts(ctx, name, tp, vw, max_degree, cut)
        base += tp.size
    ctx.info["graph_parts"] = base
    ctx.info["graph_cut_fraction"] = round(cut[0] / max(cut[1], 1), 3)
    return Cores(cg, base, fill=_guard(ctx))


def _guard(ctx: Context) -> Fill | None:
    """Alone (not in auto's race, which runs sequential anyway), the sequential fill as an
    alternative, assigned when the parts need more than `candidate.FILL_GUARD` x the
    lower bound: e.g. a part needs nearly all inputs of its population, so small last
    parts can pack worse than a fill whose cores straddle population boundaries, and on
    random nets METIS finds no locality to win with."""
    return None if ctx.racing else sequential(ctx)


def _target_weights(cores: float, size: int) -> np.ndarray:
    """Part weight fractions for a demand of `cores` (slack included): whole cores, then
    the rest as one smaller part (dropped when under 1 % of a core)."""
    full = max(1, int(cores))
    rest = cores - full
    w = [1.0] * full + ([rest] if rest > 0.01 else [])
    w = np.array(w[:max(1, size)])
    return w / w.sum()


def _population_parts(ctx: Context, name: str, tp: np.ndarray, vw: np.ndarray,
                      max_degree: float, cut: list[int]) -> np.ndarray:
    """METIS parts with weight fractions `tp` of population `name` on its recurrent
    synapses (edge-sampled); adds the sampled synapses it cut and saw to `cut`."""
    import pymetis

    size, k = vw.size, tp.size
    if k <= 1:
        return np.zeros(size, np.int32)
    rec = [pr for pr in ctx.projs if pr.pre == name and pr.post == name and pr.n_synapses]
    total = sum(pr.n_synapses for pr in rec)
    if not total:  # index blocks of the target weights
        edges = np.searchsorted(np.cumsum(vw), np.cumsum(tp)[:-1] * vw.sum(), side="right")
        return np.repeat(np.arange(k, dtype=np.int32), np.diff(np.r_[0, edges, size]))
    keep = min(1.0, max_degree * size / total)
    rng = np.random.default_rng([int(ctx.net.seed), 7321])
    rows, cols = [], []
    for pr in rec:
        idx = sample_positions(rng, pr.n_synapses, keep) if keep < 1.0 else slice(None)
        rows.append(pr.pre_idx[idx])
        cols.append(pr.post_idx[idx])
    r, c = np.concatenate(rows), np.concatenate(cols)
    m = r != c
    a = sp.csr_matrix((np.ones(2 * int(m.sum()), np.int32),
                       (np.concatenate((r[m], c[m])), np.concatenate((c[m], r[m])))),
                      shape=(size, size))
    a.sum_duplicates()
    opts = pymetis.Options(seed=int(ctx.net.seed) & 0x7FFFFFFF, ufactor=METIS_UFACTOR)
    res = pymetis.part_graph(k, pymetis.CSRAdjacency(a.indptr.astype(np.int64),
                                                     a.indices.astype(np.int64)),
                             vweights=vw, eweights=a.data.astype(np.int64),
                             tpwgts=tp.tolist(), options=opts)
    cut[0] += int(res.edge_cuts)
    cut[1] += int(a.data.sum()) // 2
    return np.asarray(res.vertex_part, dtype=np.int32)


def _vertex_weights(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """Per lif gid: its share of a core's binding additive resource (neurons or synapse
    bits), and its number of inputs from lif neurons (for refinement)."""
    n, cap = ctx.n, ctx.cap
    indeg = np.zeros(n, np.int64)
    lif_indeg = np.zeros(n, np.int64)
    for pr in ctx.projs:
        o, size = ctx.loff[pr.post], ctx.net.populations[pr.post].size
        cnt = np.bincount(pr.post_idx, minlength=size)
        indeg[o:o + size] += cnt
        if not ctx.net.populations[pr.pre].is_source:
            lif_indeg[o:o + size] += cnt
        del cnt
    total_syn = max(int(indeg.sum()), 1)
    bits_per_syn = ctx.bits_total / total_syn
    per_neuron = np.maximum(1.0 / cap.neurons, indeg * bits_per_syn / cap.synapse_bits)
    return per_neuron, lif_indeg


def _metis(ctx: Context, k: int, vw: np.ndarray, max_degree: float
           ) -> tuple[np.ndarray, float]:
    """METIS's k parts of the (sampled) graph, per lif gid, and the fraction of sampled
    synapses it cut."""
    import pymetis
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    a = graph_edges(ctx, max_degree, int(ctx.net.seed))
    # reverse Cuthill-McKee vertex order: neighbours get nearby ids, which makes METIS
    # 2-3x faster on nets whose ids carry no locality
    perm = np.asarray(reverse_cuthill_mckee(a, symmetric_mode=True))
    indptr, indices, data = _permuted(a, perm)
    total = int(a.data.sum()) // 2
    del a
    opts = pymetis.Options(seed=int(ctx.net.seed) & 0x7FFFFFFF, ufactor=METIS_UFACTOR)
    adj = pymetis.CSRAdjacency(indptr, indices)
    res = pymetis.part_graph(k, adj, vweights=vw[perm], eweights=data, options=opts)
    part = np.empty(ctx.n, np.int32)
    part[perm] = res.vertex_part
    return part, res.edge_cuts / max(total, 1)


def _refine(ctx: Context, part: np.ndarray, k: int, vw: np.ndarray, lif_indeg: np.ndarray,
            rounds: int) -> np.ndarray:
    """`refine_parts` on every lif -> lif synapse, no part growing past METIS's heaviest."""
    pre, post = _lif_edges(ctx)
    weight = vw.astype(np.float64)
    pw = np.bincount(part, weights=weight, minlength=k)
    t0 = time.perf_counter()
    refined, info = refine_parts(part, k, pre, post, weight, np.full(k, pw.max()),
                                 rounds=rounds, deg=lif_indeg)
    del pre, post
    info["time_s"] = round(time.perf_counter() - t0, 2)
    ctx.info["graph_refine"] = info
    return refined


def sample_positions(rng: np.random.Generator, total: int, p: float) -> np.ndarray:
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


def graph_edges(ctx: Context, max_degree: float, seed: int) -> sp.csr_matrix:
    """Symmetric CSR adjacency of lif neurons (edge-sampled to ~max_degree per vertex)."""
    net, n = ctx.net, ctx.n
    lif_projs = [pr for pr in ctx.projs if not net.populations[pr.pre].is_source]
    total = sum(pr.n_synapses for pr in lif_projs)
    keep = min(1.0, max_degree * n / total) if total else 1.0
    rng = np.random.default_rng([seed, 7321])
    rows, cols = [], []
    for pr in lif_projs:
        pre, post = pr.pre_idx, pr.post_idx
        if keep < 1.0:
            idx = sample_positions(rng, pr.n_synapses, keep)
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
    """Rough seconds for the graph method on a 2-core machine (METIS on sampled edges).

    Calibrated on a 1M-neuron sheet with 100M synapses at degree 30: ~28 s of METIS plus
    ~7 s of boundary refinement (0.07 us per synapse).
    """
    n = sum(p.size for p in net.neuron_populations)
    s = sum(pr.n_synapses for pr in net.projections.values())
    adj = 2 * min(s, max_degree * n)
    return 0.2e-6 * adj + 0.22e-6 * s + 2e-6 * n


def locality_probe(ctx: Context, k: int, sample: int = 50_000) -> tuple[float, float]:
    """Cut fractions (METIS, id-order blocks) of k parts of a random induced subgraph.

    Each part holds as many sampled neurons as a real core holds neurons, so the two
    fractions predict whether the graph method can beat sequential fill (local nets: far
    lower METIS cut; random nets: both near 1) at a small fraction of its cost.
    """
    import pymetis

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
    r, c = _induced_edges(ctx, sel)
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


def _induced_edges(ctx: Context, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pre, post) ids, renumbered 0..sel.size-1, of the lif -> lif synapses between the
    gids `sel` (self-loops dropped)."""
    newid = np.full(ctx.n, -1, np.int32)
    newid[sel] = np.arange(sel.size, dtype=np.int32)
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
    return r, c


def _permuted(a: sp.csr_matrix, perm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr, indices, data) as int64 of `a[perm][:, perm]` for a CSR matrix, rows left
    unsorted (METIS does not need them sorted; scipy's fancy indexing is 3x slower)."""
    inv = np.empty(perm.size, np.int64)
    inv[perm] = np.arange(perm.size)
    lens = np.diff(a.indptr)[perm]
    indptr = np.zeros(perm.size + 1, np.int64)
    np.cumsum(lens, out=indptr[1:])
    idx = np.repeat(a.indptr[perm].astype(np.int64) - indptr[:-1], lens)
    idx += np.arange(indptr[-1], dtype=np.int64)
    return indptr, inv[a.indices[idx]], a.data[idx].astype(np.int64)


def _lif_edges(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
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
