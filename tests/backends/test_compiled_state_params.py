"""The compiled engine's LIF parameters as one value (uniform) or a row per neuron, with
adaptive thresholds and winner-take-all, and populations split over threads: the same
results as the numpy engine (fixed: bit for bit; float: the same spikes)."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from netfactory import dense_proj, lif, network, program, proj, source

from backends.cpu import CompiledSimulator, Simulator
from compiler.ir import Adapt

STEPS = 40
THREADS = sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)})


def row_net(precision: str, adapt: Adapt | None, wta: bool, seed: int = 0):
    """Source -> a (recurrent), every LIF parameter of `a` different per neuron."""
    rng = np.random.default_rng(seed)
    ns, na = 20, 37
    fixed = precision == "fixed"
    if fixed:
        pa = dict(du=rng.integers(0, 4096, na), dv=rng.integers(0, 900, na),
                  vth=rng.integers(8, 20, na), bias_mant=rng.integers(-10, 40, na), bias_exp=1)
    else:
        pa = dict(du=rng.uniform(0.0, 1.0, na), dv=rng.uniform(0.0, 0.3, na),
                  vth=rng.uniform(2.0, 4.0, na), bias_mant=rng.uniform(-0.2, 0.6, na))
    w_in = np.where(rng.random((na, ns)) < 0.5, rng.integers(-60, 200, (na, ns)), 0)
    w_rec = np.where(rng.random((na, na)) < 0.3, rng.integers(-150, 100, (na, na)), 0)
    if not fixed:
        w_in, w_rec = w_in / 7.0, w_rec / 7.0
    pops = [source("s", ns, data=rng.random((STEPS, ns)) < 0.2),
            lif("a", na, adapt=adapt, wta=wta, **pa)]
    projs = [dense_proj("sa", "s", "a", w_in, rng.integers(0, 4, (na, ns)), fixed=fixed),
             dense_proj("aa", "a", "a", w_rec, weight_exp=1 if fixed else 0, fixed=fixed)]
    return program(network(pops, projs, precision=precision, probes=["a.v", "a.u"],
                           steps=STEPS))


def compare(prog, layouts, exact: bool):
    ref = Simulator(prog)
    refs = [ref.run(STEPS // 2), ref.run(STEPS - STEPS // 2)]
    s = np.concatenate([r.spikes["a"] for r in refs])
    assert s.any() and not s.all()  # not a vacuous comparison
    for threads, blocks in layouts:
        sim = CompiledSimulator(prog, threads=threads, blocks=blocks)
        for r, o in zip(refs, [sim.run(STEPS // 2), sim.run(STEPS - STEPS // 2)], strict=True):
            for k in r.spikes:
                np.testing.assert_array_equal(r.spikes[k], o.spikes[k], err_msg=k)
            for k in r.values:
                if exact:
                    np.testing.assert_array_equal(r.values[k], o.values[k], err_msg=k)
                else:
                    np.testing.assert_allclose(r.values[k], o.values[k], rtol=1e-12, atol=1e-12)
    return sim


@pytest.mark.parametrize("precision", ["fixed", "float"])
@pytest.mark.parametrize("adapt, wta", [(None, False), (Adapt(increment=2.0, tau=9.0), False),
                                        (None, True), (Adapt(increment=1.0, tau=5.0), True)])
def test_per_neuron_parameters_equal_numpy_engine(precision, adapt, wta):
    layouts = [(t, b) for t in THREADS for b in (None, 3)]
    sim = compare(row_net(precision, adapt, wta), layouts, exact=precision == "fixed")
    cu, cv, thr, bias, _ = sim.kparams["a"]
    assert all(isinstance(x, np.ndarray) and x.shape == (37,) for x in (cu, cv, thr, bias))
    assert bias.dtype == (np.int32 if precision == "fixed" else np.float64)


def test_uniform_parameters_are_single_values():
    prog = row_net("fixed", None, False)
    lif_a = prog.network.populations["a"].lif
    lif_a.du, lif_a.dv, lif_a.vth, lif_a.bias_mant = 100, 7, 12, 5
    sim = compare(prog, [(THREADS[-1], 3)], exact=True)
    cu, cv, thr, bias, _ = sim.kparams["a"]
    assert (cu, cv, thr, bias) == ((4095 - 100) / 4096, (4096 - 7) / 4096, 12 * 64, 5 * 2)


@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_large_population_on_one_and_two_threads(precision):
    """70,000 neurons: one block on one thread (32-bit post indices), two blocks of 35,000
    on two threads (16-bit post indices); both equal the numpy engine."""
    rng = np.random.default_rng(1)
    n, ns, fan = 70_000, 500, 8
    fixed = precision == "fixed"
    pre = np.concatenate([np.repeat(np.arange(ns), 40), np.repeat(np.arange(n), fan)])
    post = rng.integers(0, n, pre.size)
    w = rng.integers(-40, 60, pre.size)
    delay = rng.integers(0, 3, pre.size)
    nin = ns * 40
    params = dict(du=300, dv=100, vth=20, bias_mant=rng.integers(0, 12, n), bias_exp=1) \
        if fixed else dict(du=0.1, dv=0.05, vth=3.0, bias_mant=rng.uniform(0.0, 0.2, n))
    scale = 1 if fixed else 1 / 16
    pops = [source("s", ns, data=rng.random((STEPS, ns)) < 0.1), lif("a", n, **params)]
    projs = [proj("sa", "s", "a", pre[:nin], post[:nin], w[:nin] * scale, delay[:nin],
                  fixed=fixed),
             proj("aa", "a", "a", pre[nin:], post[nin:], w[nin:] * scale, 0, fixed=fixed)]
    prog = program(network(pops, projs, precision=precision, probes=["a.v"], steps=STEPS))
    for threads in THREADS:
        sim = compare(prog, [(threads, None)], exact=fixed)
        nblk = len(sim.bounds["a"]) - 1
        assert nblk == threads
        assert sim.packed["aa"].csr.post.dtype == (np.uint16 if nblk == 2 else np.uint32)
