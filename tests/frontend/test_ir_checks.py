"""IR objects check their structure on construction, and NetworkIR.validate() checks value
ranges, so a network built in Python fails early with a message naming object and field."""

from __future__ import annotations

import numpy as np
import pytest
from compiler_helpers import two_layer
from repo import EXAMPLES

from compiler import ir
from compiler.errors import InputError
from compiler.frontend import load_network
from compiler.frontend.builder import Network
from compiler.ir import (
    Adapt,
    LIFParams,
    NetworkIR,
    Plasticity,
    Population,
    Probe,
    Projection,
    SpikeSource,
)
from compiler.pipeline import compile_network

I32, I16 = np.int32, np.int16
SNNC_EXAMPLES = sorted(p for p in EXAMPLES.glob("*.yaml")
                       if any(line.startswith("snnc:") for line in p.read_text().splitlines()))
SLOW_EXAMPLES = {"large_multichip.yaml"}  # ~13M synapses: ~35 s to compile


def _arr(x, dtype) -> np.ndarray:
    return x if isinstance(x, np.ndarray) else np.asarray(x, dtype)


def _proj(pre=(0, 1), post=(1, 0), weight=(5, 6), delay=(0, 1), **kw) -> Projection:
    return Projection("a_b", "a", "b", _arr(pre, I32), _arr(post, I32), _arr(weight, I32),
                      _arr(delay, I16), **kw)


def _net(**lif: float) -> NetworkIR:
    pops = {"a": Population("a", 2, "spike_source", source=SpikeSource("poisson", rate=0.2)),
            "b": Population("b", 2, "lif", lif=LIFParams(**lif))}
    return NetworkIR("n", populations=pops, projections={"a_b": _proj()},
                     probes=[Probe("b", "v"), Probe("a_b", "weights")])


@pytest.mark.parametrize("build, field, allowed", [
    (lambda: _proj(pre=(0, 1, 1)), "projections.a_b", "one entry per synapse"),
    (lambda: _proj(weight=(1,)), "projections.a_b", "one entry per synapse"),
    (lambda: Projection("a_b", "a", "b", np.zeros(2), np.zeros(2, I32), np.zeros(2, I32),
                        np.zeros(2, I16)), "projections.a_b.pre_idx", "1-D integer array"),
    (lambda: Projection("a_b", "a", "b", np.zeros((2, 1), I32), np.zeros(2, I32),
                        np.zeros(2, I32), np.zeros(2, I16)), "projections.a_b.pre_idx",
     "1-D integer array"),
    (lambda: Projection("a_b", "a", "b", [0, 1], np.zeros(2, I32), np.zeros(2, I32),
                        np.zeros(2, I16)), "projections.a_b.pre_idx", "1-D integer array"),
    (lambda: _proj(delay=(0, -3)), "projections.a_b.delay", "delays >= 0"),
    (lambda: _proj(delay=np.zeros(2)), "projections.a_b.delay", "1-D integer array"),
    (lambda: _proj(weight=np.array(["x", "y"])), "projections.a_b.weight", "numeric"),
    (lambda: _proj(weight_exp=1.5), "projections.a_b.weight_exp", "an integer"),
    (lambda: _proj(plasticity="stdp"), "projections.a_b.plasticity", "a Plasticity"),
    (lambda: Population("exc", -1, "lif"), "populations.exc.size", "an integer >= 0"),
    (lambda: Population("exc", 2.5, "lif"), "populations.exc.size", "an integer >= 0"),
    (lambda: Population("exc", True, "lif"), "populations.exc.size", "an integer >= 0"),
    (lambda: Population("exc", 3, "izhikevich"), "populations.exc.model", "lif | spike_source"),
    (lambda: Population("exc", 3, "lif", positions=np.zeros((2, 2))),
     "populations.exc.positions", "one row per neuron"),
    (lambda: SpikeSource("gaussian"), "source.kind", "poisson | periodic | array | dataset"),
    (lambda: SpikeSource("array", data=np.zeros(4, bool)), "source.data", "2-D"),
    (lambda: Probe("hid", "voltage"), "probe hid.voltage", "spikes, v, u"),
    (lambda: Plasticity(3), "plasticity.rule", "a rule name"),
    (lambda: Plasticity("stdp", params=[1]), "plasticity.stdp.params", "a mapping"),
    (lambda: LIFParams(du="fast"), "lif.du", "a finite number"),
    (lambda: LIFParams(vth=float("nan")), "lif.vth", "a finite number"),
    (lambda: LIFParams(wta=1), "lif.wta", "true | false"),
    (lambda: Adapt(increment=None), "adapt.increment", "a finite number"),
    (lambda: NetworkIR("n", precision="double"), "network.precision", "fixed | float"),
    (lambda: NetworkIR("n", populations=[]), "network.populations", "a dict"),
])
def test_structural_check_names_object_field_and_allowed(build, field, allowed):
    with pytest.raises(InputError) as exc:
        build()
    msg = str(exc.value)
    assert msg.startswith(f"{field}: "), msg
    assert "(allowed: " in msg and allowed in msg.split("(allowed: ", 1)[1], msg


def test_unequal_arrays_message_lists_the_lengths():
    with pytest.raises(InputError, match=r"pre_idx 3, post_idx 2, weight 2, delay 2"):
        _proj(pre=(0, 1, 1))


