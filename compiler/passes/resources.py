"""Resource model of a Loihi-style neuro-core: what an assignment of neurons to cores uses.

Semantics (see /work/shared/README.md sections 4-5):

- Only `lif` populations occupy cores. `spike_source` populations are host inputs: they
  are not placed, but every source neuron with a synapse onto a core costs one input axon
  on that core, exactly like an on-chip presynaptic neuron.
- Per core:
  * `neurons`: compartments used (one per lif neuron).
  * `in_axons`: distinct presynaptic neurons (any population) with >= 1 synapse onto a
    neuron of the core. One axon serves every projection from that neuron to the core.
  * `out_axons`: sum over the core's neurons of the number of distinct cores holding
    their targets (the own core included when a target is local).
  * `synapses`: synapse entries on the core.
  * `synapse_bits`: Loihi's encoded synapse memory. For every (projection, presynaptic
    neuron, core) the synapse list is cut into blocks of <= 64 synapses; a block costs
    `10 + n * (weight_bits + delay_bits + tag_bits + index_bits)` bits rounded up to
    64-bit words.
    This follows nengo-loihi's `SynapseConfig.bits_per_axon` (nengo/nengo-loihi,
    nengo_loihi/block.py): 4 synapse-format-id bits + 6 synapse-count bits of header,
    `n_synapses + 1 <= 64` synapses per block, rounding to 64-bit memory words.
    Projections with different formats need separate blocks (each block names one format).
  * `weight_bits` = the projection's `num_weight_bits`, rounded up to a width Loihi can
    store (nengo-loihi `WEIGHT_BITS_MAP` = 0..6, 8). A mixed-sign projection stores the sign
    inside these bits: Lava and nengo-loihi both drop `8 - num_weight_bits + is_mixed`
    bits of the 9-bit mixed range, leaving `num_weight_bits` bits in total, so no extra
    sign bit is charged. `delay_bits = ceil(log2(max_delay + 1))` (0 without delays),
    `index_bits = ceil(log2(target.core.neurons))`. `tag_bits`: the learning tags a
    plastic projection's rule (in learning-engine form) reads or writes, as Lava's engine
    holds them per synapse: `t` (tag_1, 8 bits + sign) 9 bits, `d` (tag_2, 8 bits) 8 bits;
    0 for static synapses and for rules of traces and weights only (stdp, hebbian, oja).
- Traffic: a presynaptic spike sends one message to every distinct core holding targets
  of that neuron, so "packets per spike" is the mean, over lif neurons with >= 1 target,
  of their destination-core count (= total out_axons / such neurons; 1.0 is ideal).
  Source spikes come from the host: their messages and synapses are counted separately.

Everything here is vectorized (sorts, bincounts) for networks of 1M neurons / 100M
synapses; no Python loop runs over neurons or synapses.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..errors import Diagnostic, FitError
from ..ir import NetworkIR, Population, Projection
from ..plasticity.fixed import W_TAG_U
from ..plasticity.grammar import TARGET_VAR
from ..plasticity.rules import lower
from ..target import Target

HEADER_BITS = 10  # 4-bit synapse-format id + 6-bit synapse count (nengo-loihi bits_per_axon)
BLOCK_SYNAPSES = 64  # a 6-bit count field stores n_synapses - 1
WORD_BITS = 64  # synapse memory is allocated in 64-bit words
WEIGHT_BITS_MAP = (0, 1, 2, 3, 4, 5, 6, 8)  # storable weight widths (nengo-loihi SynapseConfig)
LIMITS = ("neurons", "synapse_bits", "in_axons", "out_axons")


# ----------------------------------------------------------------------------- formats

@dataclass(frozen=True)
class SynapseFormat:
    """Per-synapse encoding widths of one projection on a target."""

    weight_bits: int
    delay_bits: int
    index_bits: int
    tag_bits: int = 0

    @property
    def bits(self) -> int:
        return self.weight_bits + self.delay_bits + self.tag_bits + self.index_bits


def projection_format(proj: Projection, target: Target) -> SynapseFormat:
    """The synapse encoding of `proj` on `target` (see module docstring)."""
    nwb = int(proj.num_weight_bits)
    wb = next((v for v in WEIGHT_BITS_MAP if v >= nwb), nwb)
    max_delay = int(proj.delay.max()) if proj.delay.size else 0
    db = int(math.ceil(math.log2(max_delay + 1))) if max_delay > 0 else 0
    ib = int(math.ceil(math.log2(target.core.neurons))) if target.core.neurons > 1 else 0
    return SynapseFormat(wb, db, ib, learning_tag_bits(proj))


TAG_BITS = {"t": W_TAG_U + 1, "d": W_TAG_U}  # Lava's tag_1 (signed) and tag_2 (unsigned)


def learning_tag_bits(proj: Projection) -> int:
    """Per-synapse bits of the tags (`t`, `d`) that `proj`'s learning rule reads or writes."""
    if proj.plasticity is None:
        return 0
    # which variables a rule uses does not depend on precision; float skips the fixed-point
    # range checks, which the pipeline ran on the network's own precision already
    spec = lower(proj.plasticity, "float", name=proj.name)
    used = {TARGET_VAR[t] for t, prods in spec.products.items() if prods}
    used |= {f.var for prods in spec.products.values() for p in prods for f in p.factors}
    return sum(bits for var, bits in TAG_BITS.items() if var in used)


