"""NIR graphs as Sinabs, Rockpool, Spyx and lava-dl write them, and files `nir.read`
refuses, imported and run against NIR's equations by forward Euler (docs/nir.md), every
connection adding one step of latency (x[t] = W s[t - 1] + b)."""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest
from scipy.signal import correlate2d

nir = pytest.importorskip("nir")

from test_nir_exporters import STEPS, drive, euler, f32, spikes_in  # noqa: E402

import runtime  # noqa: E402
from backends.cpu import run  # noqa: E402
from compiler.errors import InputError  # noqa: E402
from compiler.frontend.nir_import import import_nir  # noqa: E402
from compiler.pipeline import compile_network  # noqa: E402

RNG = np.random.default_rng(3)


def write_raw(path, tree: dict) -> None:
    """An HDF5 NIR file written node by node, as older nir versions and exporters did."""
    def put(group, d):
        for k, v in d.items():
            if isinstance(v, dict):
                put(group.create_group(str(k)), v)
            elif isinstance(v, str):
                group.create_dataset(k, data=v, dtype=h5py.string_dtype())
            else:
                group.create_dataset(k, data=np.asarray(v))

    with h5py.File(path, "w") as f:
        f.create_dataset("version", data="0.2.0", dtype=h5py.string_dtype())
        put(f.create_group("node"), tree)


def conv_same(x: np.ndarray, w: np.ndarray, stride: int = 1) -> np.ndarray:
    """PyTorch Conv2d, padding 1, `stride`, no bias: x (C, H, W), w (O, C, 3, 3)."""
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    full = np.array([sum(correlate2d(xp[c], w[o, c], mode="valid") for c in range(x.shape[0]))
                     for o in range(w.shape[0])])
    return full[:, ::stride, ::stride]


# ----------------------------------------------------------------------------- Sinabs


SW1 = f32(RNG.integers(-1, 3, size=(3, 2, 3, 3)))
SW2 = f32(RNG.integers(-1, 3, size=(4, 12)))


def sinabs_graph() -> nir.NIRGraph:
    """sinabs/nir.py (extract_nir_graph, older sinabs; input_shape set by infer_types): tuple
    stride/padding, zero bias; IF with r = ones_like(v_mem) (a leading batch dimension),
    v_reset left to NIR's default; SumPool2d with tuples; Flatten typed [0, 0, 0, 0] with
    PyTorch's start_dim 1; Affine with a zero bias for a bias-free Linear."""
    def if_(shape, th):
        return nir.IF(r=np.ones(shape, np.float32), v_threshold=np.full(shape, th, np.float32))

    return nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([2, 6, 6])),
        "0": nir.Conv2d(input_shape=(6, 6), weight=SW1, stride=(1, 1), padding=(1, 1),
                        dilation=(1, 1), groups=1, bias=np.zeros(3, np.float32)),
        "1": if_((1, 3, 6, 6), 2.5),
        "2": nir.SumPool2d(kernel_size=(3, 3), stride=(3, 3), padding=(0, 0)),
        "3": nir.Flatten(input_type={"input": np.array([0, 0, 0, 0])}, start_dim=1, end_dim=-1),
        "4": nir.Affine(weight=SW2, bias=np.zeros(4, np.float32)),
        "5": if_((4,), 3.5),
        "output": nir.Output(output_type=np.array([4]))},
        edges=[("input", "0"), ("0", "1"), ("1", "2"), ("2", "3"), ("3", "4"), ("4", "5"),
               ("5", "output")], type_check=False)


