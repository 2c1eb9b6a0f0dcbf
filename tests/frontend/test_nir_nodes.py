"""NIR node coverage, each mapping checked against NIR's equations in plain numpy.

The reference discretizes NIR's continuous equations with forward Euler at dt (synaptic
current first, then the voltage with the new current) and feeds every spike input with
snnc's one step of synaptic latency: x[t] = W s[t - 1] (+ an Affine bias b, see `ref_input`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from backends.cpu import run  # noqa: E402
from compiler.errors import InputError  # noqa: E402
from compiler.frontend.nir_import import import_nir, population_names  # noqa: E402
from compiler.pipeline import compile_network  # noqa: E402

DT = 1e-4
STEPS = 40


def graph(nodes: dict, edges: list) -> nir.NIRGraph:
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def spikes_in(n: int, seed: int = 1, p: float = 0.4) -> np.ndarray:
    return np.random.default_rng(seed).random((STEPS, n)) < p


def ref_input(w: np.ndarray, s: np.ndarray, b: np.ndarray | None = None, bias_from: int = 0
              ) -> np.ndarray:
    """NIR input current x[t] = W s[t - 1] (one step of latency) + b for t >= bias_from."""
    x = np.zeros((s.shape[0], w.shape[0]))
    x[1:] = s[:-1].astype(float) @ w.T
    if b is not None:
        x[bias_from:] += b
    return x


def ref_neuron(node, x: np.ndarray, dt: float = DT) -> tuple[np.ndarray, np.ndarray]:
    """Forward Euler of one NIR neuron node on input x (steps, n): (spikes, v) per step."""
    n = x.shape[1]

    def arr(name: str, default: float = 0.0) -> np.ndarray:
        return np.broadcast_to(np.asarray(getattr(node, name, default), float), (n,))

    i_syn, v = np.zeros(n), np.zeros(n)
    spikes, vs = np.zeros(x.shape, bool), np.zeros(x.shape)
    for t in range(x.shape[0]):
        if isinstance(node, nir.Threshold):
            spikes[t] = x[t] > arr("threshold")
            continue
        if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
            i_syn = i_syn + dt / arr("tau_syn") * (-i_syn + arr("w_in") * x[t])
            v = v + dt / arr("tau_mem") * (arr("v_leak") - v + arr("r") * i_syn)
        elif isinstance(node, (nir.LIF, nir.LI)):
            v = v + dt / arr("tau") * (arr("v_leak") - v + arr("r") * x[t])
        else:  # IF, I
            v = v + dt * arr("r") * x[t]
        if isinstance(node, (nir.LIF, nir.CubaLIF, nir.IF)):
            spikes[t] = v > arr("v_threshold")
            v = np.where(spikes[t], 0.0, v)
        vs[t] = v
    return spikes, vs


def simulate(g: nir.NIRGraph, s: np.ndarray, dt: float = DT):
    net = import_nir(g, dt=dt, inputs={"in": s}, steps=STEPS)
    return net, run(compile_network(net), STEPS)


def layer(w: np.ndarray, neuron, bias: np.ndarray | None = None, out: bool = True) -> nir.NIRGraph:
    aff = nir.Linear(weight=w) if bias is None else nir.Affine(weight=w, bias=bias)
    nodes = {"in": nir.Input(input_type=np.array([w.shape[1]])), "fc": aff, "n": neuron}
    edges = [("in", "fc"), ("fc", "n")]
    if out:
        nodes["out"] = nir.Output(output_type=np.array([w.shape[0]]))
        edges.append(("n", "out"))
    return graph(nodes, edges)


W = np.array([[300.0, -100.0, 200.0], [150.0, 250.0, -50.0], [400.0, 100.0, 100.0],
              [-200.0, 300.0, 250.0]])


def cubalif(n: int | None = None, **kw) -> nir.CubaLIF:
    p = dict(tau_syn=5e-4, tau_mem=1e-3, r=2.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0,
             w_in=1.0)
    p.update(kw)
    return nir.CubaLIF(**{k: np.asarray(v, float) if n is None else np.full(n, v, float)
                          for k, v in p.items()})


# ----------------------------------------------------------------------------- scalars


def test_scalar_parameters_broadcast_to_the_affine_size():
    lif = nir.LIF(tau=np.array(1e-3), r=np.array(2.0), v_leak=np.array(0.0),
                  v_threshold=np.array(0.5), v_reset=np.array(0.0))
    s = spikes_in(3)
    net, res = simulate(layer(W, lif), s)
    assert net.populations["n"].size == 4
    want, _ = ref_neuron(lif, ref_input(W, s))
    assert want.any() and np.array_equal(res.spikes["n"], want)


def test_scalar_parameters_without_a_sized_neighbour_are_an_error():
    g = graph({"a": cubalif(None), "b": cubalif(None)}, [("a", "b")])
    with pytest.raises(InputError) as err:
        import_nir(g, dt=DT)
    assert "nodes.a" in str(err.value) and "scalar parameters" in str(err.value)


# ----------------------------------------------------------------------------- Affine bias


def test_uniform_affine_bias_into_lif_is_the_neuron_bias_from_step_0():
    lif = nir.LIF(tau=np.full(4, 1e-3), r=np.full(4, 2.0), v_leak=np.full(4, 0.1),
                  v_threshold=np.full(4, 0.5), v_reset=np.zeros(4))
    b = np.full(4, 30.0)
    s = spikes_in(3)
    net, res = simulate(layer(W, lif, b), s)
    assert net.populations["n"].lif.bias_mant == pytest.approx(0.1 * (0.1 + 2.0 * 30.0))
    assert "n_bias" not in net.populations
    want, _ = ref_neuron(lif, ref_input(W, s, b, bias_from=0))
    assert want.any() and np.array_equal(res.spikes["n"], want)


def test_affine_bias_into_cubalif_is_an_always_on_source_into_u():
    """Bias b into the synaptic current: a constant input to u, not to v (steady state
    u = b): exact through a periodic source, one step of latency like every input."""
    neuron = cubalif(4)
    b = np.array([40.0, 0.0, 80.0, -20.0])  # differs per neuron; one zero
    s = spikes_in(3)
    net, res = simulate(layer(W, neuron, b), s)
    src = net.populations["n_bias"]
    assert src.is_source and src.source.kind == "periodic" and src.source.period == 1
    proj = net.projections["n_bias_in"]
    gain = (DT / 5e-4) * 2.0 * (DT / 1e-3)
    assert proj.pre_idx.tolist() == proj.post_idx.tolist() == [0, 2, 3]
    assert np.allclose(proj.weight, gain * b[[0, 2, 3]])
    want, _ = ref_neuron(neuron, ref_input(W, s, b, bias_from=1))
    assert want.any() and np.array_equal(res.spikes["n"], want)
    for other in (ref_input(W, s, b, bias_from=0), ref_input(W, s)):  # the check can tell
        assert not np.array_equal(ref_neuron(neuron, other)[0], want)


def test_affine_bias_differing_per_neuron_into_lif_uses_the_source():
    lif = nir.LIF(tau=np.full(4, 1e-3), r=np.full(4, 2.0), v_leak=np.zeros(4),
                  v_threshold=np.full(4, 0.5), v_reset=np.zeros(4))
    b = np.array([10.0, 20.0, 0.0, 30.0])
    s = spikes_in(3, seed=4)
    net, res = simulate(layer(W, lif, b), s)
    assert net.populations["n"].lif.bias_mant == 0.0 and "n_bias" in net.populations
    want, _ = ref_neuron(lif, ref_input(W, s, b, bias_from=1))
    assert want.any() and np.array_equal(res.spikes["n"], want)


# ----------------------------------------------------------------------------- readouts, Scale, Threshold


@pytest.mark.parametrize("kind", ["LI", "CubaLI", "I"])
def test_readout_voltage_matches_forward_euler(kind):
    n = 4
    if kind == "LI":
        node = nir.LI(tau=np.full(n, 1e-3), r=np.full(n, 2.0), v_leak=np.full(n, 0.2))
    elif kind == "CubaLI":
        node = nir.CubaLI(tau_syn=np.full(n, 5e-4), tau_mem=np.full(n, 1e-3), r=np.full(n, 2.0),
                          v_leak=np.full(n, 0.2), w_in=np.full(n, 1.5))
    else:
        node = nir.I(r=np.full(n, 3.0))
    s = spikes_in(3)
    net, res = simulate(layer(W, node), s)
    assert [p.key for p in net.probes] == ["n.v"]
    assert not res.spikes["n"].any()
    _, want = ref_neuron(node, ref_input(W, s))
    assert np.abs(want).max() > 0.1
    assert np.allclose(res.values["n.v"], want, rtol=1e-9, atol=1e-12)


def test_readout_feeding_another_node_is_an_error():
    g = layer(W, nir.LI(tau=np.full(4, 1e-3), r=np.ones(4), v_leak=np.zeros(4)), out=False)
    g.nodes["fc2"] = nir.Linear(weight=np.ones((2, 4)))
    g.nodes["l2"] = cubalif(2)
    g.edges += [("n", "fc2"), ("fc2", "l2")]
    with pytest.raises(InputError) as err:
        import_nir(g, dt=DT)
    assert "LI node 'n'" in str(err.value) and "non-spiking readout" in str(err.value)


def test_scale_between_affine_and_neuron_scales_weights_and_bias():
    neuron = cubalif(4)
    scale = np.array([1.0, -2.0, 0.5, 3.0])
    b = np.array([20.0, 10.0, 40.0, 5.0])
    g = graph({"in": nir.Input(input_type=np.array([3])), "fc": nir.Affine(weight=W, bias=b),
               "sc": nir.Scale(scale=scale), "n": neuron,
               "out": nir.Output(output_type=np.array([4]))},
              [("in", "fc"), ("fc", "sc"), ("sc", "n"), ("n", "out")])
    s = spikes_in(3, seed=7)
    _, res = simulate(g, s)
    want, _ = ref_neuron(neuron, ref_input(scale[:, None] * W, s, scale * b, bias_from=1))
    assert want.any() and np.array_equal(res.spikes["n"], want)


def test_threshold_spikes_when_its_input_exceeds_it():
    thr = nir.Threshold(threshold=np.full(4, 150.0))
    s = spikes_in(3, seed=2)
    net, res = simulate(layer(W, thr), s)
    lif = net.populations["n"].lif
    assert (lif.du, lif.dv, lif.vth) == (1.0, 1.0, 150.0)
    want, _ = ref_neuron(thr, ref_input(W, s))
    assert want.any() and not want.all() and np.array_equal(res.spikes["n"], want)


def test_flatten_is_identity_on_sizes():
    fl = nir.Flatten(input_type={"input": np.array([1, 3])}, start_dim=0, end_dim=-1)
    neuron = cubalif(4)
    g = graph({"in": nir.Input(input_type=np.array([1, 3])), "fl": fl, "fc": nir.Linear(weight=W),
               "n": neuron, "out": nir.Output(output_type=np.array([4]))},
              [("in", "fl"), ("fl", "fc"), ("fc", "n"), ("n", "out")])
    s = spikes_in(3, seed=3)
    net, res = simulate(g, s)
    assert net.populations["in"].size == 3
    want, _ = ref_neuron(neuron, ref_input(W, s))
    assert want.any() and np.array_equal(res.spikes["n"], want)


# ----------------------------------------------------------------------------- graphs, files


def test_nested_graph_is_flattened_with_dotted_ids():
    w2 = np.full((2, 4), 200.0)
    l1, l2 = cubalif(4), cubalif(2, v_threshold=0.5)
    block = nir.NIRGraph(
        nodes={"i": nir.Input(input_type=np.array([3])), "fc1": nir.Linear(weight=W), "lif1": l1,
               "fc2": nir.Linear(weight=w2), "lif2": l2, "o": nir.Output(output_type=np.array([2]))},
        edges=[("i", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "o")],
        type_check=False)
    g = graph({"in": nir.Input(input_type=np.array([3])), "block": block,
               "out": nir.Output(output_type=np.array([2]))}, [("in", "block"), ("block", "out")])
    assert population_names(g) == {"in": "in", "block.lif1": "block_lif1",
                                   "block.lif2": "block_lif2"}
    s = spikes_in(3, seed=5)
    net, res = simulate(g, s)
    assert [p.key for p in net.probes] == ["block_lif2.spikes"]
    s1, _ = ref_neuron(l1, ref_input(W, s))
    s2, _ = ref_neuron(l2, ref_input(w2, s1))
    assert s1.any() and s2.any()
    assert np.array_equal(res.spikes["block_lif1"], s1)
    assert np.array_equal(res.spikes["block_lif2"], s2)


def test_file_failing_nir_type_check_is_read_with_a_warning(tmp_path):
    fl = nir.Flatten(input_type={"input": np.array([2, 2])}, start_dim=0, end_dim=-1)
    lif = nir.LIF(tau=np.full(4, 2), r=np.full(4, 1), v_leak=np.zeros(4, int),
                  v_threshold=np.ones(4, int))  # integer arrays, as some exporters write
    g = graph({"in": nir.Input(input_type=np.array([4])), "fl": fl, "lif": lif,
               "out": nir.Output(output_type=np.array([4]))},
              [("in", "fl"), ("fl", "lif"), ("lif", "out")])
    path = tmp_path / "strict.nir"
    nir.write(path, g)
    with pytest.raises(ValueError):
        nir.read(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = import_nir(path)
    assert any("type check" in str(w.message) for w in caught)
    assert net.populations["lif"].size == 4 and net.populations["lif"].lif.dv == 0.5


def test_fixed_precision_readout_keeps_the_scale_of_its_voltage():
    """Quantized LI readout: v_fixed = 64 k v (k a power of two chosen from a bound of |v|),
    far from Lava's clip, never spiking."""
    node = nir.LI(tau=np.full(4, 1e-3), r=np.full(4, 2.0), v_leak=np.full(4, 0.2))
    s = spikes_in(3)
    net = import_nir(layer(W, node), dt=DT, precision="fixed", inputs={"in": s}, steps=STEPS)
    assert net.populations["n"].lif.vth == 131071
    res = run(compile_network(net), STEPS)
    _, want = ref_neuron(node, ref_input(W, s))
    v = res.values["n.v"].astype(float)
    fit = float(np.sum(v * want) / np.sum(want * want)) / 64
    k = 2.0 ** round(np.log2(fit))
    assert fit == pytest.approx(k, rel=2e-3)  # fixed-point truncation loses a little
    assert np.abs(v / (64 * k) - want).max() < 5e-3 * np.abs(want).max()
    assert not res.spikes["n"].any() and np.abs(v).max() < 2**22
