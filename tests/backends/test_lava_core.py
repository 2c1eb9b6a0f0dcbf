"""Lava granularity 'core' / 'chip': one synapse process per destination slice, fed by the
spike bus, spikes equal to the cpu backend's; each backend run checks the program once."""

from __future__ import annotations

import numpy as np
import pytest
from lava_nets import lif_pop, projection, source_pop

from compiler.errors import InputError
from compiler.ir import NetworkIR, Probe
from compiler.program import Core, Program
from compiler.target import Target

STEPS = 30


def _net(precision: str = "fixed") -> NetworkIR:
    """Projections of every kind a merged block must keep apart or add exactly: sign modes,
    weight bits and weight_exp differ (>= 0 and < 0), two projections share (post, pre)
    pairs, delays 0..3."""
    rng = np.random.default_rng(7)
    fixed = precision == "fixed"
    lif = {"du": 4095, "dv": 200, "vth": 8} if fixed else {"du": 1.0, "dv": 0.05, "vth": 8.0}
    pops = {"s": source_pop("s", 8, 0.4), "a": lif_pop("a", 10, **lif),
            "b": lif_pop("b", 6, **lif)}

    def proj(name, pre, post, n_pre, n_post, lo, hi, p=0.5, **kw):
        pre_idx, post_idx = np.nonzero(rng.random((n_pre, n_post)) < p)
        w = rng.integers(lo, hi + 1, pre_idx.size)
        delay = rng.integers(0, 4, pre_idx.size)
        return projection(name, pre, post, pre_idx, post_idx, w if fixed else w / 4.0,
                          delay, fixed=fixed, **kw)

    projs = [proj("sa", "s", "a", 8, 10, 150, 255),  # excitatory, 8 bits
             proj("aa", "a", "a", 10, 10, -120, 100, num_weight_bits=7, weight_exp=1),  # mixed
             proj("ba", "b", "a", 6, 10, -255, -100, num_weight_bits=6),  # inhibitory
             proj("ab", "a", "b", 10, 6, -60, 90, p=0.7, weight_exp=-1),  # floors its sum
             proj("ab2", "a", "b", 10, 6, 20, 200, p=0.7),  # pairs shared with ab
             proj("sb", "s", "b", 8, 6, 10, 60, weight_exp=2)]
    return NetworkIR(f"core_{precision}", populations=pops,
                     projections={p.name: p for p in projs}, precision=precision,
                     probes=[Probe("a", "v"), Probe("b", "v")])


def _program(net: NetworkIR) -> Program:
    """a over cores 0, 1, 2 and b over cores 2, 3: core 2 holds slices of both; cores 0, 1
    are on chip 0, cores 2, 3 on chip 1."""
    core_of = {"a": np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2], np.int32),
               "b": np.array([3, 3, 3, 2, 2, 2], np.int32)}
    cores = [Core(id=i, chip=i // 2, core=i % 2, neurons={
        p: np.flatnonzero(c == i) for p, c in core_of.items() if np.any(c == i)})
        for i in range(4)]
    return Program(network=net, target=Target("test"), core_of=core_of, cores=cores)


def test_core_plan_shares_cores_and_merges_per_destination_slice():
    from backends.lava.plan import make_plan

    program = _program(_net())
    plan = make_plan(program, "core")
    assert sorted(g.name for g in plan.groups.values()) == [
        "a@core0", "a@core1", "a@core2", "b@core2", "b@core3", "s"]
    by_slice: dict[str, list] = {}
    for b in plan.blocks.values():
        by_slice.setdefault(plan.groups[b.post_group].name, []).append(b)
    # into a: sa, aa (weight_exp 1, even weights: shares weight_exp 0 or 1) and ba merge
    for name in ("a@core0", "a@core1", "a@core2"):
        assert [sorted(b.projs) for b in by_slice[name]] == [["aa", "ba", "sa"]], name
    # into b: ab (weight_exp -1) alone; ab2 and sb share unless a pair repeats
    for name in ("b@core2", "b@core3"):
        blocks = by_slice[name]
        assert ("ab",) in [b.projs for b in blocks]
        assert sorted(p for b in blocks for p in b.projs) == ["ab", "ab2", "sb"]
        assert len(blocks) <= 3
    cores = plan.process_cores(program)
    assert cores["a@core2"] == cores["b@core2"] == cores["in:b@core2[ab]"] == (1, 0)
    chip = make_plan(program, "chip")
    assert sorted(g.name for g in chip.groups.values()) == [
        "a@chip0", "a@chip1", "b@chip1", "s"]


