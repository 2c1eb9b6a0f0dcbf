"""A tiny NIR CNN (2x8x8 -> Conv -> IF -> SumPool -> Conv -> IF -> Flatten -> Affine -> LIF)
run from the command line equals a float numpy simulation of the discrete-time equations
(docs/nir.md); the same on Lava; exported and re-imported it gives the same spikes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import correlate2d

nir = pytest.importorskip("nir")

from cli_runner import snnc  # noqa: E402

import runtime  # noqa: E402
from compiler.frontend.nir_import import import_nir  # noqa: E402
from compiler.nir_export import export_nir  # noqa: E402

STEPS = 24
TH1, TH2, TH3 = 2.5, 3.5, 1.5
TAU = 2.0  # steps (dt = 1): dv = 0.5
RNG = np.random.default_rng(11)
W1 = RNG.integers(-1, 3, size=(4, 2, 3, 3)).astype(float)
W2 = RNG.integers(-1, 3, size=(4, 4, 3, 3)).astype(float)
B2 = np.array([0.5, 0.0, -0.5, 1.0])  # per channel: an always-on bias source, from step 1
W3 = RNG.integers(-1, 3, size=(10, 64)).astype(float)
B3 = 0.25  # equal for all neurons of a LIF: Lava's bias, from step 0


def cnn_graph() -> nir.NIRGraph:
    def if_(shape, th):
        return nir.IF(r=np.ones(shape), v_threshold=np.full(shape, th), v_reset=np.zeros(shape))

    nodes = {
        "in": nir.Input(input_type=np.array([2, 8, 8])),
        "conv1": nir.Conv2d(input_shape=(8, 8), weight=W1, stride=1, padding=1, dilation=1,
                            groups=1, bias=np.zeros(4)),
        "if1": if_((4, 8, 8), TH1),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        "conv2": nir.Conv2d(input_shape=(4, 4), weight=W2, stride=1, padding=1, dilation=1,
                            groups=1, bias=B2),
        "if2": if_((4, 4, 4), TH2),
        "flat": nir.Flatten(input_type={"input": np.array([4, 4, 4])}, start_dim=0),
        "fc": nir.Affine(weight=W3, bias=np.full(10, B3)),
        "lif": nir.LIF(tau=np.full(10, TAU), r=np.ones(10), v_leak=np.zeros(10),
                       v_threshold=np.full(10, TH3), v_reset=np.zeros(10)),
        "o1": nir.Output(output_type=np.array([4, 8, 8])),
        "o2": nir.Output(output_type=np.array([4, 4, 4])),
        "o3": nir.Output(output_type=np.array([10]))}
    edges = [("in", "conv1"), ("conv1", "if1"), ("if1", "pool"), ("pool", "conv2"),
             ("conv2", "if2"), ("if2", "flat"), ("flat", "fc"), ("fc", "lif"),
             ("if1", "o1"), ("if2", "o2"), ("lif", "o3")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def conv(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Padding 1, stride 1 cross-correlation (scipy), NCHW."""
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    return np.array([sum(correlate2d(xp[c], w[o, c], mode="valid") for c in range(x.shape[0]))
                     for o in range(w.shape[0])])


def reference(x: np.ndarray) -> dict[str, np.ndarray]:
    """Forward Euler, dt = 1, one step of latency per connection: IF v += I; LIF v += (I - v)
    / tau; spike when v > threshold, then v = 0."""
    v1, v2, v3 = np.zeros((4, 8, 8)), np.zeros((4, 4, 4)), np.zeros(10)
    s0 = s1 = s2 = None
    out = {k: np.zeros((STEPS, n), bool) for k, n in (("if1", 256), ("if2", 64), ("lif", 10))}
    for t in range(STEPS):
        i1 = conv(s0, W1) if s0 is not None else 0.0
        i2 = (conv(s1.reshape(4, 4, 2, 4, 2).sum(axis=(2, 4)), W2) if s1 is not None else 0.0) \
            + (B2[:, None, None] if t >= 1 else 0.0)
        i3 = (W3 @ s2.ravel() if s2 is not None else 0.0) + B3
        v1, v2 = v1 + i1, v2 + i2
        v3 = v3 + (i3 - v3) / TAU
        s0 = x[t].astype(float)
        s1, s2, s3 = (v1 > TH1).astype(float), (v2 > TH2).astype(float), v3 > TH3
        v1[s1 > 0], v2[s2 > 0], v3[s3] = 0.0, 0.0, 0.0
        for k, s in (("if1", s1), ("if2", s2), ("lif", s3)):
            out[k][t] = s.ravel() > 0
    return out


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    d = tmp_path_factory.mktemp("cnn")
    nir.write(d / "g.nir", cnn_graph())
    x = np.random.default_rng(2).random((STEPS, 2, 8, 8)) < 0.3
    np.save(d / "x.npy", x)
    return d, x, reference(x)


