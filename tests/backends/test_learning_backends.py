"""Plastic networks end to end: YAML rule -> compiler -> cpu and lava backends agree exactly."""

from __future__ import annotations

import numpy as np
import pytest

import runtime
from compiler.frontend import Network


def _stdp_net(precision: str, rule: dict) -> Network:
    fixed = precision == "fixed"
    lif = {"du": 2048, "dv": 1024, "vth": 300} if fixed else {"du": 0.5, "dv": 0.25, "vth": 300.0}
    return (
        Network(f"stdp_{precision}", seed=5, steps=80, precision=precision)
        .population("inp", 8, spikes={"kind": "poisson", "rate": 0.15})
        .population("out", 3, params=lif)
        .projection("inp_out", "inp", "out", weight={"dist": "uniform", "low": 40, "high": 120},
                    plasticity=rule)
        .probe("inp_out.weights", "out.v")
    )


STDP = {"rule": "stdp", "a_plus": 4, "a_minus": 4, "tau_plus": 8, "tau_minus": 8,
        "learning_rate": 1, "w_min": 0, "w_max": 255, "t_epoch": 1}


def test_stdp_learns_on_cpu():
    net = _stdp_net("fixed", STDP)
    before = net.build().projections["inp_out"].dense_weights(3, 8)
    res = runtime.run(net, backend="cpu")
    after = res["inp_out.weights"]
    assert res["out.spikes"].any() and not res["out.spikes"].all()
    changed = after != before
    assert changed.any()
    assert after.min() >= 0 and after.max() <= 255


@pytest.mark.lava
@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_stdp_cpu_equals_lava(precision):
    pytest.importorskip("lava")
    net = _stdp_net(precision, STDP)
    cpu = runtime.run(net, backend="cpu")
    lava = runtime.run(net, backend="lava", timeout_s=240)
    assert (cpu["inp_out.weights"] != net.build().projections["inp_out"].dense_weights(3, 8)).any()
    np.testing.assert_array_equal(cpu["out.spikes"], lava["out.spikes"])
    if precision == "fixed":
        np.testing.assert_array_equal(cpu["inp_out.weights"], lava["inp_out.weights"])
        np.testing.assert_array_equal(cpu["out.v"], lava["out.v"])
    else:
        np.testing.assert_allclose(cpu["inp_out.weights"], lava["inp_out.weights"], rtol=1e-6)
        np.testing.assert_allclose(cpu["out.v"], lava["out.v"], rtol=1e-6, atol=1e-9)
