"""The lower bound holds for every valid partition (brute force over all assignments of
small random networks, and the partitioners on larger ones), equals hand-computed values
where fan-outs exceed what one core can hold, and the compile summary says which limit
holds the cores used."""

from __future__ import annotations

import itertools
import json

import numpy as np
from netfactory import lif, network, proj, source

from compiler.passes.partition import partition
from compiler.passes.resources import check_assignment, core_usage, lower_bound
from compiler.passes.resources.encoding import synapse_list_bits
from compiler.passes.resources.fit import _split_list_bits
from compiler.pipeline import compile_network
from compiler.summary import compile_summary, format_summary
from compiler.target import CoreLimits, Target


def tgt(**core) -> Target:
    return Target(name="t", chips=1, cores_per_chip=64, mesh=(8, 8), core=CoreLimits(**core))


def set_partitions(n: int):
    """Every assignment of n items to cores, up to relabelling (restricted growth strings)."""
    def grow(prefix: list[int], top: int):
        if len(prefix) == n:
            yield np.array(prefix, np.int32), top + 1
            return
        for c in range(top + 2):
            yield from grow(prefix + [c], max(top, c))
    yield from grow([0], 0)


def fewest_cores(net, target) -> int | None:
    """The fewest cores of any valid assignment (None: none is valid)."""
    pops = [p for p in net.neuron_populations]
    sizes = np.cumsum([0] + [p.size for p in pops])
    best = None
    for labels, k in set_partitions(int(sizes[-1])):
        if best is not None and k >= best:
            continue
        core_of = {p.name: labels[sizes[i]:sizes[i + 1]] for i, p in enumerate(pops)}
        if not check_assignment(net, core_of, k, target):
            best = k
    return best


def random_net(rng: np.random.Generator, n_a: int, n_b: int, n_src: int, p: float):
    """A source and two lif populations with random (multi-)projections between them."""
    pops = [source("S", n_src, kind="poisson", rate=0.1), lif("A", n_a), lif("B", n_b)]
    projs = []
    for pre, post, n_pre, n_post in (("S", "A", n_src, n_a), ("S", "B", n_src, n_b),
                                     ("A", "B", n_a, n_b), ("B", "A", n_b, n_a),
                                     ("A", "A", n_a, n_a)):
        m = rng.random((n_pre, n_post)) < p
        i, j = np.nonzero(m)
        if i.size:
            projs.append(proj(f"{pre}_{post}", pre, post, i, j, 1,
                              delay=rng.integers(0, 3, i.size)))
    return network(pops, projs)


def test_bound_never_exceeds_the_fewest_cores_of_any_valid_assignment():
    feasible = tight = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        net = random_net(rng, int(rng.integers(2, 4)), int(rng.integers(2, 4)),
                         int(rng.integers(2, 6)), float(rng.uniform(0.2, 0.6)))
        target = tgt(neurons=int(rng.integers(2, 5)), in_axons=int(rng.integers(4, 9)),
                     out_axons=int(rng.integers(3, 6)),
                     synapse_bits=int(rng.integers(3, 9)) * 128)
        lb = lower_bound(net, target)["cores"]
        best = fewest_cores(net, target)
        if best is not None:
            assert lb <= best, (seed, lb, best)
            feasible += 1
            tight += lb == best
    assert feasible >= 10 and tight >= 5  # not vacuous: most fit, and the bound is often exact


def test_bound_is_reached_where_it_is_exact():
    """Brute force finds the bound's value on a net where each source reaches 2 cores."""
    # 4 sources, each onto 3 of 6 lif neurons; cores of <= 2 neurons and 4 input axons:
    # each source reaches >= ceil(3 / 2) = 2 cores, 8 axons over 4 per core: >= 2 cores,
    # and 6 neurons / 2 per core: 3 cores; the brute force agrees
    pre = np.repeat(np.arange(4), 3)
    post = np.array([0, 1, 2, 3, 4, 5, 0, 2, 4, 1, 3, 5])
    net = network([source("S", 4, kind="poisson", rate=0.1), lif("A", 6)],
                  [proj("S_A", "S", "A", pre, post, 1)])
    target = tgt(neurons=2, in_axons=4)
    lb = lower_bound(net, target)
    assert lb["in_axons"] == 2 and lb["neurons"] == 3 and lb["cores"] == 3
    assert fewest_cores(net, target) == 3


