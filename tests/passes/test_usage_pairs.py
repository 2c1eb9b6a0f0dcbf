"""Distinct (neuron, core) pairs: the bincount over the key space gives exactly what sorting
the packed keys gives (the reference here: np.unique of the keys), and every usage figure
is the same whichever way the pairs are counted."""

from __future__ import annotations

import numpy as np
import pytest

from compiler.ir import NetworkIR, Population, Projection, SpikeSource
from compiler.passes.resources import (
    core_usage,
    incoming_usage,
    on_chip_projections,
    sorting,
    usage_with_destinations,
    usage_with_traffic,
)
from compiler.passes.resources.sorting import distinct_neuron_cores
from compiler.target import CoreLimits, Target

BIG = {"neurons": 10**6, "synapse_bits": 10**9, "in_axons": 10**6, "out_axons": 10**6}


@pytest.fixture(params=["count", "sort"])
def method(request, monkeypatch):
    """Forces the index over the key space (every space qualifies) or the sort."""
    if request.param == "count":
        monkeypatch.setattr(sorting, "COUNT_SPACE_PER_KEY", 10**9)
        monkeypatch.setattr(sorting, "COUNT_MAX_SPACE", 10**9)
    else:
        monkeypatch.setattr(sorting, "COUNT_SPACE_PER_KEY", 0)
    return request.param


def reference(neuron: np.ndarray, core: np.ndarray, sh: int) -> tuple[np.ndarray, np.ndarray]:
    return np.unique((neuron.astype(np.int64) << sh) | core, return_counts=True)


def check(rng: np.random.Generator, n_neurons: int, n_targets: int, cores: tuple[int, int],
          n_pairs: int) -> None:
    """Pairs of random neurons and targets, each target on a random core of `cores`."""
    neuron = rng.integers(0, n_neurons, n_pairs).astype(np.int32)
    target = rng.integers(0, n_targets, n_pairs).astype(np.int32)
    target_core = rng.integers(*cores, n_targets).astype(np.int32)
    sh = max(1, cores[1].bit_length())
    keys, counts = distinct_neuron_cores(neuron, target, target_core, n_neurons, sh)
    ref_keys, ref_counts = reference(neuron, target_core[target], sh)
    assert keys.dtype == np.int64 and counts.dtype == np.int64
    np.testing.assert_array_equal(keys, ref_keys)
    np.testing.assert_array_equal(counts, ref_counts)
    assert int(counts.sum()) == n_pairs


@pytest.mark.parametrize("n_neurons, n_targets, n_cores, n_pairs", [
    (1, 1, 1, 0), (50, 20, 7, 0), (1, 1, 1, 5), (40, 30, 1, 300), (3, 10, 5, 200),
    (1000, 4, 3, 50), (200, 500, 64, 20000), (5000, 900, 300, 4000), (7, 1, 2, 1)])
def test_distinct_pairs_match_unique(method, n_neurons, n_targets, n_cores, n_pairs):
    rng = np.random.default_rng(n_neurons * 131 + n_cores * 7 + n_pairs)
    check(rng, n_neurons, n_targets, (0, n_cores), n_pairs)


@pytest.mark.parametrize("lo, hi", [(5, 6), (3, 9), (250, 300), (0, 1), (2, 700)])
def test_distinct_pairs_on_some_cores(method, lo, hi):
    """Targets on cores lo..hi-1 only (a population on some of the cores, some unused)."""
    check(np.random.default_rng(lo + hi), 90, 40, (lo, hi), 3000)


def test_default_thresholds_pick_both_ways():
    """A dense key space is counted, a sparse one sorted: both give the reference."""
    rng = np.random.default_rng(3)
    check(rng, 100, 50, (0, 10), 1000)
    check(rng, 10**6, 5000, (0, 1000), 1000)


def _proj(name: str, pre: str, post: str, pre_idx, post_idx) -> Projection:
    n = len(pre_idx)
    return Projection(name, pre, post, np.asarray(pre_idx, np.int32),
                      np.asarray(post_idx, np.int32), np.full(n, 7, np.int32),
                      np.zeros(n, np.int16), num_weight_bits=8)


