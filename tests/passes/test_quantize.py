"""Quantization: Lava weight truncation, exact cases, parameter mapping, error reports, and
float vs fixed simulations agreeing (Lava's LIF and Dense equations, written out here)."""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pytest
from compiler_helpers import proj, two_layer

from compiler.ir import LIFParams, NetworkIR, Population, SpikeSource
from compiler.passes.quantize import (
    lava_effective_weights,
    lossless_weight_bits,
    lost_bits,
    quantize,
    sign_mode,
)
from compiler.sources import source_spikes

# ---------------------------------------------------------------- Lava weight semantics


def test_lava_truncation_by_sign_mode():
    # mixed, 6 bits: drop 8 - 6 + 1 = 3 low bits with an arithmetic shift
    assert lava_effective_weights(np.array([13, -13, 255, -256]), 6).tolist() == [8, -16, 248, -256]
    # excitatory, 8 bits: unchanged; 7 bits: drop 1 bit
    assert lava_effective_weights(np.array([13, 255, 0]), 8).tolist() == [13, 255, 0]
    assert lava_effective_weights(np.array([13, 255, 0]), 7).tolist() == [12, 254, 0]
    # inhibitory, 7 bits: magnitudes truncated toward zero
    assert lava_effective_weights(np.array([-13, -255]), 7).tolist() == [-12, -254]
    # clipping to 8 bits per sign mode
    assert lava_effective_weights(np.array([300, 5]), 8).tolist() == [255, 5]
    assert lava_effective_weights(np.array([300, -300]), 8).tolist() == [254, -256]
    assert sign_mode(np.array([0, 0])) == "excitatory"
    assert sign_mode(np.array([0, -1])) == "inhibitory"


def test_lost_and_lossless_bits():
    assert lost_bits(np.array([13, -13]), 6) == 3  # 13 = 0b1101: bits 0..2 dropped, bit 0 set
    assert lost_bits(np.array([12, -16]), 6) == 1  # 12 = 0b1100: only bit 2 of 0..2 is set
    assert lost_bits(np.array([16, -8]), 6) == 0
    assert lost_bits(np.array([3, 5]), 8) == 0  # excitatory 8 bits drops nothing
    assert lossless_weight_bits(np.array([64, 128, 192])) == 2  # multiples of 2^6
    assert lossless_weight_bits(np.array([64, -128])) == 3  # mixed needs one more bit
    assert lossless_weight_bits(np.array([1, 2])) == 8


def test_fixed_network_passes_through_and_reports_lost_bits():
    net = two_layer("fixed")
    net.projections["hid_out"] = proj("hid_out", "hid", "out", 10, 4,
                                      np.tile([13, -13], 20), num_weight_bits=6)
    with pytest.warns(UserWarning, match="hid_out: lost 3 bits"):
        out, rep = quantize(net)
    assert out is net
    r = rep["projections"]["hid_out"]
    assert (r["lost_bits"], r["changed"], r["sign_mode"]) == (3, 40, "mixed")
    # effective 8 and -16 against 13 and -13: ||(5, 3)|| / ||(13, 13)|| per pair
    assert r["rel_error"] == pytest.approx(np.sqrt(25 + 9) / np.sqrt(2 * 169))
    # mixed 8-bit weights lose their lowest bit in Lava (multiples of 2 are kept)
    w1 = net.projections["inp_hid"].weight
    assert rep["projections"]["inp_hid"]["lost_bits"] == int(np.any(w1 % 2 == 1))
    assert rep["projections"]["inp_hid"]["changed"] == int(np.count_nonzero(w1 % 2))
    assert any("lost 3 bits" in w for w in rep["warnings"])


# ---------------------------------------------------------------- float -> fixed mapping


