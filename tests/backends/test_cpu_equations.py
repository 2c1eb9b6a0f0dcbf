"""CPU backend: single equations of Lava's fixed_pt / floating_pt models, checked against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from netfactory import dense_proj, lif, network, program, proj, source

import backends.cpu as cpu
from compiler.ir import Adapt
from compiler.sources import source_spikes

M = 2**23


def run(pops, projs, steps, probes=(), precision="fixed"):
    return cpu.run(program(network(pops, projs, precision, list(probes))), steps)


def one_spike(n_src: int, steps: int, at: int = 0) -> np.ndarray:
    """Array-source data where all n_src neurons spike once, at step `at`."""
    d = np.zeros((steps, n_src), bool)
    d[at] = True
    return d


# ---------------------------------------------------------------- LIF, fixed precision

def test_constant_bias_threshold_crossing_and_reset():
    # v grows by 100 per step (dv = 0); threshold 10 << 6 = 640; v = 700 > 640 at step 6,
    # then v resets to 0 and the cycle repeats every 7 steps.
    r = run([lif("a", 1, du=0, dv=0, vth=10, bias_mant=100)], [], 21, ["a.v"])
    assert np.flatnonzero(r.spikes["a"][:, 0]).tolist() == [6, 13, 20]
    assert r.values["a.v"][:7, 0].tolist() == [100, 200, 300, 400, 500, 600, 0]
    assert r.values["a.v"].dtype == np.int64


def test_threshold_equal_does_not_spike():
    # v reaches exactly 640 = vth << 6 at step 6; the condition is strictly v > threshold.
    r = run([lif("a", 1, dv=0, vth=10, bias_mant=80, bias_exp=1)], [], 9, ["a.v"])
    assert r.values["a.v"][3, 0] == 640  # 4 * (80 << 1)
    assert np.flatnonzero(r.spikes["a"][:, 0]).tolist() == [4]  # 800 > 640


@pytest.mark.parametrize("mant,exp,per_step", [(25, 2, 100), (401, -2, 100), (-5, -1, -3),
                                                (4095, 7, 524160)])
def test_bias_with_bias_exp(mant, exp, per_step):
    # Lava: bias_mant << bias_exp, or arithmetic >> for negative exponents (-5 >> 1 = -3).
    r = run([lif("a", 1, dv=0, vth=100000, bias_mant=mant, bias_exp=exp)], [], 3, ["a.v"])
    assert r.values["a.v"][:, 0].tolist() == [per_step, 2 * per_step, 3 * per_step]


def test_voltage_decay_rounds_toward_zero():
    # dv = 2048: v = rtz(v * 2048 / 4096) + 100 -> 100, 150, 175, 187, 193 > 192 = 3 << 6.
    r = run([lif("a", 1, dv=2048, vth=3, bias_mant=100)], [], 5, ["a.v"])
    assert r.values["a.v"][:4, 0].tolist() == [100, 150, 175, 187]
    assert r.spikes["a"][:, 0].tolist() == [False] * 4 + [True]
    # negative: -100, -150, -175, -187 (toward zero, not floor: -175 / 2 -> -87)
    r = run([lif("a", 1, dv=2048, vth=3, bias_mant=-100)], [], 4, ["a.v"])
    assert r.values["a.v"][:, 0].tolist() == [-100, -150, -175, -187]


def test_current_decay_uses_du_plus_one():
    # One input of a = 10 at step 1: u = 640. du = 2047 -> factor 4096 - 2048 = 2048:
    # u: 640, 320, 160, 80; v integrates u with dv = 4095 (factor 1/4096 -> 0 for small v).
    d = one_spike(1, 6)
    r = run([source("s", 1, data=d), lif("a", 1, du=2047, dv=4095, vth=1000)],
            [proj("p", "s", "a", [0], [0], 10)], 6, ["a.u", "a.v"])
    assert r.values["a.u"][:, 0].tolist() == [0, 640, 320, 160, 80, 40]
    assert r.values["a.v"][:, 0].tolist() == [0, 640, 320, 160, 80, 40]
    # du = 0: factor 4095, u = rtz(640 * 4095 / 4096) = 639, then rtz(639 * 4095 / 4096) = 638
    r = run([source("s", 1, data=d), lif("a", 1, du=0, dv=0, vth=1000)],
            [proj("p", "s", "a", [0], [0], 10)], 4, ["a.u", "a.v"])
    assert r.values["a.u"][:, 0].tolist() == [0, 640, 639, 638]
    assert r.values["a.v"][:, 0].tolist() == [0, 640, 1279, 1917]


def test_u_wraps_at_24_bits():
    # 5 sources x 255 << 7 = 163200; << 6 = 10444800 > 2**23 -> 10444800 - 2**24.
    d = one_spike(5, 3)
    r = run([source("s", 5, data=d), lif("a", 1, du=4095, dv=0, vth=131072)],
            [proj("p", "s", "a", range(5), [0] * 5, 255, weight_exp=7)], 3, ["a.u", "a.v"])
    assert r.values["a.u"][:, 0].tolist() == [0, 10444800 - 2**24, 0]
    assert r.values["a.v"][:, 0].tolist() == [0, 10444800 - 2**24, 10444800 - 2**24]


def test_u_wrap_edges_as_lava_codes_them():
    # u = +2**23 exactly is not wrapped (test is u > 2**23); u = -2**23 becomes +2**23
    # (Lava's second test is <= -2**23). 8 sources x (128 << 7) = 2**17; << 6 = 2**23.
    d = one_spike(8, 2)
    for w, expect in ((128, M), (-128, M)):
        r = run([source("s", 8, data=d), lif("a", 1, du=4095, dv=0, vth=131072)],
                [proj("p", "s", "a", range(8), [0] * 8, w, weight_exp=7)], 2, ["a.u", "a.v"])
        assert r.values["a.u"][1, 0] == expect
        assert r.values["a.v"][1, 0] == M - 1  # v is clipped to 2**23 - 1


def test_v_clips_at_24_bits_both_signs():
    # bias 4095 << 7 = 524160 per step; 16 steps = 8386560, 17 steps would be 8910720.
    r = run([lif("a", 1, dv=0, vth=131072, bias_mant=4095, bias_exp=7)], [], 18, ["a.v"])
    v = r.values["a.v"][:, 0]
    assert v[15] == 16 * 524160 and v[16] == M - 1 and v[17] == M - 1
    assert not r.spikes["a"].any()
    r = run([lif("a", 1, dv=0, vth=131072, bias_mant=-4096, bias_exp=7)], [], 17, ["a.v"])
    v = r.values["a.v"][:, 0]
    assert v[14] == -15 * 524288 and v[15] == -(M - 1) and v[16] == -(M - 1)


def test_int32_wrap_of_large_input():
    # a_in << 6 is computed in int32 by Lava: 1100 x (255 << 7) = 35904000, << 6 =
    # 2297856000 > 2**31 - 1 -> wraps to 2297856000 - 2**32 = -1997111296; then the 24-bit
    # rule adds 2**24 once (the result stays far outside 24 bits, as in Lava).
    n = 1100
    d = one_spike(n, 2)
    r = run([source("s", n, data=d), lif("a", 1, du=4095, dv=0, vth=131072)],
            [proj("p", "s", "a", range(n), [0] * n, 255, weight_exp=7)], 2, ["a.u"])
    assert r.values["a.u"][1, 0] == 2297856000 - 2**32 + 2**24


# ---------------------------------------------------------------- weights

@pytest.mark.parametrize("w,bits,expect", [
    ([13, -13], 6, [8, -16]),           # mixed: k = 8 - 6 + 1 = 3, floor shifts
    ([13, -13, 100], 8, [12, -14, 100]),  # mixed 8 bits still drops one bit
    ([-300, 300], 8, [-256, 254]),      # mixed clip [-256, 255] then k = 1
    ([13, 200, 300], 6, [12, 200, 252]),  # excitatory: clip [0, 255], k = 2
    ([-13, -300, 0], 6, [-12, -252, 0]),  # inhibitory: negated, clip, k = 2, negated
    ([2.7, -2.7], 8, [2, -2]),          # int32 Var: truncation toward zero first
    ([7, 1], 1, [0, 0]),                # 1 bit excitatory: k = 7
    ([200, 129], 1, [128, 128]),
])
def test_effective_weights(w, bits, expect):
    assert cpu.effective_weights(np.array(w), bits).tolist() == expect


def test_effective_weights_sign_mode_is_whole_projection():
    # 13 alone (excitatory, 6 bits) -> 12; with one negative weight anywhere it is mixed -> 8.
    assert cpu.effective_weights(np.array([13]), 6).tolist() == [12]
    assert cpu.effective_weights(np.array([[13, 0], [0, -1]]), 6).tolist() == [[8, 0], [0, -8]]


def test_weight_bits_applied_in_simulation():
    # Mixed 6-bit weights 13 and -13 from two sources into two neurons: a_in 8 and -16.
    d = one_spike(2, 2)
    r = run([source("s", 2, data=d), lif("a", 2, du=4095, dv=0, vth=1000)],
            [proj("p", "s", "a", [0, 1], [0, 1], [13, -13], num_weight_bits=6)], 2,
            ["a.u", "p.weights"])
    assert r.values["a.u"][1].tolist() == [8 * 64, -16 * 64]
    assert r.values["p.weights"].tolist() == [[8, 0], [0, -16]]


# ---------------------------------------------------------------- delays and weight_exp

@pytest.mark.parametrize("delay", [0, 1, 3, 5])
def test_delay_arrives_d_plus_one_steps_later(delay):
    d = one_spike(1, 12, at=2)
    r = run([source("s", 1, data=d), lif("a", 1, du=4095, dv=4095, vth=1000)],
            [proj("p", "s", "a", [0], [0], 7, delay=delay)], 12, ["a.u"])
    u = r.values["a.u"][:, 0]
    assert np.flatnonzero(u).tolist() == [2 + delay + 1]
    assert u[2 + delay + 1] == 7 * 64


@pytest.mark.parametrize("w,exp,expect", [
    ([3], 2, 12), ([3], -1, 1), ([-3], -1, -2),   # arithmetic shift floors negatives
    ([3, 3], -1, 3), ([-3, -3], -1, -3),          # shift applies to the per-post sum
    ([-3, -3], -2, -2), ([5, -1], -1, 1),   # mixed 8 bits: 4 - 2 = 2 >> 1
])
def test_weight_exp_shifts_the_sum(w, exp, expect):
    n = len(w)
    d = one_spike(n, 2)
    r = run([source("s", n, data=d), lif("a", 1, du=4095, dv=0, vth=1000)],
            [proj("p", "s", "a", range(n), [0] * n, w, weight_exp=exp)], 2, ["a.u"])
    assert r.values["a.u"][1, 0] == expect * 64


def test_weight_exp_is_applied_per_emission_step_and_per_projection():
    # Two spikes from different steps arriving together (delays 1 and 0) are shifted
    # separately, as DelayDense shifts a_accum before adding it to its buffer:
    # (3 >> 1) + (3 >> 1) = 2, not 6 >> 1 = 3. The same for two projections.
    d = np.zeros((4, 2), bool)
    d[0, 0] = d[1, 1] = True
    r = run([source("s", 2, data=d), lif("a", 1, du=4095, dv=0, vth=1000)],
            [proj("p", "s", "a", [0, 1], [0, 0], 3, delay=[1, 0], weight_exp=-1)], 4, ["a.u"])
    assert r.values["a.u"][:, 0].tolist() == [0, 0, 2 * 64, 0]
    d2 = one_spike(1, 2)
    r = run([source("s", 1, data=d2), lif("a", 1, du=4095, dv=0, vth=1000)],
            [proj("p", "s", "a", [0], [0], 3, weight_exp=-1),
             proj("q", "s", "a", [0], [0], 3, weight_exp=-1)], 2, ["a.u"])
    assert r.values["a.u"][1, 0] == 2 * 64


# ---------------------------------------------------------------- float precision

def test_float_lif_equations():
    # u = u (1 - du) + a_in; v = v (1 - dv) + u + bias; spike if v > vth (no 2**6 scaling).
    d = one_spike(1, 4)
    r = run([source("s", 1, data=d), lif("a", 1, du=0.5, dv=0.25, vth=2.0, bias_mant=0.5,
                                         bias_exp=3)],
            [proj("p", "s", "a", [0], [0], 1.5, weight_exp=3, num_weight_bits=1, fixed=False)],
            4, ["a.u", "a.v"], precision="float")
    u = r.values["a.u"][:, 0]
    v = r.values["a.v"][:, 0]
    # step 0: u = 0, v = 0.5; step 1: u = 1.5, v = 0.375 + 1.5 + 0.5 = 2.375 > 2 -> reset
    # step 2: u = 0.75, v = 0 + 0.75 + 0.5 = 1.25; step 3: u = 0.375, v = 0.9375 + 0.875
    assert u.tolist() == [0.0, 1.5, 0.75, 0.375]
    assert v.tolist() == [0.5, 0.0, 1.25, 1.8125]
    assert r.spikes["a"][:, 0].tolist() == [False, True, False, False]
    assert r.values["a.v"].dtype == np.float64


# ---------------------------------------------------------------- adaptive threshold

def test_adaptive_threshold_fixed():
    # bias 100, vth 10: first spike at step 6 (v = 700 > 640). Then th = 2 << 6 = 128 and
    # decays with d = round(4096 / 16) = 256: th = trunc(th * 3840 / 4096) after every step:
    # thresholds in use at steps 7..14: 768, 760, 752, 745, 738, 731, 725, 719.
    # v = 700 at step 13 does not beat 725; v = 800 at step 14 beats 719.
    a = Adapt(increment=2, tau=16)
    r = run([lif("a", 1, adapt=a, dv=0, vth=10, bias_mant=100)], [], 15, ["a.v"])
    assert np.flatnonzero(r.spikes["a"][:, 0]).tolist() == [6, 14]
    assert r.values["a.v"][13, 0] == 700


def test_adaptive_threshold_float():
    a = Adapt(increment=1.0, tau=2.0)
    r = run([lif("a", 1, adapt=a, dv=0.0, vth=2.5, bias_mant=1.0)], [], 8, ["a.v"],
            precision="float")
    # v: 1, 2, 3 > 2.5 spike (th -> 1); v: 1, 2 (th 0.5 then 0.25 at use) ...
    # th after step 2 = 1.0; used at step 3: 1.0 (v = 1), decays to 0.5 after step 3,
    # 0.25 after step 4: at step 5 v = 3 > 2.75 spike.
    assert np.flatnonzero(r.spikes["a"][:, 0]).tolist() == [2, 5]


# ---------------------------------------------------------------- sources

def test_sources_periodic_poisson_array():
    d = np.random.default_rng(1).random((10, 4)) < 0.5
    pops = [source("per", 3, kind="periodic", period=3, phase=1),
            source("poi", 5, kind="poisson", rate=0.3),
            source("arr", 4, data=d),
            source("never", 2, kind="poisson", rate=0.0),
            source("always", 2, kind="poisson", rate=1.0)]
    net = network(pops, [], seed=5)
    r = cpu.run(program(net), 10)
    assert np.flatnonzero(r.spikes["per"][:, 0]).tolist() == [1, 4, 7]
    assert r.spikes["per"].all(axis=1).tolist() == r.spikes["per"].any(axis=1).tolist()
    assert np.array_equal(r.spikes["arr"], d)
    assert not r.spikes["never"].any() and r.spikes["always"].all()
    assert np.array_equal(r.spikes["poi"], source_spikes(pops[1], 10, 5))
    assert 0 < r.spikes["poi"].sum() < 50


def test_source_spike_reaches_next_step():
    # Lava's RingBuffer sends column t at step t; a Dense synapse delivers it at t + 1.
    r = run([source("s", 1, kind="periodic", period=4, phase=0),
             lif("a", 1, du=4095, dv=4095, vth=1000)],
            [proj("p", "s", "a", [0], [0], 1)], 9, ["a.u"])
    assert np.flatnonzero(r.values["a.u"][:, 0]).tolist() == [1, 5]


def test_dense_proj_helper_roundtrip():
    w = np.array([[0, 5], [-3, 0]])
    p = dense_proj("p", "s", "a", w)
    assert p.dense_weights(2, 2).tolist() == w.tolist()
