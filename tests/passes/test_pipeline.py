"""The compile pipeline: target resolution, fit checks with file:line, Program cores, summary."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from compiler_helpers import FakePlacement, FakeUsage, two_layer, with_locations
from repo import ROOT

from compiler.errors import FitError, InputError
from compiler.passes.resources import core_usage
from compiler.pipeline import build_cores, compile_file, compile_network
from compiler.summary import compile_summary, format_summary
from compiler.target import CoreLimits, Target
from compiler.targets import load_target

EXAMPLES = ROOT / "examples"


def tiny_target(neurons=4, **core) -> Target:
    return Target("tiny", chips=1, cores_per_chip=16, mesh=(4, 4),
                  core=CoreLimits(neurons=neurons, **core))


def assert_cores_cover(program):
    """Every lif neuron sits on exactly one core, as core_of says; sources on none."""
    net = program.network
    for pop in net.neuron_populations:
        placed = [c.neurons[pop.name] for c in program.cores if pop.name in c.neurons]
        allidx = np.concatenate(placed)
        assert np.array_equal(np.sort(allidx), np.arange(pop.size)), pop.name
        for c in program.cores:
            if pop.name in c.neurons:
                assert np.all(program.core_of[pop.name][c.neurons[pop.name]] == c.id)
    for pop in net.source_populations:
        assert pop.name not in program.core_of
        assert all(pop.name not in c.neurons for c in program.cores)
    assert [c.id for c in program.cores] == list(range(len(program.cores)))


def test_cores_cover_every_lif_neuron_once_and_match_the_resource_model():
    net = two_layer("fixed")
    prog = compile_network(net, tiny_target(neurons=4), partitioner="sequential")
    # hid 10 + out 4 lif neurons on cores of 4: at least ceil(14 / 4) = 4 cores
    assert len(prog.cores) >= 4
    assert all(c.n_neurons <= 4 for c in prog.cores)
    assert_cores_cover(prog)
    usage = core_usage(prog.network, prog.core_of, len(prog.cores), prog.target)
    assert [c.synapse_bits for c in prog.cores] == usage.synapse_bits.tolist()
    assert [c.in_axons for c in prog.cores] == usage.in_axons.tolist()
    assert [c.out_axons for c in prog.cores] == usage.out_axons.tolist()
    rep = prog.report
    assert rep["target"] == "tiny" and rep["cores_used"] == len(prog.cores)
    assert rep["lower_bound"] == 4 and rep["partitioner"] == prog.partitioner == "sequential"
    assert set(rep["timings_s"]) == {"target", "checks", "quantize", "partition", "place", "program"}
    assert rep["compile_time_s"] > 0


@pytest.mark.parametrize("method", ["auto", "sequential", "greedy", "graph"])
def test_every_partitioner_gives_a_complete_program(method):
    prog = compile_network(two_layer("fixed", n_hid=30), tiny_target(neurons=8), partitioner=method)
    assert_cores_cover(prog)
    assert prog.partitioner.endswith(method) or prog.partitioner.startswith("auto:")


def test_unknown_partitioner_is_an_input_error():
    with pytest.raises(InputError, match="partitioner"):
        compile_network(two_layer(), tiny_target(), partitioner="metis")


def test_target_resolution(tmp_path):
    (tmp_path / "t.yaml").write_text("core: {neurons: 5}\n")
    net = two_layer(source_file=str(tmp_path / "net.yaml"))
    net.target = "t.yaml"  # relative to the network file
    prog = compile_network(net)
    assert prog.target.name == "t" and prog.target.core.neurons == 5
    assert all(c.n_neurons <= 5 for c in prog.cores)
    assert compile_network(net, target="loihi1").target.name == "loihi1"  # explicit wins
    assert compile_network(net, target=tiny_target()).target.name == "tiny"
    net.target = "nope.yaml"
    with pytest.raises(InputError) as exc:
        compile_network(net)
    assert f"looked for {tmp_path / 'nope.yaml'}" in str(exc.value)


def test_bad_target_name_points_at_the_network_line(tmp_path):
    net = with_locations(two_layer(), str(tmp_path / "net.yaml"), {"target": 3})
    net.target = "loihi_2"
    with pytest.raises(InputError) as exc:
        compile_network(net)
    assert f"{tmp_path / 'net.yaml'}:3: target:" in str(exc.value)
    assert "did you mean 'loihi2'" in str(exc.value)


def test_delay_over_target_max_is_a_fit_error_with_line(tmp_path):
    net = with_locations(two_layer(), str(tmp_path / "net.yaml"),
                         {"projections.inp_hid": 20, "projections.inp_hid.delay": 25})
    d = net.projections["inp_hid"].delay
    assert d.max() == 2
    with pytest.raises(FitError) as exc:
        compile_network(net, tiny_target(max_delay=1))
    text = str(exc.value)
    n_bad = int(np.count_nonzero(d == 2))
    assert (f"{tmp_path / 'net.yaml'}:25: projections.inp_hid.delay: delay 2 ({n_bad} synapses) "
            "exceeds target 'tiny' max_delay 1") in text
    assert "delays 0..1" in text
    assert isinstance(exc.value, InputError)  # CLI exit status 2


def test_delay_fit_error_from_yaml_files(tmp_path):
    (tmp_path / "chip.yaml").write_text("core: {max_delay: 3}\n")
    (tmp_path / "net.yaml").write_text(textwrap.dedent("""\
        snnc: 1
        name: d
        target: chip.yaml
        populations:
          a: {size: 2, model: spike_source, spikes: {kind: periodic, period: 2}}
          b: {size: 2, model: lif}
        projections:
          ab:
            pre: a
            post: b
            weight: 5
            delay: 7
        """))
    with pytest.raises(FitError) as exc:
        compile_file(tmp_path / "net.yaml")
    assert "net.yaml:12: projections.ab.delay: delay 7 (4 synapses) exceeds target 'chip'" in str(exc.value)


def test_weight_bits_over_target_are_fit_errors_and_float_nets_fit():
    net = two_layer("fixed")
    net.projections["hid_out"].weight[:] = 64  # needs 2 bits only
    with pytest.raises(FitError) as exc:
        compile_network(net, tiny_target(weight_bits=4))
    text = str(exc.value)
    assert "2 errors" in text
    assert "projections.inp_hid.num_weight_bits: num_weight_bits 8 exceeds target 'tiny' weight_bits 4" in text
    assert "num_weight_bits: 2 is exact" in text  # hid_out
    with pytest.warns(UserWarning, match="weights quantized with relative error"):
        prog = compile_network(two_layer("float"), tiny_target(weight_bits=4), quantize=True)
    assert all(p.num_weight_bits <= 4 for p in prog.network.projections.values())


def test_float_network_keeps_float_unless_quantize_is_asked():
    net = two_layer("float")
    prog = compile_network(net, tiny_target(neurons=8))
    assert prog.network is net and prog.network.precision == "float"
    assert prog.report["quantization"]["converted"] and not prog.report["quantized"]
    q = compile_network(net, tiny_target(neurons=8), quantize=True)
    assert q.network.precision == "fixed" and q.report["quantized"]
    assert q.network.projections["inp_hid"].weight.dtype == np.int32
    for pop in prog.core_of:
        assert np.array_equal(prog.core_of[pop], q.core_of[pop])


def test_plasticity_check_is_called(monkeypatch):
    calls = []

    def check_network(net, target):
        calls.append((net.name, target.name))
        raise InputError("plasticity: bad rule")

    monkeypatch.setattr("compiler.pipeline.check_network", check_network)
    with pytest.raises(InputError, match="plasticity: bad rule"):
        compile_network(two_layer(), tiny_target())
    assert calls == [("two_layer", "tiny")]


def test_build_cores_drops_empty_ids_and_renumbers():
    core_of = {"a": np.array([0, 0, 2, 2, 5], np.int32), "b": np.array([5, 2], np.int32)}
    n = 6
    ar = np.arange(n)
    usage = FakeUsage(ar, 100 * ar, 10 * ar, 20 * ar, ar)
    place = FakePlacement(ar // 4, ar % 4, ar % 2, ar // 2)
    new, cores = build_cores(core_of, usage, place, n)
    assert new["a"].tolist() == [0, 0, 1, 1, 2] and new["b"].tolist() == [2, 1]
    assert [c.id for c in cores] == [0, 1, 2]
    assert [c.synapse_bits for c in cores] == [0, 200, 500]  # usage of old ids 0, 2, 5
    assert [(c.chip, c.core, c.x, c.y) for c in cores] == [(0, 0, 0, 0), (0, 2, 0, 1), (1, 1, 1, 2)]
    assert cores[1].neurons["a"].tolist() == [2, 3] and cores[1].neurons["b"].tolist() == [1]
    assert cores[2].neurons["a"].tolist() == [4] and cores[2].neurons["b"].tolist() == [0]
    assert "b" not in cores[0].neurons


def test_compile_summary_follows_spec_schema():
    prog = compile_network(two_layer("fixed"), tiny_target(neurons=4))
    s = json.loads(json.dumps(compile_summary(prog)))
    assert s["target"] == "tiny" and isinstance(s["chips"], int) and s["chips"] == 1
    assert s["limits"] == {"neurons": 4, "synapse_bits": 1048576, "in_axons": 4096,
                           "out_axons": 4096}
    assert len(s["cores"]) == len(prog.cores)
    seen = {"hid": [], "out": []}
    for c, core in zip(s["cores"], prog.cores, strict=True):
        for key in ("chip", "core", "synapse_bits", "in_axons", "out_axons", "x", "y"):
            assert isinstance(c[key], int)
        assert c["synapse_bits"] == core.synapse_bits
        for pop, idx in c["neurons"].items():
            assert all(isinstance(i, int) for i in idx)
            seen[pop] += idx
    assert sorted(seen["hid"]) == list(range(10)) and sorted(seen["out"]) == list(range(4))
    assert s["lower_bound"] == 4 and s["partitioner"] == prog.partitioner
    assert s["inputs"] == [{"population": "inp", "size": 6, "kind": "poisson"}]
    assert s["binding"]["limit"] == "neurons" and s["binding"]["value"] == 4
    assert "projections" in s["quantization"]


def test_format_summary_mentions_lower_bound_and_binding_limit():
    prog = compile_network(two_layer("fixed"), tiny_target(neurons=4))
    text = format_summary(prog)
    assert f"{len(prog.cores)} cores on 1 chip(s) (lower bound 4)" in text
    assert "binding limit neurons at 100% (4/4)" in text
    assert "inputs (host side, not on cores): inp (6)" in text


def test_small_chip_example_needs_several_cores():
    prog = compile_file(EXAMPLES / "small_chip.yaml")
    assert prog.target.name == "small_chip" and prog.target.cores_per_chip == 8
    # 200 + 40 lif neurons on cores of 64: at least 4 cores
    assert 4 <= len(prog.cores) <= 8 and prog.report["lower_bound"] >= 4
    assert all(c.n_neurons <= 64 for c in prog.cores)
    assert_cores_cover(prog)
    assert prog.target.sources["core.neurons"].endswith("custom_target.yaml:12")
    assert prog.target == load_target(EXAMPLES / "custom_target.yaml")


def test_two_layer_example_compiles_for_loihi2():
    # its mixed-sign 8-bit weights lose their lowest bit in Lava's Dense (warned above 1%)
    with pytest.warns(UserWarning, match="lost 1 bits in weight rounding"):
        prog = compile_file(EXAMPLES / "two_layer.yaml")
    assert all(r["lost_bits"] <= 1 for r in prog.report["quantization"]["projections"].values())
    assert prog.target.name == "loihi2" and len(prog.cores) == 1
    assert_cores_cover(prog)