def _round_words(bits):
    return -(-bits // WORD_BITS) * WORD_BITS


def list_bits_lut(counts: np.ndarray, bits_per_synapse: int) -> np.ndarray:
    """`synapse_list_bits(counts, b)` for one width b, by table lookup when counts are small."""
    if counts.size == 0:
        return np.zeros(0, np.int64)
    top = int(counts.max())
    if top > 1 << 16:
        return synapse_list_bits(counts, bits_per_synapse)
    return synapse_list_bits(np.arange(top + 1), bits_per_synapse)[counts]


def _list_bits_f64(counts: np.ndarray, bits_per_synapse: int) -> np.ndarray:
    """`list_bits_lut` as float64 (bincount weights) without an int64 intermediate."""
    if counts.size and int(counts.max()) <= 1 << 16:
        lut = synapse_list_bits(np.arange(int(counts.max()) + 1), bits_per_synapse)
        return lut.astype(np.float64)[counts]
    return list_bits_lut(counts, bits_per_synapse).astype(np.float64)


def synapse_list_bits(n, bits_per_synapse):
    """Encoded bits of synapse lists of `n` synapses each (vectorized over n and bits)."""
    n = np.asarray(n, dtype=np.int64)
    b = np.asarray(bits_per_synapse, dtype=np.int64)
    full, rest = np.divmod(n, BLOCK_SYNAPSES)
    out = full * _round_words(HEADER_BITS + BLOCK_SYNAPSES * b)
    out = out + np.where(rest > 0, _round_words(HEADER_BITS + rest * b), 0)
    return out


# ----------------------------------------------------------------------------- helpers

def lif_offsets(net: NetworkIR) -> tuple[dict[str, int], int]:
    """Global ids of lif neurons: population -> offset (in population order), and the total."""
    off, n = {}, 0
    for p in net.neuron_populations:
        off[p.name] = n
        n += p.size
    return off, n


def all_offsets(net: NetworkIR) -> tuple[dict[str, int], int]:
    """Global ids over every population (sources included): population -> offset, total."""
    off, n = {}, 0
    for p in net.populations.values():
        off[p.name] = n
        n += p.size
    return off, n


def on_chip_projections(net: NetworkIR) -> list[Projection]:
    """Projections whose postsynaptic population lives on cores (post is lif)."""
    return [pr for pr in net.projections.values() if not net.populations[pr.post].is_source]


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


def _by_pre(projs: list[Projection]) -> dict[str, list[Projection]]:
    out: dict[str, list[Projection]] = defaultdict(list)
    for pr in projs:
        out[pr.pre].append(pr)
    return out


def _runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start positions and lengths of runs of equal values in a sorted array."""
    if sorted_keys.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    flag = np.empty(sorted_keys.size, bool)
    flag[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=flag[1:])
    starts = np.flatnonzero(flag)
    del flag
    lengths = np.empty_like(starts)
    # out=: an expression temporary of 100M entries costs seconds of page faults here
    np.subtract(starts[1:], starts[:-1], out=lengths[:-1])
    lengths[-1] = sorted_keys.size - starts[-1]
    return starts, lengths


# ----------------------------------------------------------------------------- usage

@dataclass
class Usage:
    """Per-core resource use of one assignment (int64 arrays of length n_cores)."""

    neurons: np.ndarray
    synapse_bits: np.ndarray
    in_axons: np.ndarray
    out_axons: np.ndarray
    synapses: np.ndarray
    lif_senders: int = 0  # lif neurons with >= 1 target (denominator of packets per spike)
    source_messages_per_step: float = 0.0  # expected host->core messages per step
    extra: dict = field(default_factory=dict)

    @property
    def n_cores(self) -> int:
        return int(self.neurons.shape[0])

    @property
    def packets_per_spike(self) -> float:
        """Mean destination cores per spike of a lif neuron with targets (1.0 is ideal)."""
        return float(self.out_axons.sum()) / self.lif_senders if self.lif_senders else 0.0

    @property
    def intercore_packets_per_spike(self) -> float:
        """Like packets_per_spike but counting only messages to other cores (0.0 is ideal)."""
        if not self.lif_senders:
            return 0.0
        return (float(self.out_axons.sum()) - self.extra.get("local_messages", 0)) / self.lif_senders

    def over_limits(self, target: Target) -> list[tuple[int, str, int, int]]:
        """Every (core, limit, value, cap) where a core exceeds the target's per-core limits."""
        out = []
        for limit in LIMITS:
            cap = int(getattr(target.core, limit))
            vals = getattr(self, limit)
            for c in np.flatnonzero(vals > cap):
                out.append((int(c), limit, int(vals[c]), cap))
        out.sort()
        return out

    def bad_cores(self, target: Target) -> np.ndarray:
        """Ids of cores over any limit (vectorized form of over_limits)."""
        bad = np.zeros(self.n_cores, bool)
        for limit in LIMITS:
            bad |= getattr(self, limit) > int(getattr(target.core, limit))
        return np.flatnonzero(bad)

    def as_dict(self) -> dict:
        return {k: getattr(self, k).tolist() for k in ("neurons", "synapse_bits", "in_axons",
                                                       "out_axons", "synapses")}


def incoming_usage(net: NetworkIR, core_of: dict[str, np.ndarray], n_cores: int,
                   target: Target, projs: list[Projection] | None = None,
                   with_out: bool = True, per_neuron_out: bool = False,
                   traffic: bool = False, bits_of: dict[str, int] | None = None) -> Usage:
    """Usage counting only the projections `projs` (default: all onto lif populations).

    `bits_of`: per projection name, its bits per synapse (when `projs` are subsets of the
    network's projections, whose encoding the full projections decide).

    With `with_out=False` out_axons are left at 0 (they depend on all projections).
    With `per_neuron_out`, `extra["out_of"]` maps each lif population to the number of
    destination cores of each of its neurons. With `traffic`, `extra["traffic"]` is
    `core_traffic` of the same assignment from the same sort (saves one sort of all
    synapses), when every lif population sends through one projection and keys fit.
    """
    projs = on_chip_projections(net) if projs is None else projs
    n = int(n_cores)
    z = lambda: np.zeros(n, np.int64)  # noqa: E731
    neurons, syn, bits, in_ax, out_ax = z(), z(), z(), z(), z()
    for p in net.neuron_populations:
        if p.name in core_of and p.size:
            neurons += np.bincount(core_of[p.name], minlength=n)[:n]
    senders = 0
    local = 0
    src_msgs = 0.0
    out_of: dict[str, np.ndarray] = {}
    sh = max(1, n.bit_length())  # key = pre << sh | core
    mask = (1 << sh) - 1
    by_pre = _by_pre(projs)
    sh_pre = max(1, max((net.populations[p].size for p in by_pre), default=1).bit_length())
    traffic = traffic and with_out and sh_pre + 2 * sh <= 62 and all(
        len([pr for pr in pl if pr.n_synapses]) <= 1 for p, pl in by_pre.items()
        if not net.populations[p].is_source)
    parts = []  # traffic: per lif population, (src, dst) pair keys and their counts
    cut = 0  # traffic: lif -> lif synapses across cores
    for pre, plist in by_pre.items():
        pre_pop = net.populations[pre]
        uniq, dst = [], None
        wide = traffic and not pre_pop.is_source  # key = (src << sh | dst) << sh_pre | pre
        for pr in plist:
            if pr.n_synapses == 0:
                continue
            post_core = core_of[pr.post][pr.post_idx]
            syn += np.bincount(post_core, minlength=n)[:n]
            if wide:
                key = core_of[pre][pr.pre_idx].astype(np.int64)
                cut += int(np.count_nonzero(key != post_core))
                key <<= sh
                key |= post_core
                key <<= sh_pre
                key |= pr.pre_idx
            else:
                key = pr.pre_idx.astype(np.int64)
                key <<= sh
                key |= post_core
            del post_core
            key.sort()
            starts, counts = _runs(key)
            ukeys = key[starts]
            del key, starts
            if wide:
                pair = ukeys >> sh_pre
                np.bitwise_and(ukeys, (1 << sh_pre) - 1, out=ukeys)  # now pre << 0
                pair_starts, pair_counts = _runs(pair)
                parts.append((pair[pair_starts], pair_counts))
                dst = np.empty(ukeys.size, np.int32)
                np.bitwise_and(pair, mask, out=dst, casting="unsafe")
                del pair, pair_starts, pair_counts
            else:
                dst = np.empty(ukeys.size, np.int32)  # few large temporaries: fresh memory
                np.bitwise_and(ukeys, mask, out=dst, casting="unsafe")  # is slow to map
            b = bits_of[pr.name] if bits_of else projection_format(pr, target).bits
            bits += np.rint(np.bincount(dst, weights=_list_bits_f64(counts, b),
                                        minlength=n)[:n]).astype(np.int64)
            del counts
            uniq.append(ukeys)
        if not uniq:
            continue
        if wide:
            pre_idx = uniq[0]  # pre ids of the distinct (pre, dst) pairs, not sorted
        else:
            if len(uniq) == 1:  # the common case: reuse this projection's distinct pairs
                u = uniq[0]
            else:
                u = np.unique(np.concatenate(uniq))
                dst = (u & mask).astype(np.int32)
            u >>= sh
            pre_idx = u
            del u
        del uniq
        in_ax += np.bincount(dst, minlength=n)[:n]
        if pre_pop.is_source:
            src_msgs += float(source_rates(pre_pop)[pre_idx].sum())
        elif with_out:
            src = core_of[pre][pre_idx]
            out_ax += np.bincount(src, minlength=n)[:n]
            per = np.bincount(pre_idx, minlength=pre_pop.size) if wide or per_neuron_out \
                else None
            if per is not None:
                senders += int(np.count_nonzero(per))
            else:  # pre_idx is sorted
                senders += 1 + int(np.count_nonzero(pre_idx[1:] != pre_idx[:-1]))
            local += int(np.count_nonzero(src == dst))
            if per_neuron_out:
                out_of[pre] = per
    extra = {"local_messages": local}
    if per_neuron_out:
        extra["out_of"] = out_of
    if traffic:
        extra["traffic"] = _pairs_csr(parts, n, sh)
        extra["synapses_cut"] = cut
    return Usage(neurons, bits, in_ax, out_ax, syn, lif_senders=senders,
                 source_messages_per_step=src_msgs, extra=extra)


def core_usage(net: NetworkIR, core_of: dict[str, np.ndarray], n_cores: int,
               target: Target) -> Usage:
    """Exact per-core usage of an assignment `core_of` (lif population -> core id per neuron)."""
    return incoming_usage(net, core_of, n_cores, target)


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
        return _core_traffic_wide(net, core_of, n, projs)
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
    starts, _ = _runs(keys)  # distinct (src, dst, neuron)
    pair = keys[starts]
    del keys, starts
    pair >>= sh_pre
    starts, counts = _runs(pair)
    pu = pair[starts]
    del pair
    # pu is sorted by (src, dst) and unique: it is already a canonical CSR
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(pu >> sh_core, minlength=n), out=indptr[1:])
    indices = (pu & ((1 << sh_core) - 1)).astype(np.int32)
    out = sp.csr_matrix((counts.astype(np.int64), indices, indptr), shape=(n, n))
    out.has_sorted_indices = True
    out.has_canonical_format = True
    return out


