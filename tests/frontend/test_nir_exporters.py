"""NIR graphs as snnTorch, Norse and the NIR paper write them, imported and run.

Each graph is built the way its exporter builds it (node ids, parameter shapes and dtypes,
nested or flattened recurrent subgraphs, batch dimensions in Input/Output types) and its
spikes are checked against an independent reference: the framework's own discrete-time
update where the export is exact (snnTorch's `Leaky` / `Synaptic`: v = beta v + x is the
NIR LIF with tau = dt / (1 - beta), r = tau / dt), else NIR's equations by forward Euler
(docs/nir.md). Every connection adds one step of latency: x[t] = W s[t - 1] + b.
"""

from __future__ import annotations

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from cli_runner import snnc  # noqa: E402

import runtime  # noqa: E402
from backends.cpu import run  # noqa: E402
from compiler.frontend.nir_import import import_nir, population_names  # noqa: E402
from compiler.pipeline import compile_network  # noqa: E402

DT = 1e-4  # snnTorch's export writes time constants for dt = 1e-4
STEPS = 60
RNG = np.random.default_rng(7)


def f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def spikes_in(n: int, seed: int = 1, p: float = 0.35, batch: bool = False) -> np.ndarray:
    s = np.random.default_rng(seed).random((STEPS, n)) < p
    return s[:, None, :] if batch else s


def drive(w: np.ndarray, s: np.ndarray, b: np.ndarray | None = None, bias_from: int = 0
          ) -> np.ndarray:
    """x[t] = W s[t - 1] (+ b from step `bias_from` on)."""
    s = s.reshape(s.shape[0], -1).astype(float)
    x = np.zeros((s.shape[0], w.shape[0]))
    x[1:] = s[:-1] @ np.asarray(w, float).T
    if b is not None:
        x[bias_from:] += np.asarray(b, float)
    return x


def leaky(x: np.ndarray, beta: float, thr: float) -> np.ndarray:
    """snnTorch Leaky with reset to zero: mem = beta mem + x; spike if mem > thr."""
    mem, out = np.zeros(x.shape[1]), np.zeros(x.shape, bool)
    for t in range(x.shape[0]):
        mem = beta * mem + x[t]
        out[t] = mem > thr
        mem[out[t]] = 0.0
    return out


def synaptic(x: np.ndarray, alpha: float, beta: float, thr: float,
             w_rec: np.ndarray | None = None, b_rec: np.ndarray | None = None) -> np.ndarray:
    """snnTorch (R)Synaptic, reset to zero: syn = alpha syn + x (+ W_rec s[t-1] + b_rec from
    step 1 on); mem = beta mem + syn."""
    n = x.shape[1]
    syn, mem, out = np.zeros(n), np.zeros(n), np.zeros(x.shape, bool)
    for t in range(x.shape[0]):
        rec = 0.0
        if w_rec is not None and t > 0:
            rec = w_rec @ out[t - 1] + (b_rec if b_rec is not None else 0.0)
        syn = alpha * syn + x[t] + rec
        mem = beta * mem + syn
        out[t] = mem > thr
        mem[out[t]] = 0.0
    return out


def euler(x: np.ndarray, dt: float, tau_mem: float | None, tau_syn: float | None = None,
          r: float = 1.0, w_in: float = 1.0, v_leak: float = 0.0, vth: float | None = None
          ) -> tuple[np.ndarray, np.ndarray]:
    """NIR's CubaLIF / LIF / IF (LI, CubaLI, I without vth) by forward Euler: (spikes, v)."""
    n = x.shape[1]
    cur, v = np.zeros(n), np.zeros(n)
    spikes, vs = np.zeros(x.shape, bool), np.zeros(x.shape)
    for t in range(x.shape[0]):
        cur = cur + dt / tau_syn * (-cur + w_in * x[t]) if tau_syn else x[t]
        v = v + dt / tau_mem * (v_leak - v + r * cur) if tau_mem else v + dt * r * cur
        if vth is not None:
            spikes[t] = v > vth
            v[spikes[t]] = 0.0
        vs[t] = v
    return spikes, vs