@pytest.mark.lava
@pytest.mark.slow
@pytest.mark.parametrize("precision,granularity,sparse", [
    ("fixed", "core", False), ("fixed", "chip", False), ("float", "core", False),
    ("fixed", "core", True), ("float", "chip", True)])
def test_core_and_chip_runs_equal_cpu(precision, granularity, sparse, monkeypatch):
    """sparse: every block lowered to (Bus)DelaySparse, as large networks are."""
    pytest.importorskip("lava")
    import backends.cpu as cpu
    import backends.lava as bl
    from backends.lava import plan_types

    if sparse:
        monkeypatch.setattr(plan_types, "SPARSE_BELOW", 1.0)

    net = _net(precision)
    program = _program(net)
    res = bl.run(program, STEPS, granularity=granularity)
    ref = cpu.run(program, STEPS)
    assert res.spikes["a"].sum() > 20 and res.spikes["b"].sum() > 10  # active network
    for pop in net.populations:
        np.testing.assert_array_equal(res.spikes[pop], ref.spikes[pop], err_msg=pop)
    for key in ("a.v", "b.v"):
        if precision == "fixed":
            np.testing.assert_array_equal(res.values[key], ref.values[key], err_msg=key)
        else:
            np.testing.assert_allclose(res.values[key], ref.values[key], rtol=1e-9, atol=1e-9)
    n_slices = 5 if granularity == "core" else 3
    if precision == "fixed":  # s, slices, bus, a block per slice and a few splits
        assert res.meta["processes"] <= 1 + 2 * n_slices + 1 + 3
    else:  # float sums keep the cpu's order: a block per (projection, destination slice)
        unit = 1 if granularity == "core" else 2  # cores 2c, 2c + 1 are on chip c
        pairs = {(p.name, int(program.core_of[p.post][i]) // unit)
                 for p in net.projections.values() for i in p.post_idx}
        assert res.meta["processes"] == 1 + n_slices + 1 + len(pairs)
    if sparse:
        assert set(res.meta["synapse_kinds"].values()) <= {"sparse", "delay_sparse"}
    fired = res.meta["lava_process_spikes"]
    assert sum(fired.values()) == res.spikes["a"].sum() + res.spikes["b"].sum()


def test_backend_run_checks_the_program_once(monkeypatch):
    """LavaBackend.check then run: one check_program; backends.lava.run alone: checked."""
    import backends.lava as bl
    from backends.lava import backend as lava_backend
    from backends.lava import capabilities

    calls = []
    real = capabilities.check_program

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    class Stop(Exception):
        pass

    def stop() -> None:
        raise Stop

    for module in (bl, lava_backend, capabilities):
        monkeypatch.setattr(module, "check_program", counting)
    monkeypatch.setattr(bl, "require_lava", stop)  # end the run before Lava starts
    program = _program(_net())
    engine = lava_backend.BACKEND
    opts = {"granularity": "core"}
    engine.check(program, opts)
    with pytest.raises(Stop):
        engine.run(program, 5, [], **opts)
    assert len(calls) == 1
    with pytest.raises(Stop):  # no check before it: run checks
        engine.run(program, 5, [], **opts)
    assert len(calls) == 2
    engine.check(program, opts)
    with pytest.raises(Stop):  # other options than were checked: checked again
        engine.run(program, 5, [], granularity="chip")
    assert len(calls) == 4
    with pytest.raises(Stop):
        bl.run(program, 5, [], granularity="core")
    assert len(calls) == 5
    with pytest.raises(InputError, match="unknown granularity 'cores'"):
        bl.run(program, 5, [], granularity="cores")


@pytest.mark.lava
@pytest.mark.slow
def test_cli_runs_granularity_chip(tmp_path):
    """`snnc run --granularity chip` reaches the lava backend and agrees with cpu."""
    pytest.importorskip("lava")
    from cli_runner import snnc

    outs = {}
    for backend, extra in (("cpu", []), ("lava", ["--granularity", "chip"])):
        out = tmp_path / f"{backend}.npz"
        done = snnc("run", "examples/two_layer.yaml", "--backend", backend, "--steps", "20",
                    "-o", str(out), "-q", *extra, timeout=300)
        assert done.returncode == 0, done.stderr
        with np.load(out) as f:
            outs[backend] = {k: f[k] for k in f.files if k.endswith(".spikes")}
    assert outs["cpu"] and outs["cpu"].keys() == outs["lava"].keys()
    for key, spikes in outs["cpu"].items():
        np.testing.assert_array_equal(outs["lava"][key], spikes, err_msg=key)


@pytest.mark.lava
@pytest.mark.slow
def test_plastic_projection_per_destination_core_equals_cpu():
    """stdp from a population over two cores into one over two cores, weight_exp -1: one
    learning process per destination core, fed by the bus; weights and spikes equal cpu."""
    pytest.importorskip("lava")
    import backends.cpu as cpu
    import backends.lava as bl
    from backends.lava.plan import make_plan
    from compiler.ir import Plasticity

    rng = np.random.default_rng(11)
    pops = {"s": source_pop("s", 6, 0.5), "a": lif_pop("a", 8, du=4095, dv=100, vth=4),
            "b": lif_pop("b", 6, du=4095, dv=100, vth=6)}
    pre, post = np.nonzero(rng.random((6, 8)) < 0.6)
    sa = projection("sa", "s", "a", pre, post, rng.integers(120, 255, pre.size))
    pre, post = np.nonzero(rng.random((8, 6)) < 0.6)
    ab = projection("ab", "a", "b", pre, post, rng.integers(60, 200, pre.size), weight_exp=-1)
    ab.plasticity = Plasticity("stdp", {"a_plus": 2, "a_minus": 1, "tau_plus": 8,
                                        "tau_minus": 5})
    net = NetworkIR("plastic_core", populations=pops, projections={"sa": sa, "ab": ab},
                    probes=[Probe("ab", "weights")])
    core_of = {"a": np.array([0] * 4 + [1] * 4, np.int32), "b": np.array([2] * 3 + [3] * 3,
                                                                          np.int32)}
    cores = [Core(id=i, chip=0, core=i, neurons={
        p: np.flatnonzero(c == i) for p, c in core_of.items() if np.any(c == i)})
        for i in range(4)]
    program = Program(network=net, target=Target("test"), core_of=core_of, cores=cores)
    learning = [b for b in make_plan(program, "core").blocks.values() if b.projs == ("ab",)]
    assert sorted(b.name for b in learning) == ["in:b@core2[ab]", "in:b@core3[ab]"]
    res = bl.run(program, 40, granularity="core")
    ref = cpu.run(program, 40)
    assert res.spikes["a"].sum() > 10 and res.spikes["b"].sum() > 5
    for p in ("a", "b"):
        np.testing.assert_array_equal(res.spikes[p], ref.spikes[p], err_msg=p)
    w0 = np.zeros((6, 8), np.int64)
    w0[ab.post_idx, ab.pre_idx] = ab.weight
    assert not np.array_equal(ref.values["ab.weights"], w0)  # it learned
    np.testing.assert_array_equal(res.values["ab.weights"], ref.values["ab.weights"])


CACHED_CHECK = """
import sys
sys.path[:0] = ["tests", "tests/backends"]
from test_lava_core import _net, _program
from backends.lava import plan_types
plan_types.SPARSE_BELOW = 1.0  # every block sparse
from backends.lava.lowering import build_synapse
from backends.lava.plan import make_plan
from backends.lava.procs.bus_synapse import BusDelaySparse, PyBusDelaySparseModelBitAcc
program = _program(_net())
delayed = [b for b in make_plan(program, "core").blocks.values() if b.kind == "delay_sparse"]
assert delayed
assert all(type(build_synapse(b, "fixed")) is BusDelaySparse for b in delayed)
grouped = make_plan(program, "grouped").blocks["ab"]
assert grouped.kind == "delay_sparse"
assert type(build_synapse(grouped, "fixed")) is not BusDelaySparse
assert PyBusDelaySparseModelBitAcc.implements_process is BusDelaySparse
print("ok", len(delayed))
"""


@pytest.mark.lava
def test_delayed_bus_blocks_use_the_cached_delay_model():
    """A delayed bus block is a BusDelaySparse (per-delay matrix built once); grouped
    blocks keep Lava's DelaySparse. (In a child: Lava's import sets a multiprocessing
    context, which other tests of this process may have set already.)"""
    pytest.importorskip("lava")
    import subprocess
    import sys

    from repo import ROOT

    out = subprocess.run([sys.executable, "-c", CACHED_CHECK], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok ")
