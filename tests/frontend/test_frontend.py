"""Frontend: YAML/builder -> NetworkIR (fields, defaults, draws, round trips, locations)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from repo import ROOT

from compiler.errors import InputError, Location
from compiler.frontend import Network, load_network, network_from_dict
from compiler.ir import NetworkIR
from compiler.sources import source_spikes
from compiler.yamlio import parse_yaml

EXAMPLE = ROOT / "examples" / "two_layer.yaml"


def write(tmp_path: Path, text: str, name: str = "net.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def line_of(path: Path, needle: str, start: int = 0) -> int:
    """1-based number of the first line at or after `start` containing `needle`."""
    for i, line in enumerate(path.read_text().splitlines()):
        if i >= start and needle in line:
            return i + 1
    raise AssertionError(f"{needle!r} not in {path}")


def assert_ir_equal(a: NetworkIR, b: NetworkIR) -> None:
    """Every field and array of two IRs is identical (dtypes included)."""
    for f in ("name", "precision", "seed", "steps", "target", "probes"):
        assert getattr(a, f) == getattr(b, f), f
    assert list(a.populations) == list(b.populations)
    for name, pa in a.populations.items():
        pb = b.populations[name]
        assert (pa.size, pa.model, pa.lif) == (pb.size, pb.model, pb.lif)
        assert (pa.source is None) == (pb.source is None)
        if pa.source is not None:
            sa, sb = pa.source, pb.source
            assert (sa.kind, sa.rate, sa.period, sa.phase) == (sb.kind, sb.rate, sb.period, sb.phase)
            if sa.data is not None:
                assert np.array_equal(sa.data, sb.data) and sa.data.dtype == sb.data.dtype
    assert list(a.projections) == list(b.projections)
    for name, qa in a.projections.items():
        qb = b.projections[name]
        assert (qa.pre, qa.post, qa.weight_exp, qa.num_weight_bits, qa.plasticity) == \
            (qb.pre, qb.post, qb.weight_exp, qb.num_weight_bits, qb.plasticity)
        for arr in ("pre_idx", "post_idx", "weight", "delay"):
            x, y = getattr(qa, arr), getattr(qb, arr)
            assert x.dtype == y.dtype and np.array_equal(x, y), f"{name}.{arr}"


FULL = """\
snnc: 1
name: full
target: loihi1
precision: fixed
seed: 11
steps: 50
populations:
  src:
    size: 6
    model: spike_source
    spikes: {kind: poisson, rate: 0.25}
  clock:
    size: 6
    model: spike_source
    spikes: {kind: periodic, period: 4, phase: 1}
  arr:
    size: 3
    model: spike_source
    spikes: {kind: array, file: spikes.npy}
  hid:
    size: 6
    model: lif
    params: {du: 100, dv: 200, vth: 300, bias_mant: -7, bias_exp: 2,
             adapt: {increment: 2, tau: 1000}}
  out:
    size: 4
projections:
  src_hid:
    pre: src
    post: hid
    connectivity: one_to_one
    weight: 20
    delay: 3
    weight_exp: -2
    num_weight_bits: 6
  clock_hid:
    pre: clock
    post: hid
    connectivity: {kind: random, p: 0.5}
    weight: {dist: uniform, low: -50, high: 100}
    delay: {dist: uniform_int, low: 0, high: 5}
    plasticity:
      rule: reward_stdp
      a_plus: 4
      a_minus: 2
      modulator: arr
      tau_e: 20
  arr_out:
    pre: arr
    post: out
    weight: {file: w.npy}
  hid_out:
    pre: hid
    post: out
    connectivity: {kind: list, file: edges.npz}
