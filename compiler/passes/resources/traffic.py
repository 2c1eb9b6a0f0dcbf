"""Core-to-core traffic of an assignment: the messages spikes cause between cores.

A presynaptic spike sends one message to every distinct core holding targets of that
neuron, so "packets per spike" is the mean, over lif neurons with >= 1 target, of their
destination-core count (= total out_axons / such neurons; 1.0 is ideal). Source spikes
come from the host: their messages and synapses are counted separately. Placement uses
the (source core, destination core) message matrix to keep busy pairs close.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ...ir import NetworkIR, Population, Projection
from .ids import by_pre, lif_offsets, on_chip_projections
from .sorting import runs

if TYPE_CHECKING:
    from .usage import Usage


@dataclass
class CoreTraffic:
    """Traffic counted together with an assignment's usage (from the same sort)."""

    messages: sp.csr_matrix  # (src core, dst core) -> lif neurons on src with targets on dst
    synapses_cut: int  # lif -> lif synapses whose two neurons sit on different cores

    def relabelled(self, old_ids: np.ndarray) -> CoreTraffic:
        """The same traffic with cores relabelled (new core i = old core old_ids[i])."""
        return CoreTraffic(self.messages[old_ids][:, old_ids].tocsr(), self.synapses_cut)


def source_rates(pop: Population) -> np.ndarray:
    """Expected spikes per step of each neuron of a source population (float64, size)."""
    src = pop.source
    if src is None:
        return np.zeros(pop.size)
    if src.kind == "poisson":
        return np.full(pop.size, float(src.rate))
    if src.kind == "periodic":
        return np.full(pop.size, 1.0 / max(int(src.period), 1))
    data = np.asarray(src.data if src.data is not None else np.zeros((1, pop.size)), dtype=bool)
    return data.mean(axis=0) if data.shape[0] else np.zeros(pop.size)


def core_traffic(net: NetworkIR, core_of: dict[str, np.ndarray], n_cores: int) -> sp.csr_matrix:
    """(src core, dst core) -> number of lif neurons on src with >= 1 target on dst.

    Entry (i, j) is the number of messages from core i to core j when every lif neuron
    spikes once; the diagonal holds local messages. One sort of packed
    (src core, dst core, neuron) keys over all lif->lif synapses.
    """
    n = int(n_cores)
    projs = [pr for pr in on_chip_projections(net)
             if not net.populations[pr.pre].is_source and pr.n_synapses]
    loff, n_lif = lif_offsets(net)
    sh_pre, sh_core = max(1, int(n_lif).bit_length()), max(1, n.bit_length())
    if sh_pre + 2 * sh_core > 62:
        return core_traffic_wide(net, core_of, n, projs)
    if not projs:
        return sp.csr_matrix((n, n), dtype=np.int64)
    total = sum(pr.n_synapses for pr in projs)
    keys = np.empty(total, np.int64)
    pos = 0
    for pr in projs:
        k = keys[pos:pos + pr.n_synapses]
        pos += pr.n_synapses
        k[:] = core_of[pr.pre][pr.pre_idx]
        k <<= sh_core
        k |= core_of[pr.post][pr.post_idx]
        k <<= sh_pre
        k |= pr.pre_idx
        if loff[pr.pre]:
            k += loff[pr.pre]
    keys.sort()
    starts, _ = runs(keys)  # distinct (src, dst, neuron)
    pair = keys[starts]
    del keys, starts
    pair >>= sh_pre
    starts, counts = runs(pair)
    pu = pair[starts]
    del pair, starts
    return pairs_csr([(pu, counts)], n, sh_core)


def pairs_csr(parts: list[tuple[np.ndarray, np.ndarray]], n: int, sh: int) -> sp.csr_matrix:
    """n x n CSR from sorted unique (src << sh | dst) keys and counts, summed over parts."""
    if len(parts) > 1:
        keys = np.concatenate([k for k, _ in parts])
        vals = np.concatenate([v for _, v in parts]).astype(np.int64)
        return sp.coo_matrix((vals, (keys >> sh, keys & ((1 << sh) - 1))), shape=(n, n)).tocsr()
    pu, counts = parts[0] if parts else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    # pu is sorted by (src, dst) and unique: it is already a canonical CSR
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(pu >> sh, minlength=n)[:n], out=indptr[1:])
    indices = (pu & ((1 << sh) - 1)).astype(np.int32)
    out = sp.csr_matrix((counts.astype(np.int64), indices, indptr), shape=(n, n))
    out.has_sorted_indices = True
    out.has_canonical_format = True
    return out


def core_traffic_wide(net: NetworkIR, core_of: dict[str, np.ndarray], n: int,
                      projs: list[Projection]) -> sp.csr_matrix:
    """`core_traffic` for ids too wide to pack into one int64 key (two unique passes)."""
    parts = []
    for pre, plist in by_pre(projs).items():
        keys = []
        for pr in plist:
            k = pr.pre_idx.astype(np.int64)
            k *= n
            k += core_of[pr.post][pr.post_idx]
            keys.append(np.unique(k))
        u = keys[0] if len(keys) == 1 else np.unique(np.concatenate(keys))
        pair = core_of[pre][u // n].astype(np.int64) * n + (u % n)
        del u, keys
        parts.append(np.unique(pair, return_counts=True))
    if not parts:
        return sp.csr_matrix((n, n), dtype=np.int64)
    pu = np.concatenate([t[0] for t in parts])
    v = np.concatenate([t[1] for t in parts]).astype(np.int64)
    return sp.coo_matrix((v, (pu // n, pu % n)), shape=(n, n)).tocsr()


def traffic_stats(net: NetworkIR, core_of: dict[str, np.ndarray], usage: Usage) -> dict:
    """Synapses cut (lif->lif across cores), source synapses (off-chip), packets per spike."""
    known = usage.traffic.synapses_cut if usage.traffic is not None else None
    cut = 0 if known is None else int(known)
    lif_syn = 0
    src_syn = 0
    for pr in on_chip_projections(net):
        if net.populations[pr.pre].is_source:
            src_syn += pr.n_synapses
            continue
        lif_syn += pr.n_synapses
        if pr.n_synapses and known is None:
            cut += int(np.count_nonzero(core_of[pr.pre][pr.pre_idx] != core_of[pr.post][pr.post_idx]))
    return {
        "synapses_cut": cut,
        "synapses_cut_fraction": cut / lif_syn if lif_syn else 0.0,
        "source_synapses": src_syn,
        "packets_per_spike": usage.packets_per_spike,
        "intercore_packets_per_spike": usage.intercore_packets_per_spike,
        "source_messages_per_step": usage.source_messages_per_step,
    }