def snntorch_lif(beta: float, thr: float, n: int | None) -> nir.LIF:
    """`snn.Leaky` as snntorch/export_nir.py writes it (0-d arrays without `n`)."""
    def p(x):
        return f32(x) if n is None else np.full(n, x, np.float32)
    tau = p(DT / (1 - beta))
    return nir.LIF(tau=tau, r=tau / f32(DT), v_leak=p(0.0), v_threshold=p(thr), v_reset=p(0.0))


def snntorch_cuba(alpha: float, beta: float, thr: float, n: int | None) -> nir.CubaLIF:
    """`snn.Synaptic`: tau_syn = dt / (1 - alpha), w_in = tau_syn / dt, r = tau_mem / dt."""
    def p(x):
        return f32(x) if n is None else np.full(n, x, np.float32)
    tau_syn, tau_mem = p(DT / (1 - alpha)), p(DT / (1 - beta))
    return nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / f32(DT), v_leak=p(0.0),
                       v_threshold=p(thr), v_reset=p(0.0), w_in=tau_syn / f32(DT))


W1 = f32(RNG.integers(-2, 5, size=(5, 3)) * 0.29)
B1 = f32([0.29, 0.0, -0.29, 0.58, 0.0])
W2 = f32(RNG.integers(-2, 5, size=(2, 5)) * 0.29)
B2 = f32([0.13, -0.13])