probes: [hid.spikes, hid.v, hid.u, arr.spikes, clock_hid.weights]
"""


@pytest.fixture
def full_net(tmp_path: Path) -> tuple[Path, dict]:
    spikes = np.zeros((5, 3), dtype=bool)
    spikes[[0, 2, 4], [1, 0, 2]] = True
    w = np.array([[0, 3, 0], [-4, 0, 5], [0, 0, 0], [7, 0, 0]])  # (post=4, pre=3)
    edges = dict(pre=np.array([5, 0, 2, 0]), post=np.array([1, 3, 0, 0]),
                 weight=np.array([10, -20, 30, 40]), delay=np.array([1, 2, 3, 4]))
    np.save(tmp_path / "spikes.npy", spikes)
    np.save(tmp_path / "w.npy", w)
    np.savez(tmp_path / "edges.npz", **edges)
    return write(tmp_path, FULL), dict(spikes=spikes, w=w, edges=edges)


def test_every_spec_field_is_parsed(full_net) -> None:
    path, data = full_net
    ir = load_network(path)
    assert (ir.name, ir.target, ir.precision, ir.seed, ir.steps) == ("full", "loihi1", "fixed", 11, 50)
    assert ir.source_file == str(path)
    src, clock, arr, hid, out = (ir.populations[k] for k in ("src", "clock", "arr", "hid", "out"))
    assert (src.source.kind, src.source.rate, src.size) == ("poisson", 0.25, 6)
    assert (clock.source.kind, clock.source.period, clock.source.phase) == ("periodic", 4, 1)
    assert arr.source.kind == "array" and np.array_equal(arr.source.data, data["spikes"])
    assert (hid.lif.du, hid.lif.dv, hid.lif.vth, hid.lif.bias_mant, hid.lif.bias_exp) == (100, 200, 300, -7, 2)
    assert (hid.lif.adapt.increment, hid.lif.adapt.tau) == (2, 1000)
    assert out.model == "lif" and out.lif.vth == 10

    p = ir.projections["src_hid"]
    assert np.array_equal(p.pre_idx, np.arange(6)) and np.array_equal(p.post_idx, np.arange(6))
    assert np.all(p.weight == 20) and np.all(p.delay == 3)
    assert (p.weight_exp, p.num_weight_bits, p.plasticity) == (-2, 6, None)

    q = ir.projections["clock_hid"]
    assert q.plasticity.rule == "reward_stdp"
    assert q.plasticity.params == {"a_plus": 4, "a_minus": 2, "modulator": "arr", "tau_e": 20}
    assert q.plasticity.modulator == "arr"
    assert q.weight.min() >= -50 and q.weight.max() <= 100
    assert q.delay.min() >= 0 and q.delay.max() <= 5

    r = ir.projections["arr_out"]  # zeros of the file are no synapse
    assert r.n_synapses == 4
    assert np.array_equal(r.dense_weights(4, 3), data["w"])

    e = ir.projections["hid_out"]  # sorted by (pre, post), arrays permuted together
    assert e.pre_idx.tolist() == [0, 0, 2, 5]
    assert e.post_idx.tolist() == [0, 3, 0, 1]
    assert e.weight.tolist() == [40, -20, 30, 10]
    assert e.delay.tolist() == [4, 2, 3, 1]

    assert [pr.key for pr in ir.probes] == ["hid.spikes", "hid.v", "hid.u", "arr.spikes",
                                           "clock_hid.weights"]


def test_dtypes_follow_the_ir(full_net) -> None:
    ir = load_network(full_net[0])
    for p in ir.projections.values():
        assert p.pre_idx.dtype == np.int32 and p.post_idx.dtype == np.int32
        assert p.weight.dtype == np.int32 and p.delay.dtype == np.int16
        key = p.pre_idx.astype(np.int64) * 1000 + p.post_idx
        assert np.all(np.diff(key) > 0), f"{p.name} not sorted by (pre, post) or has duplicates"


def test_defaults(tmp_path: Path) -> None:
    ir = load_network(write(tmp_path, """\
        snnc: 1
        name: d
        populations:
          a: {size: 3, spikes: {kind: poisson, rate: 0.5}, model: spike_source}
          b: {size: 4}
        projections:
          ab: {pre: a, post: b, weight: 7}
        """))
    assert (ir.target, ir.precision, ir.seed, ir.steps, ir.probes) == ("loihi2", "fixed", 0, 100, [])
    b = ir.populations["b"]
    assert b.model == "lif"
    assert (b.lif.du, b.lif.dv, b.lif.vth, b.lif.bias_mant, b.lif.bias_exp, b.lif.adapt) == (0, 0, 10, 0, 0, None)
    p = ir.projections["ab"]
    assert p.n_synapses == 12  # all_to_all
    assert p.pre_idx.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
    assert p.post_idx.tolist() == [0, 1, 2, 3] * 3
    assert np.all(p.delay == 0) and (p.weight_exp, p.num_weight_bits, p.plasticity) == (0, 8, None)


RANDOM = """\
snnc: 1
name: r
seed: {seed}
precision: {precision}
populations:
  a: {{size: 40, model: spike_source, spikes: {{kind: poisson, rate: 0.1}}}}
  b: {{size: 50}}
