"""The `snnc` command line: documented outputs (docs/cli.md), exit codes, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from repo import ROOT

from runtime.cli import main

EXAMPLES = ROOT / "examples"
TWO_LAYER = EXAMPLES / "two_layer.yaml"


def _spec(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_run_writes_spec_npz(tmp_path, capsys):
    out = tmp_path / "r.npz"
    rc = main(["run", str(TWO_LAYER), "--backend", "cpu", "--steps", "50", "-o", str(out)])
    assert rc == 0
    spec = _spec(TWO_LAYER)
    with np.load(out) as z:
        keys = set(z.files)
        # spikes of every population, probed or not
        for pop, p in spec["populations"].items():
            s = z[f"{pop}.spikes"]
            assert s.dtype == bool and s.shape == (50, p["size"])
        for probe in spec["probes"]:
            assert probe in keys
            target, var = probe.rsplit(".", 1)
            arr = z[probe]
            if var in ("v", "u"):
                assert arr.shape == (50, spec["populations"][target]["size"])
                assert np.issubdtype(arr.dtype, np.integer)  # fixed precision
            elif var == "weights":
                proj = spec["projections"][target]
                n_post = spec["populations"][proj["post"]]["size"]
                n_pre = spec["populations"][proj["pre"]]["size"]
                assert arr.shape == (n_post, n_pre)
    text = capsys.readouterr().out
    assert "hid" in text and "spikes" in text  # per-population spike counts printed


def test_run_default_steps_from_file(tmp_path):
    out = tmp_path / "r.npz"
    assert main(["run", str(TWO_LAYER), "-o", str(out)]) == 0
    with np.load(out) as z:
        assert z["hid.spikes"].shape[0] == _spec(TWO_LAYER)["steps"]


def test_compile_json_and_artifact_run_equal(tmp_path, capsys):
    art = tmp_path / "net.snnc"
    rc = main(["compile", str(TWO_LAYER), "-o", str(art), "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["target"] == "loihi2"
    assert summary["chips"] >= 1
    for key in ("neurons", "synapse_bits", "in_axons", "out_axons"):
        assert isinstance(summary["limits"][key], int)
    spec = _spec(TWO_LAYER)
    placed = {}
    for core in summary["cores"]:
        for key in ("chip", "core", "synapse_bits", "in_axons", "out_axons"):
            assert isinstance(core[key], int)
            if key in ("synapse_bits", "in_axons", "out_axons"):
                assert core[key] <= summary["limits"][key]
        for pop, idx in core["neurons"].items():
            placed.setdefault(pop, []).extend(idx)
    for pop, p in spec["populations"].items():
        if p["model"] == "lif":
            assert sorted(placed[pop]) == list(range(p["size"]))
    assert art.exists()
    r1, r2 = tmp_path / "a.npz", tmp_path / "b.npz"
    assert main(["run", str(art), "-o", str(r1), "--steps", "40"]) == 0
    assert main(["run", str(TWO_LAYER), "-o", str(r2), "--steps", "40"]) == 0
    with np.load(r1) as a, np.load(r2) as b:
        assert set(a.files) == set(b.files)
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k])


def test_profile_json(tmp_path, capsys):
    rc = main(["profile", str(TWO_LAYER), "--steps", "30", "--json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["activity"] is not None
    assert report["cost"] is not None


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "does_not_exist.yaml"],
        ["run", str(TWO_LAYER), "--backend", "gpu"],
        ["run", str(TWO_LAYER), "--steps", "0"],
        ["run", str(TWO_LAYER), "--probe", "nope.v"],
        ["compile", str(TWO_LAYER), "--partitioner", "metis"],
        ["frobnicate"],
    ],
)
def test_bad_cli_input_exits_2_without_traceback(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "error" in err


def test_failed_run_writes_nothing(tmp_path, monkeypatch):
    """A run that fails leaves no (partial) results file behind."""
    import backends.cpu as cpu

    def boom(*a, **k):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(cpu, "run", boom)
    out = tmp_path / "r.npz"
    assert main(["run", str(TWO_LAYER), "-o", str(out)]) == 1
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "--help"])
    assert e.value.code == 0
    assert "--backend" in capsys.readouterr().out


def test_export_nir_and_run_it(tmp_path):
    pytest.importorskip("nir")
    graph = tmp_path / "g.nir"
    assert main(["export", str(TWO_LAYER), "-o", str(graph)]) == 0
    assert graph.exists()
    out = tmp_path / "r.npz"
    inp = tmp_path / "inp.npy"
    np.save(inp, np.ones((20, 16), dtype=bool))
    assert main(["run", str(graph), "--steps", "10", "--input", f"inp={inp}", "-o", str(out)]) == 0
    with np.load(out) as z:
        assert z["hid.spikes"].shape == (10, 32)
    art = tmp_path / "g.snnc"
    assert main(["compile", str(graph), "--input", f"inp={inp}", "-o", str(art)]) == 0
    assert art.exists()