def _pairs_csr(parts: list[tuple[np.ndarray, np.ndarray]], n: int, sh: int) -> sp.csr_matrix:
    """n x n CSR from sorted unique (src << sh | dst) keys and counts, summed over parts."""
    if len(parts) > 1:
        keys = np.concatenate([k for k, _ in parts])
        vals = np.concatenate([v for _, v in parts]).astype(np.int64)
        return sp.coo_matrix((vals, (keys >> sh, keys & ((1 << sh) - 1))), shape=(n, n)).tocsr()
    pu, counts = parts[0] if parts else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(pu >> sh, minlength=n)[:n], out=indptr[1:])
    indices = (pu & ((1 << sh) - 1)).astype(np.int32)
    out = sp.csr_matrix((counts.astype(np.int64), indices, indptr), shape=(n, n))
    out.has_sorted_indices = True
    out.has_canonical_format = True
    return out


def _core_traffic_wide(net: NetworkIR, core_of: dict[str, np.ndarray], n: int,
                       projs: list[Projection]) -> sp.csr_matrix:
    """`core_traffic` for ids too wide to pack into one int64 key (two unique passes)."""
    parts = []
    for pre, plist in _by_pre(projs).items():
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
    known = usage.extra.get("synapses_cut")  # counted with the usage (traffic=True)
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


