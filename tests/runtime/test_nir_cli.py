"""NIR graphs from the command line: --dt, --precision, --input, step counts, node-id names,
and export -> nir.read -> import round trips."""

from __future__ import annotations

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from cli_runner import snnc  # noqa: E402
from repo import ROOT  # noqa: E402

import runtime  # noqa: E402
from compiler.errors import InputError  # noqa: E402

DT = 1e-4
TAU = 1e-3  # seconds: dv = dt / tau = 0.1
W = np.array([[4.0, 0.0, 0.0], [0.0, 3.0, 3.0]])


def lif_graph(path) -> str:
    """Input (3) -> Linear -> LIF 'lif.a' (2, tau in seconds) -> Output."""
    n = 2
    g = nir.NIRGraph(nodes={
        "in": nir.Input(input_type=np.array([3])),
        "fc": nir.Linear(weight=W),
        "lif.a": nir.LIF(tau=np.full(n, TAU), r=np.ones(n), v_leak=np.zeros(n),
                         v_threshold=np.ones(n), v_reset=np.zeros(n)),
        "out": nir.Output(output_type=np.array([n]))},
        edges=[("in", "fc"), ("fc", "lif.a"), ("lif.a", "out")])
    nir.write(path, g)
    return str(path)


def events(steps: int = 30) -> np.ndarray:
    x = np.zeros((steps, 3), dtype=bool)
    x[2:10, 0] = True
    x[[2, 3, 4, 10, 11], 1] = True
    x[5, 2] = True
    return x


