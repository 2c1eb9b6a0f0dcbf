"""Hostile inputs: zip bombs, archives whose headers lie, tampered `.snnc` artifacts, and
step counts or probes too large for the machine. Each must end in exit 2 with the file,
member and field named, before the memory is spent (the CLI runs in a child process whose
peak memory is measured)."""

from __future__ import annotations

import glob
import io
import json
import os
import struct
import time
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from cli_runner import snnc_measured
from phase_nets import RELAY
from repo import ROOT

from compiler import budget
from compiler.artifact import ARRAYS, MANIFEST, load_program, save_program
from compiler.artifact_checks import check_program
from compiler.errors import InputError
from compiler.frontend import load_network
from compiler.pipeline import compile_network
from compiler.target import CoreLimits, Target

BOMB_BYTES = 1_500_000_000  # what the bombs declare (and would inflate to)
PEAK_MB = 400  # peak memory a refused bomb may cost the child

TWO_LAYER = """\
snnc: 1
name: small
seed: 3
steps: {steps}
populations:
  inp: {{size: 6, model: spike_source, spikes: {{kind: poisson, rate: 0.3}}}}
  hid: {{size: 32, model: lif, params: {{du: 1024, dv: 256, vth: 500}}}}
projections:
  inp_hid:
    pre: inp
    post: hid
    connectivity: all_to_all
    weight: {{dist: uniform, low: 0, high: 60}}
    delay: 2
probes: [hid.spikes, hid.v]
"""


def cli(args: list[str], tmp_path: Path, env: dict[str, str] | None = None,
        timeout: float = 120) -> tuple[int, str, float]:
    """(exit status, stderr, peak RSS in MB) of `snnc <args>` in a child process."""
    full_env = dict(os.environ)
    full_env.pop("SNNC_MEMORY_LIMIT", None)
    full_env.update(env or {})
    run = snnc_measured(*args, timeout=timeout, env=full_env)
    return run.rc, run.err, run.peak_mb


# ---------------------------------------------------------------- building bombs


def npy_header(shape: tuple[int, ...], dtype: str = "<i4") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


