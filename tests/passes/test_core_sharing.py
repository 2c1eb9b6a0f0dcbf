"""Core sharing: slices of several populations on one core, every limit held, results unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from netfactory import lif as lif_params
from test_resources import lif, net_of, proj, src, tgt

import runtime
from compiler.artifact import load_program, save_program
from compiler.errors import FitError
from compiler.passes.partition import partition
from compiler.passes.partition.pack import pack
from compiler.passes.resources import check_assignment, core_usage, lower_bound
from compiler.pipeline import compile_network, resolve_target

METHODS = ("sequential", "greedy", "graph", "auto")


def chain(n_pops: int, size: int, fan_in: int = 20, seed: int = 0):
    """A source feeding a chain of `n_pops` lif populations, `fan_in` random inputs each."""
    rng = np.random.default_rng(seed)
    pops = [src("in", size)] + [lif(f"p{i:03d}", size) for i in range(n_pops)]
    projs = []
    for i in range(n_pops):
        post = np.repeat(np.arange(size), fan_in)
        pre_name = "in" if i == 0 else f"p{i - 1:03d}"
        projs.append(proj(f"x{i}", pre_name, f"p{i:03d}", rng.integers(0, size, post.size), post))
    return net_of(pops, projs)


def pops_per_core(p) -> np.ndarray:
    """Number of populations with neurons on each core."""
    out = np.zeros(p.n_cores, np.int64)
    for arr in p.core_of.values():
        out[np.unique(arr)] += 1
    return out


def assert_exact(net, p, target):
    """Every lif neuron exactly once on a core in 0..n-1, all limits held by a fresh count."""
    assert check_assignment(net, p.core_of, p.n_cores, target) == []
    for q in net.neuron_populations:
        arr = p.core_of[q.name]
        assert arr.shape == (q.size,) and arr.min() >= 0 and arr.max() < p.n_cores
    fresh = core_usage(net, p.core_of, p.n_cores, target)
    assert fresh.neurons.sum() == sum(q.size for q in net.neuron_populations)
    assert fresh.bad_cores(target).size == 0
    for lim in ("neurons", "synapse_bits", "in_axons", "out_axons"):
        assert np.array_equal(getattr(fresh, lim), getattr(p.usage, lim)), lim


# ----------------------------------------------------------------------------- validity

@pytest.mark.parametrize("method", METHODS)
def test_mixed_cores_hold_every_limit(method):
    # 12 populations of 70 neurons, 64 neurons and 300 input axons per core: each
    # population is one full core plus 6 neurons; the remainders share cores
    net = chain(12, 70, fan_in=6, seed=1)
    t = tgt(neurons=64, in_axons=300, out_axons=300, synapse_bits=32 * 1024)
    p = partition(net, t, method)
    assert_exact(net, p, t)
    if method != "greedy":  # greedy's equal halves (35 + 35 > 64) cannot share
        assert pops_per_core(p).max() > 1  # some core holds several populations
    lb = lower_bound(net, t)["cores"]
    assert lb == 14  # ceil(840 / 64)
    assert p.n_cores <= 16 if method != "greedy" else p.n_cores <= 24


def test_input_axons_limit_what_shares_a_core():
    # remainders of 8 neurons, each with 8 distinct inputs: 24 input axons allow 3 per core
    pops = [src("in", 64)] + [lif(f"p{i}", 24) for i in range(6)]
    projs = [proj(f"x{i}", "in", f"p{i}", 8 * i + np.arange(24) % 8 + (np.arange(24) >= 16) * 0,
                  np.arange(24)) for i in range(6)]
    net = net_of(pops, projs)
    t = tgt(neurons=16, in_axons=24, out_axons=64, synapse_bits=64 * 1024)
    for m in METHODS:
        p = partition(net, t, m)
        assert_exact(net, p, t)
        assert p.usage.in_axons.max() <= 24
        assert p.n_cores >= lower_bound(net, t)["cores"]


def test_pack_undoes_a_shared_core_over_a_limit(monkeypatch):
    # force the packer to put everything into one shared core: the exact check must undo it
    import compiler.passes.partition.pack as PK

    net = chain(4, 10, fan_in=4, seed=2)
    t = tgt(neurons=16, in_axons=64, out_axons=64, synapse_bits=64 * 1024)
    from compiler.passes.partition.context import Context
    from compiler.passes.resources import check_fit, usage_with_traffic

    ctx = Context(net, t, check_fit(net, t))
    cg = np.repeat(np.arange(4, dtype=np.int32), 10)
    usage = usage_with_traffic(net, ctx.split(cg), 4, t)
    monkeypatch.setattr(PK, "_first_fit", lambda items, *a: np.zeros(items.size, np.int64))
    out, n, u = pack(ctx, cg.copy(), 4, usage)
    assert n == 4 and u.bad_cores(t).size == 0  # 40 neurons > 16: undone
    assert np.array_equal(out, cg)


# ----------------------------------------------------------------------------- sizes

def test_hundred_populations_of_1035_fit_loihi1_near_the_bound():
    # 1035 neurons: one full Loihi 1 core + 11; LB ceil(103500 / 1024) = 102 <= 128 cores
    net = chain(100, 1035, fan_in=20)
    prog = compile_network(net, "loihi1")
    assert prog.report.lower_bound == 102
    assert len(prog.cores) <= 1.05 * 102
    assert any(len(c.neurons) > 1 for c in prog.cores)


def test_many_small_populations_pack():
    # 60 populations of 40 neurons on loihi1: 2400 neurons, LB 3 cores; no core per population
    net = chain(60, 40, fan_in=10, seed=3)
    t = resolve_target(net, "loihi1")
    for m in METHODS:
        p = partition(net, t, m)
        assert_exact(net, p, t)
        assert p.n_cores <= 4, m


# ----------------------------------------------------------------------------- results

def small_net():
    """Four lif populations of 45 neurons in a loop, driven by a periodic source."""
    rng = np.random.default_rng(4)
    pops = [src("in", 20)] + [lif_params(n, 45, du=1024, dv=256, vth=60) for n in "abcd"]
    k = rng.choice(20 * 45, 200, replace=False)  # distinct (pre, post) pairs, as Lava needs
    projs = [proj("in_a", "in", "a", k // 45, k % 45, weight=40)]
    for i, (x, y) in enumerate(zip("abcd", "bcda", strict=True)):
        k = rng.choice(45 * 45, 300, replace=False)
        projs.append(proj(f"{x}_{y}", x, y, k // 45, k % 45, weight=-30 if y == "a" else 35,
                          delay=i % 3))
    net = net_of(pops, projs)
    net.steps = 80
    return net


def test_spikes_identical_whatever_the_partition(tmp_path):
    net = small_net()
    t = tgt(neurons=32, in_axons=200, out_axons=200, synapse_bits=64 * 1024)
    ref = None
    mixed = False
    for m in METHODS:
        prog = compile_network(net, t, partitioner=m)
        mixed |= any(len(c.neurons) > 1 for c in prog.cores)
        path = tmp_path / f"{m}.snnc"
        save_program(prog, path)
        res = runtime.run(load_program(path), backend="cpu", steps=80)
        spikes = {k: np.asarray(res[k]) for k in ("a.spikes", "b.spikes", "c.spikes",
                                                  "d.spikes")}
        assert sum(int(s.sum()) for s in spikes.values()) > 0
        if ref is None:
            ref = spikes
        for k, s in spikes.items():
            assert np.array_equal(s, ref[k]), (m, k)
    assert mixed  # at least one partition shares cores


# ----------------------------------------------------------------------------- fit errors

def test_fit_error_only_when_no_partition_fits():
    # A (4) -> B (4) all to all, 2 neurons and 2 output axons per core: LB 4 cores, but
    # every partition needs 6 (each A neuron reaches B's 2 cores; one A neuron per core)
    pre = np.repeat(np.arange(4), 4)
    post = np.tile(np.arange(4), 4)
    net = net_of([lif("a", 4), lif("b", 4)], [proj("a_b", "a", "b", pre, post)])
    fits = tgt(neurons=2, out_axons=2, cores_per_chip=6)
    assert compile_network(net, fits, partitioner="sequential").cores
    short = tgt(neurons=2, out_axons=2, cores_per_chip=5)
    with pytest.raises(FitError) as e:
        compile_network(net, short)
    msg = str(e.value)
    assert "needs 6 cores" in msg
    assert "best partition found: auto:" in msg
    assert "lower bound 4 cores, binding limit neurons" in msg


def test_a_method_over_the_target_falls_back_to_one_that_fits():
    # 1035-neuron populations: greedy's equal halves (518 + 517) cannot share a core and
    # need 2 cores per population; sequential fill shares the remainders
    net = chain(8, 1035, fan_in=4, seed=5)
    t = tgt(neurons=1024, cores_per_chip=12)
    p = partition(net, t, "greedy")
    assert p.method.startswith("greedy->auto:")
    assert p.n_cores <= 12 and "greedy needs 16 cores > 12" in p.stats["fallback"]
    assert_exact(net, p, t)


# ----------------------------------------------------------------------------- summary

def test_summary_names_the_bound_limit_and_the_distance():
    from compiler.summary import compile_summary, format_summary

    net = chain(12, 70, fan_in=6, seed=1)
    t = tgt(neurons=64, in_axons=300, out_axons=300, synapse_bits=32 * 1024)
    prog = compile_network(net, t, partitioner="greedy")
    n = len(prog.cores)
    js = compile_summary(prog)
    assert js["lower_bound"] == 14  # the existing keys stay
    assert js["lower_bound_limit"] == "neurons"
    assert js["cores_over_lower_bound"] == round(n / 14, 4)
    assert js["cores_above_lower_bound"] == n - 14
    text = format_summary(prog)
    assert "(lower bound 14)" in text
    assert f"lower bound 14 from neurons (total demand / per-core capacity); cores used " \
           f"{n / 14:.2f}x the bound (+{n - 14})" in text


@pytest.mark.lava
def test_lava_core_granularity_runs_mixed_cores_like_cpu():
    # one Lava process per population slice per core; spikes equal the cpu backend's
    net = small_net()
    t = tgt(neurons=32, in_axons=200, out_axons=200, synapse_bits=64 * 1024)
    prog = compile_network(net, t, partitioner="sequential")
    assert any(len(c.neurons) > 1 for c in prog.cores)
    cpu = runtime.run(prog, backend="cpu", steps=30)
    lava = runtime.run(prog, backend="lava", steps=30, granularity="core", timeout_s=300)
    for k in ("a.spikes", "b.spikes", "c.spikes", "d.spikes"):
        assert np.array_equal(np.asarray(lava[k]), np.asarray(cpu[k])), k


def test_graph_alone_within_ten_percent_of_sequential():
    from test_partition import SMALL, layered_net, random_net

    nets = [(chain(12, 70, fan_in=6, seed=1),
             tgt(neurons=64, in_axons=300, out_axons=300, synapse_bits=32 * 1024)),
            (chain(30, 1035, fan_in=20, seed=6), tgt(neurons=1024)),
            (layered_net(3), SMALL), (random_net(2, 500, 8000), SMALL)]
    for net, t in nets:
        seq = partition(net, t, "sequential")
        gr = partition(net, t, "graph")
        assert_exact(net, gr, t)
        assert gr.n_cores <= 1.1 * seq.n_cores, (gr.method, gr.n_cores, seq.n_cores)
        if gr.method == "graph->sequential":
            assert gr.stats["fill_kept"]["method_cores"] > 1.1 * lower_bound(net, t)["cores"]


def test_profile_counts_each_slice_of_a_shared_core():
    # per-core spikes of the profile = the cpu run's spikes of the neurons placed there
    net = small_net()
    t = tgt(neurons=32, in_axons=200, out_axons=200, synapse_bits=64 * 1024)
    prog = compile_network(net, t, partitioner="sequential")
    shared = [c for c in prog.cores if len(c.neurons) > 1]
    assert shared
    res = runtime.run(prog, backend="cpu", steps=20)
    report = runtime.profile(prog, steps=20)
    for c, static, act in zip(prog.cores, report["static"]["cores"],
                              report["activity"]["per_core"], strict=True):
        assert static["populations"] == {p: len(i) for p, i in c.neurons.items()}
        want = sum(int(np.asarray(res[f"{p}.spikes"])[:, i].sum()) for p, i in c.neurons.items())
        assert act["spikes"] == want and act["neurons"] == c.n_neurons