# ----------------------------------------------------------------------------- bounds

def lower_bound(net: NetworkIR, target: Target) -> dict:
    """Cores needed at least, per limit (capacity bound of total demand) and their max.

    neurons: lif neurons / cap; synapse_bits: every (projection, pre) synapse list stored
    once as compactly as possible; in_axons: each (pre neuron, post population) pair needs
    an axon somewhere; out_axons: each lif neuron with targets needs >= 1 output axon.
    """
    cap = target.core
    n_lif = sum(p.size for p in net.neuron_populations)
    total_bits = 0
    pairs: dict[tuple[str, str], np.ndarray] = {}
    sender: dict[str, np.ndarray] = {}
    for pr in on_chip_projections(net):
        pre_size = net.populations[pr.pre].size
        cnt = np.bincount(pr.pre_idx, minlength=pre_size)
        b = projection_format(pr, target).bits
        total_bits += int(synapse_list_bits(cnt[cnt > 0], b).sum())
        has = cnt > 0
        key = (pr.pre, pr.post)
        pairs[key] = pairs[key] | has if key in pairs else has
        if not net.populations[pr.pre].is_source:
            sender[pr.pre] = sender[pr.pre] | has if pr.pre in sender else has
    n_pairs = sum(int(v.sum()) for v in pairs.values())
    n_send = sum(int(v.sum()) for v in sender.values())

    def need(demand: int, c: int) -> int:
        return int(math.ceil(demand / c)) if demand else 0

    lb = {
        "neurons": need(n_lif, cap.neurons),
        "synapse_bits": need(total_bits, cap.synapse_bits),
        "in_axons": need(n_pairs, cap.in_axons),
        "out_axons": need(n_send, cap.out_axons),
    }
    lb["cores"] = max(max(lb.values()), 1 if n_lif else 0)
    lb["binding"] = max(LIMITS, key=lambda k: lb[k])
    return lb


