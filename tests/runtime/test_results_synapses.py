"""Results list every probed synapse: `<proj>.pre`, `.post`, `.weight` beside the dense
`<proj>.weights`, so a synapse whose weight reached 0 is not mistaken for a missing one."""

from __future__ import annotations

import numpy as np
import pytest
from phase_nets import RELAY_POPULATIONS

import runtime
from backends.result import add_synapse_lists, synapse_lists
from compiler.frontend import Network
from runtime.cli import main

PHASED = RELAY_POPULATIONS + """\
projections:
  dep:
    pre: inp
    post: out
    weight: {dist: uniform, low: 2, high: 60}
    plasticity: {rule: stdp, a_plus: 1, a_minus: 1, learning_rate: 0.125, tau_plus: 4,
                 tau_minus: 8, w_min: 0}
phases:
  - name: train
    samples: {split: train, epochs: 2}
  - name: idle
    steps: 5
"""


def _depressing(steps: int = 20) -> Network:
    """8 Poisson inputs -> 4 LIF driven by bias; depression-only STDP drives most weights to 0."""
    return (
        Network("dep", seed=3, steps=steps, precision="fixed")
        .population("inp", 8, spikes={"kind": "poisson", "rate": 0.3})
        .population("out", 4, params={"du": 4095, "dv": 4095, "vth": 10, "bias_mant": 20})
        .projection("inp_out", "inp", "out", weight={"dist": "uniform", "low": 4, "high": 40},
                    connectivity={"kind": "random", "p": 0.7},
                    plasticity={"rule": "stdp", "a_plus": 0, "a_minus": 1, "tau_plus": 4,
                                "tau_minus": 8, "learning_rate": 0.125, "w_min": 0,
                                "w_max": 255, "t_epoch": 1})
        .probe("inp_out.weights")
    )


def _check_lists(res, name: str, proj) -> None:
    """The lists follow the compiled synapse order and equal the dense matrix at (post, pre)."""
    pre, post, w = res[f"{name}.pre"], res[f"{name}.post"], res[f"{name}.weight"]
    dense = res[f"{name}.weights"]
    assert pre.shape == post.shape == w.shape == (proj.n_synapses,)
    assert pre.dtype == post.dtype == np.int32
    assert w.dtype == dense.dtype
    np.testing.assert_array_equal(pre, proj.pre_idx)
    np.testing.assert_array_equal(post, proj.post_idx)
    np.testing.assert_array_equal(w, dense[post, pre])


def test_synapse_lists_keep_order_dtype_and_zero_weights():
    dense = np.array([[0, 5], [7, 0]], dtype=np.int64)  # (post, pre)
    out = synapse_lists("p", np.array([1, 0, 1]), np.array([0, 1, 1]), dense)
    assert sorted(out) == ["p.post", "p.pre", "p.weight"]
    np.testing.assert_array_equal(out["p.pre"], [1, 0, 1])
    np.testing.assert_array_equal(out["p.post"], [0, 1, 1])
    np.testing.assert_array_equal(out["p.weight"], [5, 7, 0])  # the (1, 1) synapse is at 0
    assert out["p.weight"].dtype == np.int64 and out["p.pre"].dtype == np.int32
    floats = synapse_lists("f", np.array([0]), np.array([1]), dense.astype(np.float64) / 2)
    assert floats["f.weight"].dtype == np.float64 and floats["f.weight"][0] == 3.5


def test_add_synapse_lists_only_for_known_projections():
    class P:  # what add_synapse_lists reads of a projection
        pre_idx = np.array([0, 1], np.int32)
        post_idx = np.array([0, 0], np.int32)

    values = {"a.weights": np.array([[1, 0]]), "ghost.weights": np.zeros((1, 1)),
              "hid.v": np.zeros((2, 2))}
    add_synapse_lists(values, {"a": P()})
    assert "ghost.pre" not in values and "hid.pre" not in values
    np.testing.assert_array_equal(values["a.weight"], [1, 0])
    with pytest.raises(ValueError, match="a.weights"):
        synapse_lists("a", P.pre_idx, P.post_idx, np.zeros(3))


def test_depressed_stdp_synapses_stay_listed_on_cpu():
    net = _depressing()
    proj = runtime.compile(net).network.projections["inp_out"]
    res = runtime.run(net, backend="cpu")
    _check_lists(res, "inp_out", proj)
    w = res["inp_out.weight"]
    assert (w == 0).any() and (w != 0).any()  # some synapses depressed to 0, others not
    # the dense matrix alone loses the depressed synapses; the lists keep all of them
    assert np.count_nonzero(res["inp_out.weights"]) < proj.n_synapses == w.size


def test_unprobed_projection_has_no_lists():
    net = _depressing()
    net.probes = []
    res = runtime.run(net, backend="cpu")
    assert not [k for k in res.keys() if k.startswith("inp_out.")]


def test_phased_run_lists_plastic_projection(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(PHASED)
    proj = runtime.compile(path).network.projections["dep"]
    res = runtime.run(path)
    _check_lists(res, "dep", proj)
    assert (res["dep.weight"] == 0).any() and (res["dep.weight"] != 0).any()


def test_cli_results_hold_synapse_lists(tmp_path, capsys):
    path = tmp_path / "net.yaml"
    path.write_text(PHASED)
    out = tmp_path / "r.npz"
    assert main(["run", str(path), "-o", str(out), "--quiet"]) == 0
    assert "dep.pre" in capsys.readouterr().out  # the written arrays are listed
    res = runtime.run(path)
    with np.load(out) as z:
        for key in ("dep.pre", "dep.post", "dep.weight", "dep.weights"):
            np.testing.assert_array_equal(z[key], res[key])
            assert z[key].dtype == res[key].dtype


def test_cli_probe_option_adds_lists(tmp_path):
    net = _depressing()
    net.probes = []
    path = tmp_path / "plain.yaml"
    net.to_yaml(path)
    out = tmp_path / "r.npz"
    assert main(["run", str(path), "--probe", "inp_out.weights", "-o", str(out), "-q"]) == 0
    with np.load(out) as z:
        assert z["inp_out.pre"].shape == z["inp_out.weight"].shape
        np.testing.assert_array_equal(z["inp_out.weight"],
                                      z["inp_out.weights"][z["inp_out.post"], z["inp_out.pre"]])


@pytest.mark.lava
@pytest.mark.parametrize("phased", [False, True])
def test_lava_synapse_lists_equal_cpu(tmp_path, phased):
    pytest.importorskip("lava")
    if phased:
        net = tmp_path / "net.yaml"
        net.write_text(PHASED)
        name = "dep"
    else:
        net, name = _depressing(), "inp_out"
    cpu = runtime.run(net, backend="cpu")
    lava = runtime.run(net, backend="lava", timeout_s=240)
    assert (cpu[f"{name}.weight"] == 0).any()
    for key in (f"{name}.pre", f"{name}.post", f"{name}.weight", f"{name}.weights"):
        np.testing.assert_array_equal(cpu[key], lava[key])
        assert cpu[key].dtype == lava[key].dtype