def float_net(weights: dict[str, np.ndarray], lif: LIFParams, n_in: int = 4, n: int = 3) -> NetworkIR:
    net = NetworkIR("f", precision="float", seed=1)
    net.populations["inp"] = Population("inp", n_in, "spike_source", source=SpikeSource("poisson", rate=0.2))
    net.populations["hid"] = Population("hid", n, "lif", lif=lif)
    for name, w in weights.items():
        pre, size = ("inp", n_in) if name != "rec" else ("hid", n)
        net.projections[name] = proj(name, pre, "hid", size, n, w)
    return net


def test_exactly_representable_network_has_zero_error():
    w = np.array([1.0, 2.0, -3.0, 4.0, 0.5, -0.25] * 2)
    net = float_net({"a": w}, LIFParams(du=1.0, dv=0.0, vth=10.0, bias_mant=0.75))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        q, rep = quantize(net)
    assert q.precision == "fixed" and net.precision == "float"
    k = rep["populations"]["hid"]["scale"]
    assert k == 2.0 ** round(np.log2(k))  # a power of two
    qa = q.projections["a"]
    assert np.array_equal(qa.weight.astype(float) * 2.0**qa.weight_exp, k * w)
    assert rep["projections"]["a"]["rel_error"] == 0.0
    lif = q.populations["hid"].lif
    assert lif.vth == k * 10 and rep["populations"]["hid"]["vth"]["rel_error"] == 0.0
    assert lif.bias_mant * 2**lif.bias_exp == 64 * k * 0.75  # bias joins V = 64 k v
    assert (lif.du, lif.dv) == (4095, 0)  # u factor (4095 - 4095)/4096 = 0 = 1 - du
    assert all(isinstance(v, int) for v in (lif.du, lif.dv, lif.vth, lif.bias_mant, lif.bias_exp))
    # integer-valued mantissas that Lava keeps as they are
    assert np.array_equal(lava_effective_weights(qa.weight, qa.num_weight_bits), qa.weight)
    assert rep["warnings"] == []


def test_decay_mapping_matches_lava_offsets():
    net = float_net({"a": np.ones(12)}, LIFParams(du=0.25, dv=0.125, vth=1.0))
    q, rep = quantize(net)
    lif = q.populations["hid"].lif
    # u *= (4095 - du)/4096 = 0.75  ->  du = 1023;   v *= (4096 - dv)/4096 = 0.875  ->  dv = 512
    assert (lif.du, lif.dv) == (1023, 512)
    assert rep["populations"]["hid"]["du"]["abs_error"] == 0.0
    net = float_net({"a": np.ones(12)}, LIFParams(du=0.0, dv=1.0, vth=1.0))
    q, rep = quantize(net)
    lif = q.populations["hid"].lif
    assert (lif.du, lif.dv) == (0, 4095)  # ends of the 12-bit range: 1/4096 off
    assert rep["populations"]["hid"]["du"]["abs_error"] == pytest.approx(1 / 4096)
    assert rep["populations"]["hid"]["dv"]["abs_error"] == pytest.approx(1 / 4096)


def test_scale_is_shared_by_projections_into_a_population_and_limited_by_headroom():
    w_big = np.full(12, 3.0)
    w_small = np.full(9, -0.5)
    net = float_net({"a": w_big, "rec": w_small}, LIFParams(du=1.0, dv=0.0, vth=2.0))
    q, rep = quantize(net)
    pop = rep["populations"]["hid"]
    k = pop["scale"]
    # bounds: vth 2^16 / 2, weights 254 * 2^7 / 3, u range 2^16 / (4 inputs x 3.0)
    assert pop["scale_bounds"]["u_range"] == pytest.approx(2**16 / 12.0)
    assert k == 2.0 ** np.floor(np.log2(min(2**15, 254 * 128 / 3, 2**16 / 12)))
    for name, w in (("a", w_big), ("rec", w_small)):
        p = q.projections[name]
        assert np.allclose(p.weight * 2.0**p.weight_exp, k * w)
        assert rep["projections"][name]["weight_scale"] == k / 2.0**p.weight_exp