# ----------------------------------------------------------------------------- checks

def check_assignment(net: NetworkIR, core_of: dict[str, np.ndarray], n_cores: int,
                     target: Target) -> list[Diagnostic]:
    """Problems of an assignment: every lif neuron on exactly one valid core, all limits held."""
    probs: list[Diagnostic] = []
    for p in net.neuron_populations:
        arr = core_of.get(p.name)
        if arr is None:
            probs.append(Diagnostic(f"population '{p.name}' has no core assignment"))
            continue
        arr = np.asarray(arr)
        if arr.shape != (p.size,):
            probs.append(Diagnostic(f"population '{p.name}': {arr.shape} core ids for "
                                    f"{p.size} neurons"))
            continue
        bad = np.flatnonzero((arr < 0) | (arr >= n_cores))
        if bad.size:
            probs.append(Diagnostic(f"population '{p.name}' neuron {int(bad[0])}: core "
                                    f"{int(arr[bad[0]])} outside 0..{n_cores - 1}"))
    for name in core_of:
        pop = net.populations.get(name)
        if pop is None or pop.is_source:
            probs.append(Diagnostic(f"'{name}' is not a lif population but has cores"))
    if probs:
        return probs
    usage = core_usage(net, core_of, n_cores, target)
    for core, limit, value, capv in usage.over_limits(target):
        probs.append(Diagnostic(f"core {core}: {limit} {value} > {capv}"))
    return probs