def test_fan_out_beyond_a_core_counts_every_core_reached():
    # 8 sources, each onto 5 of 20 lif neurons (each neuron: 2 sources); 4 neurons and 2
    # input axons per core: each source reaches >= ceil(5 / 4) = 2 cores -> 16 axons / 2
    pre = np.repeat(np.arange(8), 5)
    post = np.concatenate([np.arange(20), np.arange(20)])
    net = network([source("S", 8, kind="poisson", rate=0.1), lif("A", 20)],
                  [proj("S_A", "S", "A", pre, post, 1)])
    lb = lower_bound(net, tgt(neurons=4, in_axons=2))
    assert lb["max_neurons_per_core"] == 4
    assert lb["neurons"] == 5 and lb["in_axons"] == 8
    assert lb["cores"] == 8 and lb["binding"] == "in_axons"
    for method in ("sequential", "greedy", "auto"):
        assert partition(net, tgt(neurons=4, in_axons=2), method).n_cores >= 8


def test_output_axons_of_a_wide_fan_out():
    # 3 lif senders, each onto all 10 neurons of B; 4 neurons per core: each sender
    # reaches >= 3 cores -> 9 output axons; 2 per core -> 5 cores
    pre, post = np.repeat(np.arange(3), 10), np.tile(np.arange(10), 3)
    net = network([lif("A", 3), lif("B", 10)], [proj("A_B", "A", "B", pre, post, 1)])
    lb = lower_bound(net, tgt(neurons=4, out_axons=2))
    assert lb["out_axons"] == 5 and lb["cores"] == 5


def test_populations_sharing_a_core_share_input_axons():
    # 100 sources onto all of P (3) and all of Q (3): one core holds both with 100 axons,
    # so the bound is 1, not the 2 that counting (pre, post population) pairs gives
    pre, post = np.repeat(np.arange(100), 3), np.tile(np.arange(3), 100)
    net = network([source("S", 100, kind="poisson", rate=0.1), lif("P", 3), lif("Q", 3)],
                  [proj("S_P", "S", "P", pre, post, 1), proj("S_Q", "S", "Q", pre, post, 1)])
    target = tgt(neurons=8, in_axons=128)
    assert lower_bound(net, target)["in_axons"] == 1
    p = partition(net, target, "sequential")
    assert p.n_cores == 1 and lower_bound(net, target)["cores"] == 1


def test_synapse_memory_caps_the_neurons_per_core():
    # each lif neuron has 40 synapses of 8 + 0 + 4 = 12 bits (16 neurons per core: 4 index
    # bits): 480 bits each; 1500 bits per core hold at most 3 neurons -> 10 neurons need 4
    pre, post = np.tile(np.arange(40), 10), np.repeat(np.arange(10), 40)
    net = network([source("S", 40, kind="poisson", rate=0.1), lif("A", 10)],
                  [proj("S_A", "S", "A", pre, post, 1)])
    lb = lower_bound(net, tgt(neurons=16, synapse_bits=1500))
    assert lb["max_neurons_per_core"] == 3
    # each source reaches >= ceil(10 / 3) = 4 cores: 40 x 4 lists of >= one 64-bit word
    # = 10240 bits over 1500 per core -> 7 (one list each: 40 x 192 bits -> 6)
    assert lb["synapse_bits"] == 7 and lb["binding"] == "synapse_bits"


def test_each_population_caps_its_own_neurons_per_core():
    # A: 10 lif neurons with 40 synapses of 12 bits each (480 bits: 6 fit 3000 bits);
    # C: 20 lif neurons without synapses: one core holds at most 16 neurons, but at most 6
    # of A. Each of the 40 sources reaches all 10 of A, so >= ceil(10 / 6) = 2 cores, not
    # ceil(10 / 16) = 1: 80 input axons over 64 per core -> 2 cores (1 from K alone)
    pre, post = np.tile(np.arange(40), 10), np.repeat(np.arange(10), 40)
    net = network([source("S", 40, kind="poisson", rate=0.1), lif("A", 10), lif("C", 20)],
                  [proj("S_A", "S", "A", pre, post, 1)])
    target = tgt(neurons=16, synapse_bits=3000, in_axons=64)
    lb = lower_bound(net, target)
    assert lb["max_neurons_per_core"] == 16
    assert lb["in_axons"] == 2
    p = partition(net, target, "auto")
    assert not check_assignment(net, p.core_of, p.n_cores, target)
    assert p.n_cores >= lb["cores"] >= 2


def compositions(s: int):
    """Every way to write s as an ordered sum of positive parts."""
    for cuts in itertools.product((0, 1), repeat=s - 1):
        parts, run = [], 1
        for c in cuts:
            if c:
                parts.append(run)
                run = 1
            else:
                run += 1
        yield parts + [run]


