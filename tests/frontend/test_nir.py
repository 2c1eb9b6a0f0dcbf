"""NIR interop: import mapping (forward Euler onto Lava LIF), errors, export, round trips."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

nir = pytest.importorskip("nir")


from repo import ROOT  # noqa: E402

from backends.cpu import run  # noqa: E402
from compiler.errors import InputError  # noqa: E402
from compiler.frontend import Network, load_network  # noqa: E402
from compiler.frontend.nir_import import import_nir, population_names  # noqa: E402
from compiler.nir_export import export_nir, save_nir  # noqa: E402
from compiler.pipeline import compile_network  # noqa: E402

EXAMPLES = ROOT / "examples"


def full(n: int, x: float) -> np.ndarray:
    return np.full(n, x, dtype=np.float64)


def cuba(n: int, tau_syn: float, tau_mem: float, r: float = 1.0, v_leak: float = 0.0,
         v_th: float = 1.0, w_in: float = 1.0, v_reset: float = 0.0) -> nir.CubaLIF:
    return nir.CubaLIF(tau_syn=full(n, tau_syn), tau_mem=full(n, tau_mem), r=full(n, r),
                       v_leak=full(n, v_leak), v_threshold=full(n, v_th),
                       v_reset=full(n, v_reset), w_in=full(n, w_in))


def graph(nodes: dict, edges: list) -> nir.NIRGraph:
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def dense(net, name: str) -> np.ndarray:
    p = net.projections[name]
    return p.dense_weights(net.populations[p.post].size, net.populations[p.pre].size)


# ----------------------------------------------------------------------------- mapping


def test_cubalif_maps_by_forward_euler():
    w = np.array([[1.0, -2.0], [0.5, 0.0], [3.0, 4.0]])
    g = graph({"in": nir.Input(input_type=np.array([2])), "fc": nir.Linear(weight=w),
               "lif": cuba(3, tau_syn=2.0, tau_mem=4.0, r=3.0, v_leak=0.4, v_th=1.5, w_in=2.0),
               "out": nir.Output(output_type=np.array([3]))},
              [("in", "fc"), ("fc", "lif"), ("lif", "out")])
    net = import_nir(g)
    lif = net.populations["lif"].lif
    # du = dt/tau_syn, dv = dt/tau_mem, bias = dt/tau_mem * v_leak
    assert (lif.du, lif.dv, lif.vth, lif.bias_mant) == (0.5, 0.25, 1.5, pytest.approx(0.1))
    # gain = w_in * dt/tau_syn * r * dt/tau_mem = 2 * 0.5 * 3 * 0.25 = 0.75; zeros: no synapse
    assert np.allclose(dense(net, "fc"), 0.75 * w)
    assert net.projections["fc"].n_synapses == 5
    assert net.populations["in"].is_source and net.populations["in"].source.rate == 0.0
    assert [p.key for p in net.probes] == ["lif.spikes"]


def test_lif_if_and_dt():
    g = graph({"in": nir.Input(input_type=np.array([1])),
               "a": nir.Linear(weight=np.array([[2.0]])),
               "lif": nir.LIF(tau=full(1, 0.01), r=full(1, 5.0), v_leak=full(1, -1.0),
                              v_threshold=full(1, 0.7)),
               "b": nir.Linear(weight=np.array([[3.0]])),
               "if": nir.IF(r=full(1, 4.0), v_threshold=full(1, 2.0))},
              [("in", "a"), ("a", "lif"), ("lif", "b"), ("b", "if")])
    net = import_nir(g, dt=0.001)
    lif, iff = net.populations["lif"].lif, net.populations["if"].lif
    # LIF: no synaptic memory (du = 1), dv = dt/tau = 0.1, bias = 0.1 * v_leak, gain r dt/tau
    assert (lif.du, lif.dv, lif.vth) == (1.0, pytest.approx(0.1), 0.7)
    assert lif.bias_mant == pytest.approx(-0.1)
    assert dense(net, "a")[0, 0] == pytest.approx(2.0 * 5.0 * 0.1)
    # IF: du = 1, dv = 0, gain r dt
    assert (iff.du, iff.dv, iff.vth, iff.bias_mant) == (1.0, 0.0, 2.0, 0.0)
    assert dense(net, "b")[0, 0] == pytest.approx(3.0 * 4.0 * 0.001)


def test_affine_bias_into_lif_and_source_into_filtered_cubalif():
    nodes = {"in": nir.Input(input_type=np.array([2])),
             "aff": nir.Affine(weight=np.ones((2, 2)), bias=np.array([0.5, 0.5])),
             "lif": nir.LIF(tau=full(2, 2.0), r=full(2, 1.0), v_leak=full(2, 0.2),
                            v_threshold=full(2, 1.0))}
    edges = [("in", "aff"), ("aff", "lif")]
    net = import_nir(graph(nodes, edges))
    # bias = dt/tau * (v_leak + r * b) = 0.5 * (0.2 + 0.5)
    assert net.populations["lif"].lif.bias_mant == pytest.approx(0.35)
    nodes["lif"] = cuba(2, tau_syn=1.0, tau_mem=2.0, v_leak=0.0)  # tau_syn == dt: exact
    assert import_nir(graph(nodes, edges)).populations["lif"].lif.bias_mant == pytest.approx(0.25)
    nodes["lif"] = cuba(2, tau_syn=3.0, tau_mem=2.0)  # bias into u: an always-on source
    net = import_nir(graph(nodes, edges))
    assert net.populations["lif_bias"].source.kind == "periodic"
    # gain = dt/tau_syn * dt/tau_mem = 1/6
    assert np.allclose(dense(net, "lif_bias_in"), np.eye(2) * 0.5 / 6)


def test_linear_chains_compose_and_delays_become_synaptic_delays():
    w1 = np.array([[1.0, 2.0], [3.0, 4.0]])
    g = graph({"in": nir.Input(input_type=np.array([2])), "w1": nir.Linear(weight=w1),
               "s": nir.Scale(scale=np.array([2.0, -1.0])),
               "d": nir.Delay(delay=np.array([3.0, 0.0])),
               "lif": cuba(2, tau_syn=1.0, tau_mem=1.0)},  # gain 1
              [("in", "w1"), ("w1", "s"), ("s", "d"), ("d", "lif")])
    net = import_nir(g)
    (proj,) = net.projections.values()
    assert proj.name == "w1"
    got = {(int(p), int(q)): (float(w), int(d)) for p, q, w, d in
           zip(proj.pre_idx, proj.post_idx, proj.weight, proj.delay, strict=True)}
    assert got == {(0, 0): (2.0, 3), (1, 0): (4.0, 3), (0, 1): (-3.0, 0), (1, 1): (-4.0, 0)}
    bad = graph({"in": nir.Input(input_type=np.array([1])), "d": nir.Delay(delay=np.array([1.5])),
                 "lif": cuba(1, 1.0, 1.0)}, [("in", "d"), ("d", "lif")])
    with pytest.raises(InputError, match="whole number of steps"):
        import_nir(bad)


def test_every_unmappable_node_is_reported_at_once():
    conv = nir.Conv2d(input_shape=(4, 4), weight=np.ones((1, 1, 5, 5)), stride=1, padding=0,
                      dilation=1, groups=1, bias=np.zeros(1))  # kernel larger than the input
    g = graph({"in": nir.Input(input_type=np.array([1, 4, 4])), "conv": conv,
               "thr": nir.Threshold(threshold=np.ones(4)),
               "li": nir.LI(tau=full(4, 2.0), r=full(4, 1.0), v_leak=full(4, 0.0)),
               "lif": cuba(4, 2.0, 2.0, v_reset=0.5), "fast": cuba(4, 0.5, 2.0),
               "mixed": nir.LIF(tau=full(2, 2.0), r=full(2, 1.0), v_leak=full(2, 0.0),
                                v_threshold=np.array([1.0, -1.0]))},
              [("in", "conv"), ("conv", "thr"), ("thr", "li"), ("li", "lif"), ("lif", "fast"),
               ("fast", "mixed")])
    with pytest.raises(InputError) as err:
        import_nir(g)
    diags = err.value.diagnostics
    text = str(err.value)
    for needle in ("Conv2d node 'conv'", "larger than the padded input",
                   "v_reset = 0.5", "tau_syn = 0.5 is shorter than dt", "v_threshold differs"):
        assert needle in text, needle
    assert {d.field for d in diags} >= {"nodes.conv", "nodes.lif", "nodes.fast", "nodes.mixed"}


def test_output_of_linear_unknown_input_and_missing_file(tmp_path):
    g = graph({"in": nir.Input(input_type=np.array([2])), "lif": cuba(2, 1.0, 1.0),
               "ro": nir.Linear(weight=np.ones((1, 2))), "out": nir.Output(output_type=np.array([1]))},
              [("in", "lif"), ("lif", "ro"), ("ro", "out")])
    with pytest.raises(InputError) as err:
        import_nir(g, inputs={"nope": np.zeros((5, 2), bool)})
    text = str(err.value)
    assert "Output node 'out'" in text and "not fed by a spiking node" in text
    assert "'nope' is not an Input node" in text
    with pytest.raises(InputError, match="file not found"):
        import_nir(tmp_path / "missing.nir")
    junk = tmp_path / "junk.nir"
    junk.write_text("not hdf5")
    with pytest.raises(InputError, match="cannot read NIR file"):
        import_nir(junk)


def test_names_are_sanitized_and_subgraphs_inlined():
    sub = nir.NIRGraph(nodes={"i": nir.Input(input_type=np.array([2])), "fc": nir.Linear(weight=np.eye(2)),
                              "l": cuba(2, 1.0, 1.0), "o": nir.Output(output_type=np.array([2]))},
                       edges=[("i", "fc"), ("fc", "l"), ("l", "o")], type_check=False)
    g = graph({"input": nir.Input(input_type=np.array([2])), "0.block": sub,
               "out": nir.Output(output_type=np.array([2]))},
              [("input", "0.block"), ("0.block", "out")])
    assert population_names(g) == {"input": "input", "0.block.l": "n_0_block_l"}
    net = import_nir(g)
    assert set(net.populations) == {"input", "n_0_block_l"}
    assert [p.key for p in net.probes] == ["n_0_block_l.spikes"]
    assert np.allclose(dense(net, "n_0_block_fc"), np.eye(2))


def test_sequential_graph_with_flatten():
    """A graph as nir.NIRGraph.from_list writes it, with a (1, 2, 2) input flattened (C order)."""
    w = np.arange(12.0).reshape(3, 4)
    g = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([1, 2, 2])),
        nir.Flatten(input_type={"input": np.array([1, 2, 2])}, start_dim=0, end_dim=-1),
        nir.Linear(weight=w), cuba(3, 1.0, 1.0))
    net = import_nir(g)
    assert net.populations["input"].size == 4
    assert np.allclose(dense(net, "linear"), w)  # gain 1: weights unchanged, zero dropped
    assert net.projections["linear"].n_synapses == 11
    assert [p.key for p in net.probes] == ["cubalif.spikes"]


# ----------------------------------------------------------------------------- runs


def test_imported_graph_runs_as_computed_by_hand():
    """IF (dt = 1, r = 1, threshold 2.5) fed every step with weight 1: Lava delivers a spike
    one step later, so v = 1, 2, 3 at steps 1, 2, 3: spikes at 3, 6, 9, ...  CubaLIF with
    tau_syn = tau_mem = 2, r = 2, weight 4 (gain 0.5, u jumps by 2) after one input spike
    at step 0: u = 2, 1, 0.5, 0.25; v = 2 (spike), 1 (spike), 0.5, 0.5, 0.375: threshold
    0.9 gives spikes at steps 1 and 2 only."""
    steps = 12
    g = graph({"a": nir.Input(input_type=np.array([1])), "wa": nir.Linear(weight=np.array([[1.0]])),
               "if": nir.IF(r=full(1, 1.0), v_threshold=full(1, 2.5)),
               "b": nir.Input(input_type=np.array([1])), "wb": nir.Linear(weight=np.array([[4.0]])),
               "cuba": cuba(1, 2.0, 2.0, r=2.0, v_th=0.9),
               "oa": nir.Output(output_type=np.array([1])), "ob": nir.Output(output_type=np.array([1]))},
              [("a", "wa"), ("wa", "if"), ("b", "wb"), ("wb", "cuba"), ("if", "oa"), ("cuba", "ob")])
    one = np.zeros((steps, 1), bool)
    one[0] = True
    net = import_nir(g, inputs={"a": np.ones((steps, 1), bool), "b": one})
    res = run(compile_network(net), steps)
    assert np.flatnonzero(res.spikes["if"][:, 0]).tolist() == [3, 6, 9]
    assert np.flatnonzero(res.spikes["cuba"][:, 0]).tolist() == [1, 2]


def test_fixed_import_quantizes_with_power_of_two_scale():
    g = graph({"in": nir.Input(input_type=np.array([2])), "fc": nir.Linear(weight=np.array([[2.0, 6.0]])),
               "lif": cuba(1, 1.0, 2.0, v_th=10.0)},  # gain 0.5: weights 1, 3
              [("in", "fc"), ("fc", "lif")])
    net = import_nir(g, precision="fixed")
    lif, proj = net.populations["lif"].lif, net.projections["fc"]
    assert net.precision == "fixed" and (lif.du, lif.dv) == (4095, 2048)
    k = lif.vth / 10.0  # the population's scale: a power of two
    assert k == 2 ** round(np.log2(k))
    assert np.array_equal(proj.weight * 2.0 ** proj.weight_exp, k * np.array([1.0, 3.0]))
    net1 = import_nir(g, precision="fixed", scale=1.0)
    assert net1.populations["lif"].lif.vth == 10
    assert net1.projections["fc"].weight.tolist() == [1, 3]


# ----------------------------------------------------------------------------- export


def test_round_trip_graph_import_export():
    """NIR paper convention (r = tau_mem / dt, w_in = 1) comes back unchanged."""
    dt = 0.5
    w1, w2 = np.array([[0.5, -1.0], [2.0, 0.0], [1.5, 1.0]]), np.array([[1.0, -0.5, 2.0]])
    g = graph({"in": nir.Input(input_type=np.array([2])), "fc1": nir.Linear(weight=w1),
               "l1": cuba(3, tau_syn=2.0, tau_mem=4.0, r=4.0 / dt, v_leak=0.3, v_th=1.2),
               "fc2": nir.Linear(weight=w2),
               "l2": cuba(1, tau_syn=1.0, tau_mem=8.0, r=8.0 / dt, v_th=0.7),
               "out": nir.Output(output_type=np.array([1]))},
              [("in", "fc1"), ("fc1", "l1"), ("l1", "fc2"), ("fc2", "l2"), ("l2", "out")])
    back = export_nir(import_nir(g, dt=dt), dt=dt)
    assert set(back.nodes) == {"in", "fc1", "l1", "fc2", "l2", "in.out", "l1.out", "l2.out"}
    assert set(back.edges) == {("in", "fc1"), ("fc1", "l1"), ("l1", "fc2"), ("fc2", "l2"),
                               ("in", "in.out"), ("l1", "l1.out"), ("l2", "l2.out")}
    for name in ("l1", "l2"):
        a, b = g.nodes[name], back.nodes[name]
        assert isinstance(b, nir.CubaLIF)
        for f in ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"):
            assert np.allclose(getattr(a, f), getattr(b, f)), (name, f)
    assert np.allclose(back.nodes["fc1"].weight, w1)
    assert np.allclose(back.nodes["fc2"].weight, w2)
    # any other (r, w_in) gauge keeps the effective gain r * w_in * weight
    g.nodes["l1"] = cuba(3, tau_syn=2.0, tau_mem=4.0, r=3.0, w_in=0.5, v_leak=0.3, v_th=1.2)
    back = export_nir(import_nir(g, dt=dt), dt=dt)
    eff = back.nodes["fc1"].weight * (back.nodes["l1"].r * back.nodes["l1"].w_in)[:, None]
    assert np.allclose(eff, w1 * 3.0 * 0.5)
    nir.NIRGraph(nodes=back.nodes, edges=back.edges)  # nir's own type check accepts it


@pytest.mark.filterwarnings("ignore:projection .* lost 1 bits")
def test_fixed_network_round_trips_exactly_through_a_nir_file(tmp_path):
    net = load_network(EXAMPLES / "two_layer.yaml")
    ref = run(compile_network(net), 60)
    g = export_nir(net)
    lin = g.nodes["inp_hid"]
    assert isinstance(g.nodes["hid"], nir.CubaLIF) and isinstance(g.nodes["inp_hid.d1.delay"], nir.Delay)
    # du = (1024 + 1) / 4096, v scale 1/64: threshold = vth, weights = Lava weight / du
    assert np.allclose(g.nodes["hid"].tau_syn, 4096 / 1025)
    assert np.allclose(g.nodes["hid"].v_threshold, 1000)
    proj = net.projections["inp_hid"]
    i = int(np.flatnonzero(proj.delay == 0)[0])
    w_eff = (int(proj.weight[i]) >> 1) << 1  # mixed-sign 8-bit: Lava drops the lowest bit
    assert lin.weight[proj.post_idx[i], proj.pre_idx[i]] == pytest.approx(w_eff * 4096 / 1025)
    path = tmp_path / "two_layer.nir"
    save_nir(net, path)  # nir.write of export_nir(net)
    back = import_nir(path, precision="fixed", inputs={"inp": ref.spikes["inp"]},
                      name="two_layer", seed=net.seed)
    for name in ("hid", "out"):
        assert back.populations[name].lif == net.populations[name].lif
    res = run(compile_network(back), 60)
    for pop in ("hid", "out"):
        assert res.spikes[pop].any()
        assert np.array_equal(res.spikes[pop], ref.spikes[pop]), pop


def test_export_program_metadata_and_errors():
    net = (Network("ex", precision="float")
           .population("src", 3, spikes={"kind": "poisson", "rate": 0.1})
           .population("ok", 2, params={"du": 0.5, "dv": 0.5, "vth": 1.0})
           .population("nodecay", 2, params={"du": 0.0, "dv": 0.5})
           .population("adapting", 2, params={"du": 1.0, "dv": 0.1, "adapt": {"increment": 1, "tau": 10}})
           .projection("a", "src", "ok", weight=0.5)
           .projection("b", "ok", "nodecay", weight=0.5)
           .probe("ok.spikes", "ok.v")).build()
    with pytest.raises(InputError) as err:
        export_nir(net)
    text = str(err.value)
    assert "'nodecay'" in text and "never decays" in text and "'adapting'" in text
    del net.populations["nodecay"], net.populations["adapting"], net.projections["b"]
    prog = compile_network(net)
    g = export_nir(prog)
    assert np.array_equal(g.nodes["ok"].metadata["snnc_cores"], prog.core_of["ok"])
    assert np.allclose(g.nodes["a"].weight, 0.5 / 0.5)  # Lava weight / du
    assert [e for e in g.edges if e[1].endswith(".out")] == [("src", "src.out"), ("ok", "ok.out")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert isinstance(export_nir(net, dt=2.0).nodes["ok"], nir.CubaLIF)
