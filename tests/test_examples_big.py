"""The two big examples: brunel.yaml (balanced E/I, one Loihi 2 chip) and
large_multichip.yaml (204,800 neurons on a multi-chip Kapoho Point board)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from backends.cpu import run
from compiler.frontend import load_network
from compiler.pipeline import compile_network
from compiler.program import Program

EXAMPLES = Path(__file__).parent.parent / "examples"


def assert_valid_mapping(prog: Program) -> None:
    """Every lif neuron sits on exactly one core and no core exceeds a target limit."""
    lim = prog.target.core
    for c in prog.cores:
        assert c.n_neurons <= lim.neurons
        assert c.synapse_bits <= lim.synapse_bits
        assert c.in_axons <= lim.in_axons
        assert c.out_axons <= lim.out_axons
    for pop in prog.network.neuron_populations:
        placed = np.concatenate([c.neurons[pop.name] for c in prog.cores if pop.name in c.neurons])
        assert np.array_equal(np.sort(placed), np.arange(pop.size)), pop.name
    assert prog.n_chips <= prog.target.chips
    assert all(0 <= c.core < prog.target.cores_per_chip for c in prog.cores)


def test_brunel_fits_loihi2_and_is_active():
    net = load_network(EXAMPLES / "brunel.yaml")
    assert {p.name: p.size for p in net.neuron_populations} == {"exc": 8000, "inh": 2000}
    # p = 0.004 of 8000 / 2000 presynaptic neurons: ~32 excitatory, ~8 inhibitory inputs
    k_e = net.projections["exc_exc"].n_synapses / 8000
    k_i = net.projections["inh_exc"].n_synapses / 8000
    assert 30 < k_e < 34 and 7 < k_i < 9
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no weight-rounding loss: E and I are single-signed
        prog = compile_network(net)
    assert prog.target.name == "loihi2" and prog.n_chips == 1
    assert_valid_mapping(prog)
    # axons bind: 10,000 neurons would fit 2 cores by neuron count alone
    assert len(prog.cores) >= 40
    res = run(prog, 50)
    for pop in ("exc", "inh"):
        rate = res.spikes[pop].mean()
        assert 0.001 < rate < 0.2, (pop, rate)
    # asynchronous: no step has more than a quarter of the excitatory neurons firing
    assert res.spikes["exc"].mean(axis=1).max() < 0.25


@pytest.mark.slow
def test_large_multichip_spans_several_chips():
    net = load_network(EXAMPLES / "large_multichip.yaml")
    assert sum(p.size for p in net.neuron_populations) == 204_800
    prog = compile_network(net)
    assert prog.target.name == "kapoho_point" and prog.target.chips == 8
    assert prog.n_chips > 1
    assert_valid_mapping(prog)
    # 100 columns in a chain: only the chain links that cross a chip boundary send spikes
    # between chips, i.e. far fewer than one message per spike
    assert prog.report["placement"]["interchip_messages_per_spike"] < 0.1