def test_random_weights_error_below_one_percent():
    rng = np.random.default_rng(0)
    w = rng.uniform(-0.3, 1.0, 200 * 3)
    net = float_net({"a": w}, LIFParams(du=0.1, dv=0.05, vth=1.5), n_in=200)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        q, rep = quantize(net)
    r = rep["projections"]["a"]
    assert r["sign_mode"] == "mixed" and r["num_weight_bits"] == 8
    assert 0 < r["rel_error"] < 0.01
    qa = q.projections["a"]
    direct = np.linalg.norm(qa.weight * 2.0**qa.weight_exp / rep["populations"]["hid"]["scale"] - w)
    assert r["rel_error"] == pytest.approx(direct / np.linalg.norm(w))


def test_large_dynamic_range_warns():
    w_tiny = np.full(12, 1e-5)
    w_huge = np.full(9, 500.0)
    net = float_net({"a": w_tiny, "rec": w_huge}, LIFParams(du=1.0, dv=0.0, vth=100.0))
    with pytest.warns(UserWarning, match="a: weights quantized with relative error"):
        q, rep = quantize(net)
    assert rep["projections"]["a"]["zeroed"] == 12
    assert rep["projections"]["a"]["rel_error"] == 1.0
    assert rep["projections"]["rec"]["rel_error"] == 0.0


def test_weight_bits_cap_and_lossless_bits():
    net = float_net({"a": np.tile([1.0, 2.0, 3.0, 4.0], 3)}, LIFParams(du=1.0, vth=4.0))
    q, rep = quantize(net, weight_bits=4)
    p = q.projections["a"]
    assert p.num_weight_bits <= 4
    assert np.array_equal(lava_effective_weights(p.weight, p.num_weight_bits), p.weight)
    assert rep["projections"]["a"]["rel_error"] == 0.0  # 1..4 fit in a few bits


# ---------------------------------------------------------------- simulations agree


def _arrivals(net, steps):
    """Per projection: presynaptic spikes (steps, n_pre) for every population."""
    return {p.name: source_spikes(p, steps, net.seed) for p in net.source_populations}


def simulate(net: NetworkIR, steps: int) -> dict[str, np.ndarray]:
    """Lava's LIF (float or fixed) with Dense synapses (delay 0: next step)."""
    fixed = net.precision == "fixed"
    spikes = _arrivals(net, steps)
    lifs = [p for p in net.neuron_populations]
    for p in lifs:
        spikes[p.name] = np.zeros((steps, p.size), bool)
    state = {p.name: (np.zeros(p.size, np.int64 if fixed else float),
                      np.zeros(p.size, np.int64 if fixed else float)) for p in lifs}
    dense = {j.name: j.dense_weights(net.populations[j.post].size, net.populations[j.pre].size)
             for j in net.projections.values()}

    def rtz(x):
        return np.sign(x) * (np.abs(x) >> 12)

    for t in range(steps):
        for p in lifs:
            a = np.zeros(p.size, np.int64 if fixed else float)
            if t > 0:
                for j in net.projections.values():
                    if j.post == p.name:
                        s = spikes[j.pre][t - 1]
                        acc = dense[j.name].astype(np.int64 if fixed else float) @ s
                        if fixed:
                            e = j.weight_exp
                            acc = acc << e if e > 0 else acc >> -e
                        a += acc
            u, v = state[p.name]
            lif = p.lif
            if fixed:
                u = rtz(u * (4095 - lif.du)) + (a << 6)
                u = np.where(u > 2**23, u - 2**24, np.where(u <= -(2**23), u + 2**24, u))
                v = np.clip(rtz(v * (4096 - lif.dv)) + u + (lif.bias_mant << lif.bias_exp),
                            -(2**23 - 1), 2**23 - 1)
                s = v > (lif.vth << 6)
            else:
                u = u * (1 - lif.du) + a
                v = v * (1 - lif.dv) + u + lif.bias_mant
                s = v > lif.vth
            v = np.where(s, 0, v)
            state[p.name] = (u, v)
            spikes[p.name][t] = s
    return spikes