def snntorch_sequential(broadcast: bool) -> nir.NIRGraph:
    """Flatten, Linear, Leaky, Linear, Synaptic as nirtorch names a Sequential's modules,
    with the batch dimension of the sample data in the Input and Output types; neuron
    parameters 0-d (older exports) or `broadcast` to the layer size, Flatten typed."""
    nodes = {"input": nir.Input(input_type=np.array([1, 3])),
             "0": nir.Flatten(input_type={"input": np.array([1, 3])} if broadcast else None,
                              start_dim=0, end_dim=-1),
             "1": nir.Affine(weight=W1, bias=B1),
             "2": snntorch_lif(0.75, 0.5, 5 if broadcast else None),
             "3": nir.Affine(weight=W2, bias=B2),
             "4": snntorch_cuba(0.5, 0.75, 0.75, 2 if broadcast else None),
             "output": nir.Output(output_type=np.array([1, 2]))}
    edges = [("input", "0"), ("0", "1"), ("1", "2"), ("2", "3"), ("3", "4"), ("4", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def sequential_reference(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s1 = leaky(drive(W1, s, B1, bias_from=1), 0.75, 0.5)  # per-neuron bias: a source
    s2 = synaptic(drive(W2, s1, B2, bias_from=1), 0.5, 0.75, 0.75)
    return s1, s2


# ----------------------------------------------------------------------------- snnTorch


@pytest.mark.parametrize("broadcast", [False, True], ids=["scalar-params", "broadcast-params"])
def test_snntorch_sequential_runs_as_snntorch_updates(broadcast):
    g = snntorch_sequential(broadcast)
    s = spikes_in(3, batch=True)
    net = import_nir(g, dt=DT, inputs={"input": s.reshape(STEPS, 3)}, steps=STEPS)
    assert net.populations["n_2"].size == 5 and net.populations["n_4"].size == 2
    lif = net.populations["n_2"].lif
    assert lif.dv == pytest.approx(0.25, rel=1e-6)
    res = run(compile_network(net), STEPS)
    want1, want2 = sequential_reference(s)
    assert want1.any() and want2.any() and not want2.all()
    assert np.array_equal(res.spikes["n_2"], want1)
    assert np.array_equal(res.spikes["n_4"], want2)


def run_cli(tmp_path, graph: nir.NIRGraph, s: np.ndarray) -> dict[str, np.ndarray]:
    """`snnc run` of `graph` written by nir.write, in float at dt = 1e-4, with `s` fed to
    its node 'input'; the results file's arrays."""
    nir.write(tmp_path / "g.nir", graph)
    np.save(tmp_path / "x.npy", s)
    out = tmp_path / "r.npz"
    r = snnc("run", str(tmp_path / "g.nir"), "--dt", "1e-4", "--precision", "float",
             "--input", f"input={tmp_path / 'x.npy'}", "-o", str(out), "-q")
    assert r.returncode == 0, r.stderr
    return dict(np.load(out))


def test_snntorch_file_runs_from_the_command_line(tmp_path):
    """The newest export (parameters broadcast, types inferred) written by nir.write, run
    by `snnc run` with data shaped like the Input type (steps, 1, 3)."""
    s = spikes_in(3, batch=True)
    res = run_cli(tmp_path, snntorch_sequential(True), s)
    want1, want2 = sequential_reference(s)
    assert np.array_equal(res["2.spikes"], want1)
    assert np.array_equal(res["4.spikes"], want2)
    assert np.array_equal(res["input.spikes"], s.reshape(STEPS, 3))


def test_per_neuron_thresholds_scale_each_voltage():
    """A layer trained with a threshold per neuron (snnTorch `Leaky(threshold=tensor)`):
    each neuron's voltage is scaled by max / its threshold, which keeps every spike."""
    thr = f32([0.3, 0.5, 0.9, 1.3, 0.45])
    lif = snntorch_lif(0.75, 1.0, 5)
    lif.v_threshold = thr
    g = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([3])),
                            "fc": nir.Linear(weight=W1), "lif": lif,
                            "th": nir.Threshold(threshold=f32([0.2, 0.7, 0.4, 0.9, 0.3]))},
                     edges=[("input", "fc"), ("fc", "lif"), ("fc", "th")], type_check=False)
    s = spikes_in(3, seed=9, p=0.5)
    net = import_nir(g, dt=DT, inputs={"input": s}, steps=STEPS)
    assert net.populations["lif"].lif.vth == pytest.approx(1.3)
    res = run(compile_network(net), STEPS)
    x = drive(W1, s)
    mem, want = np.zeros(5), np.zeros((STEPS, 5), bool)
    for t in range(STEPS):
        mem = 0.75 * mem + x[t]
        want[t] = mem > thr
        mem[want[t]] = 0.0
    assert want[:, 0].sum() > want[:, 3].sum() > 0
    assert np.array_equal(res.spikes["lif"], want)
    assert np.array_equal(res.spikes["th"], x > [0.2, 0.7, 0.4, 0.9, 0.3])


WR = f32(RNG.integers(-3, 3, size=(4, 4)) * 0.29)
WI = f32(RNG.integers(-1, 5, size=(4, 3)) * 0.29)
WO = f32(RNG.integers(-1, 4, size=(2, 4)) * 0.57)


def rsynaptic_graph(form: str) -> nir.NIRGraph:
    """Linear, RSynaptic (all-to-all), Linear, Synaptic: the recurrent layer as
    snntorch/export_nir.py writes it (a nested graph 'rlif' of input, lif, w_rec, output),
    as nirtorch's extract_nir_graph flattens it (dotted ids 'rlif.lif', 'rlif.w_rec' at the
    top level), or nested with the outer edges naming 'rlif.lif'."""
    lif = snntorch_cuba(0.5, 0.5, 0.5, 4)
    out = snntorch_cuba(0.75, 0.5, 0.5, 2)
    top = {"input": nir.Input(input_type=np.array([3])), "fc1": nir.Linear(weight=WI),
           "fc2": nir.Linear(weight=WO), "lif2": out,
           "output": nir.Output(output_type=np.array([2]))}
    edges = [("input", "fc1"), ("fc2", "lif2"), ("lif2", "output")]
    if form == "flat":
        top.update({"rlif.lif": lif, "rlif.w_rec": nir.Linear(weight=WR)})
        edges += [("fc1", "rlif.lif"), ("rlif.lif", "rlif.w_rec"), ("rlif.w_rec", "rlif.lif"),
                  ("rlif.lif", "fc2")]
        return nir.NIRGraph(nodes=top, edges=edges, type_check=False)
    sub = nir.NIRGraph(nodes={"input": nir.Input(input_type=[4]), "lif": lif,
                              "w_rec": nir.Linear(weight=WR),
                              "output": nir.Output(output_type=[4])},
                       edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"),
                              ("lif", "output")], type_check=False)
    top["rlif"] = sub
    end = "rlif" if form == "nested" else "rlif.lif"
    edges += [("fc1", end), (end, "fc2")]
    return nir.NIRGraph(nodes=top, edges=edges, type_check=False)


