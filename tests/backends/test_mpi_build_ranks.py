"""`--build ranks`: every MPI rank builds only the synapses onto its neurons, from the
per-post-block random streams, and the run equals the cpu backend's (whole build) key
for key; networks only the whole build can make are refused with a clear InputError."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from cli_runner import snnc
from repo import ROOT

from backends.mpi.local import projection_facts
from compiler.distributed import build_rank, describe, sequential_reduce
from compiler.errors import InputError
from compiler.frontend import load_network
from compiler.frontend.synapses import POST_BLOCK
from runtime import api

MPIEXEC = Path(sys.executable).parent / "mpiexec"
needs_mpi = pytest.mark.skipif(not MPIEXEC.is_file(), reason="no mpiexec beside Python")

NET = """
snnc: 1
name: ranks_build
precision: {precision}
seed: 7
steps: 60
populations:
  inp: {{size: 150, model: spike_source, spikes: {{kind: poisson, rate: 0.15}}}}
  exc: {{size: 5000, params: {{vth: {vth}, du: {du}, dv: {dv}}}}}
  inh: {{size: 900, params: {{vth: {vth}}}}}
projections:
  inp_exc: {{pre: inp, post: exc, connectivity: {{kind: random, p: 0.08}},
            weight: {{dist: uniform, low: {w_lo}, high: {w_hi}}},
            delay: {{dist: uniform_int, low: 0, high: 3}}}}
  exc_exc: {{pre: exc, post: exc, connectivity: {{kind: random, p: 0.002}},
            weight: {{dist: uniform, low: {r_lo}, high: {r_hi}}}}}
  exc_inh: {{pre: exc, post: inh, connectivity: {{kind: random, p: 0.01}}, weight: {c},
            delay: 1}}
  inh_exc: {{pre: inh, post: exc, connectivity: {{kind: random, p: 0.02}},
            weight: {{dist: uniform, low: {i_lo}, high: 0}}}}
  inp_inh: {{pre: inp, post: inh, connectivity: all_to_all,
            weight: {{dist: uniform, low: 0, high: {w_hi}}},
            plasticity: {{rule: stdp, a_plus: 0.4375, a_minus: 0.5, tau_plus: 17,
                         tau_minus: 30, x1_impulse: 16, y1_impulse: 16}}}}
probes: [exc.spikes, exc.v, inh.v, inp_inh.weights, inp_exc.weights]
{phases}"""
FIXED = dict(precision="fixed", vth=400, du=400, dv=300, w_lo=20, w_hi=110, r_lo=-30, r_hi=60,
             c=40, i_lo=-90)
FLOAT = dict(precision="float", vth=4.0, du=0.1, dv=0.07, w_lo=0.2, w_hi=1.1, r_lo=-0.3,
             r_hi=0.6, c=0.4, i_lo=-0.9)
PHASES = """phases:
  - {name: train, steps: 40, plastic: true}
  - {name: test, steps: 30, plastic: false, set: {populations.exc.params.vth: 600}}