REMEDY = {
    "in_axons": "reduce the fan-in (sparser connectivity or fewer presynaptic neurons) "
                "or use a target with more input axons per core",
    "synapse_bits": "use fewer weight bits (num_weight_bits), smaller delays, a smaller "
                    "fan-in, or a target with more synapse memory per core",
    "out_axons": "reduce the fan-out, split the postsynaptic population into fewer, "
                 "larger groups, or use a target with more output axons per core",
}


def _fit_error(net: NetworkIR, pop: str, neuron: int, limit: str, value: int, capv: int,
               proj: str, what: str) -> FitError:
    msg = (f"population '{pop}' neuron {neuron}: {what} is {value}, more than one core's "
           f"{limit} limit {capv}, so it fits on no core; remedy: {REMEDY[limit]}")
    return FitError(Diagnostic.at(net.loc(f"projections.{proj}"), msg,
                                  allowed=f"{limit} <= {capv}"))


def _main_projection(projs: list[Projection], post: str, neuron: int, incoming: bool) -> str:
    best, name = -1, projs[0].name
    for pr in projs:
        idx = pr.post_idx if incoming else pr.pre_idx
        pop = pr.post if incoming else pr.pre
        if pop != post:
            continue
        c = int(np.count_nonzero(idx == neuron))
        if c > best:
            best, name = c, pr.name
    return name


