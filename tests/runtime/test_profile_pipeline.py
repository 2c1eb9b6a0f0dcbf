"""Profiler against the rest of snnc: the resource model's usage, the cpu and Lava backends.

Placement is made by hand here (sequential fill, 8 neurons per core, 4 cores per chip row)
so the test does not depend on the partitioner; usage comes from the resource model.
"""

from __future__ import annotations

import numpy as np
import pytest
from repo import ROOT

from compiler.program import Core, Program
from compiler.targets import load_target
from runtime.profiling import activity, format_profile, profile_report

PER_CORE = 8


def hand_program(steps: int = 40) -> Program:
    """examples/two_layer.yaml (16 -> 32 -> 8) on loihi1, 8 lif neurons per core, in order."""
    from compiler.frontend import load_network
    from compiler.passes.resources import core_usage

    net = load_network(ROOT / "examples" / "two_layer.yaml")
    net.steps = steps
    target = load_target("loihi1")
    core_of, start = {}, 0
    for pop in net.neuron_populations:
        core_of[pop.name] = ((start + np.arange(pop.size)) // PER_CORE).astype(np.int32)
        start += pop.size
    n_cores = int(np.ceil(start / PER_CORE))
    usage = core_usage(net, core_of, n_cores, target)
    mx = target.mesh[0]
    cores = []
    for c in range(n_cores):
        members = {p: np.flatnonzero(ids == c) for p, ids in core_of.items() if np.any(ids == c)}
        cores.append(Core(c, chip=0, core=c, x=c % mx, y=c // mx, neurons=members,
                          synapse_bits=int(usage.synapse_bits[c]), in_axons=int(usage.in_axons[c]),
                          out_axons=int(usage.out_axons[c])))
    return Program(net, target, core_of, cores, report={"lower_bound": 1})


def test_messages_when_all_fire_once_equal_resource_model_axons():
    """Each lif neuron firing once sends out_axons messages; every neuron (sources too) firing
    once makes each core receive in_axons messages: the resource model's own definitions."""
    prog = hand_program()
    ones = {p: np.ones((1, pop.size), bool) for p, pop in prog.network.populations.items()}
    act = activity(prog, ones)
    out_axons = [c.out_axons for c in prog.cores]
    in_axons = [c.in_axons for c in prog.cores]
    assert (act.packets_out + act.local)[0].tolist() == out_axons
    assert (act.packets_in + act.local + act.host_in)[0].tolist() == in_axons
    synapses = sum(p.n_synapses for p in prog.network.projections.values())
    assert act.synops.sum() == synapses


def test_cpu_run_profile_counts_match_spikes():
    from backends import get_backend

    prog = hand_program()
    res = get_backend("cpu").run(prog, 40)
    rep = profile_report(prog, res)
    tot = rep["activity"]["totals"]
    lif_spikes = int(res.spikes["hid"].sum() + res.spikes["out"].sum())
    assert tot["spikes"] == lif_spikes > 0
    # synops: every spike of a presynaptic neuron costs its out-degree
    expect = 0
    for p in prog.network.projections.values():
        deg = np.bincount(p.pre_idx, minlength=prog.network.populations[p.pre].size)
        expect += int(res.spikes[p.pre].sum(axis=0) @ deg)
    assert tot["synops"] == expect
    e = rep["cost"]["energy_pj"]["by_component_total"]
    assert e["synops"] == pytest.approx(expect * prog.target.energy_pj["synop"])
    assert rep["cost"]["figures"]["energy_pj"]["synop"]["source"].startswith("SANA-FE")
    text = format_profile(rep)
    assert f"spikes {lif_spikes}, synaptic ops {expect}" in text
    assert "activity over 40 steps (backend cpu)" in text
    # loihi1's chip_hop figures are marked as assumptions in the target; the table says so
    assert "assumed figures (not published): energy_pj.chip_hop, time_ns.chip_hop" in text


@pytest.mark.lava
def test_cpu_and_lava_give_equal_counts():
    pytest.importorskip("lava")
    from backends import get_backend

    prog = hand_program(steps=20)
    a = get_backend("cpu").run(prog, 20)
    b = get_backend("lava").run(prog, 20, timeout_s=240)
    for p in prog.network.populations:
        assert np.array_equal(a.spikes[p], b.spikes[p]), p
    ra, rb = profile_report(prog, a), profile_report(prog, b)
    assert ra["activity"]["totals"] == rb["activity"]["totals"]
    assert ra["cost"]["energy_pj"]["total"] == rb["cost"]["energy_pj"]["total"]
