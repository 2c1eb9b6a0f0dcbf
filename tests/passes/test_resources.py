"""Resource model: synapse-memory encoding, axon counts, bounds, checker and fit errors.

Expected values are computed by hand in the comments (Loihi block encoding: blocks of
<= 64 synapses, 10 header bits, rounded up to 64-bit words), and `core_usage` is
cross-checked against a brute-force per-core implementation written with Python sets.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from compiler.errors import FitError
from compiler.ir import NetworkIR, Population, Projection, SpikeSource
from compiler.passes.resources import (
    check_assignment,
    check_fit,
    core_traffic,
    core_traffic_wide,
    core_usage,
    incoming_usage,
    lower_bound,
    projection_format,
    synapse_list_bits,
    traffic_stats,
    usage_with_destinations,
    usage_with_traffic,
)
from compiler.target import CoreLimits, Target


def tgt(**core) -> Target:
    chips = core.pop("chips", 1)
    cpc = core.pop("cores_per_chip", 128)
    return Target(name="t", chips=chips, cores_per_chip=cpc, mesh=(8, 16),
                  core=CoreLimits(**core))


def lif(name: str, n: int) -> Population:
    return Population(name, n, "lif")


def src(name: str, n: int, rate: float = 0.1) -> Population:
    return Population(name, n, "spike_source", source=SpikeSource("poisson", rate=rate))


def proj(name, pre, post, pre_idx, post_idx, weight=10, delay=0, nwb=8) -> Projection:
    pre_idx = np.asarray(pre_idx, np.int32)
    w = np.broadcast_to(np.asarray(weight, np.int32), pre_idx.shape).copy()
    d = np.broadcast_to(np.asarray(delay, np.int16), pre_idx.shape).copy()
    return Projection(name, pre, post, pre_idx, np.asarray(post_idx, np.int32), w, d,
                      num_weight_bits=nwb)


def net_of(pops, projs, name="n") -> NetworkIR:
    return NetworkIR(name=name, populations={p.name: p for p in pops},
                     projections={p.name: p for p in projs}, source_file="net.yaml")


def fan(n_post: int, weight=10, delay=0, nwb=8) -> NetworkIR:
    """One source neuron with a synapse onto each of n_post lif neurons."""
    return net_of([src("s", 1), lif("h", n_post)],
                  [proj("s_h", "s", "h", np.zeros(n_post), np.arange(n_post), weight, delay, nwb)])


# ----------------------------------------------------------------------------- synapse bits

def test_block_encoding_100_synapses_8bit_no_delay():
    # b = 8 weight + 0 delay + log2(1024) = 10 index bits = 18 bits per synapse
    # block 1: 64 synapses: 10 + 64 * 18 = 1162 bits -> 19 words = 1216 bits
    # block 2: 36 synapses: 10 + 36 * 18 = 658 bits -> 11 words = 704 bits
    net = fan(100)
    u = core_usage(net, {"h": np.zeros(100, np.int32)}, 1, tgt())
    assert u.synapse_bits.tolist() == [1216 + 704]
    assert u.synapses.tolist() == [100]
    assert u.in_axons.tolist() == [1] and u.out_axons.tolist() == [0]
    assert u.neurons.tolist() == [100]


def test_block_encoding_with_delay_and_fewer_weight_bits():
    # delays up to 5 -> ceil(log2 6) = 3 bits; b = 8 + 3 + 10 = 21
    # 10 + 64 * 21 = 1354 -> 22 words = 1408; 10 + 36 * 21 = 766 -> 12 words = 768
    net = fan(100, delay=np.arange(100) % 6)
    u = core_usage(net, {"h": np.zeros(100, np.int32)}, 1, tgt())
    assert u.synapse_bits.tolist() == [1408 + 768]
    # 4-bit weights, no delay: b = 14; 10 + 896 = 906 -> 15 words = 960;
    # 10 + 504 = 514 -> 9 words = 576
    u = core_usage(fan(100, nwb=4), {"h": np.zeros(100, np.int32)}, 1, tgt())
    assert u.synapse_bits.tolist() == [960 + 576]


def test_weight_width_rounding_and_mixed_sign():
    t = tgt()
    # 7 bits are stored in an 8-bit field (nengo-loihi WEIGHT_BITS_MAP has no 7)
    assert projection_format(fan(3, nwb=7).projections["s_h"], t).weight_bits == 8
    # mixed sign: Lava keeps num_weight_bits bits including the sign (drops 8 - nwb + 1
    # of the 9-bit range), so the field width stays num_weight_bits
    mixed = fan(4, weight=[5, -5, 3, -1], nwb=6).projections["s_h"]
    assert projection_format(mixed, t).weight_bits == 6
    assert projection_format(mixed, tgt(neurons=256)).index_bits == 8


REWARD = {"modulator": "m", "tau_e": 16, "a_plus": 1, "a_minus": 1}


@pytest.mark.parametrize("rule, params, tag_bits", [
    ("stdp", {"a_plus": 1, "a_minus": 1}, 0),  # traces and weights only
    ("hebbian", {"learning_rate": 1}, 0),
    ("reward_stdp", REWARD, 9),  # eligibility in tag t
    ("loihi", {"dw": "2^-2*y0*x1", "dt": "x0 - x0*t", "x1_tau": 4}, 9),
    ("loihi", {"dw": "2^-2*y0*t"}, 9),  # reading t needs it stored too
    ("loihi", {"dw": "y0*x1", "dd": "x0", "x1_tau": 4}, 8),  # Lava's unsigned 8-bit tag_2
    ("loihi", {"dw": "y0*d", "dt": "y0"}, 17),
])
def test_plastic_synapses_store_their_learning_tags(rule, params, tag_bits):
    from compiler.ir import Plasticity

    net = fan(100)
    pr = net.projections["s_h"]
    pr.plasticity = Plasticity(rule, dict(params))
    fmt = projection_format(pr, tgt())
    assert fmt.tag_bits == tag_bits and fmt.bits == 8 + 0 + 10 + tag_bits
    # by hand for reward_stdp: b = 8 + 9 + 10 = 27; 10 + 64 * 27 = 1738 -> 28 words = 1792;
    # 10 + 36 * 27 = 982 -> 16 words = 1024 (a static synapse list: 1216 + 704)
    u = core_usage(net, {"h": np.zeros(100, np.int32)}, 1, tgt())
    assert u.synapse_bits.tolist() == [int(synapse_list_bits(100, 18 + tag_bits))]
    if tag_bits == 9:
        assert u.synapse_bits.tolist() == [1792 + 1024]


def test_tag_bits_can_force_a_split():
    from compiler.ir import Plasticity
    from compiler.passes.partition import partition

    # 100 synapses: static 1920 bits fit a 2048-bit core; with a 9-bit tag 2816 do not,
    # so the 100 neurons split over 2 cores (greedy: equal blocks of 50, each one list of
    # 10 + 50 * 27 = 1360 bits -> 22 words = 1408)
    t = tgt(synapse_bits=2048)
    net = fan(100)
    assert partition(net, t, method="greedy").n_cores == 1
    net.projections["s_h"].plasticity = Plasticity("reward_stdp", dict(REWARD))
    p = partition(net, t, method="greedy")
    assert p.n_cores == 2 and check_assignment(net, p.core_of, 2, t) == []
    assert p.usage.synapse_bits.tolist() == [1408, 1408]


def test_synapse_list_bits_vectorized_matches_loop():
    def ref(n, b):
        total = 0
        for i in range(0, n, 64):
            k = min(64, n - i)
            total += math.ceil((10 + k * b) / 64) * 64
        return total

    ns = np.arange(0, 300)
    for b in (9, 18, 24):
        assert synapse_list_bits(ns, b).tolist() == [ref(int(n), b) for n in ns]


def test_lists_split_by_core_pay_headers_twice():
    # 100 synapses of one axon on two cores (50 + 50): 10 + 50 * 18 = 910 -> 15 words each
    core = (np.arange(100) >= 50).astype(np.int32)
    u = core_usage(fan(100), {"h": core}, 2, tgt())
    assert u.synapse_bits.tolist() == [960, 960]
    assert u.in_axons.tolist() == [1, 1]


# ----------------------------------------------------------------------------- axons

def small_net() -> NetworkIR:
    """Hand-drawn net: source S (2), lif A (4), lif B (3)."""
    return net_of(
        [src("S", 2, rate=0.5), lif("A", 4), lif("B", 3)],
        [proj("S_A", "S", "A", [0, 0, 1], [0, 1, 3]),
         proj("A_B", "A", "B", [0, 0, 1, 3], [0, 1, 2, 2]),
         proj("A_A", "A", "A", [2], [0])])


SMALL_CORES = {"A": np.array([0, 0, 1, 1], np.int32), "B": np.array([2, 2, 0], np.int32)}


def test_axon_counts_on_hand_drawn_net():
    u = core_usage(small_net(), SMALL_CORES, 3, tgt())
    # core 0 holds A0, A1, B2: inputs from S0 (->A0, A1), A2 (->A0), A1, A3 (->B2)
    # core 1 holds A2, A3: input from S1; core 2 holds B0, B1: input from A0
    assert u.in_axons.tolist() == [4, 1, 1]
    # out: A0 -> {core 2}, A1 -> {core 0}, A2 -> {core 0}, A3 -> {core 0}
    assert u.out_axons.tolist() == [2, 2, 0]
    assert u.synapses.tolist() == [5, 1, 2]
    assert u.neurons.tolist() == [3, 2, 2]
    # 4 lif senders, 4 messages, one of them (A1 -> B2) local
    assert u.packets_per_spike == 1.0
    assert u.intercore_packets_per_spike == 0.75
    # source messages per step: S0 reaches 1 core, S1 1 core, rate 0.5 each
    assert u.source_messages_per_step == pytest.approx(1.0)
    st = traffic_stats(small_net(), SMALL_CORES, u)
    # lif->lif cut: A0->B0, A0->B1, A3->B2, A2->A0 (A1->B2 stays on core 0)
    assert st["synapses_cut"] == 4 and st["source_synapses"] == 3
    tr = core_traffic(small_net(), SMALL_CORES, 3).toarray()
    assert tr.tolist() == [[1, 0, 1], [2, 0, 0], [0, 0, 0]]


def test_incoming_usage_counts_one_side_of_chosen_projections():
    net, t = small_net(), tgt()
    full = core_usage(net, SMALL_CORES, 3, t)
    u = incoming_usage(net, SMALL_CORES, 3, t, list(net.projections.values()))
    assert (u.neurons.tolist(), u.synapses.tolist(), u.in_axons.tolist(),
            u.synapse_bits.tolist()) == (full.neurons.tolist(), full.synapses.tolist(),
                                         full.in_axons.tolist(), full.synapse_bits.tolist())
    assert u.out_axons.tolist() == [0, 0, 0] and u.lif_senders == 0 and u.traffic is None
    # only A_B: B's cores 2, 2, 0 get A0 (core 2: 2 synapses), A1 and A3 (core 0: one list
    # each of 1 synapse: 8 + 10 = 18 bits + 10 header -> 1 word each)
    ab = incoming_usage(net, SMALL_CORES, 3, t, [net.projections["A_B"]])
    assert ab.synapses.tolist() == [2, 0, 2] and ab.in_axons.tolist() == [2, 0, 1]
    assert ab.synapse_bits.tolist() == [128, 0, 64]
    # bits_of: the encoding decided elsewhere (a subset of a projection's synapses)
    wide = incoming_usage(net, SMALL_CORES, 3, t, [net.projections["A_B"]], {"A_B": 40})
    assert wide.synapse_bits.tolist() == [128, 0, 128]  # 10 + 2 * 40 = 90 -> 2 words


def test_over_limits_names_core_limit_value_cap():
    u = core_usage(small_net(), SMALL_CORES, 3, tgt())
    t = tgt(neurons=2, in_axons=3, out_axons=4)
    assert u.over_limits(t) == [(0, "in_axons", 4, 3), (0, "neurons", 3, 2)]


def brute_usage(net: NetworkIR, core_of, n_cores, target):
    """Reference usage by explicit per-core sets and per-list block loops."""
    inputs = [set() for _ in range(n_cores)]
    dests = {}
    lists = {}
    syn = [0] * n_cores
    for pr in net.projections.values():
        b = projection_format(pr, target).bits
        for i, j in zip(pr.pre_idx.tolist(), pr.post_idx.tolist(), strict=True):
            c = int(core_of[pr.post][j])
            inputs[c].add((pr.pre, i))
            syn[c] += 1
            lists[(pr.name, i, c)] = (lists.get((pr.name, i, c), (0, b))[0] + 1, b)
            if not net.populations[pr.pre].is_source:
                dests.setdefault((pr.pre, i), set()).add(c)
    bits = [0] * n_cores
    for (_, _, c), (n, b) in lists.items():
        for k in range(0, n, 64):
            bits[c] += math.ceil((10 + min(64, n - k) * b) / 64) * 64
    out = [0] * n_cores
    for (pop, i), cs in dests.items():
        out[int(core_of[pop][i])] += len(cs)
    neurons = [0] * n_cores
    for arr in core_of.values():
        for c in arr.tolist():
            neurons[c] += 1
    return neurons, bits, [len(s) for s in inputs], out, syn


@pytest.mark.parametrize("seed", range(6))
def test_core_usage_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    pops = [src("s", 7), lif("a", 30), lif("b", 12)]
    projs = []
    for k, (pre, post, npre, npost) in enumerate([("s", "a", 7, 30), ("a", "a", 30, 30),
                                                  ("a", "b", 30, 12), ("b", "a", 12, 30),
                                                  ("s", "b", 7, 12)]):
        m = int(rng.integers(1, 150))
        projs.append(proj(f"p{k}", pre, post, rng.integers(0, npre, m), rng.integers(0, npost, m),
                          weight=rng.integers(-50, 50, m), delay=rng.integers(0, 1 + 9 * (k % 2), m),
                          nwb=int(rng.integers(1, 9))))
    net = net_of(pops, projs)
    n_cores = 5
    core_of = {"a": rng.integers(0, n_cores, 30).astype(np.int32),
               "b": rng.integers(0, n_cores, 12).astype(np.int32)}
    t = tgt()
    u = core_usage(net, core_of, n_cores, t)
    neurons, bits, ins, outs, syn = brute_usage(net, core_of, n_cores, t)
    assert u.neurons.tolist() == neurons
    assert u.synapse_bits.tolist() == bits
    assert u.in_axons.tolist() == ins
    assert u.out_axons.tolist() == outs
    assert u.synapses.tolist() == syn
    # traffic: (src core, dst core) -> lif neurons on src with >= 1 target on dst, by sets
    senders: dict[tuple[int, int], set] = {}
    for pr in net.projections.values():
        if net.populations[pr.pre].is_source:
            continue
        for i, j in zip(pr.pre_idx.tolist(), pr.post_idx.tolist(), strict=True):
            key = (int(core_of[pr.pre][i]), int(core_of[pr.post][j]))
            senders.setdefault(key, set()).add((pr.pre, i))
    want = np.zeros((n_cores, n_cores), np.int64)
    for (a, b), who in senders.items():
        want[a, b] = len(who)
    assert core_traffic(net, core_of, n_cores).toarray().tolist() == want.tolist()
    projs_lif = [pr for pr in net.projections.values() if not net.populations[pr.pre].is_source]
    assert core_traffic_wide(net, core_of, n_cores, projs_lif).toarray().tolist() == \
        want.tolist()
    assert want.sum() == u.out_axons.sum()  # every message counted once


# ----------------------------------------------------------------------------- bounds, checker

def test_lower_bound_per_limit():
    net = fan(100)  # one list of 100 synapses: 1920 bits at least
    lb = lower_bound(net, tgt(neurons=30, synapse_bits=1000, in_axons=1, out_axons=1))
    assert lb["neurons"] == 4  # ceil(100 / 30)
    assert lb["synapse_bits"] == 2  # ceil(1920 / 1000)
    assert lb["in_axons"] == 4  # the source reaches >= ceil(100 / 30) cores: an axon on each
    assert lb["out_axons"] == 0  # sources need no output axons
    assert lb["cores"] == 4 and lb["binding"] == "neurons"
    lb = lower_bound(small_net(), tgt(in_axons=2, out_axons=3))
    # (S,A): S0, S1; (A,B): A0, A1, A3; (A,A): A2 -> 6 pairs / 2; senders A0..A3 -> 4 / 3
    assert lb["in_axons"] == 3 and lb["out_axons"] == 2


def test_check_assignment_finds_problems():
    net = small_net()
    assert check_assignment(net, SMALL_CORES, 3, tgt()) == []
    probs = check_assignment(net, {"A": SMALL_CORES["A"]}, 3, tgt())
    assert "population 'B' has no core assignment" in probs[0].message
    bad = {"A": np.array([0, 0, 1, 5], np.int32), "B": SMALL_CORES["B"]}
    assert "neuron 3: core 5 outside 0..2" in check_assignment(net, bad, 3, tgt())[0].message
    short = {"A": np.array([0, 0, 1], np.int32), "B": SMALL_CORES["B"]}
    assert "for 4 neurons" in check_assignment(net, short, 3, tgt())[0].message
    over = check_assignment(net, SMALL_CORES, 3, tgt(in_axons=3))
    assert [d.message for d in over] == ["core 0: in_axons 4 > 3"]
    src_assigned = dict(SMALL_CORES, S=np.zeros(2, np.int32))
    assert "'S' is not a lif population" in check_assignment(net, src_assigned, 3, tgt())[0].message


# ----------------------------------------------------------------------------- fit errors

def test_fit_error_fan_in():
    net = net_of([src("s", 5), lif("h", 2)],
                 [proj("s_h", "s", "h", [0, 1, 2, 3, 4, 0], [1, 1, 1, 1, 1, 0])])
    net.locations = {}
    with pytest.raises(FitError) as e:
        check_fit(net, tgt(in_axons=4))
    msg = str(e.value)
    assert "population 'h' neuron 1" in msg and "fan-in" in msg
    assert "is 5" in msg and "in_axons limit 4" in msg
    assert "projections.s_h" in msg and "reduce the fan-in" in msg


def test_fit_error_synapse_bits_of_one_neuron():
    # neuron 0 has 3 single-synapse lists: 3 * ceil((10 + 18) / 64) * 64 = 192 bits
    net = net_of([src("s", 3), lif("h", 2)], [proj("s_h", "s", "h", [0, 1, 2], [0, 0, 0])])
    check_fit(net, tgt(synapse_bits=192))
    with pytest.raises(FitError) as e:
        check_fit(net, tgt(synapse_bits=191))
    msg = str(e.value)
    assert "population 'h' neuron 0" in msg and "synapse_bits limit 191" in msg
    assert "is 192" in msg and "fewer weight bits" in msg


def test_fit_error_fan_out():
    # a neuron with 5 targets needs >= ceil(5 / 2) = 3 destination cores, only 2 allowed
    net = net_of([lif("a", 1), lif("b", 5)], [proj("a_b", "a", "b", [0] * 5, range(5))])
    check_fit(net, tgt(neurons=3, out_axons=2))
    with pytest.raises(FitError) as e:
        check_fit(net, tgt(neurons=2, out_axons=2))
    msg = str(e.value)
    assert "population 'a' neuron 0" in msg and "out_axons limit 2" in msg and "is 3" in msg


def test_fit_error_too_many_cores_names_count_and_chips():
    net = net_of([lif("a", 10)], [])
    with pytest.raises(FitError) as e:
        check_fit(net, tgt(neurons=2, chips=1, cores_per_chip=4))
    msg = str(e.value)
    assert "needs at least 5 cores (binding limit: neurons)" in msg
    assert "1 chip(s) x 4 cores = 4" in msg and "chips: 2" in msg
    assert e.value.exit_code == 2


@pytest.mark.parametrize("seed", range(4))
def test_usage_with_traffic_matches_brute_force(seed):
    # one projection per lif population (a->b, b->a) + two from a source: traffic comes
    # from the usage sort and must equal the set-based count; usage is unchanged by it
    rng = np.random.default_rng(100 + seed)
    pops = [src("s", 7), lif("a", 30), lif("b", 12)]
    projs = []
    for k, (pre, post, npre, npost) in enumerate([("s", "a", 7, 30), ("a", "b", 30, 12),
                                                  ("b", "a", 12, 30), ("s", "b", 7, 12)]):
        m = int(rng.integers(1, 150))
        projs.append(proj(f"p{k}", pre, post, rng.integers(0, npre, m), rng.integers(0, npost, m),
                          delay=rng.integers(0, 5, m), nwb=int(rng.integers(1, 9))))
    net = net_of(pops, projs)
    n_cores = 4
    core_of = {"a": rng.integers(0, n_cores, 30).astype(np.int32),
               "b": rng.integers(0, n_cores, 12).astype(np.int32)}
    t = tgt()
    u = usage_with_destinations(net, core_of, n_cores, t)
    neurons, bits, ins, outs, syn = brute_usage(net, core_of, n_cores, t)
    assert (u.neurons.tolist(), u.synapse_bits.tolist(), u.in_axons.tolist(),
            u.out_axons.tolist(), u.synapses.tolist()) == (neurons, bits, ins, outs, syn)
    want = np.zeros((n_cores, n_cores), np.int64)
    dests: dict[tuple[str, int], set] = {}
    for pr in net.projections.values():
        if net.populations[pr.pre].is_source:
            continue
        for i, j in zip(pr.pre_idx.tolist(), pr.post_idx.tolist(), strict=True):
            dests.setdefault((pr.pre, i), set()).add(int(core_of[pr.post][j]))
    for (pop, i), cs in dests.items():
        for c in cs:
            want[int(core_of[pop][i]), c] += 1
    assert u.traffic.messages.toarray().tolist() == want.tolist()
    assert u.lif_senders == len(dests)
    for pop, size in (("a", 30), ("b", 12)):
        assert u.destinations[pop].tolist() == [len(dests.get((pop, i), ())) for i in range(size)]
    plain = core_usage(net, core_of, n_cores, t)
    assert plain.traffic is None and plain.destinations is None
    assert plain.lif_senders == u.lif_senders
    assert plain.local_messages == u.local_messages == int(np.trace(want))
    # a lif population sending through two projections: no traffic (pairs need a union)
    net2 = net_of(pops, projs + [proj("p9", "a", "a", [0, 1], [2, 3])])
    assert usage_with_traffic(net2, core_of, n_cores, t).traffic is None
