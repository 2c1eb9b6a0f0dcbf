"""The mpi backend equals the cpu backend key for key at 1, 2 and 3 ranks (real mpiexec):
static nets (fixed and float, several delays, mixed signs), plastic nets (a pair rule and
a modulated rule, adaptive thresholds, a winner-take-all population) and phased nets
(dataset, overrides, readout); and its decomposition."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mpi4py")

from netfactory import lif, network, program, proj, source  # noqa: E402

from backends import get_backend  # noqa: E402
from backends.cpu.synapses import Synapses  # noqa: E402
from backends.mpi.decompose import decompose  # noqa: E402
from backends.mpi.local import local_synapses, projection_facts, shard  # noqa: E402
from runtime import api  # noqa: E402

PLASTIC = """\
snnc: 1
name: plastic
precision: fixed
seed: 5
steps: 120
populations:
  inp: {size: 24, model: spike_source, spikes: {kind: poisson, rate: 0.25}}
  drive: {size: 2, model: spike_source, spikes: {kind: poisson, rate: 0.1}}
  hid: {size: 30, params: {du: 1024, dv: 256, vth: 300, bias_mant: 5}}
  rew: {size: 1, params: {du: 4095, dv: 4095, vth: 10}}
  out: {size: 9, params: {du: 1024, dv: 512, vth: 400, adapt: {increment: 6, tau: 40}}}
  win: {size: 8, params: {du: 1024, dv: 512, vth: 200, wta: true}}
projections:
  inp_hid:
    pre: inp
    post: hid
    connectivity: {kind: random, p: 0.5}
    weight: {dist: uniform, low: 0, high: 120}
    delay: {dist: uniform_int, low: 0, high: 2}
    plasticity: {rule: loihi, dw: "2^-2*y0*x1 - 2^-3*x0*y1", x1_tau: 6, x1_impulse: 20,
                 y1_tau: 6, y1_impulse: 20, t_epoch: 2}
  hid_hid:
    pre: hid
    post: hid
    connectivity: {kind: random, p: 0.2}
    weight: {dist: uniform, low: -60, high: 40}
    delay: {dist: uniform_int, low: 0, high: 3}
  drive_rew: {pre: drive, post: rew, connectivity: all_to_all, weight: 100}
  hid_out:
    pre: hid
    post: out
    connectivity: {kind: random, p: 0.6}
    weight: {dist: uniform, low: 10, high: 90}
    plasticity: {rule: loihi, modulator: rew, dw: "2^-2*y0*x1*rew - 2^-4*x0*y0", x1_tau: 4,
                 x1_impulse: 16, modulator_tau: 8, modulator_impulse: 16, t_epoch: 1}
  hid_win:
    pre: hid
    post: win
    connectivity: {kind: random, p: 0.5}
    weight: {dist: uniform, low: 0, high: 60}
probes: [hid.v, out.u, win.v, inp_hid.weights, hid_out.weights, hid_hid.weights]
"""

PHASED = """\
snnc: 1
name: phased
precision: fixed
seed: 4
populations:
  inp:
    size: 6
    model: spike_source
    spikes:
      kind: dataset
      dataset: {data: {x: [[1, 0, 0.5, 0, 1, 0], [0, 1, 1, 0.5, 0, 1], [1, 1, 0, 0, 0.5, 1],
                           [0.5, 0, 1, 1, 0, 0], [0, 0.5, 0, 1, 1, 1], [1, 0, 0, 1, 0, 0.5]],
                       y: [0, 1, 1, 0, 1, 0]}}
      split: {test: 2, shuffle_seed: 1}
      max_rate: 0.5
      present: 12
      rest: 3
  exc: {size: 20, params: {du: 2048, dv: 512, vth: 150, adapt: {increment: 8, tau: 50}}}
  inh: {size: 7, params: {du: 2048, dv: 512, vth: 200}}
projections:
  inp_exc:
    pre: inp
    post: exc
    weight: {dist: uniform, low: 20, high: 100}
    delay: {dist: uniform_int, low: 0, high: 2}
    plasticity: {rule: loihi, dw: "2^-3*y0*x1 - 2^-4*y0*w", x1_tau: 8, x1_impulse: 16,
                 t_epoch: 3, w_max: 200}
  exc_inh: {pre: exc, post: inh, connectivity: {kind: random, p: 0.5},
            weight: {dist: uniform, low: -10, high: 80}, delay: 1}
  inh_exc: {pre: inh, post: exc, connectivity: all_to_all,
            weight: {dist: uniform, low: -256, high: 20}}
phases:
  - name: train
    samples: {split: train, epochs: 2, shuffle: true}
    plastic: true
  - name: probe
    steps: 30
    plastic: false
    set: {projections.inh_exc.weight_scale: 0.4, populations.exc.params.vth: 120}
  - name: label
    samples: {split: train}
    set: {populations.exc.params.adapt.increment: 0}
  - name: test
    samples: {split: test}