def sinabs_reference(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IF at dt = 1, r = 1: v += I (Sinabs' IAF without its subtractive reset)."""
    v1, v2 = np.zeros((3, 6, 6)), np.zeros(4)
    out1, out2 = np.zeros((STEPS, 108), bool), np.zeros((STEPS, 4), bool)
    for t in range(STEPS):
        if t:
            v1 += conv_same(x[t - 1].astype(float), SW1)
            pooled = out1[t - 1].reshape(3, 2, 3, 2, 3).sum(axis=(2, 4))
            v2 += SW2 @ pooled.ravel()
        s1, s2 = v1 > 2.5, v2 > 3.5
        v1[s1], v2[s2] = 0.0, 0.0
        out1[t], out2[t] = s1.ravel(), s2
    return out1, out2


def test_sinabs_cnn_with_graded_input(tmp_path):
    nir.write(tmp_path / "sinabs.nir", sinabs_graph())
    x = RNG.poisson(0.6, size=(STEPS, 2, 6, 6)).clip(0, 3)  # event counts per frame
    res = runtime.run(tmp_path / "sinabs.nir", dt=1.0, precision="float", inputs={"input": x})
    want1, want2 = sinabs_reference(x)
    assert 0 < want1.mean() < 0.9 and want2.any()
    assert np.array_equal(res["1.spikes"], want1)
    assert np.array_equal(res["5.spikes"], want2)


# ----------------------------------------------------------------------------- Rockpool


def test_rockpool_graph_with_batch_input_and_broadcast_parameters(tmp_path):
    """rockpool/nn/modules/torch/nir.py: LIFTorch -> CubaLIF of np.broadcast_to (read-only)
    arrays, r = tau_mem exp(-dt / tau_mem) / dt, w_in and v_reset NIR's defaults;
    ExpSynTorch -> LI; LinearTorch -> Linear (out, in); sample data (1, n) in the Input."""
    dt, n = 1e-3, 4
    tau_mem, tau_syn = 0.02, 0.01
    r = tau_mem * np.exp(-dt / tau_mem) / dt
    w1 = f32(RNG.integers(0, 5, size=(n, 3)) * 0.31)
    w2 = f32(RNG.integers(-2, 4, size=(2, n)) * 0.37)
    lif = nir.CubaLIF(tau_syn=np.broadcast_to(f32(tau_syn), n),
                      tau_mem=np.broadcast_to(f32(tau_mem), n), r=np.broadcast_to(f32(r), n),
                      v_leak=np.broadcast_to(f32(0.0), n), v_threshold=np.broadcast_to(f32(1.0), n))
    li = nir.LI(tau=f32([tau_mem] * 2), v_leak=f32([0.0] * 2), r=f32([tau_mem / dt] * 2))
    g = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([1, 3])),
                            "0_LinearTorch": nir.Linear(weight=w1), "1_LIFTorch": lif,
                            "2_LinearTorch": nir.Linear(weight=w2), "3_ExpSynTorch": li,
                            "output": nir.Output(output_type=np.array([1, 1, 2]))},
                     edges=[("input", "0_LinearTorch"), ("0_LinearTorch", "1_LIFTorch"),
                            ("1_LIFTorch", "2_LinearTorch"), ("2_LinearTorch", "3_ExpSynTorch"),
                            ("3_ExpSynTorch", "output")], type_check=False)
    nir.write(tmp_path / "rockpool.nir", g)
    s = spikes_in(3, seed=4, p=0.5)
    res = runtime.run(tmp_path / "rockpool.nir", dt=dt, precision="float", inputs={"input": s})
    s1, _ = euler(drive(w1, s), dt, tau_mem, tau_syn, r=float(f32(r)), vth=1.0)
    _, v2 = euler(drive(w2, s1), dt, tau_mem, r=tau_mem / dt)
    assert s1.any() and not s1.all() and np.abs(v2).max() > 0.05
    assert np.array_equal(res["1_LIFTorch.spikes"], s1)
    assert np.allclose(res["3_ExpSynTorch.v"], v2, rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------------- Spyx


def test_spyx_graph_with_haiku_weights_and_integer_scalars(tmp_path):
    """spyx/nir.py writes haiku's (in, out) weights as they are and IF(r=1, v_threshold=1)
    as integer scalars: the weights are read transposed (with a warning), the scalars
    broadcast; LIF has tau = dt / (1 - beta) and r = beta."""
    dt, beta = 1.0, 0.8
    w_hk = f32(RNG.integers(0, 4, size=(3, 5)) * 2.7)  # (in, out)
    w2_hk = f32(RNG.integers(0, 3, size=(5, 2)) * 0.45)
    tree = {"type": "NIRGraph",
            "nodes": {"input": {"type": "Input", "shape": np.array([3])},
                      "linear": {"type": "Linear", "weight": w_hk},
                      "LIF": {"type": "LIF", "tau": f32([dt / (1 - beta)] * 5),
                              "v_threshold": f32([1.0] * 5), "v_leak": f32([0.0] * 5),
                              "r": f32([beta] * 5)},
                      "linear_1": {"type": "Linear", "weight": w2_hk},
                      "IF": {"type": "IF", "r": np.array(1), "v_threshold": np.array(1)},
                      "output": {"type": "Output", "shape": np.array([2])}},
            "edges": np.array([["input", "linear"], ["linear", "LIF"], ["LIF", "linear_1"],
                               ["linear_1", "IF"], ["IF", "output"]], dtype=object)}
    write_raw(tmp_path / "spyx.nir", tree)
    s = spikes_in(3, seed=6, p=0.5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = runtime.run(tmp_path / "spyx.nir", dt=dt, precision="float", inputs={"input": s})
    text = " ".join(str(w.message) for w in caught)
    assert "'linear'" in text and "read transposed" in text and "'linear_1'" in text
    s1, _ = euler(drive(w_hk.T, s), dt, dt / (1 - beta), r=beta, vth=1.0)
    s2, _ = euler(drive(w2_hk.T, s1), dt, None, r=1.0, vth=1.0)
    assert s1.any() and s2.any()
    assert np.array_equal(res["LIF.spikes"], s1)
    assert np.array_equal(res["IF.spikes"], s2)


# ----------------------------------------------------------------------------- lava-dl


def lava_dl_tree(tau_syn: float, tau_mem: float) -> dict:
    """lava/lib/dl/netx/nir_lava.py: nodes '0', '1', ... and edges of numbers, CubaLIF with
    float scalars (tau = 1 / decay, inf for a decay of 0), w_in = tau_syn, an integer
    threshold (vThMant), no v_reset."""
    return {"type": "NIRGraph",
            "nodes": {"0": {"type": "Input", "shape": np.array([3])},
                      "1": {"type": "Affine", "weight": LW, "bias": np.zeros(4, np.float32)},
                      "2": {"type": "CubaLIF", "tau_syn": tau_syn, "tau_mem": tau_mem, "r": 1.0,
                            "v_leak": 0.0, "v_threshold": np.int64(2), "w_in": tau_syn},
                      "3": {"type": "Output", "shape": np.array([4])}},
            "edges": np.array([[0, 1], [1, 2], [2, 3]])}


LW = f32(RNG.integers(0, 5, size=(4, 3)) * 0.7)


def test_lava_dl_file_with_numbered_edges_and_scalars(tmp_path):
    write_raw(tmp_path / "netx.nir", lava_dl_tree(4.0, 2.0))
    with pytest.raises(TypeError):
        nir.read(tmp_path / "netx.nir", type_check=False)  # numbered edges: nir refuses
    s = spikes_in(3, seed=8, p=0.5)
    with pytest.warns(UserWarning, match="edge ends written as numbers"):
        res = runtime.run(tmp_path / "netx.nir", dt=1.0, precision="float", inputs={"0": s})
    want, _ = euler(drive(LW, s), 1.0, 2.0, 4.0, w_in=4.0, vth=2.0)
    assert want.any() and not want.all()
    assert np.array_equal(res["2.spikes"], want)


def test_lava_dl_infinite_time_constants_are_no_decay(tmp_path):
    """A current decay of 0 is written as tau_syn = inf and w_in = tau_syn = inf: du = 0
    and the input gain w_in dt / tau_syn is dt (never NaN); the current never decays."""
    write_raw(tmp_path / "netx.nir", lava_dl_tree(np.inf, 2.0))
    with pytest.warns(UserWarning):
        net = import_nir(tmp_path / "netx.nir", dt=1.0)
    lif = net.populations["n_2"].lif
    assert (lif.du, lif.dv) == (0.0, 0.5)
    (proj,) = net.projections.values()
    assert np.allclose(proj.dense_weights(4, 3), LW * 1.0 * 0.5)  # (w_in / tau_syn) dt r dv


# ----------------------------------------------------------------------------- shapes, errors


def test_per_channel_parameters_broadcast_over_the_feature_map():
    """IF parameters of shape (C, 1, 1) (one per channel) after a Conv2d: the node has the
    conv's (C, H, W) shape and each channel its own r (thresholds equal). The conv has no
    input_shape and reads an Input typed (1, C, H, W), batch dimension first."""
    w = f32(RNG.integers(-1, 3, size=(2, 1, 3, 3)))
    r = f32([1.0, 2.0]).reshape(2, 1, 1)
    g = nir.NIRGraph(nodes={
        "in": nir.Input(input_type=np.array([1, 1, 5, 5])),  # with a batch dimension
        "conv": nir.Conv2d(input_shape=None, weight=w, stride=1, padding=1, dilation=1,
                           groups=1, bias=np.zeros(2, np.float32)),
        "if": nir.IF(r=r, v_threshold=np.full((2, 1, 1), 3.0, np.float32)),
        "out": nir.Output(output_type=np.array([2, 5, 5]))},
        edges=[("in", "conv"), ("conv", "if"), ("if", "out")], type_check=False)
    x = spikes_in(25, seed=9, p=0.4).reshape(STEPS, 1, 5, 5)
    net = import_nir(g, dt=1.0, inputs={"in": x}, steps=STEPS)
    assert net.populations["if"].size == 50
    res = run(compile_network(net), STEPS)
    v, out = np.zeros((2, 5, 5)), np.zeros((STEPS, 50), bool)
    for t in range(1, STEPS):
        v += r * conv_same(x[t - 1].astype(float), w)
        s = v > 3.0
        v[s] = 0.0
        out[t] = s.ravel()
    assert out[:, :25].any() and out[:, 25:].any()
    assert np.array_equal(res.spikes["if"], out)


def test_mixed_parameter_shapes_and_unknown_nodes_in_a_file(tmp_path):
    """A file nir.read refuses (a LIF with per-neuron tau and a scalar threshold, as older
    snnTorch exports) is read with the threshold broadcast; a node type nir does not know
    is reported by id, type and reason."""
    tree = {"type": "NIRGraph",
            "nodes": {"input": {"type": "Input", "shape": np.array([2])},
                      "fc": {"type": "Linear", "weight": f32([[1.0, 0.5], [0.0, 2.0]])},
                      "lif": {"type": "LIF", "tau": f32([2.0, 2.0]), "r": f32([2.0, 2.0]),
                              "v_leak": f32([0.0, 0.0]), "v_threshold": f32(0.75)},
                      "output": {"type": "Output", "shape": np.array([2])}},
            "edges": np.array([["input", "fc"], ["fc", "lif"], ["lif", "output"]], dtype=object)}
    write_raw(tmp_path / "mixed.nir", tree)
    with pytest.raises(AssertionError):
        nir.read(tmp_path / "mixed.nir", type_check=False)
    with pytest.warns(UserWarning, match=r"broadcast to \(2,\)"):
        net = import_nir(tmp_path / "mixed.nir", dt=1.0)
    assert net.populations["lif"].lif.vth == pytest.approx(0.75)
    tree["nodes"]["som"] = {"type": "SPICEnetSOM", "std": f32([1.0])}
    tree["edges"] = np.array([["input", "fc"], ["fc", "lif"], ["lif", "som"]], dtype=object)
    write_raw(tmp_path / "unknown.nir", tree)
    with pytest.warns(UserWarning), pytest.raises(InputError) as err:
        import_nir(tmp_path / "unknown.nir", dt=1.0)
    text = str(err.value)
    assert "SPICEnetSOM node 'som'" in text and "not a node type" in text


def test_affine_without_bias_and_input_without_shape(tmp_path):
    """An Affine whose bias is None (lava-dl's conv without bias, in memory) adds nothing;
    an Input node without a shape (nirtorch's torch.fx export) takes the input size of the
    Affine it feeds, or, run from a file, its data's shape."""
    w = f32([[2.0, 1.0], [0.5, 3.0]])
    lif = nir.LIF(tau=f32([2.0, 2.0]), r=f32([1.0, 1.0]), v_leak=f32([0.0, 0.0]),
                  v_threshold=f32([1.0, 1.0]))
    g = nir.NIRGraph(nodes={"input": nir.Input(input_type=None), "fc": nir.Affine(weight=w, bias=None),
                            "lif": lif, "output": nir.Output(output_type=None)},
                     edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")], type_check=False)
    s = spikes_in(2, seed=10, p=0.5)
    want, _ = euler(drive(w, s), 1.0, 2.0, vth=1.0)
    net = import_nir(g, dt=1.0, inputs={"input": s}, steps=STEPS)
    assert want.any() and np.array_equal(run(compile_network(net), STEPS).spikes["lif"], want)
    tree = {"type": "NIRGraph",
            "nodes": {"input": {"type": "Input"},
                      "flat": {"type": "Flatten", "start_dim": 0, "end_dim": -1},
                      "fc": {"type": "Linear", "weight": w},
                      "lif": {"type": "LIF", "tau": f32([2.0, 2.0]), "r": f32([1.0, 1.0]),
                              "v_leak": f32([0.0, 0.0]), "v_threshold": f32([1.0, 1.0])}},
            "edges": np.array([["input", "flat"], ["flat", "fc"], ["fc", "lif"]], dtype=object)}
    write_raw(tmp_path / "noshape.nir", tree)
    with pytest.warns(UserWarning, match="read field by field"):
        res = runtime.run(tmp_path / "noshape.nir", dt=1.0, precision="float",
                          inputs={"input": s})
    assert np.array_equal(res["lif.spikes"], want)


def test_padding_forms_duplicate_edges_and_missing_nodes():
    """Spyx's 'SAME' and haiku's ((lo, hi), ...) padding are PyTorch's padding 1 for a 3x3
    kernel; an edge given twice counts once (nir's validator rejects duplicates); a node
    an exporter left empty (None) is reported by id."""
    w = f32(RNG.integers(-1, 3, size=(2, 1, 3, 3)))

    def graph(padding, twice=False):
        conv = nir.Conv2d(input_shape=(5, 5), weight=w, stride=1, padding=1, dilation=1,
                          groups=1, bias=np.zeros(2, np.float32))
        conv.padding = padding
        edges = [("in", "conv"), ("conv", "if")] + ([("in", "conv")] if twice else [])
        return nir.NIRGraph(nodes={"in": nir.Input(input_type=np.array([1, 5, 5])), "conv": conv,
                                   "if": nir.IF(r=np.ones((2, 5, 5)), v_threshold=np.ones((2, 5, 5)))},
                            edges=edges, type_check=False)

    def weights(net):
        (proj,) = net.projections.values()
        return proj.dense_weights(50, 25)

    ref = weights(import_nir(graph(1)))
    assert np.abs(ref).sum() > 0
    assert np.array_equal(weights(import_nir(graph("SAME"))), ref)
    assert np.array_equal(weights(import_nir(graph(np.array([[1, 1], [1, 1]])))), ref)
    with pytest.warns(UserWarning, match="given twice"):
        assert np.array_equal(weights(import_nir(graph(1, twice=True))), ref)
    g = graph(1)
    g.nodes["drop"] = None
    g.edges.append(("if", "drop"))
    with pytest.raises(InputError, match="NoneType node 'drop'.*wrote no node"):
        import_nir(g)


def test_input_without_shape_feeding_a_conv_takes_the_data_shape(tmp_path):
    """An untyped Input before a Conv2d without input_shape (no field gives the image
    size): run from a file, the node takes the (C, H, W) of its data."""
    w = f32(RNG.integers(-1, 3, size=(2, 1, 3, 3)))
    tree = {"type": "NIRGraph",
            "nodes": {"input": {"type": "Input"},
                      "conv": {"type": "Conv2d", "weight": w, "stride": np.array([1, 1]),
                               "padding": np.array([1, 1]), "dilation": np.array([1, 1]),
                               "groups": np.array(1), "bias": np.zeros(2, np.float32)},
                      "if": {"type": "IF", "r": f32(1.0), "v_threshold": f32(3.0)}},
            "edges": np.array([["input", "conv"], ["conv", "if"]], dtype=object)}
    write_raw(tmp_path / "conv.nir", tree)
    x = spikes_in(25, seed=12, p=0.4).reshape(STEPS, 1, 5, 5)
    with pytest.warns(UserWarning):
        res = runtime.run(tmp_path / "conv.nir", dt=1.0, precision="float", inputs={"input": x})
    v, want = np.zeros((2, 5, 5)), np.zeros((STEPS, 50), bool)
    for t in range(1, STEPS):
        v += conv_same(x[t - 1].astype(float), w)
        s = v > 3.0
        v[s] = 0.0
        want[t] = s.ravel()
    assert want.any() and np.array_equal(res["if.spikes"], want)


def test_per_neuron_time_constants_split_the_node(tmp_path):
    """Rockpool trains a tau_mem and tau_syn per neuron: the CubaLIF node is split into one
    population per distinct (tau_syn, tau_mem), fed through its recurrent weights too, and
    its results come back under the node's id in the original neuron order."""
    dt, n = 1e-3, 6
    tau_mem = f32([0.02, 0.01, 0.02, 0.04, 0.01, 0.02])
    tau_syn = f32([0.01, 0.01, 0.01, 0.005, 0.01, 0.01])
    w1 = f32(RNG.integers(0, 5, size=(n, 3)) * 0.23)
    w_rec = f32(RNG.integers(-2, 3, size=(n, n)) * 0.17)
    lif = nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / f32(dt),
                      v_leak=np.zeros(n, np.float32), v_threshold=np.full(n, 1.0, np.float32),
                      w_in=tau_syn / f32(dt))
    g = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([3])),
                            "fc": nir.Linear(weight=w1), "lif": lif,
                            "w_rec": nir.Linear(weight=w_rec),
                            "output": nir.Output(output_type=np.array([n]))},
                     edges=[("input", "fc"), ("fc", "lif"), ("lif", "w_rec"), ("w_rec", "lif"),
                            ("lif", "output")], type_check=False)
    s = spikes_in(3, seed=13, p=0.5)
    net = import_nir(g, dt=dt, inputs={"input": s}, steps=STEPS)
    parts = sorted((p.size, round(float(p.lif.dv), 6)) for name, p in net.populations.items()
                   if name.startswith("lif"))
    assert parts == [(1, 0.025), (2, 0.1), (3, 0.05)]
    nir.write(tmp_path / "split.nir", g)
    res = runtime.run(tmp_path / "split.nir", dt=dt, precision="float", inputs={"input": s},
                      probes=["lif.spikes", "lif.v"])
    x = drive(w1, s)
    cur, v, want = np.zeros(n), np.zeros(n), np.zeros((STEPS, n), bool)
    vs = np.zeros((STEPS, n))
    for t in range(STEPS):
        rec = w_rec @ want[t - 1] if t else 0.0
        cur = cur + dt / tau_syn * (-cur + (tau_syn / dt) * (x[t] + rec))
        v = v + dt / tau_mem * (-v + (tau_mem / dt) * cur)
        want[t] = v > 1.0
        v[want[t]] = 0.0
        vs[t] = v
    assert want.any(axis=0).sum() >= 4 and not want.all()
    assert res["lif.spikes"].shape == res["lif.v"].shape == (STEPS, n)
    assert np.array_equal(res["lif.spikes"], want)
    assert np.abs(vs).max() > 0.1 and np.allclose(res["lif.v"], vs, rtol=1e-5, atol=1e-6)