@pytest.mark.parametrize("form", ["nested", "flat", "dotted-edges"])
def test_snntorch_recurrent_layer_in_every_written_form(form):
    g = rsynaptic_graph(form)
    assert population_names(g) == {"input": "input", "rlif.lif": "rlif_lif", "lif2": "lif2"}
    s = spikes_in(3, seed=3, p=0.5)
    net = import_nir(g, dt=DT, inputs={"input": s}, steps=STEPS)
    res = run(compile_network(net), STEPS)
    s1 = synaptic(drive(WI, s), 0.5, 0.5, 0.5, w_rec=WR)
    s2 = synaptic(drive(WO, s1), 0.75, 0.5, 0.5)
    assert s1.any() and s2.any()
    without = synaptic(drive(WI, s), 0.5, 0.5, 0.5)
    assert not np.array_equal(s1, without)  # the recurrence matters
    assert np.array_equal(res.spikes["rlif_lif"], s1)
    assert np.array_equal(res.spikes["lif2"], s2)


def test_snntorch_import_style_subgraph_keeps_its_dotted_ids():
    """snntorch/import_nir.py regroups a flat graph into subgraph 'lif1' whose own keys
    are 'lif1.lif', 'lif1.w_rec', 'lif1.input', 'lif1.output' (edges input -> w_rec): the
    ids stay 'lif1.lif' (not 'lif1.lif1.lif'), and the signal follows those edges."""
    lif = snntorch_cuba(0.5, 0.5, 0.5, 4)
    sub = nir.NIRGraph(nodes={"lif1.lif": lif, "lif1.w_rec": nir.Linear(weight=WR),
                              "lif1.input": nir.Input(input_type=np.array([4])),
                              "lif1.output": nir.Output(output_type=np.array([4]))},
                       edges=[("lif1.lif", "lif1.w_rec"), ("lif1.w_rec", "lif1.lif"),
                              ("lif1.lif", "lif1.output"), ("lif1.input", "lif1.w_rec")],
                       type_check=False)
    g = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([3])),
                            "fc1": nir.Linear(weight=WI), "lif1": sub,
                            "output": nir.Output(output_type=np.array([4]))},
                     edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "output")],
                     type_check=False)
    assert population_names(g) == {"input": "input", "lif1.lif": "lif1_lif"}
    s = spikes_in(3, seed=5, p=0.5)
    net = import_nir(g, dt=DT, inputs={"input": s}, steps=STEPS)
    assert [p.key for p in net.probes] == ["lif1_lif.spikes"]
    res = run(compile_network(net), STEPS)
    want = synaptic(drive(WR @ WI, s), 0.5, 0.5, 0.5, w_rec=WR)
    assert want.any() and np.array_equal(res.spikes["lif1_lif"], want)


# ----------------------------------------------------------------------------- Norse