readout: {population: exc, assign: label, evaluate: test, vote: soft}
probes: [exc.v, inh.u, inh_exc.weights]
"""


def random_net(precision: str = "fixed", seed: int = 1, steps: int = 60):
    """Poisson (30) -> hid (40, recurrent) -> out (13); random synapses, delays 0..3,
    mixed signs; probes hid.v, out.u and the recurrent weights."""
    rng = np.random.default_rng(seed)
    fixed = precision == "fixed"

    def rproj(name: str, pre: str, post: str, npre: int, npost: int, p: float, lo: float,
              hi: float):
        post_idx, pre_idx = np.nonzero(rng.random((npost, npre)) < p)
        w = (rng.integers(int(lo), int(hi), size=pre_idx.size) if fixed
             else rng.uniform(lo, hi, size=pre_idx.size))
        return proj(name, pre, post, pre_idx, post_idx, w, rng.integers(0, 4, pre_idx.size),
                    fixed=fixed)

    kw = (dict(du=300, dv=400, vth=60, bias_mant=2) if fixed
          else dict(du=0.1, dv=0.1, vth=1.0, bias_mant=0.01))
    s = 1 if fixed else 0.005
    pops = [source("in", 30, kind="poisson", rate=0.2), lif("hid", 40, **kw), lif("out", 13, **kw)]
    projs = [rproj("ih", "in", "hid", 30, 40, 0.3, -20 * s, 120 * s),
             rproj("hh", "hid", "hid", 40, 40, 0.1, -40 * s, 40 * s),
             rproj("ho", "hid", "out", 40, 13, 0.4, 0, 100 * s)]
    return program(network(pops, projs, precision=precision, steps=steps,
                           probes=["hid.v", "out.u", "hh.weights"]))


# ---------------------------------------------------------------- helpers

def assert_same(ref: dict, got: dict) -> None:
    """Key for key, value for value (dtype and shape included)."""
    assert sorted(ref) == sorted(got)
    for key in ref:
        a, b = np.asarray(ref[key]), np.asarray(got[key])
        assert a.dtype == b.dtype and a.shape == b.shape, key
        assert np.array_equal(a, b), f"{key} differs"


def yaml_file(tmp_path, text: str, name: str):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


# ---------------------------------------------------------------- decomposition

def placed_program(sizes: dict[str, int], per_core: int, wta: tuple[str, ...] = ()):
    """LIF populations fed by one source, placed `per_core` neurons per core in order."""
    pops = [source("src", 10, kind="poisson", rate=0.1)]
    pops += [lif(n, s, wta=n in wta) for n, s in sizes.items()]
    projs = [proj(f"p{n}", "src", n, np.zeros(s, int), np.arange(s), 10)
             for n, s in sizes.items()]
    prog = program(network(pops, projs))
    core, core_of = 0, {}
    for n, s in sizes.items():
        core_of[n] = (core + np.arange(s) // per_core).astype(np.int32)
        core = int(core_of[n].max()) + 1
    prog.core_of = core_of
    return prog


def test_decompose_gives_ranks_whole_cores_of_equal_cost():
    prog = placed_program({"a": 120, "b": 80}, per_core=10)
    d = decompose(prog, 4)
    for n, owner in d.owner.items():
        core = prog.core_of[n]
        for c in np.unique(core):  # no core is split between ranks
            assert np.unique(owner[core == c]).size == 1
    counts = np.bincount(np.concatenate(list(d.owner.values())), minlength=4)
    assert counts.tolist() == [50, 50, 50, 50]
    assert d.imbalance == pytest.approx(1.0)


def test_decompose_keeps_a_wta_population_on_one_rank():
    prog = placed_program({"a": 30, "w": 30, "b": 30}, per_core=5, wta=("w",))
    d = decompose(prog, 3)
    assert np.unique(d.owner["w"]).size == 1
    assert sorted(np.unique(np.concatenate(list(d.owner.values())))) == [0, 1, 2]


def test_decompose_more_ranks_than_neurons_leaves_ranks_empty():
    d = decompose(random_net(), 200)
    held = np.concatenate([d.owner["hid"], d.owner["out"]])
    assert held.size == 53 and np.unique(held).size == 53


def test_local_synapses_keep_the_whole_projection_sign_mode():
    # mixed projection: post 0 receives only -300 (Lava clips to -256 in mixed mode; an
    # inhibitory block alone would clip to -255), post 1 only positives
    p = proj("p", "s", "t", [0, 1, 0, 1], [0, 0, 1, 1], [-300, -7, 33, 101], 0)
    whole = Synapses(p, 2, 2, True)
    facts = projection_facts(network([source("s", 2), lif("t", 2)], [p]))["p"]
    assert facts.mode == "mixed"
    for ids in ([0], [1]):
        part = local_synapses(p, np.array(ids), 2, True, False, facts)
        expect = whole.dense()[ids]
        assert np.array_equal(part.dense(), expect)
    assert whole.dense()[0].tolist() == [-256, -8]  # mixed: clip -256, drop 1 low bit


# ---------------------------------------------------------------- runs on several ranks

@pytest.mark.slow
@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_static_fixed_equals_cpu(ranks):
    prog = random_net("fixed")
    ref = get_backend("cpu").run(prog, 60)
    got = get_backend("mpi").run(prog, 60, ranks=ranks)
    assert int(ref.spikes["hid"].sum()) > 100  # a lively net
    assert_same(ref.arrays(), got.arrays())
    assert got.meta["mpi"]["ranks"] == ranks
    assert got.meta["synops"] == ref.meta["synops"]


@pytest.mark.slow
@pytest.mark.parametrize("ranks", [2, 3])
def test_static_float_equals_cpu(ranks):
    # float sums are exact against the cpu's numpy engine, which sums in the same order;
    # other engines may round the last bit differently, spikes stay equal on this net
    prog = random_net("float", seed=3)
    ref = get_backend("cpu").run(prog, 60, engine="numpy")
    got = get_backend("mpi").run(prog, 60, ranks=ranks)
    assert int(ref.spikes["hid"].sum()) > 100
    assert_same(ref.arrays(), got.arrays())
    default = get_backend("cpu").run(prog, 60)
    for pop, s in default.spikes.items():
        assert np.array_equal(s, got.spikes[pop])


def test_one_rank_in_process_equals_cpu():
    prog = random_net("fixed", seed=2, steps=40)
    assert_same(get_backend("cpu").run(prog, 40).arrays(),
                 get_backend("mpi").run(prog, 40).arrays())


@pytest.mark.slow
@pytest.mark.parametrize("ranks", [2, 3])
def test_plastic_equals_cpu(tmp_path, ranks):
    path = yaml_file(tmp_path, PLASTIC, "plastic")
    ref = api.run(path, backend="cpu")
    got = api.run(path, backend="mpi", ranks=ranks)
    assert_same(ref.arrays(), got.arrays())
    compiled = ref.meta["program"].network.projections
    for name in ("inp_hid", "hid_out"):  # both rules changed weights
        start = Synapses(compiled[name], 1 + int(compiled[name].pre_idx.max()),
                         1 + int(compiled[name].post_idx.max()), True).dense()
        end = ref[f"{name}.weights"]
        assert not np.array_equal(start, end[: start.shape[0], : start.shape[1]])


@pytest.mark.slow
@pytest.mark.parametrize("ranks", [2, 3])
def test_phases_equal_cpu(tmp_path, ranks):
    path = yaml_file(tmp_path, PHASED, "phased")
    ref = api.run(path, backend="cpu")
    got = api.run(path, backend="mpi", ranks=ranks)
    assert "readout.accuracy" in got.values and "probe.exc.v" in got.values
    assert int(ref["train.exc.counts"].sum()) > 0
    assert_same(ref.arrays(), got.arrays())


def test_shards_split_the_synapses_by_post_rank():
    prog = random_net()
    d = decompose(prog, 3)
    shards = [shard(prog, d.owner, r) for r in range(3)]
    for name, whole in prog.network.projections.items():
        parts = [s.network.projections[name] for s in shards]
        assert sum(p.post_idx.size for p in parts) == whole.post_idx.size
        for r, p in enumerate(parts):
            assert np.all(d.owner[whole.post][p.post_idx] == r)
        got = sorted(zip(*(np.concatenate([getattr(p, k) for p in parts]).tolist()
                           for k in ("pre_idx", "post_idx", "weight", "delay")), strict=True))
        want = sorted(zip(*(getattr(whole, k).tolist()
                            for k in ("pre_idx", "post_idx", "weight", "delay")), strict=True))
        assert got == want


@pytest.mark.slow
def test_more_ranks_than_needed_and_a_wta_population():
    # 4 ranks for 5 LIF neurons: the 3-neuron winner-take-all population stays whole and
    # one rank holds nothing; the result is still the cpu backend's
    pops = [source("in", 4, kind="poisson", rate=0.3), lif("a", 2, du=300, dv=400, vth=20),
            lif("w", 3, du=300, dv=400, vth=20, wta=True)]
    projs = [proj("ia", "in", "a", [0, 1, 2, 3], [0, 1, 0, 1], 60, [0, 1, 2, 0]),
             proj("aw", "a", "w", [0, 1, 0], [0, 1, 2], 80, 1),
             proj("wa", "w", "a", [0, 1, 2], [1, 0, 1], -40, 0)]
    prog = program(network(pops, projs, probes=["a.v", "w.u", "aw.weights"], steps=40))
    ref = get_backend("cpu").run(prog, 40)
    got = get_backend("mpi").run(prog, 40, ranks=4)
    assert int(ref.spikes["w"].sum()) > 10 and ref.spikes["w"].sum(axis=1).max() == 1
    assert_same(ref.arrays(), got.arrays())
    assert sorted(r["neurons"] for r in got.meta["mpi"]["per_rank"]) == [0, 1, 1, 3]