def _random_net(rng: np.random.Generator, one_per_pre: bool) -> NetworkIR:
    """Sources and lif populations with random, duplicate-rich projections (with
    `one_per_pre`, each lif population sends through one projection: traffic is counted)."""
    sizes = {"in": 30, "a": 60, "b": 45, "c": 1}
    pops = {"in": Population("in", 30, "spike_source", source=SpikeSource("poisson", rate=0.2))}
    pops.update({k: Population(k, v, "lif") for k, v in sizes.items() if k != "in"})
    edges = [("in", "a", 400), ("a", "b", 900), ("b", "a", 300), ("in", "c", 10),
             ("in", "b", 0)]
    if not one_per_pre:
        edges += [("a", "a", 500), ("b", "c", 20)]
    projs = {}
    for i, (pre, post, n) in enumerate(edges):
        projs[f"p{i}"] = _proj(f"p{i}", pre, post, rng.integers(0, sizes[pre], n),
                               rng.integers(0, sizes[post], n))
    return NetworkIR(name="r", populations=pops, projections=projs)


def _check_reference(net: NetworkIR, core_of: dict[str, np.ndarray], n: int, u) -> None:
    """in_axons, synapses, out_axons and messages against np.unique over all synapses."""
    off = {p: i * 1000 for i, p in enumerate(net.populations)}
    pre_keys, syn = [], np.zeros(n, np.int64)
    for pr in on_chip_projections(net):
        dst = core_of[pr.post][pr.post_idx]
        syn += np.bincount(dst, minlength=n)
        pre_keys.append((pr.pre_idx.astype(np.int64) + off[pr.pre]) * n + dst)
    pairs = np.unique(np.concatenate(pre_keys))
    np.testing.assert_array_equal(u.in_axons, np.bincount(pairs % n, minlength=n))
    np.testing.assert_array_equal(u.synapses, syn)
    lif_pre = {p: off[p] for p in net.populations if not net.populations[p].is_source}
    src = np.full(pairs.size, -1)
    for p, o in lif_pre.items():
        sel = (pairs // n >= o) & (pairs // n < o + 1000)
        src[sel] = core_of[p][pairs[sel] // n - o]
    lif = src >= 0
    np.testing.assert_array_equal(u.out_axons, np.bincount(src[lif], minlength=n))
    assert u.local_messages == int(np.count_nonzero(src[lif] == pairs[lif] % n))
    if u.traffic is not None:
        msg = np.zeros((n, n), np.int64)
        np.add.at(msg, (src[lif], pairs[lif] % n), 1)
        np.testing.assert_array_equal(u.traffic.messages.toarray(), msg)


def _figures(u) -> dict:
    out = {k: getattr(u, k) for k in ("neurons", "synapse_bits", "in_axons", "out_axons",
                                      "synapses")}
    out["scalars"] = (u.lif_senders, u.source_messages_per_step, u.local_messages)
    if u.traffic is not None:
        out["messages"] = u.traffic.messages.toarray()
        out["cut"] = u.traffic.synapses_cut
    for k, v in (u.destinations or {}).items():
        out[f"dest_{k}"] = v
    return out


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("one_per_pre", [True, False])
@pytest.mark.parametrize("n_cores", [1, 3, 17])
def test_usage_same_by_count_and_sort(monkeypatch, seed, one_per_pre, n_cores):
    rng = np.random.default_rng(seed)
    net = _random_net(rng, one_per_pre)
    core_of = {}
    for p in net.neuron_populations:  # each population on a random range of cores
        lo = int(rng.integers(0, n_cores))
        core_of[p.name] = rng.integers(lo, rng.integers(lo + 1, n_cores + 1), p.size,
                                       dtype=np.int32)
    target = Target(name="t", chips=1, cores_per_chip=128, mesh=(8, 16), core=CoreLimits(**BIG))
    counts = ("count", 10**9, 10**9), ("sort", 0, sorting.COUNT_MAX_SPACE)
    results = {}
    for name, per_key, max_space in counts:
        monkeypatch.setattr(sorting, "COUNT_SPACE_PER_KEY", per_key)
        monkeypatch.setattr(sorting, "COUNT_MAX_SPACE", max_space)
        projs = on_chip_projections(net)
        results[name] = [_figures(f(net, core_of, n_cores, target)) for f in (
            core_usage, usage_with_traffic, usage_with_destinations)]
        results[name].append(_figures(incoming_usage(net, core_of, n_cores, target, projs)))
        _check_reference(net, core_of, n_cores, usage_with_traffic(net, core_of, n_cores,
                                                                   target))
    assert (results["count"][1].get("messages") is not None) == one_per_pre
    for a, b in zip(results["count"], results["sort"], strict=True):
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