def reference(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward Euler of tau dv/dt = -v + r I, spike when v > 1 then v = 0; an input event
    reaches v one step later (the synaptic latency of every projection)."""
    a = DT / TAU
    v = np.zeros(2)
    spikes = np.zeros((x.shape[0], 2), dtype=bool)
    volts = np.zeros((x.shape[0], 2))
    for t in range(x.shape[0]):
        drive = W @ x[t - 1] if t > 0 else np.zeros(2)
        v = v * (1 - a) + a * drive
        spikes[t] = v > 1.0
        v[spikes[t]] = 0.0
        volts[t] = v
    return spikes, volts


@pytest.fixture
def graph(tmp_path):
    return lif_graph(tmp_path / "lif.nir")


def save(tmp_path, name: str, arr: np.ndarray) -> str:
    path = tmp_path / name
    np.save(path, arr)
    return str(path)


def test_lif_in_seconds_runs_with_dt_and_input(graph, tmp_path):
    x = events()
    out = tmp_path / "r.npz"
    r = snnc("run", graph, "--dt", str(DT), "--precision", "float", "--input",
             f"in={save(tmp_path, 'x.npy', x)}", "-o", str(out), "-q")
    assert r.returncode == 0, r.stderr
    res = np.load(out)
    want, _ = reference(x)
    assert res["lif.a.spikes"].shape == (30, 2)
    assert np.array_equal(res["lif.a.spikes"], want)
    assert np.argwhere(want).tolist() == [[5, 0], [6, 1], [8, 0]]  # derived by hand as well
    assert np.array_equal(res["in.spikes"], x)


def test_without_dt_time_constants_in_seconds_are_refused(graph, tmp_path):
    r = snnc("run", graph, "--input", f"in={save(tmp_path, 'x.npy', events())}",
             "-o", str(tmp_path / "r.npz"), "-q")
    assert r.returncode == 2
    assert "shorter than dt = 1" in r.stderr and "lif.a" in r.stderr


def test_steps_default_to_the_input_length_and_steps_overrides(graph, tmp_path):
    xf = save(tmp_path, "x.npy", events(17))
    r = snnc("run", graph, "--dt", str(DT), "--input", f"in={xf}", "-o",
             str(tmp_path / "a.npz"), "-q")
    assert r.returncode == 0, r.stderr
    assert "17 steps" in r.stdout
    assert np.load(tmp_path / "a.npz")["lif.a.spikes"].shape == (17, 2)
    r = snnc("run", graph, "--dt", str(DT), "--input", f"in={xf}", "--steps", "9", "-o",
             str(tmp_path / "b.npz"), "-q")
    assert r.returncode == 0, r.stderr
    assert np.load(tmp_path / "b.npz")["lif.a.spikes"].shape == (9, 2)


def test_missing_input_lists_input_nodes_and_shapes(graph, tmp_path):
    for cmd in ("run", "compile", "profile"):
        r = snnc(cmd, graph, "--dt", str(DT), "-o" if cmd != "profile" else "--json",
                 *([str(tmp_path / f"{cmd}.out")] if cmd != "profile" else []))
        assert r.returncode == 2, (cmd, r.stderr)
        assert "Input node" in r.stderr and "in (3,)" in r.stderr and "lif.nir" in r.stderr


def test_dotted_probe_and_voltage_by_node_id(graph, tmp_path):
    x = events()
    out = tmp_path / "r.npz"
    r = snnc("run", graph, "--dt", str(DT), "--precision", "float", "--input",
             f"in={save(tmp_path, 'x.npy', x)}", "--probe", "lif.a.v", "-o", str(out), "-q")
    assert r.returncode == 0, r.stderr
    res = np.load(out)
    assert {"lif.a.spikes", "lif.a.v", "in.spikes"} <= set(res.keys())
    assert not any(k.startswith("lif_a") for k in res.keys())
    assert np.allclose(res["lif.a.v"], reference(x)[1])
    bad = snnc("run", graph, "--dt", str(DT), "--input", f"in={tmp_path / 'x.npy'}",
               "--probe", "lif.b.v", "-o", str(out), "-q")
    assert bad.returncode == 2 and "lif.b.v" in bad.stderr


@pytest.mark.parametrize("data, words", [
    (np.zeros((10, 4), dtype=bool), ["shape (10, 4)", "(steps, 3)"]),
    (np.zeros((10, 3), dtype=np.float32), ["float32", "bool or integer"]),
    (np.full((10, 3), -1, dtype=np.int64), ["negative count -1", "step 0, neuron 0"]),
    (np.zeros(10, dtype=bool), ["shape (10,)"]),
])
def test_bad_input_data_exit_2_naming_file_and_node(graph, tmp_path, data, words):
    xf = save(tmp_path, "bad.npy", data)
    r = snnc("run", graph, "--dt", str(DT), "--input", f"in={xf}", "-o",
             str(tmp_path / "r.npz"), "-q")
    assert r.returncode == 2, r.stderr
    assert "bad.npy" in r.stderr and "Input node 'in'" in r.stderr
    for w in words:
        assert w in r.stderr


def test_bad_options_exit_2(graph, tmp_path):
    xf = save(tmp_path, "x.npy", events())
    cases = [
        (["--input", f"nope={xf}"], ["'nope' is not an Input node", "in (3,)"]),
        (["--input", f"in={tmp_path / 'missing.npy'}"], ["missing.npy", "file not found"]),
        (["--input", "in"], ["NODE=FILE.npy"]),
        (["--input", f"in={xf}", "--dt", "nan"], ["--dt nan", "lif.nir", "seconds > 0"]),
        (["--input", f"in={xf}", "--dt", "0"], ["--dt 0.0", "lif.nir"]),
        (["--input", f"in={xf}", "--dt=-1e-4"], ["--dt -0.0001", "lif.nir"]),
        (["--input", f"in={xf}", "--dt", "abc"], ["--dt", "not a number"]),
        (["--input", f"in={xf}", "--precision", "double"], ["--precision"]),
    ]
    for extra, words in cases:
        r = snnc("run", graph, *extra, "-o", str(tmp_path / "r.npz"), "-q")
        assert r.returncode == 2, (extra, r.stderr)
        assert "Traceback" not in r.stderr
        for w in words:
            assert w in r.stderr, (extra, r.stderr)


def test_multi_dimensional_input_node_takes_both_layouts(tmp_path):
    g = nir.NIRGraph(nodes={
        "img": nir.Input(input_type=np.array([2, 2])), "flat": nir.Flatten(
            input_type={"input": np.array([2, 2])}, start_dim=0),
        "fc": nir.Linear(weight=np.eye(4) * 2.0),
        "n": nir.IF(r=np.ones(4), v_threshold=np.ones(4), v_reset=np.zeros(4)),
        "o": nir.Output(output_type=np.array([4]))},
        edges=[("img", "flat"), ("flat", "fc"), ("fc", "n"), ("n", "o")], type_check=False)
    path = tmp_path / "img.nir"
    nir.write(path, g)
    x = np.zeros((6, 2, 2), dtype=bool)
    x[1, 0, 1] = x[3, 1, 1] = True
    for data in (x, x.reshape(6, 4)):
        res = runtime.run(str(path), precision="float", inputs={"img": data})
        assert res["n.spikes"].shape == (6, 4)
        assert np.argwhere(res["n.spikes"]).tolist() == [[2, 1], [4, 3]]  # C order, 1 step late
    with pytest.raises(InputError, match=r"\(steps, 2, 2\) or \(steps, 4\)"):
        runtime.run(str(path), inputs={"img": x.reshape(6, 1, 4)})


def test_nir_options_refused_for_yaml(tmp_path):
    net = str(ROOT / "examples" / "two_layer.yaml")
    for extra in (["--dt", "0.001"], ["--precision", "float"], ["--input", "inp=x.npy"]):
        r = snnc("run", net, *extra, "-o", str(tmp_path / "r.npz"), "-q")
        assert r.returncode == 2, (extra, r.stderr)
        assert "NIR graphs only" in r.stderr and "two_layer.yaml" in r.stderr
    art = tmp_path / "two.snnc"
    assert snnc("compile", net, "-o", str(art)).returncode == 0
    r = snnc("run", str(art), "--dt", "0.001", "-o", str(tmp_path / "r.npz"), "-q")
    assert r.returncode == 2 and "NIR graphs only" in r.stderr and "two.snnc" in r.stderr


def graded() -> np.ndarray:
    x = events().astype(np.int16)
    x[3, 0], x[4, 1], x[12, 2] = 3, 2, 5
    return x


def test_graded_counts_deliver_count_times_weight(graph, tmp_path):
    x = graded()
    out = tmp_path / "a.npz"
    r = snnc("run", graph, "--dt", str(DT), "--precision", "float", "--input",
             f"in={save(tmp_path, 'c.npy', x)}", "-o", str(out), "-q")
    assert r.returncode == 0, r.stderr
    res = np.load(out)
    want = reference(x)[0]  # W @ counts: a count c acts as c events
    assert np.array_equal(res["lif.a.spikes"], want)
    assert not np.array_equal(want, reference(x > 0)[0])  # the counts matter here
    assert np.array_equal(res["in.spikes"], x)  # the Input node's counts come back as given
    assert sorted(res.keys()) == ["in.spikes", "lif.a.spikes"]  # no per-count populations
    assert f"in                3  {int(x.sum()):>9}" in r.stdout


def test_counts_above_the_limit_are_refused_clearly(graph, tmp_path):
    from runtime.nir_inputs import MAX_COUNT

    x = events().astype(np.int64)
    x[4, 1] = MAX_COUNT + 1
    r = snnc("run", graph, "--dt", str(DT), "--input", f"in={save(tmp_path, 'c.npy', x)}",
             "-o", str(tmp_path / "b.npz"), "-q")
    assert r.returncode == 2
    assert f"count {MAX_COUNT + 1} at step 4, neuron 1" in r.stderr and "c.npy" in r.stderr
    assert not (tmp_path / "b.npz").exists()


@pytest.mark.lava
@pytest.mark.slow
def test_graded_counts_are_exact_on_lava(graph):
    pytest.importorskip("lava")
    x = graded()
    cpu = runtime.run(graph, dt=DT, inputs={"in": x})
    lava = runtime.run(graph, backend="lava", dt=DT, inputs={"in": x})
    assert np.array_equal(cpu["lif.a.spikes"], lava["lif.a.spikes"])
    assert np.array_equal(lava["lif.a.spikes"], reference(x)[0])
    assert np.array_equal(lava["in.spikes"], x)


def test_compile_and_profile_take_the_nir_options(graph, tmp_path):
    xf = save(tmp_path, "x.npy", events())
    art = tmp_path / "lif.snnc"
    r = snnc("compile", graph, "--dt", str(DT), "--input", f"in={xf}", "-o", str(art))
    assert r.returncode == 0, r.stderr
    assert art.is_file()
    r = snnc("profile", graph, "--dt", str(DT), "--precision", "float", "--input", f"in={xf}",
             "--json")
    assert r.returncode == 0, r.stderr
    assert "30 steps" in r.stdout or '"steps": 30' in r.stdout


def test_python_api_takes_dt_precision_inputs(graph):
    x = events()
    res = runtime.run(graph, dt=DT, precision="float", inputs={"in": x}, probes=["lif.a.v"])
    assert res.steps == 30
    assert np.array_equal(res["lif.a.spikes"], reference(x)[0])
    with pytest.raises(InputError, match="no data for Input node"):
        runtime.run(graph, dt=DT)
    with pytest.raises(InputError, match="NIR graphs only"):
        runtime.run(str(ROOT / "examples" / "two_layer.yaml"), dt=DT)


def test_two_layer_export_read_import_gives_identical_spikes(tmp_path):
    net = str(ROOT / "examples" / "two_layer.yaml")
    orig = tmp_path / "orig.npz"
    assert snnc("run", net, "-o", str(orig), "-q").returncode == 0
    g = tmp_path / "two.nir"
    assert snnc("export", net, "-o", str(g)).returncode == 0
    graph = nir.read(g)  # reads back with nir's type check, no invented nodes
    assert {"inp", "hid", "out", "inp.out", "hid.out", "out.out"} <= set(graph.nodes)
    assert not any(k.startswith("input_") or k.startswith("output_") for k in graph.nodes)
    a = np.load(orig)
    inp = save(tmp_path, "inp.npy", a["inp.spikes"])
    out = tmp_path / "back.npz"
    r = snnc("run", str(g), "--input", f"inp={inp}", "-o", str(out), "-q")
    assert r.returncode == 0, r.stderr
    b = np.load(out)
    for k in ("inp.spikes", "hid.spikes", "out.spikes"):
        assert b[k].shape == a[k].shape == (200, b[k].shape[1])
        assert np.array_equal(a[k], b[k]), k
    assert b["hid.spikes"].any() and b["out.spikes"].any()  # not a silent run on zero input


def test_export_without_spike_probes_or_sources_reads_back(tmp_path):
    from compiler.frontend import Network
    from compiler.nir_export import save_nir

    lif = {"du": 4095, "dv": 256, "vth": 100, "bias_mant": 20, "bias_exp": 6}
    nets = {
        "no_probes": Network("a", steps=20).population("inp", 2, spikes={
            "kind": "periodic", "period": 2}).population("hid", 3, params=lif)
        .population("z", 2, params=lif).projection("p", "inp", "hid", weight=50),
        "no_source": Network("b", steps=20).population("hid", 3, params=lif)
        .projection("rec", "hid", "hid", weight=10),
    }
    for name, builder in nets.items():
        ir = builder.build()
        path = tmp_path / f"{name}.nir"
        save_nir(ir, path)
        nir.read(path)
        direct = runtime.run(ir)
        inputs = {"inp": direct["inp.spikes"]} if name == "no_probes" else None
        back = runtime.run(str(path), inputs=inputs, steps=20)
        for pop in ir.populations:
            if not ir.populations[pop].is_source:
                assert np.array_equal(direct[f"{pop}.spikes"], back[f"{pop}.spikes"]), (name, pop)
        assert direct["hid.spikes"].any()  # the bias makes them fire: a non-trivial comparison
        assert not any(k.endswith(".entry.spikes") or "entry" in k for k in back.keys())