def test_norse_graph_with_scalar_parameters_and_li_readout():
    """norse/torch/utils/export_nir.py: LIFCell -> CubaLIF with tau = 1 / tau_inv, r = 1,
    w_in = 1, parameters of the module's shape (0-d for the default scalars), v_leak as
    given; LIBoxCell -> LI; torch.fx node names; Linear without bias."""
    dt = 1e-3
    w1 = f32(RNG.integers(0, 6, size=(4, 3)) * 40.0)
    w2 = f32(RNG.integers(-2, 4, size=(2, 4)) * 50.0)
    lif = nir.CubaLIF(tau_mem=f32(1 / 100.0), tau_syn=f32(1 / 200.0), v_reset=f32(0.0),
                      v_threshold=f32(1.0), v_leak=f32(0.25), r=f32(1.0), w_in=f32(1.0))
    li = nir.LI(tau=f32(1 / 100.0), v_leak=f32(0.0), r=f32(1.0))
    g = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([3])}),
                            "linear": nir.Linear(weight=w1), "lif": lif,
                            "linear_1": nir.Linear(weight=w2), "li": li,
                            "output": nir.Output(output_type=None)},
                     edges=[("input", "linear"), ("linear", "lif"), ("lif", "linear_1"),
                            ("linear_1", "li"), ("li", "output")], type_check=False)
    s = spikes_in(3, seed=2, p=0.4)
    net = import_nir(g, dt=dt, inputs={"input": s}, steps=STEPS)
    assert [p.key for p in net.probes] == ["li.v"]
    res = run(compile_network(net), STEPS)
    s1, _ = euler(drive(w1, s), dt, 1e-2, 5e-3, v_leak=0.25, vth=1.0)
    _, v2 = euler(drive(w2, s1), dt, 1e-2)
    assert s1.any() and not s1.all() and np.abs(v2).max() > 0.1
    assert np.array_equal(res.spikes["lif"], s1)
    assert np.allclose(res.values["li.v"], v2, rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------- NIR paper


def test_nir_paper_lif_neuron_graphs(tmp_path):
    """paper/01_lif: Affine '0' ([[1]], bias [0]) into LIF '1' at dt = 1e-4, and the
    two-neuron graph whose first LIF self-spikes from v_leak = 1.2 above its threshold."""
    d0 = np.zeros(STEPS, bool)
    d0[[3, 4, 5, 9, 10, 11, 12, 13, 20, 21, 22, 23, 24, 25, 26]] = True
    lif = nir.LIF(tau=f32([1e-3]), r=f32([20.0]), v_leak=f32([0.0]), v_threshold=f32([1.0]))
    g = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([1])),
                            "0": nir.Affine(weight=f32([[1.0]]), bias=f32([0.0])), "1": lif,
                            "output": nir.Output(output_type=np.array([1]))},
                     edges=[("input", "0"), ("0", "1"), ("1", "output")], type_check=False)
    nir.write(tmp_path / "lif.nir", g)
    res = runtime.run(tmp_path / "lif.nir", dt=DT, precision="float",
                      inputs={"input": d0[:, None]})
    want, _ = euler(drive(np.ones((1, 1)), d0[:, None]), DT, 1e-3, r=20.0, vth=1.0)
    assert want.any() and np.array_equal(res["1.spikes"], want)

    two = nir.NIRGraph(nodes={
        "in": nir.Input(input_type=np.array([1])), "linear1": nir.Linear(weight=f32([[1.0]])),
        "lif1": nir.LIF(tau=f32([0.01]), r=f32([1.0]), v_leak=f32([1.2]), v_threshold=f32([1.0])),
        "linear2": nir.Linear(weight=f32([[1.0]])),
        "lif2": nir.LIF(tau=f32([0.01]), r=f32([1.0]), v_leak=f32([0.0]), v_threshold=f32([20.0])),
        "out": nir.Output(output_type=np.array([1]))},
        edges=[("in", "linear1"), ("linear1", "lif1"), ("lif1", "linear2"), ("linear2", "lif2"),
               ("lif2", "out")], type_check=False)
    steps = 600
    nir.write(tmp_path / "two.nir", two)
    res = runtime.run(tmp_path / "two.nir", dt=DT, precision="float",
                      inputs={"in": np.zeros((steps, 1), bool)})
    s1, _ = euler(np.zeros((steps, 1)), DT, 0.01, v_leak=1.2, vth=1.0)
    assert 2 <= s1.sum() and np.array_equal(res["lif1.spikes"], s1)


