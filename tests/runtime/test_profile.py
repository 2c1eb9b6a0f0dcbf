"""Profiler: static utilization, activity counts, cost arithmetic, report and plots.

Expected numbers are derived by hand in the comments from the small network below (not
copied from the code's output); a brute-force loop cross-checks the vectorized counts.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from backends.result import RunResult
from compiler.errors import InputError
from compiler.ir import LIFParams, NetworkIR, Plasticity, Population, Projection, SpikeSource
from compiler.program import Core, Program
from compiler.target import CoreLimits, Target
from runtime.profiling import (
    activity,
    core_positions,
    estimate_cost,
    format_profile,
    profile_report,
    static_profile,
    write_plots,
)

E = {"synop": 2, "neuron_update": 1, "spike_out": 3, "message": 5, "spike_hop": 7,
     "chip_hop": 11, "learning_update": 13}
T = {"synop": 1, "neuron_update": 0.5, "spike_out": 2, "message": 3, "learning_update": 0.25,
     "spike_hop": 4, "chip_hop": 10, "barrier": 100}


def small_target(**kw) -> Target:
    """2 chips x 4 cores on a 2x2 mesh; tiny limits so percentages are easy."""
    return Target(name="tiny", chips=2, cores_per_chip=4, mesh=(2, 2),
                  core=CoreLimits(neurons=4, in_axons=8, out_axons=8, synapse_bits=1000),
                  energy_pj=dict(E), time_ns=dict(T), source="hand-made test figures", **kw)


def proj(name, pre, post, pairs, plastic=None):
    pre_idx = np.array([p for p, _ in pairs], np.int32)
    post_idx = np.array([q for _, q in pairs], np.int32)
    return Projection(name, pre, post, pre_idx, post_idx, np.full(len(pairs), 10, np.int32),
                      np.zeros(len(pairs), np.int16), plasticity=plastic)


def small_program() -> Program:
    """inp (2, host) -> a (3) -> b (2), plus a plastic a -> a.

    Placement: a0, a1 on core 0 (chip 0, x0 y0); a2 on core 1 (chip 0, x1 y0);
    b0 on core 2 (chip 0, x1 y1); b1 on core 3 (chip 1, x0 y0 -> global x 2).
    """
    net = NetworkIR(name="hand", precision="fixed", steps=4, target="tiny")
    net.populations = {
        "inp": Population("inp", 2, "spike_source", source=SpikeSource(kind="poisson", rate=0.1)),
        "a": Population("a", 3, "lif", lif=LIFParams()),
        "b": Population("b", 2, "lif", lif=LIFParams()),
    }
    net.projections = {
        "inp_a": proj("inp_a", "inp", "a", [(i, j) for i in range(2) for j in range(3)]),
        # a0 -> b0 twice (two synapses, one message), a0 -> b1, a1 -> b0, a2 -> b0, a2 -> b1
        "a_b": proj("a_b", "a", "b", [(0, 0), (0, 0), (0, 1), (1, 0), (2, 0), (2, 1)]),
        "a_a": proj("a_a", "a", "a", [(0, 1), (1, 2)], Plasticity("stdp", {"t_epoch": 2})),
    }
    cores = [
        Core(0, chip=0, core=0, x=0, y=0, neurons={"a": np.array([0, 1])},
             synapse_bits=500, in_axons=6, out_axons=2),
        Core(1, chip=0, core=1, x=1, y=0, neurons={"a": np.array([2])},
             synapse_bits=900, in_axons=3, out_axons=2),
        Core(2, chip=0, core=3, x=1, y=1, neurons={"b": np.array([0])},
             synapse_bits=300, in_axons=3, out_axons=0),
        Core(3, chip=1, core=0, x=0, y=0, neurons={"b": np.array([1])},
             synapse_bits=100, in_axons=2, out_axons=0),
    ]
    core_of = {"a": np.array([0, 0, 1], np.int32), "b": np.array([2, 3], np.int32)}
    return Program(net, small_target(), core_of, cores, report={"lower_bound": 2})


def small_spikes() -> dict[str, np.ndarray]:
    s = {"inp": np.zeros((4, 2), bool), "a": np.zeros((4, 3), bool), "b": np.zeros((4, 2), bool)}
    s["inp"][0, 0] = s["inp"][1, 1] = s["inp"][2, 0] = s["inp"][2, 1] = True
    s["a"][1, 0] = s["a"][2, 2] = True
    s["a"][3, :] = True
    s["b"][3, 1] = True
    return s


# ---- static ---------------------------------------------------------------------------------


def test_static_per_core_and_binding_limit():
    st = static_profile(small_program())
    c0, c1 = st["cores"][0], st["cores"][1]
    assert c0["neurons"] == {"used": 2, "limit": 4, "percent": 50.0}
    assert c0["in_axons"]["percent"] == 75.0 and c0["binding"] == "in_axons"
    assert c1["synapse_bits"] == {"used": 900, "limit": 1000, "percent": 90.0}
    assert c1["binding"] == "synapse_bits"
    sm = st["summary"]
    assert sm["fullest_core"] == {"id": 1, "resource": "synapse_bits", "percent": 90.0}
    assert sm["binding_limit"] == "synapse_bits"
    assert sm["cores_used"] == 4 and sm["lower_bound"] == 2 and sm["cores_over_lower_bound"] == 2.0
    assert sm["cores_available"] == 8 and sm["chips_used"] == 2 and sm["over_limit_cores"] == []
    # chip 0 holds cores 0..2: 3 of 4 cores; neurons 2+1+1 = 4 of 4*4 = 16
    ch0 = st["chips"][0]
    assert ch0["cores_used"] == 3 and ch0["cores_percent"] == 75.0
    assert ch0["neurons"] == {"used": 4, "limit": 16, "percent": 25.0}
    assert ch0["synapse_bits"]["used"] == 1700 and ch0["synapse_bits"]["percent"] == 42.5
    assert st["totals"]["in_axons"]["used"] == 14
    assert st["totals"]["in_axons"]["max_percent"] == 75.0


def test_static_known_limit_binds_on_custom_target():
    """With out_axons capped at 2 per core, core 0's 2 out axons fill it: out_axons binds at 100 %."""
    prog = small_program()
    prog.target = Target(name="axon_poor", chips=2, cores_per_chip=4, mesh=(2, 2),
                         core=CoreLimits(neurons=4, in_axons=8, out_axons=2, synapse_bits=10_000))
    sm = static_profile(prog)["summary"]
    assert sm["binding_limit"] == "out_axons"
    assert sm["fullest_core"] == {"id": 0, "resource": "out_axons", "percent": 100.0}
    prog.cores[1].out_axons = 3  # 150 % -> flagged
    sm = static_profile(prog)["summary"]
    assert sm["over_limit_cores"] == [1] and sm["fullest_core"]["percent"] == 150.0


