"""Partitioners: hand-computed splits per limit, validity on random nets, auto vs sequential."""

from __future__ import annotations

import numpy as np
import pytest
from test_resources import fan, lif, net_of, proj, src, tgt

from compiler.errors import FitError, InputError
from compiler.passes.partition import METHODS, partition
from compiler.passes.partition import PROMISING_CUT_RATIO as PROMISING
from compiler.passes.resources import check_assignment, core_traffic
from compiler.passes.resources import check_fit as check_resources

ALL = ("sequential", "greedy", "graph", "tile", "auto")


def assert_valid(net, p, target):
    assert check_assignment(net, p.core_of, p.n_cores, target) == []
    used = np.unique(np.concatenate([a for a in p.core_of.values()] or [np.zeros(0, int)]))
    assert used.tolist() == list(range(p.n_cores))  # no empty core ids
    assert p.usage.neurons.sum() == sum(q.size for q in net.neuron_populations)


# ----------------------------------------------------------------------------- one limit each

def test_split_by_neurons():
    net = net_of([lif("a", 10)], [])
    t = tgt(neurons=4)
    for m in ("sequential", "greedy"):
        p = partition(net, t, m)
        assert p.n_cores == 3  # ceil(10 / 4)
        assert_valid(net, p, t)
    assert partition(net, t, "sequential").core_of["a"].tolist() == [0] * 4 + [1] * 4 + [2] * 2
    # greedy: 3 equal blocks of 4, 3, 3 (nengo-loihi split_blocks style)
    assert np.bincount(partition(net, t, "greedy").core_of["a"]).tolist() == [4, 3, 3]
    assert partition(net, t, "auto").n_cores == 3


def test_split_by_synapse_bits():
    # one source axon onto 20 neurons, b = 18: n synapses of the axon on a core cost
    # ceil((10 + 18 n) / 64) * 64 bits; cap 128 allows n <= 6 (118 bits; 7 -> 136 -> 192)
    net = fan(20)
    t = tgt(synapse_bits=128)
    seq = partition(net, t, "sequential")
    assert np.bincount(seq.core_of["h"]).tolist() == [6, 6, 6, 2]
    assert seq.usage.synapse_bits.tolist() == [128, 128, 128, 64]
    # greedy: 3 blocks of 7 do not fit, 4 blocks of 5 do
    gr = partition(net, t, "greedy")
    assert np.bincount(gr.core_of["h"]).tolist() == [5, 5, 5, 5]
    for p in (seq, gr, partition(net, t, "graph"), partition(net, t, "auto")):
        assert_valid(net, p, t)
        assert p.n_cores >= 4  # lower bound: ceil(20 / 6)


def test_split_by_in_axons():
    # S_i -> H_i one to one: every neuron brings its own input axon; cap 3 per core
    net = net_of([src("s", 7), lif("h", 7)], [proj("s_h", "s", "h", range(7), range(7))])
    t = tgt(in_axons=3)
    assert np.bincount(partition(net, t, "sequential").core_of["h"]).tolist() == [3, 3, 1]
    assert np.bincount(partition(net, t, "greedy").core_of["h"]).tolist() == [3, 2, 2]
    for m in ALL:
        p = partition(net, t, m)
        assert p.n_cores == 3
        assert_valid(net, p, t)


def test_split_by_out_axons():
    # A (4) -> B (4) all to all; 2 neurons per core, so B takes 2 cores and every A neuron
    # sends to 2 cores; out_axons cap 2 leaves one A neuron per core: 4 + 2 = 6 cores
    pre = np.repeat(np.arange(4), 4)
    post = np.tile(np.arange(4), 4)
    net = net_of([lif("a", 4), lif("b", 4)], [proj("a_b", "a", "b", pre, post)])
    t = tgt(neurons=2, out_axons=2)
    for m in ("sequential", "greedy", "auto"):
        p = partition(net, t, m)
        assert p.n_cores == 6, m
        assert_valid(net, p, t)
        assert p.usage.out_axons.max() == 2
    p = partition(net, t, "graph")
    assert_valid(net, p, t)
    if p.method != "graph":  # METIS spread b over 3 cores: falls back, and says so
        assert p.method == "graph->sequential" and "out_axons" in p.stats["fallback"]