projections:
  ab:
    pre: a
    post: b
    connectivity: {{kind: random, p: 0.3}}
    weight: {{dist: uniform, low: -5, high: 9}}
    delay: {{dist: uniform_int, low: 1, high: 4}}
{extra}"""


def random_net(seed: int = 3, precision: str = "fixed", extra: str = "") -> NetworkIR:
    data, locs = parse_yaml(RANDOM.format(seed=seed, precision=precision, extra=extra))
    return network_from_dict(data, locations=locs)


def test_same_seed_same_arrays_different_seed_different() -> None:
    a, b, c = random_net(3), random_net(3), random_net(4)
    assert_ir_equal(a, b)
    pa, pc = a.projections["ab"], c.projections["ab"]
    assert pa.n_synapses != pc.n_synapses or not np.array_equal(pa.post_idx, pc.post_idx)
    n = min(pa.n_synapses, pc.n_synapses)
    assert not np.array_equal(pa.weight[:n], pc.weight[:n])


def test_streams_are_independent_per_projection() -> None:
    extra = """  ba2:
    pre: a
    post: b
    connectivity: {kind: random, p: 0.5}
    weight: {dist: uniform, low: 0, high: 3}
"""
    alone = random_net(5).projections["ab"]
    both = random_net(5, extra=extra)
    other = both.projections["ab"]
    for arr in ("pre_idx", "post_idx", "weight", "delay"):
        assert np.array_equal(getattr(alone, arr), getattr(other, arr))
    # the second projection draws its own numbers: not a copy of the first one
    assert not np.array_equal(both.projections["ba2"].post_idx[:50], other.post_idx[:50])


def test_fixed_uniform_weights_are_integers_inclusive() -> None:
    w = random_net(1).projections["ab"].weight
    assert w.dtype == np.int32
    assert w.min() == -5 and w.max() == 9  # ~600 draws over 15 values: both ends appear
    d = random_net(1).projections["ab"].delay
    assert d.min() == 1 and d.max() == 4


def test_float_precision_weights_are_float64_in_range() -> None:
    ir = random_net(1, "float")
    w = ir.projections["ab"].weight
    assert w.dtype == np.float64
    assert w.min() >= -5 and w.max() < 9
    assert not np.all(w == np.round(w))


def test_random_connectivity_statistics() -> None:
    n_pre, n_post, p = 2000, 1000, 0.01
    ir = Network("stats", seed=9).population("a", n_pre, spikes={"kind": "poisson", "rate": 0.1}) \
        .population("b", n_post).projection("ab", "a", "b", connectivity={"kind": "random", "p": p},
                                            weight=1).build()
    q = ir.projections["ab"]
    total = n_pre * n_post
    mean, sd = total * p, np.sqrt(total * p * (1 - p))
    assert abs(q.n_synapses - mean) < 5 * sd
    # per-pre counts are Binomial(n_post, p): mean 10, variance 9.9
    counts = np.bincount(q.pre_idx, minlength=n_pre)
    assert abs(counts.mean() - n_post * p) < 5 * np.sqrt(n_post * p * (1 - p) / n_pre)
    assert 0.8 < counts.var() / (n_post * p * (1 - p)) < 1.2
    # targets uniform over post neurons: compare halves
    lo = np.count_nonzero(q.post_idx < n_post // 2)
    assert abs(lo - q.n_synapses / 2) < 5 * np.sqrt(q.n_synapses / 4)
    assert q.post_idx.min() >= 0 and q.post_idx.max() < n_post
    key = q.pre_idx.astype(np.int64) * n_post + q.post_idx
    assert np.all(np.diff(key) > 0)


def test_random_p_edges_zero_and_one() -> None:
    def build(p: float) -> int:
        return Network("e").population("a", 7, spikes={"kind": "poisson", "rate": 0.1}) \
            .population("b", 5).projection("ab", "a", "b", connectivity={"kind": "random", "p": p},
                                           weight=2).build().projections["ab"].n_synapses
    assert build(0.0) == 0 and build(1.0) == 35


def test_large_random_projection_is_vectorized() -> None:
    n = 100_000
    ir = Network("big", seed=2).population("a", n, spikes={"kind": "poisson", "rate": 0.01}) \
        .population("b", n).projection("ab", "a", "b", connectivity={"kind": "random", "p": 1e-4},
                                        weight={"dist": "uniform", "low": 0, "high": 10}).build()
    q = ir.projections["ab"]
    mean = n * n * 1e-4
    assert abs(q.n_synapses - mean) < 5 * np.sqrt(mean)


def test_one_to_one() -> None:
    ir = Network("o").population("a", 5, spikes={"kind": "periodic", "period": 2}) \
        .population("b", 5).projection("ab", "a", "b", connectivity="one_to_one", weight=-3).build()
    q = ir.projections["ab"]
    assert q.pre_idx.tolist() == q.post_idx.tolist() == [0, 1, 2, 3, 4]
    assert q.weight.tolist() == [-3] * 5


def test_weight_zero_means_no_synapse_unless_plastic() -> None:
    base = Network("z").population("a", 3, spikes={"kind": "periodic", "period": 2}).population("b", 2)
    ir = base.projection("ab", "a", "b", weight=0).build()
    assert ir.projections["ab"].n_synapses == 0
    ir = base.projection("ab2", "a", "b", weight=0, plasticity={"rule": "stdp", "a_plus": 1}).build()
    q = ir.projections["ab2"]
    assert q.n_synapses == 6 and np.all(q.weight == 0)
    assert q.plasticity.rule == "stdp" and q.plasticity.params == {"a_plus": 1}


def test_weight_matrix_zero_entries_and_connectivity_mask() -> None:
    w = np.array([[1, 0, 2], [0, 0, 3], [4, 5, 0]])
    ir = Network("m").population("a", 3, spikes={"kind": "periodic", "period": 2}) \
        .population("b", 3).projection("full", "a", "b", weight=w) \
        .projection("diag", "a", "b", connectivity="one_to_one", weight=w).build()
    full, diag = ir.projections["full"], ir.projections["diag"]
    assert full.n_synapses == 5 and np.array_equal(full.dense_weights(3, 3), w)
    assert diag.pre_idx.tolist() == [0] and diag.weight.tolist() == [1]  # diagonal: 1, 0, 0


def test_builder_yaml_round_trip_is_identical(tmp_path: Path) -> None:
    for precision in ("fixed", "float"):
        net = Network("rt", precision=precision, seed=21, steps=33, target="loihi1") \
            .population("a", 30, spikes={"kind": "poisson", "rate": 0.2}) \
            .population("b", 20, params={"du": 1 if precision == "float" else 4095, "vth": 50,
                                         "adapt": {"increment": 0.5, "tau": 100}}) \
            .projection("ab", "a", "b", connectivity={"kind": "random", "p": 0.2},
                        weight={"dist": "uniform", "low": -10, "high": 20},
                        delay={"dist": "uniform_int", "low": 0, "high": 7},
                        weight_exp=1, num_weight_bits=7,
                        plasticity={"rule": "stdp", "a_plus": 2, "a_minus": 3}) \
            .projection("bb", "b", "b", weight=-4, delay=2) \
            .probe("b.spikes", "b.v", "ab.weights")
        path = tmp_path / f"rt_{precision}.yaml"
        net.to_yaml(path)
        assert_ir_equal(net.build(), load_network(path))
        assert_ir_equal(Network.from_yaml(path).build(), load_network(path))


def test_builder_numpy_arrays_round_trip_through_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    spikes = rng.random((12, 4)) < 0.3
    w = rng.integers(-3, 4, size=(5, 4))
    edges = (np.array([4, 1, 3]), np.array([0, 2, 1]), np.array([9, -9, 8]), np.array([0, 5, 63]))
    net = Network("arr", seed=1).population("s", 4, spikes=spikes).population("h", 5) \
        .projection("sh", "s", "h", weight=w).projection("hh", "h", "h", connectivity=edges) \
        .probe("h.u", "sh.weights")
    net_ir = net.build()
    path = tmp_path / "sub" / "arr.yaml"
    path.parent.mkdir()
    net.to_yaml(path)
    assert sorted(p.name for p in path.parent.iterdir()) == \
        ["arr.hh.edges.npz", "arr.s.spikes.npy", "arr.sh.weight.npy", "arr.yaml"]
    loaded = load_network(path)
    assert_ir_equal(net_ir, loaded)
    assert np.array_equal(loaded.populations["s"].source.data, spikes)
    assert np.array_equal(loaded.projections["sh"].dense_weights(5, 4), w)
    assert loaded.projections["hh"].delay.tolist() == [5, 63, 0]  # sorted by pre: 1, 3, 4
    # inline YAML (no path): arrays written as nested lists, same IR
    data, locs = parse_yaml(net.to_yaml())
    assert_ir_equal(net_ir, network_from_dict(data, locations=locs))
    # a YAML loaded into a builder and saved elsewhere keeps working (file paths fixed up)
    other = tmp_path / "elsewhere.yaml"
    Network.from_yaml(path).to_yaml(other)
    assert_ir_equal(net_ir, load_network(other))


def test_builder_rejects_duplicate_names_and_infers_model() -> None:
    net = Network("n").population("a", 2, spikes={"kind": "periodic", "period": 1}).population("b", 2)
    assert net.to_dict()["populations"]["a"]["model"] == "spike_source"
    assert net.to_dict()["populations"]["b"]["model"] == "lif"
    with pytest.raises(InputError, match="populations.a: name 'a' is already used"):
        net.population("a", 3)
    with pytest.raises(InputError, match="'b' is already used"):
        net.projection("b", "a", "b", weight=1)


def test_builder_validates_like_yaml() -> None:
    net = Network("v").population("a", 0).population("b", 2, params={"du": 9999}) \
        .projection("ab", "x", "b", weight=1.5).probe("b.q")
    with pytest.raises(InputError) as info:
        net.build()
    text = str(info.value)
    assert text.startswith("5 errors:")
    for part in ("\npopulations.a.size: found 0", "populations.b.params.du: found 9999",
                 "projections.ab.pre: unknown pre population 'x'", "projections.ab.weight: found 1.5",
                 "probes[0]: unknown population variable 'q'"):
        assert part in text


def test_spike_arrays_inline_and_int01() -> None:
    ir = Network("s").population("a", 2, spikes={"kind": "array", "data": [[1, 0], [0, 1], [1, 1]]}) \
        .population("b", 1).projection("ab", "a", "b", weight=1).build()
    src = ir.populations["a"]
    assert src.source.data.dtype == np.bool_
    assert source_spikes(src, 4, ir.seed).tolist() == [[True, False], [False, True], [True, True],
                                                       [False, False]]


def test_locations_point_to_the_lines(tmp_path: Path) -> None:
    ir = load_network(EXAMPLE)
    hid_out = line_of(EXAMPLE, "  hid_out:")
    assert ir.locations["projections.hid_out"] == Location(str(EXAMPLE), hid_out, "projections.hid_out")
    assert ir.locations["projections.hid_out.weight"].line == line_of(EXAMPLE, "weight:", hid_out)
    assert ir.locations["projections.hid_out.weight.low"].line == line_of(EXAMPLE, "weight:", hid_out)
    hid = line_of(EXAMPLE, "  hid:")
    assert ir.locations["populations.hid.params.du"].line == line_of(EXAMPLE, "params:", hid)
    assert ir.locations["probes[2]"].line == line_of(EXAMPLE, "probes:")
    # block style: each item on its own line; parents are found for unwritten fields
    path = write(tmp_path, """\
        snnc: 1
        name: l
        populations:
          a:
            size: 2
            model: spike_source
            spikes:
              kind: poisson
              rate: 0.5
        probes:
          - a.spikes
        """)
    ir = load_network(path)
    assert ir.locations["populations.a.spikes.rate"].line == 9
    assert ir.locations["probes[0]"].line == 11
    assert ir.loc("populations.a.params.du") == Location(str(path), 4, "populations.a.params.du")


def test_network_from_dict_accepts_integer_line_locations() -> None:
    spec = {"snnc": 1, "name": "x", "populations": {"a": {"size": -1}}}
    with pytest.raises(InputError, match=r"^spec.yaml:7: populations.a.size: found -1"):
        network_from_dict(spec, source_file="spec.yaml", locations={"populations.a.size": 7})


def test_yaml_anchors_and_merge_keys(tmp_path: Path) -> None:
    ir = load_network(write(tmp_path, """\
        snnc: 1
        name: anchors
        populations:
          a: &lif {size: 3, params: {vth: 77}}
          b:
            <<: *lif
            size: 4
        """))
    assert ir.populations["a"].lif.vth == ir.populations["b"].lif.vth == 77
    assert (ir.populations["a"].size, ir.populations["b"].size) == (3, 4)


def _reference_lif_run(ir: NetworkIR, steps: int) -> dict[str, np.ndarray]:
    """Independent fixed-point LIF + delayed Dense loop (Lava's fixed_pt LIF and Dense equations)."""
    def rtz(x):
        return np.sign(x) * (np.abs(x) >> 12)

    spikes = {p.name: source_spikes(p, steps, ir.seed) for p in ir.source_populations}
    u = {p.name: np.zeros(p.size, np.int64) for p in ir.neuron_populations}
    v = {p.name: np.zeros(p.size, np.int64) for p in ir.neuron_populations}
    for p in ir.neuron_populations:
        spikes[p.name] = np.zeros((steps, p.size), bool)
    inbox = {n: np.zeros((steps + 66, ir.populations[q.post].size), np.int64)
             for n, q in ir.projections.items()}
    weights = {}
    for n, q in ir.projections.items():  # Dense: drop the low 8 - num_weight_bits + is_mixed bits
        w = q.weight.astype(np.int64)
        k = 8 - q.num_weight_bits + int(bool(w.size) and w.min() < 0 < w.max())
        weights[n] = (w >> k) << k
    for t in range(steps):
        for pop in ir.neuron_populations:
            a = sum(inbox[n][t] for n, q in ir.projections.items() if q.post == pop.name)
            lif = pop.lif
            uu = rtz(u[pop.name] * (4095 - lif.du)) + (a << 6)
            u[pop.name] = ((uu + 2**23) % 2**24) - 2**23
            vv = rtz(v[pop.name] * (4096 - lif.dv)) + u[pop.name] + (lif.bias_mant << lif.bias_exp)
            v[pop.name] = np.clip(vv, -(2**23 - 1), 2**23 - 1)
            fired = v[pop.name] > (lif.vth << 6)
            v[pop.name][fired] = 0
            spikes[pop.name][t] = fired
        for n, q in ir.projections.items():
            on = spikes[q.pre][t][q.pre_idx]
            np.add.at(inbox[n], (t + 1 + q.delay[on], q.post_idx[on]),
                      weights[n][on] << q.weight_exp)
    return spikes


def test_example_two_layer_is_lively() -> None:
    ir = load_network(EXAMPLE)
    assert [p.size for p in ir.populations.values()] == [16, 32, 8]
    assert any(np.any(q.weight < 0) for q in ir.projections.values())
    assert any(np.any(q.delay > 0) for q in ir.projections.values())
    assert {"hid.spikes", "hid.v", "hid_out.weights"} <= {p.key for p in ir.probes}
    spikes = _reference_lif_run(ir, 200)
    for name in ("hid", "out"):
        rate = spikes[name].mean()
        assert 0.01 < rate < 0.5, (name, rate)
        assert spikes[name].any(axis=0).mean() > 0.75  # most neurons take part


def test_target_is_stored_as_written(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("name: mine\n")
    path = write(tmp_path, """\
        snnc: 1
        name: t
        target: mine.yaml
        populations:
          a: {size: 1}
        """)
    assert load_network(path).target == "mine.yaml"  # the compiler resolves it (next to the file)
    assert Network.from_yaml(path).target == str(tmp_path.resolve() / "mine.yaml")


FUZZ_BASE = {
    "snnc": 1, "name": "fz", "precision": "fixed", "seed": 1, "steps": 10,
    "populations": {
        "a": {"size": 5, "model": "spike_source", "spikes": {"kind": "poisson", "rate": 0.2}},
        "b": {"size": 4, "model": "lif", "params": {"du": 10, "dv": 20, "vth": 30,
                                                    "adapt": {"increment": 1, "tau": 5}}},
    },
    "projections": {
        "ab": {"pre": "a", "post": "b", "connectivity": {"kind": "random", "p": 0.5},
               "weight": {"dist": "uniform", "low": -3, "high": 9},
               "delay": {"dist": "uniform_int", "low": 0, "high": 2}, "weight_exp": 1,
               "num_weight_bits": 6, "plasticity": {"rule": "stdp", "a_plus": 1}},
        "bb": {"pre": "b", "post": "b", "connectivity": {"kind": "list", "data": {
            "pre": [0, 1], "post": [1, 2], "weight": [3, -4]}}},
    },
    "probes": ["b.v", "ab.weights"],
}


def _paths(tree, prefix=()):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


FUZZ_PATHS = list(_paths(FUZZ_BASE))


def test_mutated_specs_raise_input_error_or_build() -> None:
    """Any value in any field: a valid IR or InputError, never another exception."""
    import copy

    from hypothesis import given, settings
    from hypothesis import strategies as st

    junk = st.one_of(st.none(), st.booleans(), st.integers(-10**5, 10**5),
                     st.sampled_from([2**31 - 1, 2**31, 2**63, -(2**63), 10**30]),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
                     st.lists(st.integers(-3, 3), max_size=3),
                     st.dictionaries(st.sampled_from(["kind", "p", "file", "x"]),
                                     st.integers(-2, 2), max_size=2))

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(path=st.sampled_from(FUZZ_PATHS), value=junk, delete=st.booleans())
    def check(path, value, delete) -> None:
        spec = copy.deepcopy(FUZZ_BASE)
        node = spec
        for key in path[:-1]:
            node = node[key]
        if delete and isinstance(node, dict):
            del node[path[-1]]
        else:
            node[path[-1]] = value
        try:
            ir = network_from_dict(spec)
        except InputError as exc:
            assert exc.diagnostics and all(d.message for d in exc.diagnostics)
        else:
            assert isinstance(ir, NetworkIR)

    check()


def test_garbled_yaml_text_raises_input_error_only() -> None:
    """Random edits of a valid file: InputError (with a line) or a valid IR, nothing else."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    text = EXAMPLE.read_text()

    @settings(max_examples=200, deadline=None, derandomize=True)
    @given(pos=st.integers(0, len(text) - 1), cut=st.integers(0, 5),
           insert=st.sampled_from(["", ":", "- ", "\t", "{", "]", "'", "&a", "*b", "\n  x: 1\n",
                                   "!!python/object:os.system", "<<: 3", "%", "@"]))
    def check(pos, cut, insert) -> None:
        garbled = text[:pos] + insert + text[pos + cut:]
        try:
            data, locs = parse_yaml(garbled, "g.yaml")
            ir = network_from_dict(data, source_file="g.yaml", locations=locs,
                                   base_dir=EXAMPLE.parent)
        except InputError as exc:
            assert all(d.file == "g.yaml" for d in exc.diagnostics)
        else:
            assert isinstance(ir, NetworkIR)

    check()
