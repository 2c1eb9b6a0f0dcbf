"""The Python API mirrors the CLI: runtime.run/compile/profile on paths, builders and IR."""

from __future__ import annotations

import numpy as np
import yaml
from repo import ROOT

import runtime
from compiler.frontend import Network, load_network

TWO_LAYER = ROOT / "examples" / "two_layer.yaml"


def test_run_returns_cli_arrays(tmp_path):
    out = tmp_path / "r.npz"
    res = runtime.run(TWO_LAYER, backend="cpu", steps=30, output=out)
    with np.load(out) as z:
        assert set(z.files) == set(res.keys())
        for k in z.files:
            np.testing.assert_array_equal(z[k], res[k])


def test_same_seed_same_spikes_other_seed_differs(tmp_path):
    spec = yaml.safe_load(TWO_LAYER.read_text())
    a = runtime.run(TWO_LAYER, steps=60)
    b = runtime.run(TWO_LAYER, steps=60)
    for pop in spec["populations"]:
        np.testing.assert_array_equal(a[f"{pop}.spikes"], b[f"{pop}.spikes"])
    spec["seed"] = spec["seed"] + 1
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(spec))
    c = runtime.run(other, steps=60)
    assert not np.array_equal(a["inp.spikes"], c["inp.spikes"])


def test_builder_ir_and_path_give_same_run(tmp_path):
    net = (
        Network("api", seed=3, steps=40)
        .population("inp", 8, spikes={"kind": "poisson", "rate": 0.3})
        .population("hid", 6, params={"du": 1000, "dv": 200, "vth": 40})
        .projection("inp_hid", "inp", "hid", weight={"dist": "uniform", "low": 0, "high": 80})
        .probe("hid.v")
    )
    path = tmp_path / "api.yaml"
    net.to_yaml(path)
    r_builder = runtime.run(net)
    r_ir = runtime.run(net.build())
    r_path = runtime.run(path)
    assert r_builder["hid.spikes"].shape == (40, 6)
    assert r_builder["hid.spikes"].any()
    for r in (r_ir, r_path):
        np.testing.assert_array_equal(r_builder["hid.spikes"], r["hid.spikes"])
        np.testing.assert_array_equal(r_builder["hid.v"], r["hid.v"])


def test_compile_and_profile_api(tmp_path):
    art = tmp_path / "n.snnc"
    program = runtime.compile(TWO_LAYER, output=art)
    assert art.exists()
    assert sum(c.n_neurons for c in program.cores) == sum(
        p.size for p in load_network(TWO_LAYER).neuron_populations
    )
    report = runtime.profile(art, steps=20)
    assert report["activity"] is not None
