"""The compiled learner's row passes (spiking pre rows, post rows through the post-sorted
index, every synapse) equal the numpy learning engine bit for bit.

Random plastic projections (uneven fan-in and fan-out, several delays, neurons without
synapses) driven by random spikes dense enough that pre and post neurons of the same
synapse spike in the same epoch; every rule, fixed and float, t_epoch 1 and > 1, serial
and parallel kernels. Checked after every step: weights, tags, traces and spike times.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from netfactory import lif, network, program, proj

from backends.cpu.compiled import make_simulator
from backends.cpu.learning import make_learner
from backends.cpu.learning_compiled import make_compiled_learner
from backends.cpu.synapses import Synapses
from compiler.ir import Plasticity

THREADS = sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)})
STDP = {"a_plus": 4, "a_minus": 3, "tau_plus": 6, "tau_minus": 9}
RULES = {
    "stdp": ("stdp", dict(STDP, t_epoch=1)),
    "stdp_epoch3": ("stdp", dict(STDP, t_epoch=3, w_min=-40, w_max=60)),
    "hebbian": ("hebbian", {"learning_rate": 0.5, "tau_pre": 6, "tau_post": 6, "t_epoch": 2}),
    "oja": ("oja", {"learning_rate": 0.25, "tau_pre": 6, "tau_post": 6}),
    "reward_stdp": ("reward_stdp", {"a_plus": 4, "a_minus": 2, "tau_plus": 6, "tau_minus": 6,
                                    "tau_e": 8, "modulator": "rew", "modulator_tau": 6,
                                    "modulator_impulse": 20}),
    "loihi": ("loihi", {"dw": "2^-3*y0*x1 - 2^-4*x0*y1*w", "x1_tau": 6, "x1_impulse": 20,
                        "y1_tau": 5, "y1_impulse": 12, "t_epoch": 2}),
}
N_PRE, N_POST = 23, 17


def random_net(seed: int, precision: str, rule: str, delays: bool = True):
    """pre -> post plastic, random synapses (post 0 has none), mixed-sign weights."""
    rng = np.random.default_rng(seed)
    n = 160
    pre = rng.integers(0, N_PRE, n)
    post = rng.integers(1, N_POST, n)
    fixed = precision == "fixed"
    w = rng.integers(-60, 60, n) * 2 if fixed else rng.uniform(-60, 60, n)
    d = rng.integers(0, 3, n) if delays else 0
    p = proj("pl", "a", "b", pre, post, w, d, fixed=fixed)
    name, params = RULES[rule]
    p.plasticity = Plasticity(name, dict(params), params.get("modulator"))
    pops = [lif("a", N_PRE), lif("b", N_POST), lif("rew", 1)]
    return network(pops, [p], precision=precision, seed=seed), p


def drive(learner, syn, spikes) -> list[tuple]:
    """Step the learner through spikes (pre, post, modulator rows); the state after each."""
    states = []
    for t, (pre, post, mod) in enumerate(spikes):
        mods = {"rew": mod} if learner.modulator else None
        learner.step(t, pre, post, mods)
        states.append((syn.weight.copy(), learner.tag.copy(), learner.tag2.copy(),
                       learner.x.copy(), learner.y.copy(), learner.tx.copy(), learner.ty.copy()))
    return states


def random_spikes(seed: int, steps: int, rate: float) -> list[tuple]:
    rng = np.random.default_rng(seed + 100)
    return [(rng.random(N_PRE) < rate, rng.random(N_POST) < rate, rng.random(1) < 0.3)
            for _ in range(steps)]


@pytest.mark.parametrize("precision", ["fixed", "float"])
@pytest.mark.parametrize("rule", sorted(RULES))
def test_learner_equals_numpy_learner_every_step(rule, precision):
    for seed in (1, 2):
        net, p = random_net(seed, precision, rule)
        spikes = random_spikes(seed, 24, rate=0.35)
        ref_syn = Synapses(p, N_PRE, N_POST, precision == "fixed", plastic=True)
        ref = drive(make_learner(p, ref_syn, net), ref_syn, spikes)
        assert not np.array_equal(ref[0][0], ref[-1][0])  # it learned
        for threads in THREADS:
            numba.set_num_threads(threads)
            syn = Synapses(p, N_PRE, N_POST, precision == "fixed", plastic=True)
            out = drive(make_compiled_learner(p, syn, net), syn, spikes)
            for t, (a, b) in enumerate(zip(ref, out, strict=True)):
                for name, x, y in zip(("w", "t", "d", "x", "y", "tx", "ty"), a, b, strict=True):
                    np.testing.assert_array_equal(x, y, err_msg=f"{name} step {t} seed {seed} "
                                                                f"threads {threads}")
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


def test_row_size_covers_largest_fan_in_and_fan_out():
    """One pre neuron with every synapse, one post neuron with every synapse."""
    net, p = random_net(3, "fixed", "stdp")
    n = 300
    p.pre_idx = np.concatenate([np.zeros(n // 2), np.arange(n // 2) % N_PRE]).astype(np.int32)
    p.post_idx = np.concatenate([np.arange(n // 2) % N_POST, np.full(n // 2, 5)]).astype(np.int32)
    p.weight = np.full(n, 20, dtype=np.int32)
    p.delay = np.arange(n, dtype=np.int16) % 4  # keeps the (pre, post, delay) triples apart
    spikes = random_spikes(3, 12, rate=0.5)
    ref_syn = Synapses(p, N_PRE, N_POST, True, plastic=True)
    ref = drive(make_learner(p, ref_syn, net), ref_syn, spikes)
    syn = Synapses(p, N_PRE, N_POST, True, plastic=True)
    learner = make_compiled_learner(p, syn, net)
    assert learner.row_size == max(np.bincount(syn.pre).max(), np.bincount(syn.post).max())
    out = drive(learner, syn, spikes)
    np.testing.assert_array_equal(ref[-1][0], out[-1][0])
    assert not np.array_equal(ref[0][0], ref[-1][0])


def recurrent(seed: int, t_epoch: int):
    """A recurrent LIF population with plastic delayed synapses and a driven input."""
    rng = np.random.default_rng(seed)
    n, m = 60, 900
    pre, post = rng.integers(0, n, m), rng.integers(0, n, m)
    rec = proj("rec", "a", "a", pre, post, rng.integers(-8, 12, m) * 2, rng.integers(0, 4, m))
    rec.plasticity = Plasticity("stdp", dict(STDP, t_epoch=t_epoch, w_min=-60, w_max=80))
    pop = lif("a", n, du=4095, dv=0, vth=10, bias_mant=rng.integers(100, 200, n))
    return program(network([pop], [rec], seed=seed, steps=60))


@pytest.mark.parametrize("t_epoch", [1, 3])
def test_recurrent_plastic_net_equals_numpy_engine(t_epoch):
    for seed in (4, 5, 6):
        prog = recurrent(seed, t_epoch)
        ref = make_simulator(prog, [], engine="numpy")
        spikes = ref.run(60).spikes["a"]
        assert 0 < spikes.mean() < 0.5
        w0 = prog.network.projections["rec"].weight
        assert not np.array_equal(np.sort(ref.synapses["rec"].weight), np.sort(w0))
        for threads in THREADS:
            sim = make_simulator(prog, [], engine="compiled", threads=threads)
            np.testing.assert_array_equal(sim.run(60).spikes["a"], spikes)
            np.testing.assert_array_equal(sim.synapses["rec"].weight, ref.synapses["rec"].weight)
