"""The .snnc artifact: exact round trip, identical runs, bad files, atomic writes."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import zipfile

import numpy as np
import pytest
from artifact_helpers import expect_bad, rezip
from compiler_helpers import proj, two_layer, with_locations

from compiler import ir
from compiler.artifact import (
    ARRAYS,
    FORMAT,
    MANIFEST,
    NARROW_MIN_SIZE,
    VERSION,
    load_program,
    save_program,
)
from compiler.errors import InputError
from compiler.ir import Adapt, LIFParams, Plasticity, Population, Probe, SpikeSource
from compiler.pipeline import compile_network
from compiler.program import Core, Program
from compiler.target import CoreLimits, Target
from compiler.targets import load_target


def assert_same(a, b, path="program"):
    """Deep equality: dataclass fields, dict keys, arrays by dtype, shape and values."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{path}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        assert np.array_equal(a, b), path
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), path
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def rich_program(tmp_path) -> Program:
    """A hand-made Program using every IR feature (no compile needed)."""
    net = with_locations(two_layer("fixed"), str(tmp_path / "net.yaml"),
                         {"projections.inp_hid.delay": 21, "populations.hid": 9})
    rng = np.random.default_rng(2)
    net.populations["arr"] = Population("arr", 3, "spike_source",
                                        source=SpikeSource("array", data=rng.random((7, 3)) < 0.5))
    net.populations["per"] = Population("per", 2, "spike_source",
                                        source=SpikeSource("periodic", period=4, phase=1))
    net.populations["ad"] = Population("ad", 5, "lif", lif=LIFParams(
        du=100, dv=7, vth=50, bias_mant=-3, bias_exp=2, adapt=Adapt(increment=2, tau=1000.0)))
    p = proj("arr_ad", "arr", "ad", 3, 5, rng.integers(-9, 9, 15).astype(np.int32),
             delay=rng.integers(0, 5, 15), weight_exp=-2, num_weight_bits=6)
    p.plasticity = Plasticity("stdp", {"a_plus": 4, "a_minus": 3.5, "tau_plus": 10,
                                       "w_max": 255, "tau_minus": 12}, modulator=None)
    net.projections["arr_ad"] = p
    net.probes.append(Probe("ad", "u"))
    core_of = {"hid": np.array([0] * 5 + [1] * 5, np.int32), "out": np.full(4, 1, np.int32),
               "ad": np.array([2, 2, 0, 2, 2], np.int32)}
    cores = [
        Core(0, 0, 0, 0, 0, {"hid": np.arange(5, dtype=np.int32), "ad": np.array([2], np.int32)},
             100, 6, 5),
        Core(1, 0, 1, 1, 0, {"hid": np.arange(5, 10, dtype=np.int32),
                             "out": np.arange(4, dtype=np.int32)}, 200, 7, 4),
        Core(2, 1, 0, 0, 0, {"ad": np.array([0, 1, 3, 4], np.int32)}, 64, 3, 0),
    ]
    if hasattr(ir, "Phase"):  # datasets and phases
        ds = ir.Dataset("d", x=rng.random((5, 3)), y=np.arange(5),
                        splits={"train": np.array([0, 1, 2]), "test": np.array([3, 4])})
        net.populations["ds"] = Population("ds", 3, "spike_source",
                                           source=SpikeSource(ir.DATASET_KIND, dataset=ds))
        net.phases = [ir.Phase("train", split="train", epochs=2, plastic={"arr_ad": True},
                               overrides=[ir.Override("projections.arr_ad.weight_scale",
                                                      "weight_scale", "arr_ad", "scale", 0.5)]),
                      ir.Phase("rest", steps=10)]
        net.readout = ir.Readout("ad", "train", "rest")
    target = load_target("loihi1", {"chips": 2})
    report = {"lower_bound": 2, "inf": math.inf, "nan": math.nan, "arr": np.arange(3.0),
              "nested": {"t": (1, 2), "np": np.int64(5)}}
    return Program(net, target, core_of, cores, "hand", report)


