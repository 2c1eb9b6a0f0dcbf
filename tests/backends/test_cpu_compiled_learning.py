"""Plastic and phased networks: the compiled cpu engine equals the numpy reference engine.

Every learning rule, fixed and float: the same spikes, v and final weights (fixed: bit for
bit; float: weights and v to 1e-12, spikes equal), on 1 and 2 threads.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from phase_nets import RELAY, _program

import runtime
from backends.cpu import phases as cpu_phases
from compiler.frontend import Network

THREADS = sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)})

RULES = {
    "stdp": {"rule": "stdp", "a_plus": 4, "a_minus": 4, "tau_plus": 8, "tau_minus": 8,
             "learning_rate": 1, "w_min": 0, "w_max": 255, "t_epoch": 1},
    "stdp_epoch": {"rule": "stdp", "a_plus": 3, "a_minus": 2, "tau_plus": 6, "tau_minus": 9,
                   "t_epoch": 4},
    "hebbian": {"rule": "hebbian", "learning_rate": 0.5, "tau_pre": 6, "tau_post": 6},
    "oja": {"rule": "oja", "learning_rate": 0.25, "tau_pre": 6, "tau_post": 6},
    "reward_stdp": {"rule": "reward_stdp", "a_plus": 4, "a_minus": 2, "tau_plus": 6,
                    "tau_minus": 6, "tau_e": 8, "modulator": "rew", "modulator_tau": 6,
                    "modulator_impulse": 20},
    "loihi": {"rule": "loihi", "dw": "2^-3*y0*x1 - 2^-4*y0*w", "x1_tau": 6, "x1_impulse": 20,
              "w_min": 10},
}


def plastic_net(precision: str, rule: dict) -> Network:
    """inp (poisson) -> out (LIF) plastic, out -> out static with a delay; a reward source."""
    fixed = precision == "fixed"
    lif = {"du": 2048, "dv": 1024, "vth": 300} if fixed else {"du": 0.5, "dv": 0.25, "vth": 300.0}
    return (
        Network(f"plastic_{precision}", seed=5, steps=80, precision=precision)
        .population("inp", 12, spikes={"kind": "poisson", "rate": 0.2})
        .population("rew", 1, spikes={"kind": "poisson", "rate": 0.1})
        .population("out", 5, params=lif)
        .projection("inp_out", "inp", "out", weight={"dist": "uniform", "low": 40, "high": 120},
                    plasticity=rule)
        .projection("out_out", "out", "out", weight=-30, delay=2)
        .probe("inp_out.weights", "out.v")
    )


def assert_same(a, b, exact: bool) -> None:
    assert a.keys() == b.keys()
    for k in a.keys():
        if exact or a[k].dtype == bool:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        else:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-12, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("precision", ["fixed", "float"])
@pytest.mark.parametrize("rule", sorted(RULES))
def test_plastic_rules_equal_numpy_engine(rule, precision):
    net = plastic_net(precision, RULES[rule])
    ref = runtime.run(net, backend="cpu", engine="numpy")
    w0 = net.build().projections["inp_out"].dense_weights(5, 12)
    assert (ref["inp_out.weights"] != w0).any()  # it learned
    assert ref["out.spikes"].any() and not ref["out.spikes"].all()
    for threads in THREADS:
        out = runtime.run(net, backend="cpu", engine="compiled", threads=threads)
        assert_same(ref, out, exact=precision == "fixed")


PHASES = """\
phases:
  - name: a
    samples: {split: train, epochs: 2, shuffle: true}
  - name: b
    samples: {split: train}
    set: {projections.relay.weight_scale: 0.6}
  - name: c
    steps: 5
    set: {populations.out.params.vth: 15}
  - name: d
    samples: {split: test}
    plastic: false
"""
STDP = RELAY.replace(
    "relay: {pre: inp, post: out, connectivity: one_to_one, weight: 20}",
    "relay: {pre: inp, post: out, connectivity: one_to_one, weight: 20,\n"
    "          plasticity: {rule: stdp, a_plus: 1, a_minus: 1, learning_rate: 0.125, "
    "tau_plus: 4, tau_minus: 4}}\n"
    "  back: {pre: out, post: out, connectivity: one_to_one, weight: 13}")


@pytest.mark.parametrize("text", [RELAY + PHASES, STDP + PHASES.replace(
    "set: {projections.relay.weight_scale: 0.6}", "set: {projections.back.weight_scale: 0.6}")],
    ids=["static", "plastic"])
def test_phases_equal_numpy_engine(text):
    program = _program(text)
    ref = cpu_phases.run_phases(program, engine="numpy")
    counts = sum(int(ref[k].sum()) for k in ref.keys() if k.endswith(".counts"))
    assert counts > 0
    for threads in THREADS:
        out = cpu_phases.run_phases(program, engine="compiled", threads=threads, timing=True)
        assert out.meta["engine"] == "compiled" and out.meta["timing"]["neurons"] > 0
        assert_same(ref, out, exact=True)