# ----------------------------------------------------------------------------- validity

def random_net(seed, n=300, m=3000):
    rng = np.random.default_rng(seed)
    pops = [src("in", 40), lif("a", n), lif("b", n // 3)]
    projs = [proj("in_a", "in", "a", rng.integers(0, 40, m // 3), rng.integers(0, n, m // 3)),
             proj("a_a", "a", "a", rng.integers(0, n, m), rng.integers(0, n, m),
                  weight=rng.integers(-9, 9, m), delay=rng.integers(0, 8, m)),
             proj("a_b", "a", "b", rng.integers(0, n, m), rng.integers(0, n // 3, m), nwb=4)]
    return net_of(pops, projs)


def layered_net(seed, width=200, fan_in=20):
    rng = np.random.default_rng(seed)
    pops = [src("in", width)] + [lif(f"l{i}", width) for i in range(3)]
    projs = []
    for i in range(3):
        post = np.repeat(np.arange(width), fan_in)
        projs.append(proj(f"p{i}", pops[i].name, pops[i + 1].name,
                          rng.integers(0, width, post.size), post))
    return net_of(pops, projs)


def sheet_net(side=40, radius=2, shuffle_seed=None):
    """Locally connected torus sheet (neighbours within `radius`, Chebyshev)."""
    n = side * side
    r = np.arange(-radius, radius + 1)
    dx, dy = [a.ravel() for a in np.meshgrid(r, r)]
    keep = (dx != 0) | (dy != 0)
    dx, dy = dx[keep], dy[keep]
    post = np.repeat(np.arange(n), dx.size)
    x, y = post % side, post // side
    pre = (x + np.tile(dx, n)) % side + ((y + np.tile(dy, n)) % side) * side
    if shuffle_seed is not None:
        perm = np.random.default_rng(shuffle_seed).permutation(n)
        pre, post = perm[pre], perm[post]
    return net_of([lif("s", n)], [proj("s_s", "s", "s", pre, post)])


SMALL = tgt(neurons=64, in_axons=200, out_axons=200, synapse_bits=64 * 1024)
# the same cores, 2 chips: room for the 140 cores sequential fill takes on a shuffled sheet
# (a method over the target's cores is followed by auto's race)
SMALL2 = tgt(neurons=64, in_axons=200, out_axons=200, synapse_bits=64 * 1024, chips=2)


@pytest.mark.parametrize("make", [lambda: random_net(1), lambda: random_net(2, 500, 8000),
                                  lambda: layered_net(3), lambda: sheet_net(),
                                  lambda: sheet_net(shuffle_seed=5)])
def test_every_partitioner_is_valid_and_auto_not_worse(make):
    net = make()
    res = {}
    for m in ALL:
        p = partition(net, SMALL, m)
        assert_valid(net, p, SMALL)
        assert p.n_cores >= p.stats["lower_bound"]["cores"]
        res[m] = p
    assert res["auto"].n_cores <= res["sequential"].n_cores
    assert res["auto"].method.startswith("auto:")
    cands = res["auto"].stats["candidates"]
    if "cores" in cands["sequential"]:
        assert cands["sequential"]["cores"] == res["sequential"].n_cores
    else:  # abandoned once it needed more cores than the graph result
        assert "abandoned" in cands["sequential"]
        if res["sequential"].method.startswith("sequential->"):  # over the target's cores
            assert "cores >" in res["sequential"].stats["fallback"]
            assert res["sequential"].n_cores <= SMALL.total_cores
        else:
            assert res["auto"].n_cores < res["sequential"].n_cores


def test_graph_beats_sequential_on_shuffled_sheet():
    net = sheet_net(side=40, radius=2, shuffle_seed=11)
    seq = partition(net, SMALL2, "sequential")
    gr = partition(net, SMALL2, "graph")
    # each neuron has 24 neighbours; in shuffled id order they are spread over most cores
    assert seq.stats["packets_per_spike"] > 10
    assert gr.stats["packets_per_spike"] < seq.stats["packets_per_spike"] / 3
    assert gr.n_cores <= seq.n_cores
    assert gr.stats["synapses_cut"] < seq.stats["synapses_cut"]
    auto = partition(net, SMALL2, "auto")
    assert auto.method == "auto:graph"


def test_stats_and_method_names():
    net = sheet_net(side=20, radius=1)
    p = partition(net, SMALL, "sequential")
    assert p.method == "sequential"
    for k in ("lower_bound", "synapses_cut", "packets_per_spike", "time_s"):
        assert k in p.stats
    # packets per spike = out_axons / senders, every neuron has targets here
    assert p.stats["packets_per_spike"] == pytest.approx(p.usage.out_axons.sum() / 400)
    assert set(METHODS) == {"auto", "sequential", "greedy", "graph", "tile"}


def test_unknown_method_and_fit_errors():
    net = net_of([lif("a", 10)], [])
    with pytest.raises(InputError) as e:
        partition(net, tgt(), "metis")
    assert "unknown partitioner 'metis'" in str(e.value) and "sequential" in str(e.value)
    with pytest.raises(FitError) as e:
        partition(net, tgt(neurons=2, chips=1, cores_per_chip=4), "sequential")
    assert "5 cores" in str(e.value) and "chips: 2" in str(e.value)
    big = net_of([src("s", 5), lif("h", 1)], [proj("s_h", "s", "h", range(5), [0] * 5)])
    with pytest.raises(FitError) as e:
        partition(big, tgt(in_axons=4))
    assert "population 'h' neuron 0" in str(e.value)


def test_empty_network():
    p = partition(net_of([src("s", 3)], []), tgt())
    assert p.n_cores == 0 and p.core_of == {}


# ----------------------------------------------------------------------------- auto policy

def random_lif_net(n=2000, fan_in=12, seed=4):
    """One lif population, each neuron with `fan_in` uniformly random inputs (no locality)."""
    rng = np.random.default_rng(seed)
    post = np.repeat(np.arange(n), fan_in)
    return net_of([lif("a", n)], [proj("a_a", "a", "a", rng.integers(0, n, post.size), post)])


def _probe(net, target=SMALL):
    from compiler.passes.partition import Context, locality_probe
    from compiler.passes.resources import check_fit

    lb = check_fit(net, target)
    return locality_probe(Context(net, target, lb), max(lb["cores"], 8))


def test_locality_probe_separates_local_from_random_nets():
    g, q = _probe(sheet_net(side=60, radius=2, shuffle_seed=3))
    # shuffled sheet: id blocks cut almost every edge, METIS parts of a sheet few
    assert q > 0.9 and g < 0.5 * q
    g, q = _probe(sheet_net(side=60, radius=2))  # row-major ids: blocks are strips
    assert g < 0.5 * q
    g, q = _probe(random_lif_net())
    assert q > 0.9 and g > 0.5 * q  # no locality for METIS to find either


def test_auto_runs_promising_graph_over_budget(monkeypatch):
    import compiler.passes.partition.auto as P

    # pretend graph would take 2 budgets: the probe decides whether it runs anyway
    monkeypatch.setattr(P, "graph_cost_estimate", lambda net: 2.0)
    shuffled = sheet_net(side=40, radius=2, shuffle_seed=11)
    p = partition(shuffled, SMALL, "auto", time_budget_s=1.0)
    assert p.method == "auto:graph"
    probe = p.stats["candidates"]["graph"]["probe"]
    assert probe["graph_cut"] < PROMISING * probe["sequential_cut"]
    assert p.n_cores <= partition(shuffled, SMALL, "sequential").n_cores
    rnd = random_lif_net()
    p = partition(rnd, SMALL, "auto", time_budget_s=1.0)
    cand = p.stats["candidates"]["graph"]
    assert "skipped" in cand and cand["probe"]["graph_cut"] >= PROMISING * cand["probe"]["sequential_cut"]
    assert p.n_cores <= partition(rnd, SMALL, "sequential").n_cores
    # far over budget (more than PROMISING_BUDGETS budgets): skipped without a probe
    monkeypatch.setattr(P, "graph_cost_estimate", lambda net: 100.0)
    cand = partition(shuffled, SMALL, "auto", time_budget_s=1.0).stats["candidates"]["graph"]
    assert "skipped" in cand and "probe" not in cand


def test_auto_abandons_greedy_once_it_needs_more_cores():
    net = sheet_net(side=40, radius=2, shuffle_seed=11)
    p = partition(net, SMALL2, "auto", time_budget_s=60.0)
    gr = partition(net, SMALL2, "greedy")
    assert gr.n_cores > p.n_cores  # greedy cannot win on the shuffled sheet ...
    assert "abandoned" in p.stats["candidates"]["greedy"]  # ... and auto stops it early


def test_sample_positions_is_a_sorted_bernoulli_sample():
    from compiler.passes.partition.graph import sample_positions

    rng = np.random.default_rng(0)
    pos = sample_positions(rng, 200_000, 0.1)
    assert np.all(np.diff(pos) > 0) and pos[0] >= 0 and pos[-1] < 200_000
    # Binomial(200000, 0.1): mean 20000, sd 134
    assert abs(pos.size - 20_000) < 6 * 134
    # each half of the range gets its share (no drift in the geometric walk)
    assert abs(np.count_nonzero(pos < 100_000) - 10_000) < 6 * 95
    assert sample_positions(rng, 0, 0.5).size == 0


def random_recurrent(n: int, fan_in: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    post = np.repeat(np.arange(n), fan_in)
    pre = rng.integers(0, n, post.size)
    return net_of([lif("a", n)], [proj("a_a", "a", "a", pre, post)])


def test_random_net_sequential_fills_once_with_fanout_bound(monkeypatch):
    # random targets: a neuron's destination cores ~ its synapse count, so sequential
    # fills once with that bound; each core is then a maximal run: the next neuron
    # would push the sent synapses or the distinct presynaptic neurons over 60
    import compiler.passes.partition.sequential as S
    from compiler.passes.partition import Context

    n, cap = 4000, 60
    net = random_recurrent(n, 6)
    t = tgt(in_axons=cap, out_axons=cap)
    ctx = Context(net, t, check_resources(net, t))
    assert S.spread(ctx) >= S.SPREAD_ONE_PASS  # ~67 blocks of 60: 6 targets, ~5.8 blocks
    p = partition(net, t, "sequential")
    assert_valid(net, p, t)
    pr = net.projections["a_a"]
    outdeg = np.bincount(pr.pre_idx, minlength=n)
    core = p.core_of["a"]
    assert (np.diff(core) >= 0).all()  # contiguous runs in id order
    starts = np.flatnonzero(np.diff(core, prepend=-1))
    for s, e in zip(starts[:-1], starts[1:], strict=True):
        pres = np.unique(pr.pre_idx[(pr.post_idx >= s) & (pr.post_idx <= e)])  # + neuron e
        assert outdeg[s:e].sum() <= cap
        assert outdeg[s:e + 1].sum() > cap or pres.size > cap
    # the traffic matrix of this assignment rides along for placement, exact
    assert (p.usage.traffic.messages.toarray() ==
            core_traffic(net, p.core_of, p.n_cores).toarray()).all()
    # the estimate-and-refill path: valid too, and not fewer cores
    monkeypatch.setattr(S, "SPREAD_ONE_PASS", 2.0)
    old = partition(net, t, "sequential")
    assert_valid(net, old, t)
    assert (old.usage.traffic.messages.toarray() ==
            core_traffic(net, old.core_of, old.n_cores).toarray()).all()
    assert p.n_cores <= old.n_cores


def test_spread_tells_random_from_local():
    from compiler.passes.partition import Context
    from compiler.passes.partition.sequential import spread

    t = tgt(in_axons=60, out_axons=60, chips=4)
    rnd = random_recurrent(20000, 6)  # lower bound 334 cores: blocks of 59 neurons
    ctx = Context(rnd, t, check_resources(rnd, t))
    assert spread(ctx) > 0.97  # 6 random targets in 1 of 339 blocks: 5.96 distinct
    # ring: each neuron sends to its 6 right-hand neighbours, all in 1 or 2 id blocks
    n = 1200
    pre = np.repeat(np.arange(n), 6)
    post = (pre + np.tile(np.arange(1, 7), n)) % n
    ring = net_of([lif("a", n)], [proj("a_a", "a", "a", pre, post)])
    ctx = Context(ring, t, check_resources(ring, t))
    assert spread(ctx) < 0.5
