"""Per-core usage of an assignment of lif neurons to cores, against the per-core limits.

Per core:

- `neurons`: compartments used (one per lif neuron).
- `in_axons`: distinct presynaptic neurons (any population, sources included) with >= 1
  synapse onto a neuron of the core; one axon serves every projection from that neuron.
- `out_axons`: sum over the core's neurons of the number of distinct cores holding their
  targets (the own core included when a target is local).
- `synapses`: synapse entries on the core.
- `synapse_bits`: the encoded synapse lists (`encoding`).

Each presynaptic population costs one count of distinct packed (neuron, destination core)
keys per projection (an index over the key space where it is small, else a sort); the
distinct pairs also yield the core-to-core traffic (`CoreTraffic`), which saves placement a
second sort of all synapses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ir import NetworkIR, Projection
from ...target import Target
from .encoding import list_bits_f64, projection_format
from .ids import by_pre, on_chip_projections
from .sorting import indexed_neuron_cores, runs
from .traffic import CoreTraffic, pairs_csr, source_rates

LIMITS = ("neurons", "synapse_bits", "in_axons", "out_axons")


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
    local_messages: int = 0  # (lif neuron, own core) destination pairs
    traffic: CoreTraffic | None = None  # when counted with the usage (`usage_with_traffic`)
    destinations: dict[str, np.ndarray] | None = None  # per lif neuron: destination cores

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
        return (float(self.out_axons.sum()) - self.local_messages) / self.lif_senders

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

    def relabelled(self, old_ids: np.ndarray) -> Usage:
        """This usage with cores relabelled (new core i = old core old_ids[i]); the
        per-neuron destination counts are dropped."""
        f = {k: getattr(self, k)[old_ids] for k in ("neurons", "synapse_bits", "in_axons",
                                                    "out_axons", "synapses")}
        traffic = self.traffic.relabelled(old_ids) if self.traffic is not None else None
        return Usage(**f, lif_senders=self.lif_senders,
                     source_messages_per_step=self.source_messages_per_step,
                     local_messages=self.local_messages, traffic=traffic)


# ----------------------------------------------------------------------------- entry points

def core_usage(net: NetworkIR, core_of: dict[str, np.ndarray], n_cores: int,
               target: Target) -> Usage:
    """Exact per-core usage of an assignment `core_of` (lif population -> core id per neuron)."""
    return _count(net, core_of, n_cores, target, _Counting())


def usage_with_traffic(net: NetworkIR, core_of: dict[str, np.ndarray], n_cores: int,
                       target: Target) -> Usage:
    """`core_usage` plus `Usage.traffic` from the same sort, when every lif population
    sends through one projection and the packed keys fit in 62 bits (else traffic is None)."""
    return _count(net, core_of, n_cores, target, _Counting(traffic=True))


def usage_with_destinations(net: NetworkIR, core_of: dict[str, np.ndarray], n_cores: int,
                            target: Target) -> Usage:
    """`usage_with_traffic` plus `Usage.destinations`: per lif population, the number of
    destination cores of each of its neurons."""
    return _count(net, core_of, n_cores, target, _Counting(traffic=True, destinations=True))


def incoming_usage(net: NetworkIR, core_of: dict[str, np.ndarray], n_cores: int,
                   target: Target, projs: list[Projection],
                   bits_of: dict[str, int] | None = None) -> Usage:
    """The incoming side (neurons, synapses, synapse bits, in_axons) of the projections
    `projs` only; out_axons stay 0 (they depend on all projections).

    `bits_of`: per projection name, its bits per synapse (when `projs` are subsets of the
    network's projections, whose encoding the full projections decide).
    """
    return _count(net, core_of, n_cores, target, _Counting(outgoing=False), projs, bits_of)


# ----------------------------------------------------------------------------- counting

@dataclass(frozen=True)
class _Counting:
    """What a count includes beyond the incoming side."""

    outgoing: bool = True  # out_axons, senders, local messages (need all projections)
    traffic: bool = False  # CoreTraffic, where the keys allow it
    destinations: bool = False  # per-neuron destination-core counts


class _Tally:
    """Running per-core sums of one count, and the packed-key layout it sorts by."""

    def __init__(self, net: NetworkIR, n: int, groups: dict[str, list[Projection]]):
        z = lambda: np.zeros(n, np.int64)  # noqa: E731
        self.n = n
        self.neurons, self.synapses, self.bits, self.in_axons, self.out_axons = \
            z(), z(), z(), z(), z()
        self.senders, self.local, self.source_messages = 0, 0, 0.0
        self.destinations: dict[str, np.ndarray] = {}
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []  # traffic: (src, dst) keys, counts
        self.cut = 0  # traffic: lif -> lif synapses across cores
        self.sh = max(1, n.bit_length())  # key = pre << sh | core
        self.mask = (1 << self.sh) - 1
        self.sh_pre = max(1, max((net.populations[p].size for p in groups),
                                 default=1).bit_length())
        self.sizes = {p: net.populations[p].size for p in groups}

    def traffic_fits(self, net: NetworkIR, groups: dict[str, list[Projection]]) -> bool:
        """Whether (src core, dst core, pre) keys fit and each lif population sends through
        one projection (so its distinct pairs need no union)."""
        return self.sh_pre + 2 * self.sh <= 62 and all(
            len([pr for pr in pl if pr.n_synapses]) <= 1 for p, pl in groups.items()
            if not net.populations[p].is_source)


def _count(net: NetworkIR, core_of: dict[str, np.ndarray], n_cores: int, target: Target,
           want: _Counting, projs: list[Projection] | None = None,
           bits_of: dict[str, int] | None = None) -> Usage:
    projs = on_chip_projections(net) if projs is None else projs
    groups = by_pre(projs)
    t = _Tally(net, int(n_cores), groups)
    for p in net.neuron_populations:
        if p.name in core_of and p.size:
            t.neurons += np.bincount(core_of[p.name], minlength=t.n)[:t.n]
    traffic = want.traffic and want.outgoing and t.traffic_fits(net, groups)
    for pre, plist in groups.items():
        pre_pop = net.populations[pre]
        wide = traffic and not pre_pop.is_source  # key = (src << sh | dst) << sh_pre | pre
        pairs = _distinct_pairs(t, core_of, target, plist, wide, bits_of)
        if pairs is None:
            continue
        pre_idx, dst = pairs
        t.in_axons += np.bincount(dst, minlength=t.n)[:t.n]
        if pre_pop.is_source:
            t.source_messages += float(source_rates(pre_pop)[pre_idx].sum())
        elif want.outgoing:
            _add_outgoing(t, pre, core_of[pre], pre_pop.size, pre_idx, dst,
                          wide or want.destinations, want.destinations)
    return Usage(t.neurons, t.bits, t.in_axons, t.out_axons, t.synapses,
                 lif_senders=t.senders, source_messages_per_step=t.source_messages,
                 local_messages=t.local,
                 traffic=CoreTraffic(pairs_csr(t.pairs, t.n, t.sh), t.cut) if traffic else None,
                 destinations=t.destinations if want.destinations else None)


def _distinct_pairs(t: _Tally, core_of: dict[str, np.ndarray], target: Target,
                    plist: list[Projection], wide: bool, bits_of: dict[str, int] | None):
    """(pre ids, destination cores) of the distinct (presynaptic neuron, core) pairs of one
    presynaptic population's projections, or None without synapses; counts the synapses
    and synapse bits of each projection on the way. Sorted by pre unless `wide`."""
    uniq, dst = [], None
    for pr in plist:
        if pr.n_synapses == 0:
            continue
        ukeys, dst = _projection_pairs(t, core_of, target, pr, wide, bits_of)
        uniq.append(ukeys)
    if not uniq:
        return None
    if wide:
        return uniq[0], dst  # pre ids of the distinct (pre, dst) pairs, not sorted
    if len(uniq) == 1:  # the common case: reuse this projection's distinct pairs
        u = uniq[0]
    else:
        u = np.unique(np.concatenate(uniq))
        dst = (u & t.mask).astype(np.int32)
    del uniq
    u >>= t.sh
    return u, dst


def _projection_pairs(t: _Tally, core_of: dict[str, np.ndarray], target: Target,
                      pr: Projection, wide: bool, bits_of: dict[str, int] | None):
    """One projection's distinct (pre << sh | dst) keys, sorted (`wide`: its pre ids, in
    (src, dst, pre) order, with the (src, dst) pairs added to the traffic), and their
    destination cores; adds its synapses and synapse bits to the tally."""
    n = t.n
    pairs = indexed_neuron_cores(pr.pre_idx, pr.post_idx, core_of[pr.post], t.sizes[pr.pre],
                                 t.sh)
    if pairs is not None and wide and 8 * pairs[0].size > pr.n_synapses:
        pairs = None  # pairs repeat little: one sort of the wide keys costs as little
    if pairs is None:
        ukeys, counts, dst = _sorted_pairs(t, core_of, pr, wide)
    elif wide:
        ukeys, counts, dst = _wide_pairs(t, core_of[pr.pre], *pairs)
    else:
        ukeys, counts = pairs
        dst = np.empty(ukeys.size, np.int32)  # few large temporaries: fresh memory
        np.bitwise_and(ukeys, t.mask, out=dst, casting="unsafe")  # is slow to map
    b = bits_of[pr.name] if bits_of else projection_format(pr, target).bits
    t.synapses += np.rint(np.bincount(dst, weights=counts, minlength=n)[:n]).astype(np.int64)
    t.bits += np.rint(np.bincount(dst, weights=list_bits_f64(counts, b),
                                  minlength=n)[:n]).astype(np.int64)
    return ukeys, dst


def _sorted_pairs(t: _Tally, core_of: dict[str, np.ndarray], pr: Projection, wide: bool):
    """`_projection_pairs`'s distinct keys, their synapse counts and destination cores by
    one sort of every synapse's packed key (`wide`: (src << sh | dst) << sh_pre | pre)."""
    post_core = core_of[pr.post][pr.post_idx]
    if wide:
        key = core_of[pr.pre][pr.pre_idx].astype(np.int64)
        t.cut += int(np.count_nonzero(key != post_core))
        key <<= t.sh
        key |= post_core
        key <<= t.sh_pre
        key |= pr.pre_idx
    else:
        key = pr.pre_idx.astype(np.int64)
        key <<= t.sh
        key |= post_core
    del post_core
    key.sort()
    starts, counts = runs(key)
    ukeys = key[starts]
    del key, starts
    dst = np.empty(ukeys.size, np.int32)
    if wide:
        pair = ukeys >> t.sh_pre
        np.bitwise_and(ukeys, (1 << t.sh_pre) - 1, out=ukeys)  # now pre << 0
        pair_starts, pair_counts = runs(pair)
        t.pairs.append((pair[pair_starts], pair_counts))
        np.bitwise_and(pair, t.mask, out=dst, casting="unsafe")
    else:
        np.bitwise_and(ukeys, t.mask, out=dst, casting="unsafe")
    return ukeys, counts, dst


