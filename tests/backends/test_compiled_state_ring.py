"""The compiled engine's narrow state: int32 u, v and input ring in fixed precision, the
ring widened to float64 where a proven input bound could reach 2**31, the same results as
the numpy engine either way (every thread count)."""

from __future__ import annotations

import numba
import numpy as np
from netfactory import dense_proj, lif, network, program, source

from backends.cpu import CompiledSimulator, Simulator
from backends.cpu.compiled import ring_dtype

THREADS = sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)})


def fan_in_net(weight: int, n_proj: int = 9, ns: int = 8192, steps: int = 6):
    """n_proj projections of ns sources each onto 2 neurons, weights `weight` << 7: with
    |weight| 255 one neuron's input reaches 9 * 8192 * 32640 > 2**31."""
    data = np.zeros((steps, ns), bool)
    data[[0, 2, 3]] = True
    w = np.full((2, ns), weight)
    w[1, ns // 2:] = 0
    pops = [source("s", ns, data=data), lif("a", 2, du=0, dv=0, vth=100, bias_mant=0)]
    projs = [dense_proj(f"p{i}", "s", "a", w, weight_exp=7) for i in range(n_proj)]
    return program(network(pops, projs, probes=["a.v", "a.u"], steps=steps))


def assert_same(ref, out):
    for k in ref.spikes:
        np.testing.assert_array_equal(ref.spikes[k], out.spikes[k], err_msg=k)
    for k in ref.values:
        np.testing.assert_array_equal(ref.values[k], out.values[k], err_msg=k)


def test_ring_dtype_rule():
    assert ring_dtype(2.0**31 - 1) is np.int32
    assert ring_dtype(2.0**31) is np.float64
    assert ring_dtype(np.inf) is np.float64


def test_fixed_state_is_int32_and_bound_is_sum_of_abs_weights():
    prog = fan_in_net(-3, n_proj=2, ns=100)
    sim = CompiledSimulator(prog, threads=1)
    lif_a = sim.neurons["a"]
    assert lif_a.u.dtype == lif_a.v.dtype == sim.ring["a"].dtype == np.int32
    # neuron 0: 2 projections * 100 synapses * 3 << 7 (neuron 1 has half)
    assert sim.input_bound("a") == 2 * 100 * 3 * 128


def test_overflowing_bound_falls_back_to_float64_and_equals_numpy():
    prog = fan_in_net(-255)
    ref = Simulator(prog).run(6)
    assert np.abs(ref.values["a.u"]).max() > 0  # the input was not all wrapped away
    for threads in THREADS:
        sim = CompiledSimulator(prog, threads=threads)
        assert sim.input_bound("a") >= 2**31 and sim.ring["a"].dtype == np.float64
        assert_same(ref, sim.run(6))


def test_weight_scale_widens_the_ring_and_still_equals_numpy():
    prog = fan_in_net(1)  # bound 9 * 8192 * 128: int32
    ref, sim = Simulator(prog), CompiledSimulator(prog, threads=1)
    assert sim.ring["a"].dtype == np.int32
    assert_same(ref.run(2), sim.run(2))  # input in flight while the ring widens
    for s in (ref, sim):
        for i in range(9):
            s.set_weight_scale(f"p{i}", 255.0)
    assert sim.ring["a"].dtype == np.float64
    assert_same(ref.run(4), sim.run(4))


def test_plastic_input_keeps_a_float64_ring():
    from compiler.ir import Plasticity

    prog = fan_in_net(5, n_proj=1, ns=64)
    prog.network.projections["p0"].plasticity = Plasticity(
        "stdp", {"a_plus": 1, "a_minus": 1, "tau_plus": 4, "tau_minus": 4, "t_epoch": 1}, None)
    sim = CompiledSimulator(prog, threads=1)
    assert sim.input_bound("a") == np.inf and sim.ring["a"].dtype == np.float64
    assert_same(Simulator(prog).run(6), sim.run(6))