def test_round_trip_reproduces_every_field(tmp_path):
    prog = rich_program(tmp_path)
    path = save_program(prog, tmp_path / "p.snnc")
    back = load_program(path)
    assert_same(prog.network, back.network, "network")
    assert_same(prog.target, back.target, "target")
    assert_same(prog.core_of, back.core_of, "core_of")
    assert_same(prog.cores, back.cores, "cores")
    assert back.partitioner == "hand"
    r = back.report
    assert r["lower_bound"] == 2 and r["inf"] == math.inf and math.isnan(r["nan"])
    assert np.array_equal(r["arr"], np.arange(3.0)) and r["nested"] == {"t": (1, 2), "np": 5}
    src = back.network.populations["arr"].source
    assert src.data.dtype == bool and np.array_equal(src.data, prog.network.populations["arr"].source.data)
    assert back.network.loc("projections.inp_hid.delay").line == 21


def test_artifact_layout_is_a_versioned_zip(tmp_path):
    path = save_program(rich_program(tmp_path), tmp_path / "p.snnc")
    with zipfile.ZipFile(path) as zf:
        assert set(zf.namelist()) == {MANIFEST, ARRAYS}
        m = json.loads(zf.read(MANIFEST))
        arrays = np.load(io.BytesIO(zf.read(ARRAYS)))
        assert (m["format"], m["version"]) == ("snnc-program", 2)
        pops = [p["fields"]["name"] for p in m["populations"]]
        assert pops[:6] == ["inp", "hid", "out", "arr", "per", "ad"]
        assert m["populations"][0]["__dc__"] == "Population"
        t = m["target"]["fields"]
        assert t["name"] == "loihi1" and t["core"]["fields"]["neurons"] == 1024
        assert m["probes"][-1] == {"__dc__": "Probe", "fields": {"target": "ad", "var": "u"}}
        key = m["projections"][0]["fields"]["weight"]["__array__"]
        assert arrays[key].dtype == np.int32


def test_compiled_program_round_trip_runs_identically(tmp_path):
    cpu = pytest.importorskip("backends.cpu")
    if not hasattr(cpu, "run"):
        pytest.skip("CPU backend not written yet")
    prog = compile_network(two_layer("fixed"), Target("t", core=CoreLimits(neurons=4)))
    back = load_program(save_program(prog, tmp_path / "p.snnc"))
    assert_same(prog.network, back.network, "network")
    assert_same(prog.cores, back.cores, "cores")
    a, b = cpu.run(prog, 60).arrays(), cpu.run(back, 60).arrays()
    assert sorted(a) == sorted(b) and a["hid.spikes"].any()
    for k in a:
        assert np.array_equal(a[k], b[k]), k


def test_float_program_round_trip_keeps_float_weights(tmp_path):
    prog = compile_network(two_layer("float"), Target("t"))
    back = load_program(save_program(prog, tmp_path / "f.snnc"))
    w = back.network.projections["inp_hid"].weight
    assert w.dtype == np.float64 and np.array_equal(w, prog.network.projections["inp_hid"].weight)
    assert back.network.precision == "float"
    assert back.report["quantization"]["converted"] is True


# ---------------------------------------------------------------- bad files


@pytest.fixture
def good(tmp_path):
    return save_program(rich_program(tmp_path), tmp_path / "good.snnc")


def test_not_a_zip(tmp_path):
    path = tmp_path / "x.snnc"
    path.write_text("snnc: 1\nname: not a program\n")
    expect_bad(path, "not a zip archive")


def test_truncated(tmp_path, good):
    data = good.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 30):
        path = tmp_path / f"t{cut}.snnc"
        path.write_bytes(data[:cut])
        expect_bad(path, "not a valid snnc program")