BR_IN, BR_H, BR_OUT = 6, 5, 3
BW1 = f32(RNG.integers(-1, 5, size=(BR_H, BR_IN)) * 0.29)
BB1 = f32(RNG.integers(-1, 2, size=BR_H) * 0.13)
BWR = f32(RNG.integers(-2, 3, size=(BR_H, BR_H)) * 0.29)
BBR = f32(RNG.integers(-1, 2, size=BR_H) * 0.13)
BW2 = f32(RNG.integers(-1, 5, size=(BR_OUT, BR_H)) * 0.29)
BB2 = f32([0.13, 0.0, -0.13])


def braille_graph() -> nir.NIRGraph:
    """paper/03_rnn (braille_noDelay_bias_zero): snnTorch's Affine, recurrent CubaLIF
    (flattened: 'lif1.lif' and Affine 'lif1.w_rec', with a bias), Affine, CubaLIF."""
    return nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([BR_IN])),
        "fc1": nir.Affine(weight=BW1, bias=BB1),
        "lif1.lif": snntorch_cuba(0.5, 0.75, 0.5, BR_H),
        "lif1.w_rec": nir.Affine(weight=BWR, bias=BBR),
        "fc2": nir.Affine(weight=BW2, bias=BB2),
        "lif2": snntorch_cuba(0.5, 0.5, 0.5, BR_OUT),
        "output": nir.Output(output_type=np.array([BR_OUT]))},
        edges=[("input", "fc1"), ("fc1", "lif1.lif"), ("lif1.lif", "lif1.w_rec"),
               ("lif1.w_rec", "lif1.lif"), ("lif1.lif", "fc2"), ("fc2", "lif2"),
               ("lif2", "output")], type_check=False)


def test_braille_graph_from_the_command_line(tmp_path):
    """Both biases into the recurrent CubaLIF are constant inputs to its current from step 1
    (an always-on source); results are named by the NIR ids ('lif1.lif.spikes')."""
    s = spikes_in(BR_IN, seed=11, p=0.3)
    res = run_cli(tmp_path, braille_graph(), s)
    x1 = drive(BW1, s, BB1 + BBR, bias_from=1)
    s1 = synaptic(x1, 0.5, 0.75, 0.5, w_rec=BWR)
    s2 = synaptic(drive(BW2, s1, BB2, bias_from=1), 0.5, 0.5, 0.5)
    assert 0 < s1.mean() < 0.9 and s2.any()
    assert np.array_equal(res["lif1.lif.spikes"], s1)
    assert np.array_equal(res["lif2.spikes"], s2)
    assert "lif1.w_rec.spikes" not in res


@pytest.mark.lava
@pytest.mark.slow
@pytest.mark.parametrize("precision", ["float", "fixed"])
def test_braille_graph_on_lava_equals_cpu_and_the_reference(tmp_path, precision):
    pytest.importorskip("lava")
    nir.write(tmp_path / "braille.nir", braille_graph())
    s = spikes_in(BR_IN, seed=11, p=0.3)
    lava = runtime.run(tmp_path / "braille.nir", backend="lava", dt=DT, precision=precision,
                       inputs={"input": s})
    cpu = runtime.run(tmp_path / "braille.nir", dt=DT, precision=precision, inputs={"input": s})
    s1 = synaptic(drive(BW1, s, BB1 + BBR, bias_from=1), 0.5, 0.75, 0.5, w_rec=BWR)
    assert np.array_equal(lava["lif1.lif.spikes"], s1)
    for k in ("lif1.lif.spikes", "lif2.spikes"):
        assert np.array_equal(lava[k], cpu[k]), k