def _wide_pairs(t: _Tally, pre_core: np.ndarray, ukeys: np.ndarray, counts: np.ndarray):
    """Distinct (pre << sh | dst) keys with their synapse counts re-keyed and sorted as
    (src << sh | dst) << sh_pre | pre: the pre ids and destination cores in that order and the
    counts with them; adds the (src, dst) pairs and the cut synapses to the traffic."""
    pre = ukeys >> t.sh
    dst = ukeys & t.mask
    src = pre_core[pre].astype(np.int64)
    t.cut += int(counts[src != dst].sum())
    src <<= t.sh
    src |= dst
    src <<= t.sh_pre
    src |= pre
    order = np.argsort(src)  # distinct keys: one order
    wkeys = src[order]
    del src, pre, dst
    pair = wkeys >> t.sh_pre
    np.bitwise_and(wkeys, (1 << t.sh_pre) - 1, out=wkeys)  # now pre << 0
    pair_starts, pair_counts = runs(pair)
    t.pairs.append((pair[pair_starts], pair_counts))
    dst = np.empty(wkeys.size, np.int32)
    np.bitwise_and(pair, t.mask, out=dst, casting="unsafe")
    return wkeys, counts[order], dst


def _add_outgoing(t: _Tally, pre: str, pre_core: np.ndarray, size: int, pre_idx: np.ndarray,
                  dst: np.ndarray, per_neuron: bool, keep: bool) -> None:
    """Output axons, senders and local messages of one lif population's distinct
    (neuron, destination core) pairs; `keep`: store each neuron's destination count."""
    src = pre_core[pre_idx]
    t.out_axons += np.bincount(src, minlength=t.n)[:t.n]
    if per_neuron:
        per = np.bincount(pre_idx, minlength=size)
        t.senders += int(np.count_nonzero(per))
        if keep:
            t.destinations[pre] = per
    else:  # pre_idx is sorted
        t.senders += 1 + int(np.count_nonzero(pre_idx[1:] != pre_idx[:-1]))
    t.local += int(np.count_nonzero(src == dst))