def test_reference_is_not_trivial(case):
    _, _, want = case
    for k in ("if1", "if2", "lif"):
        assert 0 < want[k].mean() < 0.9, k


@pytest.mark.parametrize("precision", ["float", "fixed"])
def test_cnn_from_the_command_line_equals_the_reference(case, precision):
    d, _, want = case
    out = d / f"r_{precision}.npz"
    r = snnc("run", str(d / "g.nir"), "--dt", "1", "--precision", precision, "--input",
             f"in={d / 'x.npy'}", "-o", str(out), "-q")
    assert r.returncode == 0, r.stderr
    res = np.load(out)
    for k in ("if1", "if2", "lif"):
        assert np.array_equal(res[f"{k}.spikes"], want[k]), k


def test_graded_counts_drive_the_cnn_as_count_times_weight(case):
    """Counts 0..5 per pixel and step run as 3 bit layers (Scale 1, 2, 4); each layer's
    first conv stays a convolution."""
    d, _, _ = case
    x = np.random.default_rng(4).poisson(0.5, size=(STEPS, 2, 8, 8)).clip(0, 5)
    want = reference(x)
    res = runtime.run(d / "g.nir", dt=1.0, precision="float", inputs={"in": x})
    for k in ("if1", "if2", "lif"):
        assert np.array_equal(res[f"{k}.spikes"], want[k]), k
    assert np.array_equal(res["in.spikes"], x.reshape(STEPS, -1))
    from runtime.nir_inputs import load_nir

    net = load_nir(d / "g.nir", precision="float", inputs={"in": x}).network
    firsts = [p for p in net.projections.values() if p.post == "if1"]
    assert len(firsts) == 3 and all(p.conv is not None for p in firsts)
    assert sorted(float(np.abs(p.weight).max()) for p in firsts) == [2.0, 4.0, 8.0]


def test_cnn_imports_convolutions_and_tiles(case):
    d, x, _ = case
    net = import_nir(d / "g.nir", dt=1.0, inputs={"in": x}, steps=STEPS)
    convs = {p.post: p.conv for p in net.projections.values() if p.conv is not None}
    assert convs["if1"].kernel == (3, 3)
    assert convs["if2"].kernel == (6, 6) and convs["if2"].stride == (2, 2)  # pool + conv
    assert net.populations["if1"].positions.shape == (256, 2)
    assert net.populations["lif"].positions is None
    program = runtime.compile(net, partitioner="tile")
    assert program.report.partitioner == "tile" and program.report.cores_used >= 1


def test_fixed_point_export_reimports_to_the_same_integers(case, tmp_path):
    d, x, _ = case
    net = import_nir(d / "g.nir", dt=1.0, precision="fixed", inputs={"in": x}, steps=STEPS)
    nir.write(tmp_path / "f.nir", export_nir(net))
    back = import_nir(tmp_path / "f.nir", dt=1.0, precision="fixed", inputs={"in": x},
                      steps=STEPS)
    for name, proj in net.projections.items():
        again = back.projections[name]
        assert again.conv == proj.conv, name
        assert np.array_equal(again.weight * 2.0 ** again.weight_exp,
                              proj.weight * 2.0 ** proj.weight_exp), name
    a, b = runtime.run(net), runtime.run(back)
    for k in ("if1", "if2", "lif"):
        assert np.array_equal(a.spikes[k], b.spikes[k]), k


def test_export_writes_conv2d_and_reimports_to_the_same_spikes(case, tmp_path):
    d, x, want = case
    net = import_nir(d / "g.nir", dt=1.0, inputs={"in": x}, steps=STEPS)
    g = export_nir(net)
    kinds = {type(n).__name__ for n in g.nodes.values()}
    assert "Conv2d" in kinds
    nir.write(tmp_path / "back.nir", g)
    back = nir.read(tmp_path / "back.nir")
    again = import_nir(back, dt=1.0, inputs={"in": x}, steps=STEPS)
    assert {p.post: p.conv for p in again.projections.values() if p.conv is not None} == \
        {p.post: p.conv for p in net.projections.values() if p.conv is not None}
    res = runtime.run(tmp_path / "back.nir", dt=1.0, precision="float", inputs={"in": x})
    for k in ("if1", "if2", "lif"):
        assert np.array_equal(res[f"{k}.spikes"], want[k]), k


@pytest.mark.lava
@pytest.mark.slow
def test_cnn_on_lava_equals_cpu(case):
    pytest.importorskip("lava")
    d, x, want = case
    lava = runtime.run(d / "g.nir", backend="lava", dt=1.0, inputs={"in": x})
    for k in ("if1", "if2", "lif"):
        assert np.array_equal(lava[f"{k}.spikes"], want[k]), k