def test_corrupted_bytes(tmp_path, good):
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo(ARRAYS)
    # flip bytes inside the stored arrays (well past the local header)
    for off in (info.header_offset + 200, info.header_offset + info.compress_size // 2):
        bad = bytearray(data)
        bad[off] ^= 0xFF
        path = tmp_path / f"c{off}.snnc"
        path.write_bytes(bytes(bad))
        expect_bad(path, "not a valid snnc program")


def test_wrong_version_and_format(tmp_path, good):
    expect_bad(rezip(good, tmp_path / "v.snnc", lambda m: m.update(version=3)),
               "version 3 is not supported", f"reads version {VERSION}")
    expect_bad(rezip(good, tmp_path / "f.snnc", lambda m: m.update(format="other")),
               "format is 'other'", FORMAT)


def big_program(tmp_path) -> Program:
    """rich_program plus a projection large enough for narrowed storage."""
    prog = rich_program(tmp_path)
    n = NARROW_MIN_SIZE + 5
    rng = np.random.default_rng(4)
    prog.network.populations["big"] = Population("big", 300, "lif", lif=LIFParams())
    prog.core_of["big"] = np.zeros(300, np.int32)  # a valid program: every neuron on a core
    prog.cores[0].neurons["big"] = np.arange(300, dtype=np.int32)
    prog.network.projections["big_big"] = ir.Projection(
        "big_big", "big", "big", rng.integers(0, 300, n).astype(np.int32),
        rng.integers(0, 300, n).astype(np.int32), rng.integers(1, 256, n).astype(np.int32),
        rng.integers(0, 62, n).astype(np.int16))
    prog.report["wide"] = np.array([-(1 << 40)] + [0] * n, np.int64)  # needs all 64 bits
    prog.report["neg"] = -np.arange(n, dtype=np.int64)  # fits int16
    return prog


def test_large_integer_arrays_are_stored_narrow_and_restored(tmp_path):
    prog = big_program(tmp_path)
    path = save_program(prog, tmp_path / "b.snnc")
    with zipfile.ZipFile(path) as zf:
        m = json.loads(zf.read(MANIFEST))
        arrays = np.load(io.BytesIO(zf.read(ARRAYS)))
        f = next(q for q in m["projections"] if q["fields"]["name"] == "big_big")["fields"]
        # weights 1..255 and delays 0..61 fit uint8 (int32, int16 in memory), indices < 300 uint16
        assert arrays[f["weight"]["__array__"]].dtype == np.uint8
        assert arrays[f["delay"]["__array__"]].dtype == np.uint8
        assert arrays[f["pre_idx"]["__array__"]].dtype == np.uint16
        assert arrays[m["report"]["wide"]["__array__"]].dtype == np.int64
        assert arrays[m["report"]["neg"]["__array__"]].dtype == np.int16
        assert m["narrowed"][f["weight"]["__array__"]] == np.dtype(np.int32).str
    back = load_program(path)
    assert_same(prog.network, back.network, "network")  # dtypes and values restored
    assert back.report["wide"].dtype == np.int64 and back.report["wide"][0] == -(1 << 40)
    assert np.array_equal(back.report["neg"], prog.report["neg"])
    assert back.report["neg"].dtype == np.int64


def test_version_1_files_still_load(tmp_path, good):
    # version 1 = version 2 without narrowing (the `good` program has no large arrays)
    old = rezip(good, tmp_path / "v1.snnc", lambda m: (m.update(version=1), m.pop("narrowed")))
    assert_same(load_program(good).network, load_program(old).network, "network")


def test_missing_parts(tmp_path, good):
    expect_bad(rezip(good, tmp_path / "m.snnc", drop=(MANIFEST,)), f"no {MANIFEST}")
    expect_bad(rezip(good, tmp_path / "a.snnc", drop=(ARRAYS,)), f"no {ARRAYS}")
    expect_bad(rezip(good, tmp_path / "p.snnc", lambda m: m.pop("populations")),
               "manifest is incomplete", "populations")
    path = tmp_path / "j.snnc"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(MANIFEST, "{not json")
    expect_bad(path, "not valid JSON")


def test_missing_file(tmp_path):
    expect_bad(tmp_path / "none.snnc", "file not found")


# ---------------------------------------------------------------- atomic writes


def _boom_savez(file, **arrays):
    file.write(b"partial data " * 1000)
    raise OSError("disk full")


@pytest.mark.parametrize("exc_type", [OSError, KeyboardInterrupt])
def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch, exc_type):
    prog = rich_program(tmp_path)
    out = tmp_path / "out"
    out.mkdir()

    def boom(file, **arrays):
        file.write(b"partial data " * 1000)
        raise exc_type("interrupted")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(exc_type):
        save_program(prog, out / "p.snnc")
    assert list(out.iterdir()) == []


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    prog = rich_program(tmp_path)
    path = save_program(prog, tmp_path / "p.snnc")
    before = path.read_bytes()
    monkeypatch.setattr(np, "savez", _boom_savez)
    with pytest.raises(OSError, match="disk full"):
        save_program(prog, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.snnc"]
    load_program(path)


def test_failed_rename_leaves_nothing_behind(tmp_path, monkeypatch):
    import compiler.artifact as artifact

    def fail(src, dst):
        raise PermissionError("read-only")

    monkeypatch.setattr(artifact.os, "replace", fail)
    with pytest.raises(PermissionError):
        save_program(rich_program(tmp_path), tmp_path / "p.snnc")
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        save_program(rich_program(tmp_path), tmp_path / "no" / "p.snnc")