def test_split_lists_never_cost_less_than_the_bound():
    # brute force: every split of s synapses into >= m lists (a list per core) costs at
    # least _split_list_bits(s, m); one list can cost more than two (65 = 54 + 11 at 1 bit)
    assert int(synapse_list_bits(65, 1)) > int(synapse_list_bits(54, 1) + synapse_list_bits(11, 1))
    for b in (1, 5, 12, 24, 40):
        for s in list(range(1, 13)) + [65, 70]:
            cost: dict[int, int] = {}
            comps = compositions(s) if s <= 12 else ([54, s - 54], [s], [11, s - 11])
            for parts in comps:
                c = int(synapse_list_bits(np.array(parts), b).sum())
                cost[len(parts)] = min(cost.get(len(parts), c), c)
            for m in range(1, max(cost) + 1):
                cheapest = min(v for j, v in cost.items() if j >= m)
                assert int(_split_list_bits(np.array([s]), np.array([m]), b)[0]) <= cheapest
    # and it is tight for one block: 40 synapses of 24 bits, 1 or 2 lists
    assert _split_list_bits(np.array([40, 40]), np.array([1, 2]), 24).tolist() == [1024, 1024]
    assert _split_list_bits(np.array([2]), np.array([2]), 24).tolist() == [128]


def test_partitioners_stay_above_the_bound_on_random_multi_population_nets():
    rng = np.random.default_rng(3)
    for _ in range(4):
        net = random_net(rng, int(rng.integers(30, 80)), int(rng.integers(30, 80)),
                         int(rng.integers(20, 60)), float(rng.uniform(0.05, 0.3)))
        target = tgt(neurons=int(rng.integers(16, 40)), in_axons=64, out_axons=64,
                     synapse_bits=8192)
        lb = lower_bound(net, target)["cores"]
        for method in ("sequential", "greedy", "graph", "auto"):
            p = partition(net, target, method)
            assert p.n_cores >= lb
            assert core_usage(net, p.core_of, p.n_cores, target).bad_cores(target).size == 0


# ----------------------------------------------------------------------------- summary

def axon_bound_program():
    """40 lif neurons, each with 12 random inputs out of 60 sources: input axons fill
    the cores long before neurons or synapse memory do."""
    rng = np.random.default_rng(0)
    post = np.repeat(np.arange(40), 12)
    pre = np.concatenate([rng.choice(60, 12, replace=False) for _ in range(40)])
    net = network([source("S", 60, kind="poisson", rate=0.1), lif("A", 40)],
                  [proj("S_A", "S", "A", pre, post, 1)])
    return compile_network(net, target=tgt(neurons=64, in_axons=24, out_axons=64,
                                           synapse_bits=1 << 20), partitioner="sequential")


def test_summary_counts_the_cores_near_each_limit():
    prog = axon_bound_program()
    js = json.loads(json.dumps(compile_summary(prog)))
    caps = js["limits"]
    for limit in ("neurons", "synapse_bits", "in_axons", "out_axons"):
        per_core = [c["in_axons"] if limit == "in_axons" else
                    sum(len(v) for v in c["neurons"].values()) if limit == "neurons" else
                    c[limit] for c in js["cores"]]
        assert js["cores_near_limit"][limit] == sum(v >= 0.9 * caps[limit] for v in per_core)
    b = js["binds_in_practice"]
    assert b["limit"] == "in_axons" and b["of"] == len(js["cores"]) and b["capacity"] == 24
    assert b["cores"] == js["cores_near_limit"]["in_axons"] >= 1
    assert b["cores_worth_used"] == round(sum(c["in_axons"] for c in js["cores"]) / 24, 2)
    # the bound (neurons, bits, 60 source axons / 24) is far below: the summary says why
    assert js["lower_bound"] == 3 and len(js["cores"]) > 1.1 * 3
    assert "presynaptic neuron" in b["explained"]
    text = format_summary(prog)
    assert f"in_axons binds in practice: {b['cores']} of {b['of']} cores at >= 90% of 24" in text
    assert js["lower_bound_limit"] == "in_axons"  # existing keys stay
    assert js["cores_above_lower_bound"] == len(js["cores"]) - 3


def test_summary_gives_no_reason_within_reach_of_the_bound():
    net = network([source("S", 8, kind="poisson", rate=0.1), lif("A", 8)],
                  [proj("S_A", "S", "A", np.arange(8), np.arange(8), 1)])
    prog = compile_network(net, target=tgt(neurons=4), partitioner="sequential")
    js = compile_summary(prog)
    assert js["lower_bound"] == 2 and len(js["cores"]) == 2
    assert js["binds_in_practice"]["limit"] == "neurons"
    assert js["binds_in_practice"]["cores"] == 2 and js["binds_in_practice"]["explained"] is None