def test_valid_ir_from_python_passes_and_compiles():
    net = _net(du=100, dv=200, vth=50)
    net.validate()
    prog = compile_network(net, "loihi2")
    assert prog.report["cores_used"] == 1
    assert _proj(pre=np.array([], I32), post=np.array([], I32), weight=np.array([], I32),
                 delay=np.array([], I16)).n_synapses == 0
    assert Population("empty", 0, "lif").size == 0  # an intermediate may be empty
    assert Probe("a", "spikes").key == "a.spikes"
    two_layer("float").validate()
    two_layer("fixed").validate()


def test_unchecked_defers_the_checks_to_a_validating_reader():
    with ir.unchecked():
        p = Population("exc", "abc", "lif")
    assert p.size == "abc"
    with pytest.raises(InputError):
        Population("exc", "abc", "lif")  # checks are back on outside the block


@pytest.mark.parametrize("field, value, path, allowed", [
    ("du", 5000, "populations.b.params.du", "integers in 0 .. 4095"),
    ("dv", -1, "populations.b.params.dv", "integers in 0 .. 4095"),
    ("vth", 200000, "populations.b.params.vth", "integers in 0 .. 131071"),
    ("bias_mant", 1.5, "populations.b.params.bias_mant", "finite integers"),
    ("bias_exp", 9, "populations.b.params.bias_exp", "integers in 0 .. 7"),
])
def test_validate_catches_fixed_lif_ranges(field, value, path, allowed):
    net = _net(**{field: value})
    with pytest.raises(InputError) as exc:
        net.validate()
    msg = str(exc.value)
    assert msg.startswith(f"{path}: found"), msg
    assert allowed in msg, msg


def test_compile_network_validates_an_ir_built_in_python():
    net = _net(du=5000)
    with pytest.raises(InputError, match=r"populations\.b\.params\.du: found 5000, out of "
                       r"range \(allowed: integers in 0 \.\. 4095\)"):
        compile_network(net, "loihi2")


def test_validate_float_ranges_and_references():
    net = _net(du=0.5, dv=0.25, vth=1.5, bias_mant=0.1)
    net.precision = "float"
    net.projections["a_b"].weight = np.array([0.5, -1.25])
    net.validate()  # float: fractions are fine
    net.populations["b"].lif.du = 1.5
    net.projections["a_b"].weight = np.array([0.5, np.inf])
    net.probes.append(Probe("a", "v"))
    net.probes.append(Probe("zz", "spikes"))
    with pytest.raises(InputError) as exc:
        net.validate()
    msg = str(exc.value)
    assert msg.startswith("4 errors:"), msg
    assert "populations.b.params.du: found 1.5, out of range (allowed: numbers in 0.0 .. 1.0)" in msg
    assert "projections.a_b.weight: found non-finite weights" in msg
    assert "probes[2].var: 'a' has no 'v' (allowed: spikes)" in msg
    assert "probes[3].target: no population or projection 'zz'" in msg


def test_validate_catches_indices_weights_and_sources():
    net = _net()
    net.projections["a_b"] = _proj(pre=(0, 2), weight=(300, -5), weight_exp=9,
                                   num_weight_bits=0)
    net.populations["a"].source.rate = 2.0
    with pytest.raises(InputError) as exc:
        net.validate()
    msg = str(exc.value)
    assert "projections.a_b.pre_idx: found 2, out of range (allowed: integers in 0 .. 1)" in msg
    assert "projections.a_b.weight: found 300, out of range (allowed: integers in -256 .. 255)" in msg
    assert "projections.a_b.weight_exp: found 9" in msg
    assert "projections.a_b.num_weight_bits: found 0" in msg
    assert "populations.a.spikes.rate: found 2, out of range" in msg
    net = _net()
    net.projections["a_b"] = _proj(weight=(-300, 0))  # all-inhibitory: Lava clips to [-255, 0]
    with pytest.raises(InputError, match=r"integers in -255 \.\. 0"):
        net.validate()
    net = _net()
    net.projections["b_a"] = Projection("b_a", "b", "a", np.zeros(1, I32), np.zeros(1, I32),
                                        np.zeros(1, I32), np.zeros(1, I16))
    with pytest.raises(InputError, match=r"projections\.b_a\.post: 'a' is a spike source"):
        net.validate()


def test_validate_reports_the_written_location():
    net = _net(du=5000)
    net.source_file = "net.yaml"
    net.locations["populations.b.params.du"] = ir.Location("net.yaml", 7, "")
    with pytest.raises(InputError, match=r"^net\.yaml:7: populations\.b\.params\.du: found 5000"):
        net.validate()


def test_builder_network_loads_validates_and_compiles():
    net = (Network("demo", seed=1)
           .population("inp", 16, spikes={"kind": "poisson", "rate": 0.1})
           .population("hid", 32, params={"vth": 100, "du": 300})
           .projection("inp_hid", "inp", "hid", weight={"dist": "uniform", "low": 0, "high": 50})
           .probe("hid.spikes", "hid.v")).build()
    net.validate()
    prog = compile_network(net)
    assert prog.report["cores_used"] >= 1
    assert net.projections["inp_hid"].n_synapses > 0


@pytest.mark.parametrize("path", [pytest.param(p, id=p.name, marks=[pytest.mark.slow]
                                               if p.name in SLOW_EXAMPLES else [])
                                  for p in SNNC_EXAMPLES])
def test_example_networks_load_validate_and_compile(path):
    net = load_network(path)
    net.validate()
    prog = compile_network(net)
    assert prog.report["cores_used"] >= 1
    assert set(prog.core_of) == {p.name for p in net.neuron_populations}


def test_examples_found():
    assert len(SNNC_EXAMPLES) >= 6
    assert {p.name for p in SNNC_EXAMPLES} >= {"two_layer.yaml", "brunel.yaml"}
