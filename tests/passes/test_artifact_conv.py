"""A compiled CNN's `.snnc` keeps each projection's ConvSpec exactly and runs to the same
spikes as a plain numpy simulation; a conv entry that is malformed, does not fit its
populations, or does not describe the stored synapses is refused naming the field."""

from __future__ import annotations

import dataclasses
import json
import zipfile

import numpy as np
import pytest
from scipy.signal import correlate2d

nir = pytest.importorskip("nir")

from artifact_helpers import expect_bad, rezip  # noqa: E402

import runtime  # noqa: E402
from compiler.artifact import MANIFEST, load_program, save_program  # noqa: E402
from compiler.frontend.nir_import import import_nir  # noqa: E402
from compiler.ir import ConvSpec  # noqa: E402

STEPS = 20
TH1, TH2 = 1.5, 2.5
W = np.array([[[[1, 0, 1], [0, 2, 0], [1, 0, 1]]], [[[0, 1, 0], [1, -1, 1], [0, 1, 0]]]], float)


def graph() -> nir.NIRGraph:
    """1x6x6 -> Conv2d(2, 3x3, padding 1) -> IF -> SumPool2d(2) -> IF."""
    def if_(shape, th):
        return nir.IF(r=np.ones(shape), v_threshold=np.full(shape, th), v_reset=np.zeros(shape))

    nodes = {"in": nir.Input(input_type=np.array([1, 6, 6])),
             "conv": nir.Conv2d(input_shape=(6, 6), weight=W, stride=1, padding=1, dilation=1,
                                groups=1, bias=np.zeros(2)),
             "if1": if_((2, 6, 6), TH1),
             "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                   padding=np.array([0, 0])),
             "if2": if_((2, 3, 3), TH2),
             "out": nir.Output(output_type=np.array([2, 3, 3]))}
    edges = [("in", "conv"), ("conv", "if1"), ("if1", "pool"), ("pool", "if2"), ("if2", "out")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def reference(x: np.ndarray) -> dict[str, np.ndarray]:
    """IF neurons, dt = 1, one step of latency per connection: v += I; spike when v > th,
    then v = 0. Conv: scipy cross-correlation with zero padding 1; pool: 2x2 block sums."""
    v1, v2 = np.zeros((2, 6, 6)), np.zeros((2, 3, 3))
    s0 = s1 = None
    out = {"if1": np.zeros((STEPS, 72), bool), "if2": np.zeros((STEPS, 18), bool)}
    for t in range(STEPS):
        if s0 is not None:
            xp = np.pad(s0[0], 1)
            v1 += np.array([correlate2d(xp, W[o, 0], mode="valid") for o in range(2)])
        if s1 is not None:
            v2 += s1.reshape(2, 3, 2, 3, 2).sum(axis=(2, 4))
        s0 = x[t].astype(float)
        s1, s2 = (v1 > TH1).astype(float), v2 > TH2
        v1[s1 > 0], v2[s2] = 0.0, 0.0
        out["if1"][t], out["if2"][t] = s1.ravel() > 0, s2.ravel()
    return out


@pytest.fixture(scope="module", params=["fixed", "float"])
def compiled(request, tmp_path_factory):
    d = tmp_path_factory.mktemp(f"cnn_{request.param}")
    nir.write(d / "g.nir", graph())
    x = np.random.default_rng(5).random((STEPS, 1, 6, 6)) < 0.35
    net = import_nir(d / "g.nir", dt=1.0, precision=request.param, inputs={"in": x},
                     steps=STEPS)
    program = runtime.compile(net)
    return program, save_program(program, d / "g.snnc"), reference(x)


def test_reference_is_not_trivial(compiled):
    _, _, want = compiled
    for k in ("if1", "if2"):
        assert 0 < want[k].mean() < 0.9, k


def test_conv_specs_and_spikes_survive_the_round_trip(compiled):
    program, path, want = compiled
    back = load_program(path)
    convs = {k: p.conv for k, p in program.network.projections.items() if p.conv is not None}
    assert sorted(c.kernel for c in convs.values()) == [(2, 2), (3, 3)]
    assert {k: p.conv for k, p in back.network.projections.items() if p.conv is not None} \
        == convs
    assert all(type(c) is ConvSpec and type(c.kernel) is tuple for c in convs.values())
    res = runtime.run(back)
    for k in ("if1", "if2"):
        assert np.array_equal(res.spikes[k], want[k]), k


def conv_entry(manifest: dict, kernel: tuple[int, int]) -> tuple[str, dict]:
    """(projection name, conv fields) of the projection whose kernel is `kernel`."""
    for p in manifest["projections"]:
        conv = p["fields"]["conv"]
        if conv is not None and conv["fields"]["kernel"] == {"__tuple__": list(kernel)}:
            return p["fields"]["name"], conv
    raise AssertionError("no such conv")


def tampered(src, dst, edit):
    """A copy of `src` with `edit(conv fields, conv entry)` applied to the 3x3 conv."""
    def edit_manifest(m: dict) -> None:
        _, conv = conv_entry(m, (3, 3))
        edit(conv["fields"], conv)
    return rezip(src, dst, manifest_edit=edit_manifest)


@pytest.mark.parametrize("edit, fragments", [
    (lambda f, c: f.update(kernel={"__tuple__": [3, 3, 3]}), ["conv.kernel", "1 or 2"]),
    (lambda f, c: f.update(stride=[1, 1]), ["conv.stride", "tuple of 2 integers"]),
    (lambda f, c: f.update(padding={"__tuple__": [1, -1]}), ["conv.padding", "out of range"]),
    (lambda f, c: f.update(dilation={"__tuple__": [1, True]}), ["conv.dilation"]),
    (lambda f, c: f.update(in_shape={"__tuple__": [1, 6, 5]}),
     ["conv.in_shape", "shape (1, 6, 5) for the 36 neurons of 'in'"]),
    (lambda f, c: f.update(groups=2), ["conv.groups", "a divisor of both channel counts"]),
    (lambda f, c: f.update(groups="1"), ["conv.groups", "expected an integer"]),
    (lambda f, c: f.update(padding={"__tuple__": [0, 0]}),
     ["conv", "synapses outside the convolution"]),
    (lambda f, c: c.update(__dc__="Probe"), ["inconsistent"]),
    (lambda f, c: f.pop("groups") and f.pop("stride"), ["inconsistent", "stride"]),
])
def test_a_tampered_conv_entry_is_expect_bad(compiled, tmp_path, edit, fragments):
    _, path, _ = compiled
    name, _ = conv_entry(json.loads(zipfile.ZipFile(path).read(MANIFEST)), (3, 3))
    text = expect_bad(tampered(path, tmp_path / "t.snnc", edit), *fragments)
    if "inconsistent" not in fragments:
        assert f"projections.{name}.conv" in text, text


@pytest.mark.parametrize("kernel", [None, (2000, 2000)])
def test_a_conv_whose_weights_are_not_shared_is_expect_bad(compiled, tmp_path, kernel):
    """Also with a kernel far larger than the synapses use (a consistent description: the
    elements no synapse uses are zero), which loads when the weights are shared."""
    _, path, _ = compiled
    prog = load_program(path)
    name = next(k for k, p in prog.network.projections.items()
                if p.conv is not None and p.conv.kernel == (3, 3))
    p = prog.network.projections[name]
    if kernel is not None:
        p.conv = dataclasses.replace(p.conv, kernel=kernel, padding=(1, 1))
        assert p.conv.kernel_size > 4 * p.n_synapses  # the sparse check
        back = load_program(save_program(prog, tmp_path / "k.snnc"))
        assert back.network.projections[name].conv == p.conv
    w = p.weight
    w[np.flatnonzero(w == w.max())[-1]] -= 1  # one synapse of a kernel element differs
    expect_bad(save_program(prog, tmp_path / "w.snnc"), f"projections.{name}.conv",
            "1 synapses with another weight than their kernel element's")