def test_static_lower_bound_per_resource_and_missing():
    prog = small_program()
    prog.report = {"lower_bound": {"neurons": 2, "synapse_bits": 3}}
    sm = static_profile(prog)["summary"]
    assert sm["lower_bound"] == 3 and sm["lower_bound_by_resource"]["synapse_bits"] == 3
    prog.report = {}
    sm = static_profile(prog)["summary"]
    assert sm["lower_bound"] is None and sm["cores_over_lower_bound"] is None


# ---- activity --------------------------------------------------------------------------------


def test_activity_hand_counts():
    act = activity(small_program(), small_spikes())
    assert act.steps == 4
    assert act.neurons.tolist() == [2, 1, 1, 1]
    # spikes: step1 a0 (c0); step2 a2 (c1); step3 a0,a1 (c0), a2 (c1), b1 (c3)
    assert act.spikes.tolist() == [[0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [2, 1, 0, 1]]
    # synops: inp_i -> a0,a1 (c0), a2 (c1); a0 -> b0 x2 (c2), b1 (c3), a1 (c0);
    # a1 -> b0 (c2), a2 (c1); a2 -> b0 (c2), b1 (c3)
    assert act.synops.tolist() == [[2, 1, 0, 0], [3, 1, 2, 1], [4, 2, 1, 1], [1, 1, 4, 2]]
    assert act.synops.sum() == 26
    assert act.host_in.tolist() == [[1, 1, 0, 0], [1, 1, 0, 0], [2, 2, 0, 0], [0, 0, 0, 0]]
    assert act.local.tolist() == [[0] * 4, [1, 0, 0, 0], [0] * 4, [1, 0, 0, 0]]
    # packets: a0 -> c2, c3; a1 -> c1, c2; a2 -> c2, c3
    assert act.packets_out.tolist() == [[0] * 4, [2, 0, 0, 0], [0, 2, 0, 0], [4, 2, 0, 0]]
    assert act.packets_in.tolist() == [[0] * 4, [0, 0, 1, 1], [0, 0, 1, 1], [0, 1, 3, 2]]
    # hops (XY, global x = chip*2 + x): c0->c2 2, c0->c3 2, c0->c1 1, c1->c2 1, c1->c3 1
    assert act.hops.tolist() == [[0] * 4, [4, 0, 0, 0], [0, 2, 0, 0], [7, 2, 0, 0]]
    assert act.chip_packets.tolist() == [[0] * 4, [1, 0, 0, 0], [0, 1, 0, 0], [1, 1, 0, 0]]
    assert act.chip_hops.tolist() == act.chip_packets.tolist()
    assert act.max_hops.tolist() == [0, 2, 1, 2]
    assert act.max_chip_hops.tolist() == [0, 1, 1, 1]
    # a_a is plastic with t_epoch 2: updates at 1-based steps 2 and 4, post a1 on c0, a2 on c1
    assert act.learning.tolist() == [[0] * 4, [1, 1, 0, 0], [0] * 4, [1, 1, 0, 0]]
    # a0 fired twice, a1 once, a2 twice; inp0 and inp1 twice each, each to c0 and c1
    expected = np.zeros((4, 4), int)
    expected[0, 0], expected[0, 2], expected[0, 3], expected[0, 1] = 2, 3, 2, 1
    expected[1, 2], expected[1, 3] = 2, 2
    assert act.traffic.tolist() == expected.tolist()
    assert act.host_traffic.tolist() == [4, 4, 0, 0]


def test_activity_accepts_run_result_and_is_backend_independent():
    prog = small_program()
    a = activity(prog, RunResult("cpu", 4, spikes=small_spikes()).spikes)
    b = profile_report(prog, RunResult("lava", 4, spikes=small_spikes()))
    assert b["backend"] == "lava" and b["activity"]["totals"]["synops"] == int(a.synops.sum())


def test_activity_missing_or_misshapen_spikes_is_input_error():
    prog = small_program()
    s = small_spikes()
    del s["a"]
    with pytest.raises(InputError, match="no spikes recorded for population 'a'"):
        activity(prog, s)
    s = small_spikes()
    s["b"] = np.zeros((4, 5), bool)
    with pytest.raises(InputError, match=r"spikes.b.*\(4, 5\).*allowed: \(steps, 2\)"):
        activity(prog, s)


def test_core_positions_fallback_when_placement_left_blank():
    prog = small_program()
    for c in prog.cores:
        c.x = c.y = 0
    gx, gy, chip = core_positions(prog)
    # derived from the core index on the chip, row-major on the 2x2 mesh: 0->(0,0), 1->(1,0), 3->(1,1)
    assert gx.tolist() == [0, 1, 1, 2] and gy.tolist() == [0, 0, 1, 0] and chip.tolist() == [0, 0, 0, 1]


def brute_force(prog: Program, spikes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Loop over steps, fired neurons and synapses: the definitions, written out plainly."""
    gx, gy, chip = core_positions(prog)
    C = len(gx)
    steps = next(iter(spikes.values())).shape[0]
    out = {k: np.zeros((steps, C), int) for k in ("synops", "packets_out", "local", "hops", "host_in")}
    for t in range(steps):
        for name in prog.network.populations:
            for i in np.flatnonzero(spikes[name][t]):
                dests = set()
                for p in prog.network.projections.values():
                    if p.pre != name:
                        continue
                    for k in range(p.n_synapses):
                        if p.pre_idx[k] == i:
                            d = int(prog.core_of[p.post][p.post_idx[k]])
                            out["synops"][t, d] += 1
                            dests.add(d)
                if name not in prog.core_of:
                    for d in dests:
                        out["host_in"][t, d] += 1
                    continue
                s = int(prog.core_of[name][i])
                for d in dests:
                    if d == s:
                        out["local"][t, s] += 1
                    else:
                        out["packets_out"][t, s] += 1
                        out["hops"][t, s] += abs(gx[s] - gx[d]) + abs(gy[s] - gy[d])
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_activity_matches_brute_force_on_random_networks(seed):
    rng = np.random.default_rng(seed)
    prog = small_program()
    sizes = {"inp": 6, "a": 9, "b": 5}
    for name, n in sizes.items():
        prog.network.populations[name].size = n
    for p in prog.network.projections.values():
        m = int(rng.integers(5, 30))
        p.pre_idx = rng.integers(0, sizes[p.pre], m).astype(np.int32)
        p.post_idx = rng.integers(0, sizes[p.post], m).astype(np.int32)
        p.weight = np.ones(m, np.int32)
        p.delay = np.zeros(m, np.int16)
    prog.core_of = {"a": rng.integers(0, 4, 9).astype(np.int32), "b": rng.integers(0, 4, 5).astype(np.int32)}
    spikes = {k: rng.random((7, n)) < 0.3 for k, n in sizes.items()}
    act = activity(prog, spikes)
    ref = brute_force(prog, spikes)
    for k, v in ref.items():
        assert getattr(act, k).tolist() == v.tolist(), k


# ---- cost ------------------------------------------------------------------------------------


def test_energy_breakdown_from_figures():
    prog = small_program()
    cost = estimate_cost(prog, activity(prog, small_spikes()))
    e = cost["energy_pj"]["by_component_total"]
    # 26 synops x 2, 5 neurons x 4 steps x 1, 6 spikes x 3, (10 packets + 2 local) x 5,
    # 8 host messages x 5, 15 hops x 7, 4 chip hops x 11, 4 learning updates x 13
    assert e == {"synops": 52, "neuron_updates": 20, "spikes_out": 18, "messages": 60,
                 "input_messages": 40, "hops": 105, "chip_hops": 44, "learning": 52}
    assert cost["energy_pj"]["total"] == 391 and cost["energy_pj"]["per_step"] == 391 / 4
    assert sum(cost["energy_pj"]["per_core_total"]) == pytest.approx(391)
    assert cost["figures"]["energy_pj"]["synop"] == {"value": 2.0, "source": "hand-made test figures"}
    assert cost["missing"] == []


def test_figure_sources_per_figure():
    prog = small_program()
    prog.target.sources = {"energy_pj.synop": "Davies 2018", "time_ns.barrier": "SANA-FE"}
    figs = estimate_cost(prog, activity(prog, small_spikes()))["figures"]
    assert figs["energy_pj"]["synop"]["source"] == "Davies 2018"
    assert figs["time_ns"]["barrier"]["source"] == "SANA-FE"
    assert figs["energy_pj"]["message"]["source"] == "hand-made test figures"


def test_time_per_step_from_figures():
    prog = small_program()
    cost = estimate_cost(prog, activity(prog, small_spikes()))
    # core_ns = 0.5*neurons + synops + 2*spikes + 3*messages + 0.25*learning;
    # network = 4*max_hops + 10*max_chip_hops; + barrier 100
    # step0: max core 0: 1 + 2 = 3;                          network 0  -> 103
    # step1: core 0: 1 + 3 + 2 + 3*3 + 0.25 = 15.25;        network 18 -> 133.25
    # step2: core 1: 0.5 + 2 + 2 + 3*2 = 10.5;               network 14 -> 124.5
    # step3: core 0: 1 + 1 + 4 + 3*5 + 0.25 = 21.25;         network 18 -> 139.25
    assert cost["series"]["time_ns"].tolist() == [103, 133.25, 124.5, 139.25]
    t = cost["time_ns"]
    assert t["total"] == 500 and t["per_step"] == 125 and t["per_step_max"] == 139.25
    assert t["breakdown_per_step"] == {"compute": (3 + 15.25 + 10.5 + 21.25) / 4,
                                       "network": (0 + 18 + 14 + 18) / 4, "barrier": 100}
    assert t["critical_core_steps"] == {0: 3, 1: 1}


def test_missing_figures_count_zero_and_are_listed():
    prog = small_program()
    prog.target.energy_pj = {"synop": 2}
    prog.target.time_ns = {}
    cost = estimate_cost(prog, activity(prog, small_spikes()))
    assert cost["energy_pj"]["total"] == 52
    assert cost["time_ns"]["total"] == 0
    assert "energy_pj.learning_update" in cost["missing"] and "time_ns.barrier" in cost["missing"]


# ---- report and plots ------------------------------------------------------------------------


def test_report_is_json_and_table_names_the_facts():
    prog = small_program()
    rep = profile_report(prog, RunResult("cpu", 4, spikes=small_spikes()))
    back = json.loads(json.dumps(rep))
    assert back["activity"]["totals"]["packets_out"] == 10
    assert back["activity"]["totals"]["chip_packets"] == 4
    assert back["activity"]["derived"]["packets_per_spike"] == 10 / 6
    assert back["cost"]["per_step"]["time_ns"]["values"] == [103, 133.25, 124.5, 139.25]
    assert back["activity"]["traffic"]["matrix"][0][2] == 3
    text = format_profile(rep)
    assert "binding limit: synapse_bits (fullest core 1 at  90.0%)" in text
    assert "lower bound 2" in text
    assert "spikes 6, synaptic ops 26, messages 12 (10 packets between cores, 2 local)" in text
    assert "energy per step: 97.8 pJ" in text
    assert "time per step: 125 ns" in text
    static_only = profile_report(prog)
    assert static_only["activity"] is None and "no run" in format_profile(static_only)
    json.dumps(static_only)


def test_series_are_binned_for_long_runs():
    prog = small_program()
    steps = 1000
    spikes = {k: np.zeros((steps, v.shape[1]), bool) for k, v in small_spikes().items()}
    spikes["a"][::10, 0] = True  # a0 every 10th step: 100 spikes
    rep = profile_report(prog, spikes)
    ser = rep["activity"]["per_step"]["spikes"]
    assert ser["bin_steps"] == 10 and len(ser["values"]) == 100
    assert all(v == pytest.approx(0.1) for v in ser["values"])
    assert ser["max"] == 1 and ser["mean"] == pytest.approx(0.1)


def test_write_plots_png_files(tmp_path):
    prog = small_program()
    res = RunResult("cpu", 4, spikes=small_spikes())
    rep = profile_report(prog, res)
    paths = write_plots(prog, rep, res, tmp_path / "plots")
    names = sorted(p.name for p in paths)
    assert names == ["energy_breakdown.png", "spike_raster.png", "traffic_matrix.png",
                     "utilization_cores.png", "utilization_mesh.png"]
    for p in paths:
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", p
        assert len(data) > 5000, (p, len(data))
    only_static = write_plots(prog, profile_report(prog), None, tmp_path / "static")
    assert len(only_static) == 2


def test_placed_source_sends_packets_but_fires_no_compartment():
    """A source placed on core 2: its messages leave core 2 (with hops), yet it is no neuron."""
    prog = small_program()
    prog.core_of["inp"] = np.array([2, 2], np.int32)
    act = activity(prog, small_spikes())
    assert act.host_in.sum() == 0
    assert act.neurons.tolist() == [2, 1, 1, 1]
    assert act.spikes.sum() == 6  # a and b only
    # step 0: inp0 -> c0 (core 2 at (1,1) -> (0,0): 2 hops) and c1 (-> (1,0): 1 hop)
    assert act.packets_out[0].tolist() == [0, 0, 2, 0]
    assert act.hops[0].tolist() == [0, 0, 3, 0]
    assert act.traffic[2].tolist() == [4, 4, 0, 0]


def test_lower_bound_by_limit_from_pipeline_report():
    prog = small_program()
    prog.report = {"lower_bound": 3, "lower_bound_by_limit": {"neurons": 2, "in_axons": 3}}
    sm = static_profile(prog)["summary"]
    assert sm["lower_bound"] == 3 and sm["lower_bound_by_resource"] == {"neurons": 2, "in_axons": 3}