def check_fit(net: NetworkIR, target: Target) -> dict:
    """Fail fast (FitError) when a single neuron fits on no core, or cores cannot suffice.

    Checks each lif neuron's fan-in against in_axons, its own synapse memory against
    synapse_bits and its destination cores against out_axons, then the lower bound against
    the target's total core count. Cheap upper bounds first, exact counts only for
    suspects. Returns the lower bound (dict of `lower_bound`).
    """
    cap = target.core
    projs = on_chip_projections(net)
    aoff, _ = all_offsets(net)
    by_post: dict[str, list[Projection]] = defaultdict(list)
    for pr in projs:
        by_post[pr.post].append(pr)
    for post, plist in by_post.items():
        size = net.populations[post].size
        indeg = np.zeros(size, np.int64)
        ub_bits = np.zeros(size, np.int64)
        for pr in plist:
            c = np.bincount(pr.post_idx, minlength=size)
            indeg += c
            ub_bits += c * int(synapse_list_bits(1, projection_format(pr, target).bits))
        # fan-in: distinct presynaptic neurons, exact only for neurons with in-degree > cap
        sus = np.flatnonzero(indeg > cap.in_axons)
        if sus.size:
            keys = []
            for pr in plist:
                m = np.isin(pr.post_idx, sus)
                keys.append(pr.post_idx[m].astype(np.int64) << 32
                            | (aoff[pr.pre] + pr.pre_idx[m]).astype(np.int64))
            fanin = _distinct_pairs_per_key(keys, size)
            bad = np.flatnonzero(fanin > cap.in_axons)
            if bad.size:
                j = int(bad[0])
                raise _fit_error(net, post, j, "in_axons", int(fanin[j]), cap.in_axons,
                                 _main_projection(plist, post, j, True),
                                 "its fan-in (distinct presynaptic neurons)")
        sus = np.flatnonzero(ub_bits > cap.synapse_bits)
        if sus.size:
            own = np.zeros(size, np.int64)
            for pr in plist:
                m = np.isin(pr.post_idx, sus)
                k = np.sort(pr.post_idx[m].astype(np.int64) << 32 | pr.pre_idx[m])
                st, cnt = _runs(k)
                b = projection_format(pr, target).bits
                own += np.bincount(k[st] >> 32, weights=synapse_list_bits(cnt, b),
                                   minlength=size).astype(np.int64)
            bad = np.flatnonzero(own > cap.synapse_bits)
            if bad.size:
                j = int(bad[0])
                raise _fit_error(net, post, j, "synapse_bits", int(own[j]), cap.synapse_bits,
                                 _main_projection(plist, post, j, True),
                                 "the synapse memory of its own input synapses (bits)")
    # fan-out: a neuron with T distinct targets needs >= ceil(T / neurons) output axons
    loff, _ = lif_offsets(net)
    by_pre = _by_pre([pr for pr in projs if not net.populations[pr.pre].is_source])
    for pre, plist in by_pre.items():
        size = net.populations[pre].size
        outdeg = np.zeros(size, np.int64)
        for pr in plist:
            outdeg += np.bincount(pr.pre_idx, minlength=size)
        sus = np.flatnonzero(-(-outdeg // cap.neurons) > cap.out_axons)
        if not sus.size:
            continue
        keys = []
        for pr in plist:
            m = np.isin(pr.pre_idx, sus)
            keys.append(pr.pre_idx[m].astype(np.int64) << 32
                        | (loff[pr.post] + pr.post_idx[m]).astype(np.int64))
        need = -(-_distinct_pairs_per_key(keys, size) // cap.neurons)
        bad = np.flatnonzero(need > cap.out_axons)
        if bad.size:
            j = int(bad[0])
            raise _fit_error(net, pre, j, "out_axons", int(need[j]), cap.out_axons,
                             _main_projection(plist, pre, j, False),
                             "the number of cores its targets need at least")
    lb = lower_bound(net, target)
    total = target.total_cores
    if lb["cores"] > total:
        raise too_many_cores(net, target, lb["cores"], "at least",
                             f" (binding limit: {lb['binding']})")
    return lb


def too_many_cores(net: NetworkIR, target: Target, n: int, how: str = "",
                   why: str = "") -> FitError:
    """FitError for a network that needs more cores than the target has."""
    chips = -(-n // target.cores_per_chip)
    how = f" {how}" if how else ""
    msg = (f"the network needs{how} {n} cores{why} but target '{target.name}' has "
           f"{target.chips} chip(s) x {target.cores_per_chip} cores = {target.total_cores}; "
           f"remedy: set `chips: {chips}` in a target file (target: path/to/target.yaml) "
           f"or use a bigger target")
    return FitError(Diagnostic.at(net.loc("target"), msg,
                                  allowed=f"<= {target.total_cores} cores"))


def _distinct_pairs_per_key(keys: list[np.ndarray], size: int) -> np.ndarray:
    """For (high << 32 | low) int64 keys: number of distinct `low` per `high` (0..size-1)."""
    u = np.unique(np.concatenate(keys))
    return np.bincount(u >> 32, minlength=size)
