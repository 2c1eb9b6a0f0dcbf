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
from ...target import Target
from .encoding import projection_format, synapse_list_bits
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