def lively_float_net() -> NetworkIR:
    rng = np.random.default_rng(5)
    net = float_net({"a": rng.uniform(-0.3, 1.2, 20 * 12),
                     "rec": rng.uniform(-0.4, 0.0, 12 * 12)},
                    LIFParams(du=0.3, dv=0.08, vth=2.0, bias_mant=0.02), n_in=20, n=12)
    net.populations["inp"].source.rate = 0.15
    return net


def test_float_and_quantized_simulations_give_nearly_equal_spike_counts():
    net = lively_float_net()
    q, rep = quantize(net)
    steps = 300
    f = simulate(net, steps)["hid"].sum(axis=0)
    x = simulate(q, steps)["hid"].sum(axis=0)
    assert f.sum() > 100  # lively
    assert abs(int(x.sum()) - int(f.sum())) <= 0.03 * f.sum()
    assert np.all(np.abs(x - f) <= 3 + 0.05 * f)  # recurrent nets amplify tiny differences


@pytest.mark.skipif(importlib.util.find_spec("backends.cpu.simulator") is None
                    and not hasattr(__import__("backends.cpu").cpu, "run"),
                    reason="CPU backend not written yet")
def test_float_and_quantized_agree_on_cpu_backend():
    from backends.cpu import run
    from compiler.program import Program
    from compiler.target import Target

    net = lively_float_net()
    q, _ = quantize(net)
    steps = 300
    rf = run(Program(network=net, target=Target("t"), core_of={}, cores=[]), steps)
    rq = run(Program(network=q, target=Target("t"), core_of={}, cores=[]), steps)
    f, x = rf.spikes["hid"].sum(axis=0), rq.spikes["hid"].sum(axis=0)
    assert f.sum() > 100
    assert abs(int(x.sum()) - int(f.sum())) <= 0.03 * f.sum()
    assert np.all(np.abs(x - f) <= 3 + 0.05 * f)  # recurrent nets amplify tiny differences
    # the test's own equations agree with the backend exactly in fixed point
    assert np.array_equal(rq.spikes["hid"], simulate(q, steps)["hid"])


# ---------------------------------------------------------------- optimality (property)

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


def brute_force_error(t: np.ndarray, bits: int) -> float:
    """Smallest ||W 2^e - t|| over every weight_exp, W rounded to Lava's grid and taken as
    Lava's Dense would use it (its sign mode may change when one sign rounds away)."""
    mixed = t.min() < 0 < t.max()
    inh = t.max() <= 0 and t.min() < 0
    step = 2 ** (8 - bits + int(mixed))
    lo = (-256 if mixed else (-255 if inh else 0))
    hi = 0 if inh else 255
    lo, hi = -((-lo) // step) * step, (hi // step) * step
    best = np.inf
    for e in range(-8, 8):
        w = lava_effective_weights(np.clip(np.round(t / 2.0**e / step) * step, lo, hi), bits)
        best = min(best, float(np.linalg.norm(w * 2.0**e - t)))
    return best


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(
    values=st.lists(st.floats(-1.0, 1.0, allow_nan=False), min_size=1, max_size=30),
    scale_exp=st.integers(-4, 5),
    bits=st.integers(1, 8),
)
def test_weight_choice_is_optimal_and_lava_exact(values, scale_exp, bits):
    w = np.array(values) * 10.0**scale_exp
    hypothesis.assume(np.abs(w).max() > 0)
    net = float_net({"a": np.resize(w, 12)}, LIFParams(du=1.0, vth=1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q, rep = quantize(net, weight_bits=bits)
    p = q.projections["a"]
    k = rep["populations"]["hid"]["scale"]
    t = k * np.resize(w, 12)
    got = float(np.linalg.norm(p.weight * 2.0**p.weight_exp - t))
    assert got <= brute_force_error(t, bits) * (1 + 1e-9) + 1e-12
    assert p.num_weight_bits <= bits and WEXP[0] <= p.weight_exp <= WEXP[1]
    assert np.array_equal(lava_effective_weights(p.weight, p.num_weight_bits), p.weight)


WEXP = (-8, 7)
