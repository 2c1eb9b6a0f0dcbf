"""Whether a network can fit a target at all, and whether an assignment does.

`check_fit` fails fast, before any partitioner runs, when a single neuron fits on no core
or the target has fewer cores than the lower bound; `lower_bound` gives the cores needed
at least per limit; `check_assignment` lists what is wrong with a given assignment.
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import Diagnostic, FitError
from ...ir import NetworkIR, Projection
from ...target import CoreLimits, Target
from .encoding import BLOCK_SYNAPSES, HEADER_BITS, WORD_BITS, projection_format, synapse_list_bits
from .ids import all_offsets, by_post, by_pre, lif_offsets, on_chip_projections
from .sorting import distinct_pairs_per_key, runs
from .usage import LIMITS, core_usage

REMEDY = {
    "in_axons": "reduce the fan-in (sparser connectivity or fewer presynaptic neurons) "
                "or use a target with more input axons per core",
    "synapse_bits": "use fewer weight bits (num_weight_bits), smaller delays, a smaller "
                    "fan-in, or a target with more synapse memory per core",
    "out_axons": "reduce the fan-out, split the postsynaptic population into fewer, "
                 "larger groups, or use a target with more output axons per core",
}


# ----------------------------------------------------------------------------- bounds

def lower_bound(net: NetworkIR, target: Target) -> dict:
    """Cores needed at least, per limit, and their max (`cores`, `binding`).

    Every term holds for any valid partition, populations sharing cores included. Let K
    (`max_neurons_per_core`) be the most lif neurons one core can hold: at most `neurons`,
    at most the largest k whose k smallest synapse payloads (synapses x bits each, block
    headers left out) fit `synapse_bits`, and at most the non-sending neurons plus
    `out_axons` (a sender takes >= 1 output axon on its own core). K_P <= K is the same
    count over population P's neurons alone (a core holding k neurons of P stores at least
    the k smallest payloads of P). A presynaptic neuron i whose f_i distinct targets in one
    projection onto P lie on cores of <= K_P neurons of P each reaches
    D_i >= ceil(f_i / K_P) cores (>= 1 with any target). So:

    - ceil(N / K) cores for the N lif neurons, counted under the limit that sets K;
    - neurons: ceil(N / neurons);
    - in_axons: a core's input axons are the distinct neurons reaching it, so
      cores x in_axons >= sum over all presynaptic i of D_i;
    - out_axons: a lif neuron takes one output axon per core it reaches: sum over lif i;
    - synapse_bits: the s synapses of (projection, i) lie in >= ceil(f / K_P) lists (one per
      core), of >= ceil(s / 64) blocks; a block costs a header plus its synapses, rounded
      up to 64-bit words (`_split_list_bits`).

    Counting (pre neuron, post population) pairs would not be a bound once populations
    share cores (one axon serves every population on the core). f_i is counted exactly
    (distinct targets, one sort) only for neurons with more than K synapses in a
    projection; the others reach >= 1 core either way, so the cost stays a few bincounts.
    """
    cap = target.core
    projs = [pr for pr in on_chip_projections(net) if pr.n_synapses]
    counts = {pr.name: np.bincount(pr.pre_idx, minlength=net.populations[pr.pre].size)
              for pr in projs}
    k, k_limit, k_pop = _max_neurons_per_core(net, target, projs, counts)
    reach: dict[str, np.ndarray] = {}  # per presynaptic population: cores reached, at least
    total_bits = 0
    for pr in projs:
        cnt = counts[pr.name]
        lists = _lists_at_least(pr, cnt, k_pop[pr.post])
        total_bits += int(_split_list_bits(cnt, lists, projection_format(pr, target).bits).sum())
        reach[pr.pre] = np.maximum(reach[pr.pre], lists) if pr.pre in reach else lists
    n_lif = sum(p.size for p in net.neuron_populations)
    d_in = sum(int(v.sum()) for v in reach.values())
    d_out = sum(int(v.sum()) for p, v in reach.items() if not net.populations[p].is_source)

    def need(demand: int, c: int) -> int:
        return int(math.ceil(demand / c)) if demand else 0

    lb = {
        "neurons": need(n_lif, cap.neurons),
        "synapse_bits": need(total_bits, cap.synapse_bits),
        "in_axons": need(d_in, cap.in_axons),
        "out_axons": need(d_out, cap.out_axons),
    }
    lb[k_limit] = max(lb[k_limit], need(n_lif, k))
    lb["cores"] = max(max(lb.values()), 1 if n_lif else 0)
    lb["binding"] = max(LIMITS, key=lambda name: lb[name])
    lb["max_neurons_per_core"] = k
    return lb


def _max_neurons_per_core(net: NetworkIR, target: Target, projs: list[Projection],
                          counts: dict[str, np.ndarray]) -> tuple[int, str, dict[str, int]]:
    """The most lif neurons one core can hold (at least 1), the limit that sets it, and the
    same count per population over its own neurons: `neurons`, the synapse payload of the
    k cheapest neurons within `synapse_bits`, or the non-senders plus `out_axons`
    (`counts`: per projection, synapses per pre neuron)."""
    cap = target.core
    payload, silent, k_pop = [], [], {}
    for p in net.neuron_populations:
        bits = np.zeros(p.size, np.int64)
        sends = np.zeros(p.size, bool)
        for pr in projs:
            if pr.post == p.name:
                bits += np.bincount(pr.post_idx, minlength=p.size) \
                    * projection_format(pr, target).bits
            if pr.pre == p.name:
                sends |= counts[pr.name] > 0
        payload.append(bits)
        silent.append(int(np.count_nonzero(~sends)))
        k_pop[p.name] = _fit_count(np.sort(bits), silent[-1], cap)[0]
    if not payload:
        return int(cap.neurons), "neurons", k_pop
    k, limit = _fit_count(np.sort(np.concatenate(payload)), sum(silent), cap)
    return k, limit, k_pop


def _fit_count(pay: np.ndarray, n_silent: int, cap: CoreLimits) -> tuple[int, str]:
    """Most neurons of sorted payloads `pay` one core can hold (at least 1) and the limit
    that sets it."""
    ks = {"neurons": int(cap.neurons),
          "synapse_bits": int(np.searchsorted(np.cumsum(pay), cap.synapse_bits, side="right")),
          "out_axons": n_silent + int(cap.out_axons)}
    limit = min(ks, key=lambda name: ks[name])
    return max(1, ks[limit]), limit


def _lists_at_least(pr: Projection, cnt: np.ndarray, k: int) -> np.ndarray:
    """Per presynaptic neuron of `pr`, the synapse lists (cores) it needs at least:
    ceil(distinct targets / k), counted exactly only where its synapses exceed k."""
    lists = (cnt > 0).astype(np.int64)
    sus = np.flatnonzero(cnt > k)
    if sus.size:
        m = np.isin(pr.pre_idx, sus)
        key = pr.pre_idx[m].astype(np.int64) << 32 | pr.post_idx[m].astype(np.int64)
        f = distinct_pairs_per_key([key], cnt.size)
        lists[sus] = -(-f[sus] // k)
    return lists


def _split_list_bits(cnt: np.ndarray, lists: np.ndarray, b: int) -> np.ndarray:
    """Fewest bits of `cnt` synapses of b bits each stored as >= `lists` lists: >= lists
    and >= cnt / 64 blocks, each a header plus its synapses rounded up to 64-bit words
    (so at least one word), and never below the cheapest cut into blocks of any sizes
    (`_cheapest_blocks`: one list can cost more than two, 65 = 54 + 11 at 1 bit)."""
    has = cnt > 0
    cnt, lists = cnt[has], lists[has]
    blocks = np.maximum(lists, -(-cnt // BLOCK_SYNAPSES))
    payload = -(-(HEADER_BITS * blocks + cnt * b) // WORD_BITS) * WORD_BITS
    return np.maximum(np.maximum(payload, WORD_BITS * blocks), _cheapest_blocks(cnt, b))


CHEAPEST_EXACT = 4096  # synapse counts up to this get the exact cheapest cut


def _cheapest_blocks(cnt: np.ndarray, b: int) -> np.ndarray:
    """Per count s, the fewest bits of s synapses cut into blocks of any sizes <= 64
    (exact up to CHEAPEST_EXACT by dynamic programming, above it the best bits per
    synapse of any block size times s, rounded up to a word)."""
    n = np.arange(1, BLOCK_SYNAPSES + 1)
    block = -(-(HEADER_BITS + n * b) // WORD_BITS) * WORD_BITS
    top = int(min(cnt.max(initial=0), CHEAPEST_EXACT))
    best = np.zeros(top + 1, np.int64)
    for s in range(1, top + 1):
        m = min(s, BLOCK_SYNAPSES)
        best[s] = int((best[s - m:s][::-1] + block[:m]).min())
    rate = float((block / n).min())
    big = -(-np.ceil(cnt * rate).astype(np.int64) // WORD_BITS) * WORD_BITS
    return np.where(cnt <= top, best[np.minimum(cnt, top)], big)


# ----------------------------------------------------------------------------- assignments

def check_assignment(net: NetworkIR, core_of: dict[str, np.ndarray], n_cores: int,
                     target: Target) -> list[Diagnostic]:
    """Problems of an assignment: every lif neuron on exactly one valid core, all limits held."""
    probs = _shape_problems(net, core_of, n_cores)
    if probs:
        return probs
    usage = core_usage(net, core_of, n_cores, target)
    for core, limit, value, capv in usage.over_limits(target):
        probs.append(Diagnostic(f"core {core}: {limit} {value} > {capv}"))
    return probs


def _shape_problems(net: NetworkIR, core_of: dict[str, np.ndarray],
                    n_cores: int) -> list[Diagnostic]:
    """Populations missing, of the wrong size, with out-of-range core ids, or not lif."""
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
    return probs


# ----------------------------------------------------------------------------- fail fast

def check_fit(net: NetworkIR, target: Target) -> dict:
    """Fail fast (FitError) when a single neuron fits on no core, or cores cannot suffice.

    Checks each lif neuron's fan-in against in_axons, its own synapse memory against
    synapse_bits and its destination cores against out_axons, then the lower bound against
    the target's total core count. Cheap upper bounds first, exact counts only for
    suspects. Returns the lower bound (dict of `lower_bound`).
    """
    projs = on_chip_projections(net)
    aoff, _ = all_offsets(net)
    for post, plist in by_post(projs).items():
        _check_fan_in(net, target, post, plist, aoff)
    _check_fan_out(net, target, projs)
    lb = lower_bound(net, target)
    if lb["cores"] > target.total_cores:
        raise too_many_cores(net, target, lb["cores"], "at least",
                             f" (binding limit: {lb['binding']})")
    return lb


def _check_fan_in(net: NetworkIR, target: Target, post: str, plist: list[Projection],
                  aoff: dict[str, int]) -> None:
    """Each neuron of `post`: its distinct presynaptic neurons within in_axons and its own
    synapse lists within synapse_bits (exact counts only where the in-degree bound fails)."""
    cap = target.core
    size = net.populations[post].size
    indeg = np.zeros(size, np.int64)
    ub_bits = np.zeros(size, np.int64)
    for pr in plist:
        c = np.bincount(pr.post_idx, minlength=size)
        indeg += c
        ub_bits += c * int(synapse_list_bits(1, projection_format(pr, target).bits))
    sus = np.flatnonzero(indeg > cap.in_axons)
    if sus.size:
        keys = []
        for pr in plist:
            m = np.isin(pr.post_idx, sus)
            keys.append(pr.post_idx[m].astype(np.int64) << 32
                        | (aoff[pr.pre] + pr.pre_idx[m]).astype(np.int64))
        fanin = distinct_pairs_per_key(keys, size)
        _raise_first(net, post, fanin, "in_axons", cap.in_axons, plist, True,
                     "its fan-in (distinct presynaptic neurons)")
    sus = np.flatnonzero(ub_bits > cap.synapse_bits)
    if sus.size:
        own = np.zeros(size, np.int64)
        for pr in plist:
            m = np.isin(pr.post_idx, sus)
            k = np.sort(pr.post_idx[m].astype(np.int64) << 32 | pr.pre_idx[m])
            st, cnt = runs(k)
            b = projection_format(pr, target).bits
            own += np.bincount(k[st] >> 32, weights=synapse_list_bits(cnt, b),
                               minlength=size).astype(np.int64)
        _raise_first(net, post, own, "synapse_bits", cap.synapse_bits, plist, True,
                     "the synapse memory of its own input synapses (bits)")


def _check_fan_out(net: NetworkIR, target: Target, projs: list[Projection]) -> None:
    """A lif neuron with T distinct targets needs >= ceil(T / neurons) output axons."""
    cap = target.core
    loff, _ = lif_offsets(net)
    for pre, plist in by_pre([pr for pr in projs if not net.populations[pr.pre].is_source]).items():
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
        need = -(-distinct_pairs_per_key(keys, size) // cap.neurons)
        _raise_first(net, pre, need, "out_axons", cap.out_axons, plist, False,
                     "the number of cores its targets need at least")


def _raise_first(net: NetworkIR, pop: str, value: np.ndarray, limit: str, capv: int,
                 plist: list[Projection], incoming: bool, what: str) -> None:
    """FitError for the first neuron of `pop` whose `value` exceeds one core's `capv`."""
    bad = np.flatnonzero(value > capv)
    if bad.size:
        j = int(bad[0])
        raise _fit_error(net, pop, j, limit, int(value[j]), capv,
                         _main_projection(plist, pop, j, incoming), what)


def _fit_error(net: NetworkIR, pop: str, neuron: int, limit: str, value: int, capv: int,
               proj: str, what: str) -> FitError:
    msg = (f"population '{pop}' neuron {neuron}: {what} is {value}, more than one core's "
           f"{limit} limit {capv}, so it fits on no core; remedy: {REMEDY[limit]}")
    return FitError(Diagnostic.at(net.loc(f"projections.{proj}"), msg,
                                  allowed=f"{limit} <= {capv}"))


def _main_projection(projs: list[Projection], pop: str, neuron: int, incoming: bool) -> str:
    """The projection with the most synapses into (`incoming`) or out of `neuron` of `pop`."""
    best, name = -1, projs[0].name
    for pr in projs:
        idx = pr.post_idx if incoming else pr.pre_idx
        side = pr.post if incoming else pr.pre
        if side != pop:
            continue
        c = int(np.count_nonzero(idx == neuron))
        if c > best:
            best, name = c, pr.name
    return name


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