@pytest.fixture(scope="module")
def bomb() -> tuple[bytes, int, int]:
    """(raw deflate stream, CRC-32, size) of an int32 .npy of BOMB_BYTES zero bytes: ~1.5 MB
    that inflate to ~1.5 GB (built from one repeated fully flushed block)."""
    zeros = bytes(1 << 20)
    n = BOMB_BYTES // len(zeros)
    header = npy_header((n * len(zeros) // 4,))  # the header agrees with the member's size
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(header) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    assert again == block  # a full flush resets the window: the block repeats exactly
    stream = head + block * n + c.flush()
    crc = zlib.crc32(header)
    for _ in range(n):
        crc = zlib.crc32(zeros, crc)
    size = len(header) + n * len(zeros)
    assert size > 1_400_000_000 and len(stream) < 2_000_000
    return stream, crc, size


def raw_zip(members: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip file from (name, stored bytes, crc, uncompressed size, method) members, written
    by hand so that pre-compressed streams go in as they are."""
    out, central = bytearray(), bytearray()
    for name, data, crc, size, method in members:
        n = name.encode()
        offset = len(out)
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(data),
                           size, len(n), 0) + n + data
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc,
                               len(data), size, len(n), 0, 0, 0, 0, 0, offset) + n
    start = len(out)
    out += central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members),
                                 len(central), start, 0)
    return bytes(out)


def stored(name: str, data: bytes) -> tuple[str, bytes, int, int, int]:
    return name, data, zlib.crc32(data), len(data), zipfile.ZIP_STORED


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


# ---------------------------------------------------------------- artifacts


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    """A compiled two-population network whose `hid` (32 neurons) spans 2 cores."""
    folder = tmp_path_factory.mktemp("art")
    net_file = folder / "small.yaml"
    net_file.write_text(TWO_LAYER.format(steps=20))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prog = compile_network(load_network(net_file), Target("t", core=CoreLimits(neurons=16)))
    assert len(prog.cores) == 2
    return save_program(prog, folder / "small.snnc")


def parts(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read(MANIFEST))
        with np.load(io.BytesIO(zf.read(ARRAYS))) as npz:
            arrays = {k: npz[k] for k in npz.files}
    return manifest, arrays


def write_artifact(path: Path, manifest: dict, inner: bytes) -> Path:
    """An artifact laid out as `snnc compile` writes it: manifest, then the stored npz."""
    path.write_bytes(raw_zip([stored(MANIFEST, json.dumps(manifest).encode()),
                              stored(ARRAYS, inner)]))
    return path


def tampered(src: Path, dst: Path, edit) -> Path:
    """`src` with `edit(manifest, arrays, keys)` applied (keys: field -> array key)."""
    manifest, arrays = parts(src)
    fields = {p["fields"]["name"]: p["fields"] for p in manifest["populations"]}
    projs = {p["fields"]["name"]: p["fields"] for p in manifest["projections"]}
    edit(manifest, arrays, fields, projs)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return write_artifact(dst, manifest, buf.getvalue())


def key(ref: dict) -> str:
    return ref["__array__"]


def expect_refused(path: Path, tmp_path: Path, *fragments: str) -> str:
    rc, err, _ = cli(["run", str(path), "--steps", "5", "-o", str(tmp_path / "r.npz")],
                     tmp_path)
    assert rc == 2, err
    assert str(path) in err and "Traceback" not in err, err
    for f in fragments:
        assert f in err, err
    return err


# ---------------------------------------------------------------- bombs


def test_edge_list_npz_bomb_is_refused_before_inflating(tmp_path, bomb):
    stream, crc, size = bomb
    small = [stored("post.npy", npy_bytes(np.zeros(3, np.int32))),
             stored("weight.npy", npy_bytes(np.ones(3, np.int32)))]
    (tmp_path / "edges.npz").write_bytes(raw_zip(
        [("pre.npy", stream, crc, size, zipfile.ZIP_DEFLATED)] + small))
    assert (tmp_path / "edges.npz").stat().st_size < 2_000_000
    net = tmp_path / "net.yaml"
    net.write_text(TWO_LAYER.format(steps=10).replace(
        "connectivity: all_to_all\n    weight: {dist: uniform, low: 0, high: 60}\n"
        "    delay: 2\n", "connectivity: {kind: list, file: edges.npz}\n"))
    rc, err, peak = cli(["compile", str(net), "-o", str(tmp_path / "n.snnc")], tmp_path)
    assert rc == 2, err
    assert f"{net}:" in err and "projections.inp_hid.connectivity.file" in err, err
    assert "pre.npy" in err and "ratio" in err, err
    assert peak < PEAK_MB, f"peak {peak:.0f} MB"


def test_unused_npz_bomb_member_is_never_inflated(tmp_path, bomb):
    stream, crc, size = bomb
    edges = [stored("pre.npy", npy_bytes(np.arange(3, dtype=np.int32))),
             stored("post.npy", npy_bytes(np.zeros(3, np.int32))),
             stored("weight.npy", npy_bytes(np.ones(3, np.int32))),
             ("extra.npy", stream, crc, size, zipfile.ZIP_DEFLATED)]
    (tmp_path / "edges.npz").write_bytes(raw_zip(edges))
    net = tmp_path / "net.yaml"
    net.write_text(TWO_LAYER.format(steps=10).replace(
        "connectivity: all_to_all\n    weight: {dist: uniform, low: 0, high: 60}\n"
        "    delay: 2\n", "connectivity: {kind: list, file: edges.npz}\n"))
    rc, err, peak = cli(["compile", str(net), "-o", str(tmp_path / "n.snnc")], tmp_path)
    assert rc == 2 and "extra.npy" in err and "connectivity.file" in err, err
    assert peak < PEAK_MB, f"peak {peak:.0f} MB"


@pytest.mark.parametrize("where", ["needed", "unknown", "outer"])
def test_snnc_bomb_member_is_refused_with_bounded_memory(tmp_path, artifact, bomb, where):
    stream, crc, size = bomb
    manifest, arrays = parts(artifact)
    hid_core_of = key(manifest["core_of"]["hid"])
    members = [stored(f"{k}.npy", npy_bytes(a)) for k, a in arrays.items()
               if not (where == "needed" and k == hid_core_of)]
    if where == "needed":  # hid's core ids: ~1.5 GB of zeros declared
        members.append((f"{hid_core_of}.npy", stream, crc, size, zipfile.ZIP_DEFLATED))
    elif where == "unknown":
        members.append(("junk.0.npy", stream, crc, size, zipfile.ZIP_DEFLATED))
    if where == "outer":  # arrays.npz itself compressed like a bomb
        outer = [stored(MANIFEST, json.dumps(manifest).encode()),
                 (ARRAYS, stream, crc, size, zipfile.ZIP_DEFLATED)]
        path = tmp_path / "bomb.snnc"
        path.write_bytes(raw_zip(outer))
    else:
        path = write_artifact(tmp_path / "bomb.snnc", manifest, raw_zip(members))
    assert path.stat().st_size < 2_000_000
    rc, err, peak = cli(["run", str(path), "--steps", "5", "-o", str(tmp_path / "r.npz")],
                        tmp_path)
    assert rc == 2, err
    assert str(path) in err and "arrays.npz" in err, err
    assert {"needed": "ratio", "unknown": "junk.0.npy", "outer": "ratio"}[where] in err, err
    assert peak < PEAK_MB, f"peak {peak:.0f} MB"


def test_npz_member_whose_header_disagrees_with_its_size(tmp_path):
    header = npy_header((1000,))
    data = header + bytes(400)  # 100 int32 where the header declares 1000
    (tmp_path / "edges.npz").write_bytes(raw_zip([
        stored("pre.npy", data), stored("post.npy", npy_bytes(np.zeros(3, np.int32))),
        stored("weight.npy", npy_bytes(np.ones(3, np.int32)))]))
    net = tmp_path / "net.yaml"
    net.write_text(TWO_LAYER.format(steps=10).replace(
        "connectivity: all_to_all\n    weight: {dist: uniform, low: 0, high: 60}\n"
        "    delay: 2\n", "connectivity: {kind: list, file: edges.npz}\n"))
    rc, err, _ = cli(["compile", str(net), "-o", str(tmp_path / "n.snnc")], tmp_path)
    assert rc == 2, err
    assert "projections.inp_hid.connectivity.file" in err and "pre.npy" in err, err
    assert "4000 bytes of data" in err and "declares 400 bytes" in err, err


def test_npy_weight_file_is_sized_from_its_header(tmp_path):
    net = tmp_path / "net.yaml"
    net.write_text(TWO_LAYER.format(steps=10).replace(
        "weight: {dist: uniform, low: 0, high: 60}", "weight: {file: w.npy}"))
    (tmp_path / "w.npy").write_bytes(npy_header((32, 6)) + bytes(100))  # truncated
    rc, err, _ = cli(["compile", str(net)], tmp_path)
    assert rc == 2 and "projections.inp_hid.weight.file" in err and "768 bytes" in err, err
    np.save(tmp_path / "w.npy", np.ones((32, 6), np.int32))
    rc, err, _ = cli(["compile", str(net), "-o", str(tmp_path / "n.snnc")], tmp_path,
                     env={"SNNC_MEMORY_LIMIT": "500"})
    assert rc == 2 and "projections.inp_hid.weight.file" in err, err
    assert "768 bytes" in err and "SNNC_MEMORY_LIMIT=500" in err, err


def test_all_to_all_beyond_memory_is_refused_before_drawing(tmp_path):
    net = tmp_path / "net.yaml"
    net.write_text("snnc: 1\nname: big\npopulations:\n"
                   "  a: {size: 40000, model: spike_source, spikes: {kind: poisson, rate: 0.1}}\n"
                   "  b: {size: 40000, params: {vth: 10}}\n"
                   "projections:\n  ab: {pre: a, post: b, weight: 1}\n")
    rc, err, peak = cli(["compile", str(net), "-o", str(tmp_path / "n.snnc")], tmp_path,
                        env={"SNNC_MEMORY_LIMIT": "8G"})
    assert rc == 2 and f"{net}:7: projections.ab.connectivity: all_to_all between 40000 " \
        "and 40000 neurons (~1.6e+09 synapses) needs about" in err, err
    assert peak < PEAK_MB


# ---------------------------------------------------------------- tampered artifacts


def _set_size(m, a, pops, projs):
    pops["hid"]["size"] = 64


def _delay(m, a, pops, projs):
    a[key(projs["inp_hid"]["delay"])][3] = 1000


def _weight(m, a, pops, projs):
    a[key(projs["inp_hid"]["weight"])][0] = 10**6


def _core_neuron(m, a, pops, projs):
    a[key(m["cores"]["neurons"]["hid"]["indices"])][1] = 99


def _two_cores(m, a, pops, projs):
    idx = a[key(m["cores"]["neurons"]["hid"]["indices"])]
    idx[20] = idx[0]  # a neuron of core 0 listed on core 1 as well; one neuron on none


def _text_size(m, a, pops, projs):
    pops["hid"]["size"] = "abc"


def _text_param(m, a, pops, projs):
    pops["hid"]["lif"]["fields"]["vth"] = "abc"


def _core_of(m, a, pops, projs):
    a[key(m["core_of"]["hid"])][5] = 7


@pytest.mark.parametrize("edit, member, field, text", [
    (_set_size, "arrays.npz", "core_of.hid", "populations.hid.size"),
    (_delay, "arrays.npz", "projections.inp_hid.delay", "delays 1000"),
    (_weight, "arrays.npz", "projections.inp_hid.weight", "weights 1000000"),
    (_core_neuron, "arrays.npz", "cores[0].neurons.hid", "neuron indices 99"),
    (_two_cores, "arrays.npz", "cores.neurons.hid", "on 2 cores [0, 1]"),
    (_text_size, "manifest.json", "populations.hid.size", "'abc'"),
    (_text_param, "manifest.json", "populations.hid.lif.vth", "'abc'"),
    (_core_of, "arrays.npz", "core_of.hid", "core ids 7"),
], ids=["size", "delay", "weight", "core-neuron", "two-cores", "text-size", "text-param",
        "core-of"])
def test_tampered_artifact_is_refused(tmp_path, artifact, edit, member, field, text):
    path = tampered(artifact, tmp_path / "bad.snnc", edit)
    with pytest.raises(InputError) as exc:
        load_program(path)
    msg = str(exc.value)
    assert f"{path}: {field}: {member}" in msg and text in msg, msg
    expect_refused(path, tmp_path, field, member)


def test_untampered_artifact_still_runs(tmp_path, artifact):
    path = tampered(artifact, tmp_path / "same.snnc", lambda *a: None)
    rc, err, _ = cli(["run", str(path), "--steps", "5", "-o", str(tmp_path / "r.npz")],
                     tmp_path)
    assert rc == 0, err
    with np.load(tmp_path / "r.npz") as r:
        assert r["hid.spikes"].shape == (5, 32)


def test_dangling_array_reference_is_named(tmp_path, artifact):
    def edit(m, a, pops, projs):
        projs["inp_hid"]["delay"] = {"__array__": "nowhere.7"}
    path = tampered(artifact, tmp_path / "ref.snnc", edit)
    with pytest.raises(InputError, match=r"projections.inp_hid.delay: manifest.json: refers "
                       r"to array 'nowhere.7'"):
        load_program(path)


def test_checks_accept_every_compiled_field(tmp_path, artifact):
    check_program(load_program(artifact), str(artifact))  # no complaint about a real program


# ---------------------------------------------------------------- sizes and budgets


def test_yaml_steps_beyond_any_run_is_located(tmp_path):
    net = tmp_path / "net.yaml"
    net.write_text(TWO_LAYER.format(steps=10**13))
    rc, err, _ = cli(["run", str(net), "-o", str(tmp_path / "r.npz")], tmp_path)
    assert rc == 2 and f"{net}:4: steps: found 10000000000000, out of range" in err, err


def test_cli_steps_too_large_is_refused_quickly_with_the_estimate(tmp_path):
    net = tmp_path / "net.yaml"
    net.write_text(TWO_LAYER.format(steps=10))
    t0 = time.monotonic()
    rc, err, peak = cli(["run", str(net), "--steps", "100000000000", "-o",
                         str(tmp_path / "r.npz")], tmp_path)
    assert rc == 2 and time.monotonic() - t0 < 60, err
    assert "--steps: a run of 100000000000 steps" in err and "TiB" in err, err
    assert "fewer steps" in err and "SNNC_MEMORY_LIMIT" in err, err
    assert peak < PEAK_MB


PHASED = RELAY + """\
phases:
  - name: train
    samples: {split: train, epochs: EPOCHS}
"""


EPOCHS_LINE = PHASED.splitlines().index("    samples: {split: train, epochs: EPOCHS}") + 1


def test_phase_epochs_beyond_any_run_is_located(tmp_path):
    net = tmp_path / "net.yaml"
    net.write_text(PHASED.replace("EPOCHS", "1000000000"))
    t0 = time.monotonic()
    rc, err, peak = cli(["run", str(net), "-o", str(tmp_path / "r.npz")], tmp_path)
    assert rc == 2 and time.monotonic() - t0 < 60, err
    assert f"{net}:{EPOCHS_LINE}: phases[0].samples.epochs: 1000000000 epochs x 3 samples " \
        "x 8 steps" in err, err  # the train split: 3 samples of present 6 + rest 2 steps
    assert peak < PEAK_MB


def test_phases_over_the_memory_limit_name_the_phase(tmp_path):
    net = tmp_path / "net.yaml"
    net.write_text(PHASED.replace("EPOCHS", "100"))
    rc, err, _ = cli(["run", str(net), "-o", str(tmp_path / "r.npz")], tmp_path,
                     env={"SNNC_MEMORY_LIMIT": "10K"})
    assert rc == 2 and f"{net}:{EPOCHS_LINE}: phases[0].samples.epochs:" in err, err
    assert "the largest: 'train'" in err and "SNNC_MEMORY_LIMIT=10K" in err, err
    rc, err, _ = cli(["run", str(net), "-o", str(tmp_path / "r.npz")], tmp_path)
    assert rc == 0, err


def test_memory_limit_variable_bounds_a_normal_run(tmp_path):
    net = tmp_path / "net.yaml"
    net.write_text(TWO_LAYER.format(steps=4000))
    out = str(tmp_path / "r.npz")
    rc, err, _ = cli(["run", str(net), "-o", out], tmp_path, env={"SNNC_MEMORY_LIMIT": "1M"})
    assert rc == 2 and f"{net}:4: steps: a run of 4000 steps recording spikes of 38 " \
        "neurons, 1 v/u probes needs about" in err, err
    assert "memory limit of 1.0 MiB (SNNC_MEMORY_LIMIT=1M)" in err, err
    rc, err, _ = cli(["run", str(net), "-o", out], tmp_path, env={"SNNC_MEMORY_LIMIT": "64M"})
    assert rc == 0, err


def test_bad_memory_limit_variable_is_named(tmp_path):
    net = tmp_path / "net.yaml"
    net.write_text(TWO_LAYER.format(steps=10))
    rc, err, _ = cli(["run", str(net), "-o", str(tmp_path / "r.npz")], tmp_path,
                     env={"SNNC_MEMORY_LIMIT": "abc"})
    assert rc == 2 and "SNNC_MEMORY_LIMIT='abc' is not a memory size" in err, err


def test_memory_sizes_parse_and_limit(monkeypatch):
    assert budget.parse_size("1048576") == 1 << 20
    assert budget.parse_size("500M") == 500 << 20
    assert budget.parse_size("8g") == 8 << 30
    assert budget.parse_size("1.5GiB") == 3 << 29
    for bad in ("abc", "-1", "0", "1X", ""):
        with pytest.raises(ValueError):
            budget.parse_size(bad)
    monkeypatch.setenv("SNNC_MEMORY_LIMIT", "2K")
    assert budget.memory_limit() == (2048, "SNNC_MEMORY_LIMIT=2K")
    with pytest.raises(InputError, match="needs about 3.0 KiB, more than the memory limit of "
                       r"2.0 KiB .*fewer probes"):
        budget.require(3072, "this", "fewer probes")
    budget.require(2048, "this", "fewer probes")  # at the limit is fine
    monkeypatch.delenv("SNNC_MEMORY_LIMIT")
    limit, source = budget.memory_limit()
    assert 0 < limit <= budget.available_memory() and "available" in source


# ---------------------------------------------------------------- examples still load


EXAMPLES = sorted(p for p in glob.glob(str(ROOT / "examples" / "*.yaml"))
                  if "snnc:" in Path(p).read_text())


@pytest.mark.parametrize("example", [
    pytest.param(p, marks=pytest.mark.slow) if "large_multichip" in p else p
    for p in EXAMPLES], ids=[Path(p).stem for p in EXAMPLES])
def test_every_example_round_trips_through_the_artifact(tmp_path, example):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prog = compile_network(load_network(example))
    back = load_program(save_program(prog, tmp_path / "x.snnc"))
    net, got = prog.network, back.network
    assert list(got.populations) == list(net.populations)
    assert [p.size for p in got.populations.values()] == [p.size for p in net.populations.values()]
    for name, proj in net.projections.items():
        for f in ("pre_idx", "post_idx", "weight", "delay"):
            a, b = getattr(proj, f), getattr(got.projections[name], f)
            assert a.dtype == b.dtype and np.array_equal(a, b), (name, f)
    for pop, ids in prog.core_of.items():
        assert np.array_equal(ids, back.core_of[pop])
    assert len(back.cores) == len(prog.cores)
