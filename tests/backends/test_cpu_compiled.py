"""The compiled cpu engine equals the numpy reference engine, whatever the threads and blocks.

Fixed precision: the same spikes, u and v (bit for bit). Float precision: the same spikes;
u and v bit-equal where both engines sum a neuron's input in the same order (one delay per
projection, one projection per population), else equal to 1e-12; bit-equal among the
compiled engine's thread and block counts always.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from netfactory import dense_proj, lif, network, program, proj, source

from backends.cpu import CompiledSimulator, Simulator, run
from compiler.errors import BackendError, InputError
from compiler.ir import Adapt

STEPS = 60
THREADS = sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)})
LAYOUTS = [(t, b) for t in THREADS for b in (None, 3)]  # (threads, blocks per population)


def random_net(seed: int, precision: str = "fixed", wta: bool = False,
               adapt: Adapt | None = None, delays: bool = True):
    """Source -> a (recurrent) -> b, random weights, delays 0..5, weight_exp -1 / +1 / 0."""
    rng = np.random.default_rng(seed)
    ns, na, nb = 25, 31, 19
    fixed = precision == "fixed"

    def mat(npost, npre, lo, hi, p):
        w = rng.integers(lo, hi, (npost, npre))
        w = np.where(rng.random((npost, npre)) < p, w, 0)
        return w if fixed else w.astype(float) / 7.0

    def dl(npost, npre):
        return rng.integers(0, 6, (npost, npre)) if delays else 0

    if fixed:
        pa = dict(du=int(rng.integers(0, 4096)), dv=int(rng.integers(0, 800)), vth=12,
                  bias_mant=rng.integers(-20, 40, na), bias_exp=1)
        pb = dict(du=4095, dv=300, vth=9, bias_mant=rng.integers(0, 15, nb), bias_exp=1)
    else:
        pa = dict(du=0.3, dv=0.1, vth=3.0, bias_mant=rng.uniform(-0.2, 0.6, na))
        pb = dict(du=1.0, dv=0.07, vth=2.0, bias_mant=rng.uniform(0.0, 0.3, nb))
    pops = [source("s", ns, data=rng.random((STEPS, ns)) < 0.2),
            lif("a", na, wta=wta, **pa), lif("b", nb, adapt=adapt, **pb)]
    projs = [dense_proj("sa", "s", "a", mat(na, ns, -120, 200, 0.5), dl(na, ns),
                        weight_exp=-1 if fixed else 0, num_weight_bits=6, fixed=fixed),
             dense_proj("aa", "a", "a", mat(na, na, -150, 100, 0.3), 0,
                        weight_exp=1 if fixed else 0, num_weight_bits=6, fixed=fixed),
             dense_proj("ab", "a", "b", mat(nb, na, -60, 120, 0.6), dl(nb, na), fixed=fixed)]
    probes = ["a.v", "a.u", "b.v", "b.u"]
    return program(network(pops, projs, precision=precision, probes=probes, steps=STEPS))


def run_all(prog, steps: int = STEPS):
    """The numpy engine's result and the compiled engine's for every layout (two runs each,
    so state carried from one run to the next is compared too)."""
    ref = Simulator(prog)
    refs = [ref.run(steps // 2), ref.run(steps - steps // 2)]
    outs = []
    for threads, blocks in LAYOUTS:
        sim = CompiledSimulator(prog, threads=threads, blocks=blocks)
        outs.append([sim.run(steps // 2), sim.run(steps - steps // 2)])
    return refs, outs


def assert_equal_runs(a, b, exact: bool = True):
    for ra, rb in zip(a, b, strict=True):
        assert ra.spikes.keys() == rb.spikes.keys()
        for k in ra.spikes:
            np.testing.assert_array_equal(ra.spikes[k], rb.spikes[k], err_msg=k)
        assert ra.values.keys() == rb.values.keys()
        for k in ra.values:
            if exact:
                np.testing.assert_array_equal(ra.values[k], rb.values[k], err_msg=k)
            else:
                np.testing.assert_allclose(ra.values[k], rb.values[k], rtol=1e-12, atol=1e-12,
                                           err_msg=k)
        assert ra.meta["synops"] == rb.meta["synops"]


def assert_active(runs, pops=("a", "b")):
    """The comparison is not vacuous: every population spikes, but not always."""
    for p in pops:
        s = np.concatenate([r.spikes[p] for r in runs])
        assert s.any() and not s.all(), p


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fixed_delays_and_weight_exps_equal_numpy_engine(seed):
    refs, outs = run_all(random_net(seed))
    assert_active(refs)
    for out in outs:
        assert_equal_runs(refs, out)


@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_wta_equals_numpy_engine(precision):
    refs, outs = run_all(random_net(3, precision, wta=True))
    assert_active(refs)
    assert refs[0].spikes["a"].sum(axis=1).max() == 1  # one winner per step
    for out in outs:
        assert_equal_runs(refs, out, exact=precision == "fixed")


@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_adaptive_threshold_equals_numpy_engine(precision):
    adapt = Adapt(increment=2.0, tau=9.0)
    refs, outs = run_all(random_net(4, precision, adapt=adapt))
    assert_active(refs)
    for out in outs:
        assert_equal_runs(refs, out, exact=precision == "fixed")


def test_float_same_spikes_and_layout_independent():
    refs, outs = run_all(random_net(5, "float"))
    assert_active(refs)
    for out in outs:
        assert_equal_runs(refs, out, exact=False)
        assert_equal_runs(outs[0], out, exact=True)  # threads and blocks change nothing


def test_float_one_delay_bit_equal_to_numpy_engine():
    refs, outs = run_all(random_net(6, "float", delays=False))
    assert_active(refs)
    for out in outs:
        assert_equal_runs(refs, out, exact=True)


def test_int32_and_24_bit_wraps_equal_numpy_engine():
    """1100 sources of weight 255 << 7 overflow a_in << 6 past int32, and u past 24 bits."""
    ns, steps = 1100, 8
    data = np.zeros((steps, ns), bool)
    data[[0, 3]] = True
    w = np.zeros((3, ns), int)
    w[0] = 255
    w[1, :8] = 128
    w[2, :300] = -200
    pops = [source("s", ns, data=data), lif("a", 3, du=0, dv=0, vth=100, bias_mant=0)]
    projs = [dense_proj("sa", "s", "a", w, weight_exp=7)]
    prog = program(network(pops, projs, probes=["a.v", "a.u"], steps=steps))
    refs, outs = run_all(prog, steps)
    assert np.abs(refs[0].values["a.u"]).max() >= 2**23  # the wrap paths were taken
    for out in outs:
        assert_equal_runs(refs, out)


def test_run_options_engine_threads_timing():
    prog = random_net(0)
    a = run(prog, 20, engine="numpy")
    b = run(prog, 20, engine="compiled", threads=THREADS[-1], timing=True, timeout_s=3)
    assert a.meta["engine"] == "numpy" and b.meta["engine"] == "compiled"
    np.testing.assert_array_equal(a.spikes["a"], b.spikes["a"])
    assert list(b.meta["timing"]) == ["delivery", "neurons", "learning", "probes", "host_input"]
    assert all(v >= 0 for v in b.meta["timing"].values()) and b.meta["timing"]["neurons"] > 0
    assert "timing" not in a.meta
    assert b.meta["ignored_options"] == ["timeout_s"]
    assert "ignored_options" not in a.meta


@pytest.mark.parametrize("bad, msg", [({"engine": "fast"}, "engine: 'fast'; allowed: compiled, numpy"),
                                      ({"threads": 0}, "threads: 0; allowed"),
                                      ({"threads": 10**6}, "threads: 1000000; allowed"),
                                      ({"threads": "2"}, "threads: '2'; allowed")])
def test_bad_engine_options_are_input_errors(bad, msg):
    with pytest.raises(InputError, match=msg):
        run(random_net(0), 5, **bad)


def test_packed_layout_narrow_and_blocks_own_their_neurons():
    prog = random_net(1)
    sim = CompiledSimulator(prog, threads=1, blocks=3)
    pk = sim.packed["ab"]
    assert pk.weight.dtype == np.int16 and pk.csr.post.dtype == np.uint16  # blocks < 2**16
    assert pk.csr.delay.dtype == np.uint8
    bounds = sim.bounds["b"]
    assert len(bounds) == 4 and bounds[0] == 0 and bounds[-1] == 19
    blk = pk.csr.block_of()  # every synapse of a block lands inside it
    assert set(blk.tolist()) == {0, 1, 2}
    assert np.all(pk.csr.post < (bounds[blk + 1] - bounds[blk]))
    assert np.all(np.diff(pk.csr.pre_of()) >= 0)  # rows by pre neuron
    ref = Simulator(prog)
    for name in ("sa", "aa", "ab"):  # the packed view holds the same synapses
        np.testing.assert_array_equal(sim.synapses[name].dense(), ref.synapses[name].dense())


@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_duplicate_synapses_sum_like_numpy_engine(precision):
    """Equal (pre, post, delay) synapses add up (Lava's dense matrix); other delays stay apart."""
    fixed = precision == "fixed"
    rng = np.random.default_rng(7)
    pre = np.concatenate([np.arange(6), np.arange(6), [0, 0]])
    post = np.concatenate([np.arange(6) % 4, np.arange(6) % 4, [1, 1]])
    delay = np.concatenate([np.zeros(12, int), [2, 2]])
    w = rng.integers(10, 60, pre.size)
    w = w if fixed else w / 16.0
    params = dict(du=100, dv=200, vth=40, bias_mant=3) if fixed else \
        dict(du=0.1, dv=0.2, vth=6.0, bias_mant=0.05)
    pops = [source("s", 6, data=rng.random((STEPS, 6)) < 0.3), lif("a", 4, **params)]
    net = network(pops, [proj("sa", "s", "a", pre, post, w, delay, fixed=fixed)],
                  precision=precision, probes=["a.v"])
    refs, outs = run_all(program(net))
    assert_active(refs, ("a",))
    for out in outs:
        assert_equal_runs(refs, out, exact=fixed)


def test_bad_projection_is_a_backend_error_as_in_numpy_engine():
    pops = [source("s", 3, data=np.ones((4, 3), bool)), lif("a", 2, vth=5)]
    net = network(pops, [proj("sa", "s", "a", [0, 1], [0, 2], [5, 5])])
    with pytest.raises(BackendError, match=r"projection 'sa': neuron index out of range"):
        Simulator(program(net))
    with pytest.raises(BackendError, match=r"projection 'sa': neuron index out of range"):
        CompiledSimulator(program(net))


def test_cli_timing_engine_and_threads(tmp_path):
    from cli_runner import snnc
    from repo import EXAMPLES

    out = tmp_path / "r.npz"
    res = snnc("run", str(EXAMPLES / "two_layer.yaml"), "--engine", "compiled", "--threads", "1",
               "--timing", "-q", "-o", str(out), timeout=300)
    assert res.returncode == 0, res.stderr
    parts = [line.split()[0] for line in res.stdout.splitlines()
             if line.strip().split(" ")[0] in ("delivery", "neurons", "learning", "probes",
                                               "host_input")]
    assert parts == ["delivery", "neurons", "learning", "probes", "host_input"]
    ref = snnc("run", str(EXAMPLES / "two_layer.yaml"), "--engine", "numpy", "-q", "-o",
               str(tmp_path / "n.npz"), timeout=300)
    assert ref.returncode == 0, ref.stderr
    a, b = np.load(out), np.load(tmp_path / "n.npz")
    assert sorted(a.files) == sorted(b.files)
    for k in a.files:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    bad = snnc("run", str(EXAMPLES / "two_layer.yaml"), "--threads", "100000", "-q", "-o",
               str(tmp_path / "x.npz"))
    assert bad.returncode == 2 and "threads: 100000; allowed" in bad.stderr