"""


def write_net(tmp_path: Path, values: dict, phases: str = "", name: str = "net.yaml") -> Path:
    path = tmp_path / name
    path.write_text(NET.format(**values, phases=phases))
    return path


def same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k


@pytest.mark.parametrize("values", [FIXED, FLOAT], ids=["fixed", "float"])
def test_the_ranks_shards_are_the_whole_build_cut_by_post_neuron(tmp_path, values):
    path = write_net(tmp_path, values)
    whole = load_network(path)
    desc = describe(path)
    for k in (1, 2, 3):
        nets, owners = [], []
        for r in range(k):
            program, decomp, facts = build_rank(desc, r, k, sequential_reduce)
            nets.append(program.network)
            owners.append(decomp.owner)
            if k == 1:
                assert facts == projection_facts(whole)
        for name, proj in whole.projections.items():
            post = proj.post
            for r, net in enumerate(nets):  # each rank holds only synapses onto its neurons
                assert (owners[r][post][net.projections[name].post_idx] == r).all()
            parts = [[getattr(n.projections[name], a) for n in nets]
                     for a in ("pre_idx", "post_idx", "weight", "delay")]
            pre, post_i, w, d = (np.concatenate(p) for p in parts)
            order = np.lexsort((post_i, pre))
            assert np.array_equal(pre[order], proj.pre_idx), name
            assert np.array_equal(post_i[order], proj.post_idx), name
            assert np.array_equal(w[order], proj.weight), name
            assert np.array_equal(d[order], proj.delay), name


def test_ranks_are_cut_at_post_blocks_and_balanced(tmp_path):
    desc = describe(write_net(tmp_path, FIXED))
    from compiler.distributed import decompose

    d = decompose(desc, 3)
    starts = np.flatnonzero(np.diff(d.owner["exc"])) + 1
    assert all(s % POST_BLOCK == 0 for s in starts)
    assert sorted(set(d.owner["exc"].tolist()) | set(d.owner["inh"].tolist())) == [0, 1, 2]


def test_a_winner_take_all_population_stays_on_one_rank(tmp_path):
    path = tmp_path / "wta.yaml"
    path.write_text(NET.format(**FIXED, phases="").replace(
        "exc: {size: 5000, params: {", "exc: {size: 5000, params: {wta: true, "))
    from compiler.distributed import decompose

    for k in (2, 3):
        owner = decompose(describe(path), k).owner
        assert np.unique(owner["exc"]).size == 1
        assert np.unique(np.r_[owner["exc"], owner["inh"]]).size == 2


def lockstep(k: int, fn) -> list:
    """`fn(rank, reduce)` for ranks 0..k-1 run as threads, `reduce` combining every
    rank's values (as MPI's allreduce does)."""
    barrier, slots, out = threading.Barrier(k), [None] * k, [None] * k

    def reducer(r: int):
        def reduce(values: np.ndarray, op: str) -> np.ndarray:
            slots[r] = np.asarray(values, dtype=np.float64)
            barrier.wait()
            both = (np.minimum if op == "min" else np.maximum).reduce(slots)
            barrier.wait()
            return both
        return reduce

    def body(r: int) -> None:
        out[r] = fn(r, reducer(r))

    threads = [threading.Thread(target=body, args=(r,)) for r in range(k)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return out


def lockstep_facts(programs: list) -> list[dict]:
    """Each rank's facts from its own synapses and the other ranks' values."""
    from compiler.distributed import projection_facts as rank_facts

    return lockstep(len(programs), lambda r, reduce: rank_facts(programs[r].network, reduce))


def test_each_rank_partitions_its_neurons_into_its_own_cores(tmp_path):
    path = write_net(tmp_path, FIXED)
    desc = describe(path, partitioner="greedy")
    shards = lockstep(2, lambda r, reduce: build_rank(desc, r, 2, reduce))
    seen = []
    for r, (program, decomp, _) in enumerate(shards):
        cores = set()
        for pop, core in program.core_of.items():
            mine = decomp.owner[pop] == r
            assert (core[mine] >= 0).all() and (core[~mine] == -1).all()
            cores |= set(core[mine].tolist())
        seen.append(cores)
    assert seen[0] and seen[1] and not seen[0] & seen[1]
    assert min(seen[1]) == max(seen[0]) + 1  # ids offset by the cores of the rank before
    with pytest.raises(InputError, match="graph needs the whole network"):
        describe(path, partitioner="graph")


def test_facts_of_a_whole_projection_come_from_every_rank(tmp_path):
    """A rank without synapses of an all-inhibitory projection still learns its sign mode
    (and delay, weight range) from the others."""
    path = write_net(tmp_path, FIXED)
    desc = describe(path)
    whole = projection_facts(load_network(path))
    programs = [build_rank(desc, r, 3, sequential_reduce)[0] for r in range(3)]
    assert min(p.network.projections["inh_exc"].n_synapses for p in programs) == 0
    assert whole["inh_exc"].mode == "inhibitory"
    for facts in lockstep_facts(programs):
        assert facts == whole


@pytest.mark.parametrize("network, field", [
    ({"connectivity": {"kind": "list", "data": {"pre": [0, 1], "post": [1, 2],
                                                "weight": [5, 6]}}}, "connectivity"),
    ({"weight": {"data": np.ones((3, 4), dtype=np.int64)}}, "weight"),
])
def test_networks_only_the_whole_build_makes_are_refused(network, field):
    from compiler import Network

    net = (Network("n", seed=1).population("a", 4, spikes={"kind": "poisson", "rate": 0.1})
           .population("b", 3))
    net.projection("ab", "a", "b", **network)
    with pytest.raises(InputError, match=rf"projections\.ab\.{field}: .*--build whole"):
        describe(net)


def test_files_that_are_built_whole_are_refused(tmp_path):
    for name in ("net.nir", "net.snnc"):
        (tmp_path / name).write_bytes(b"x")
        with pytest.raises(InputError, match="--build whole"):
            describe(tmp_path / name)
    with pytest.raises(InputError, match="--build whole"):
        describe(load_network(write_net(tmp_path, FIXED)))


def test_the_cli_refuses_build_for_other_backends_and_bad_networks(tmp_path):
    path = write_net(tmp_path, FIXED)
    r = snnc("run", str(path), "--backend", "cpu", "--build", "ranks", "-q")
    assert r.returncode == 2 and "--build applies to --backend mpi only" in r.stderr
    edges = tmp_path / "edges.yaml"
    edges.write_text(path.read_text().replace(
        "connectivity: all_to_all", "connectivity: {kind: list, data: {pre: [0], post: [0], "
        "weight: [3]}}").replace("weight: {dist: uniform, low: 0, high: 110},\n", ""))
    r = snnc("run", str(edges), "--backend", "mpi", "--build", "ranks", "-q")
    assert r.returncode == 2, r.stderr
    assert "projections.inp_inh.connectivity" in r.stderr and "--build whole" in r.stderr


@pytest.mark.slow
def test_one_rank_in_this_process_builds_from_the_builder_too(tmp_path):
    """Without --ranks and outside a launcher the build is one rank here; a builder works
    like its file."""
    pytest.importorskip("mpi4py")
    from compiler import Network

    path = write_net(tmp_path, FIXED)
    ref = api.run(path, "cpu", engine="numpy").arrays()
    same(ref, api.run(path, "mpi", build="ranks").arrays())
    same(ref, api.run(Network.from_yaml(path), "mpi", build="ranks").arrays())
    with pytest.raises(InputError, match="needs --backend mpi"):
        api.run(path, "cpu", build="ranks")


@needs_mpi
@pytest.mark.slow
@pytest.mark.parametrize("values", [FIXED, FLOAT], ids=["fixed", "float"])
def test_a_run_built_on_2_and_3_ranks_equals_the_cpu_backend(tmp_path, values):
    path = write_net(tmp_path, values)
    ref = api.run(path, "cpu", engine="numpy").arrays()
    whole_synapses = sum(p.n_synapses for p in load_network(path).projections.values())
    for k in (2, 3):
        res = api.run(path, "mpi", ranks=k, build="ranks")
        same(ref, res.arrays())
        per_rank = res.meta["mpi"]["build"]["per_rank_synapses"]
        assert len(per_rank) == k and sum(per_rank) == whole_synapses
        assert max(per_rank) < whole_synapses  # no rank held the whole network


@needs_mpi
@pytest.mark.slow
def test_phases_built_on_the_ranks_equal_the_cpu_backend(tmp_path):
    path = write_net(tmp_path, FIXED, PHASES)
    same(api.run(path, "cpu", engine="numpy").arrays(),
         api.run(path, "mpi", ranks=2, build="ranks").arrays())


@needs_mpi
@pytest.mark.slow
def test_snnc_run_built_on_the_ranks_and_under_mpiexec(tmp_path):
    path = write_net(tmp_path, FIXED)
    outs = {k: tmp_path / f"{k}.npz" for k in ("cpu", "ranks", "mpiexec")}
    r = snnc("run", str(path), "--backend", "cpu", "--engine", "numpy", "-q", "-o",
             str(outs["cpu"]))
    assert r.returncode == 0, r.stderr
    r = snnc("run", str(path), "--backend", "mpi", "--ranks", "2", "--build", "ranks", "-q",
             "-o", str(outs["ranks"]))
    assert r.returncode == 0, r.stderr
    r = subprocess.run([str(MPIEXEC), "-n", "3", sys.executable, "-m", "runtime.cli", "run",
                        str(path), "--backend", "mpi", "--build", "ranks", "-q", "-o",
                        str(outs["mpiexec"])], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("wrote ") == 1
    ref = dict(np.load(outs["cpu"]))
    same(ref, dict(np.load(outs["ranks"])))
    same(ref, dict(np.load(outs["mpiexec"])))
