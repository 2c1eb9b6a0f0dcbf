"""The Lava backend runs the real Lava simulator: bit-exact with the cpu backend and with an
independent per-synapse reference (tests/lava_nets.py), never hanging on failures."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lava_nets import lif_pop, program_of, projection, reference_run, source_pop, two_layer

from compiler.errors import BackendError
from compiler.ir import Adapt, NetworkIR, Probe
from compiler.lava_weights import effective_weights

pytest.importorskip("lava")
import backends.cpu as cpu  # noqa: E402
import backends.lava as bl  # noqa: E402

pytestmark = pytest.mark.lava

STEPS = 30


def assert_same(lava_res, cpu_res, net: NetworkIR, rel: float | None = None) -> None:
    """Spikes of every population and every probed v equal (or within `rel` in float)."""
    for pop in net.populations:
        np.testing.assert_array_equal(lava_res.spikes[pop], cpu_res.spikes[pop], err_msg=pop)
    for key, value in cpu_res.values.items():
        if key.endswith(".v") or key.endswith(".u"):
            got = lava_res.values[key]
            assert got.dtype == value.dtype, key
            if rel is None:
                np.testing.assert_array_equal(got, value, err_msg=key)
            else:
                np.testing.assert_allclose(got, value, rtol=rel, atol=1e-9, err_msg=key)


@pytest.mark.parametrize("granularity,cores", [("grouped", None), ("core", {"hid": 3})])
def test_two_layer_fixed_matches_reference_and_cpu(granularity, cores):
    net = two_layer("fixed")
    program = program_of(net, cores, interleave=True)
    probes = [Probe("hid", "v"), Probe("hid", "u"), Probe("inp_hid", "weights")]
    res = bl.run(program, STEPS, probes, granularity=granularity)
    ref = reference_run(net, STEPS)
    assert res.spikes["hid"].shape == (STEPS, 8) and res.spikes["hid"].dtype == bool
    assert res.spikes["hid"].sum() > 10  # the network is active: the comparison means something
    np.testing.assert_array_equal(res.spikes["hid"], ref["hid.spikes"])
    np.testing.assert_array_equal(res.values["hid.v"], ref["hid.v"])
    assert res.values["hid.v"].dtype == np.int64
    assert_same(res, cpu.run(program, STEPS, probes), net)
    # final weights: Lava's clipped and truncated matrix, as the cpu backend reports it
    proj = net.projections["inp_hid"]
    expect = np.zeros((8, 6), np.int64)
    expect[proj.post_idx, proj.pre_idx] = effective_weights(proj.weight, 7, mode="mixed")
    np.testing.assert_array_equal(res.values["inp_hid.weights"], expect)
    if granularity == "grouped":
        assert res.meta["processes"] == 4  # inp, hid, inp_hid, hid_hid
    else:  # inp + 3 hid slices + the spike bus + per hid core: the probed inp_hid (in a
        # process of its own) and hid_hid
        assert res.meta["processes"] == 1 + 3 + 1 + 3 + 3


def test_two_layer_float_matches_cpu():
    net = two_layer("float")
    program = program_of(net, {"hid": 2})
    probes = [Probe("hid", "v")]
    for granularity in ("grouped", "core"):
        res = bl.run(program, STEPS, probes, granularity=granularity)
        assert res.values["hid.v"].dtype == np.float64
        assert res.spikes["hid"].sum() > 10
        assert_same(res, cpu.run(program, STEPS, probes), net, rel=1e-6)
        ref = reference_run(net, STEPS)
        np.testing.assert_array_equal(res.spikes["hid"], ref["hid.spikes"])


def test_core_blocks_keep_the_projection_sign_mode():
    """A mixed projection whose per-core blocks are single-signed: Lava would pick excitatory /
    inhibitory for a block on its own and quantize differently; the backend passes the
    projection-wide sign mode, so core == grouped == cpu."""
    pops = {"src": source_pop("src", 4, 0.6), "out": lif_pop("out", 4, du=4095, dv=0, vth=1)}
    pre = [0, 1, 2, 3, 0, 1]
    post = [0, 1, 2, 3, 1, 0]
    w = [3, 5, -256, -7, 9, 7]  # neurons 0, 1 (core 0): positive only; 2, 3 (core 1): negative only
    proj = projection("p", "src", "out", pre, post, w, num_weight_bits=7)
    net = NetworkIR("sign", populations=pops, projections={"p": proj},
                    probes=[Probe("out", "v")])
    program = program_of(net, {"out": 2})
    # the case discriminates: block-wise automatic modes give other effective weights
    mixed = effective_weights(np.array(w), 7, mode="mixed")
    assert mixed.tolist() == [0, 4, -256, -8, 8, 4]
    assert effective_weights(np.array([3, 5, 9, 7]), 7, mode="excitatory").tolist() == [2, 4, 8, 6]
    assert effective_weights(np.array([-256, -7]), 7, mode="inhibitory").tolist() == [-254, -6]
    grouped = bl.run(program, 20, granularity="grouped")
    core = bl.run(program, 20, granularity="core")
    assert core.meta["processes"] == 1 + 2 + 1 + 2  # src, out slices, bus, one block per slice
    ref = reference_run(net, 20)
    np.testing.assert_array_equal(core.values["out.v"], ref["out.v"])
    np.testing.assert_array_equal(grouped.values["out.v"], ref["out.v"])
    assert_same(core, cpu.run(program, 20), net)


def test_several_projections_into_one_population_add_up():
    pops = {"a": source_pop("a", 3, 0.5), "b": source_pop("b", 3, 0.5),
            "c": lif_pop("c", 3, du=4095, dv=4095, vth=1000)}
    eye = [0, 1, 2]
    net = NetworkIR("sum", seed=5, populations=pops, probes=[Probe("c", "u")], projections={
        "ac": projection("ac", "a", "c", eye, eye, [10, 10, 10]),
        "bc": projection("bc", "b", "c", eye, eye, [-3, -3, -3], delay=[1, 1, 1])})
    res = bl.run(program_of(net), 12)
    # du = 4095 (u keeps nothing), so u(t) = 64 * a_in(t) with
    # a_in(t) = 10 * a(t - 1) - 3 * b(t - 2), straight from the drawn source spikes
    a = res.spikes["a"].astype(np.int64)
    b = res.spikes["b"].astype(np.int64)
    a_in = np.zeros((12, 3), np.int64)
    a_in[1:] += 10 * a[:-1]
    a_in[2:] -= 3 * b[:-2]
    assert a.sum() > 3 and b.sum() > 3
    np.testing.assert_array_equal(res.values["c.u"], 64 * a_in)


def test_sparse_and_delay_sparse_blocks_match_cpu():
    rng = np.random.default_rng(1)
    pops = {"s": source_pop("s", 20, 0.3), "h": lif_pop("h", 20, du=200, dv=100, vth=20)}
    pre, post = np.nonzero(rng.random((20, 20)) < 0.08)
    rp, rq = np.nonzero(rng.random((20, 20)) < 0.05)
    net = NetworkIR("sp", seed=2, populations=pops, probes=[Probe("h", "v")], projections={
        "sh": projection("sh", "s", "h", pre, post, rng.integers(-50, 255, pre.size),
                         weight_exp=1, num_weight_bits=6),
        "hh": projection("hh", "h", "h", rp, rq, rng.integers(-200, 100, rp.size),
                         delay=rng.integers(0, 6, rp.size), weight_exp=-1)})
    program = program_of(net)
    res = bl.run(program, STEPS)
    assert res.meta["synapse_kinds"] == {"sh": "sparse", "hh": "delay_sparse"}
    assert res.spikes["h"].sum() > 5
    assert_same(res, cpu.run(program, STEPS), net)


@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_adaptive_threshold_matches_cpu(precision):
    """snnc's adaptive threshold (not in Lava's LIF) runs in RecordingLIF's models."""
    net = two_layer(precision)
    net.populations["hid"].lif.adapt = Adapt(increment=400 if precision == "fixed" else 100.0, tau=7)
    program = program_of(net, {"hid": 2})
    plain = cpu.run(program_of(two_layer(precision)), STEPS)
    expect = cpu.run(program, STEPS)
    assert expect.spikes["hid"].sum() < plain.spikes["hid"].sum()  # adaptation bites
    for granularity in ("grouped", "core"):
        res = bl.run(program, STEPS, granularity=granularity)
        assert_same(res, expect, net, rel=None if precision == "fixed" else 1e-6)


def test_model_exception_becomes_backend_error_without_hanging():
    program = program_of(two_layer())
    t0 = time.monotonic()
    with pytest.raises(BackendError, match="RuntimeError: deliberate failure at step 3"):
        bl.run(program, STEPS, _test_fail_step=3, timeout_s=60)
    assert time.monotonic() - t0 < 30


def test_float_params_under_fixed_pt_report_lava_error():
    """What a naive lowering would do (float du into Lava's fixed_pt LIF): Lava's model raises;
    the watchdog turns it into a BackendError with Lava's message instead of a hang."""
    net = two_layer()
    net.populations["hid"].lif.du = 0.5
    t0 = time.monotonic()
    with pytest.raises(BackendError, match="process model raised: TypeError"):
        bl.run(program_of(net), STEPS, _test_raw_params=True, timeout_s=60)
    assert time.monotonic() - t0 < 30


def test_timeout_kills_the_run():
    t0 = time.monotonic()
    with pytest.raises(BackendError, match=r"timeout after 0\.0 s"):
        bl.run(program_of(two_layer()), STEPS, timeout_s=0.01)
    assert time.monotonic() - t0 < 15


# ---- property test: random small networks, both granularities, bit-exact with the cpu ----

@st.composite
def random_networks(draw):
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    n_lif = draw(st.integers(1, 2))
    pops = {"s": source_pop("s", draw(st.integers(1, 10)), draw(st.floats(0.1, 0.6)))}
    for i in range(n_lif):
        pops[f"l{i}"] = lif_pop(
            f"l{i}", draw(st.integers(2, 20)), du=draw(st.integers(0, 4095)),
            dv=draw(st.integers(0, 4095)), vth=draw(st.integers(1, 60)),
            bias_mant=draw(st.integers(-20, 40)), bias_exp=draw(st.integers(0, 3)))
        if draw(st.booleans()):
            pops[f"l{i}"].lif.adapt = Adapt(increment=draw(st.integers(0, 300)),
                                            tau=draw(st.integers(0, 40)))
    projs = {}
    pairs = [("s", "l0")] + [(f"l{i}", f"l{j}") for i in range(n_lif) for j in range(n_lif)]
    if n_lif == 2:
        pairs.append(("s", "l1"))
    for pre, post in pairs:
        if pre != "s" and not draw(st.booleans()):
            continue
        n_pre, n_post = pops[pre].size, pops[post].size
        p = draw(st.sampled_from([0.1, 0.4, 1.0]))
        pi, qi = np.nonzero(rng.random((n_pre, n_post)) < p)
        wexp = draw(st.sampled_from([-2, -1, 1, 2, 3]))  # < 0 too: exact at 'core' as well
        name = f"{pre}_{post}"
        projs[name] = projection(
            name, pre, post, pi, qi, rng.integers(-300, 300, pi.size),
            delay=rng.integers(0, 11, pi.size) if draw(st.booleans()) else None,
            weight_exp=wexp, num_weight_bits=draw(st.integers(1, 7)))
    probes = [Probe(p, "v") for p in pops if p != "s"]
    net = NetworkIR("rand", seed=seed, populations=pops, projections=projs, probes=probes)
    cores = {p: draw(st.integers(1, 3)) for p in pops if p != "s"}
    return net, cores, draw(st.integers(5, 30))


@pytest.mark.slow
@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(random_networks())
def test_random_networks_bit_exact_with_cpu(case):
    net, cores, steps = case
    program = program_of(net, cores, interleave=True)
    expect = cpu.run(program, steps)
    for granularity in ("grouped", "core"):
        res = bl.run(program, steps, granularity=granularity)
        assert_same(res, expect, net)


def test_unconnected_parts_all_run():
    """Lava only runs what is connected to the process `run()` is called on; a population with
    no synapses at all must still be simulated (the plan joins parts with zero-weight links)."""
    pops = {"s": source_pop("s", 3, 0.5), "a": lif_pop("a", 3, du=0, dv=0, vth=5),
            "b": lif_pop("b", 2, du=0, dv=0, vth=10, bias_mant=50, bias_exp=2)}
    net = NetworkIR("parts", populations=pops, probes=[Probe("b", "v")], projections={
        "sa": projection("sa", "s", "a", [0, 1, 2], [0, 1, 2], [100, 100, 100])})
    for granularity in ("grouped", "core"):
        res = bl.run(program_of(net), 12, granularity=granularity)
        # b: v grows by 50 << 2 = 200 per step and fires once v > 10 << 6 = 640, i.e. every 4th step
        expect = np.zeros((12, 2), bool)
        expect[3::4] = True
        np.testing.assert_array_equal(res.spikes["b"], expect)
        np.testing.assert_array_equal(res.values["b.v"][:4, 0], [200, 400, 600, 0])
        assert_same(res, cpu.run(program_of(net), 12), net)


def _float_models(precision):
    """A proc_model_map: force Lava's floating-point LIF recording model."""
    from backends.lava.procs.recording_lif import PyRecordingLifModelFloat, RecordingLIF

    assert precision == "float"
    return {RecordingLIF: PyRecordingLifModelFloat}


def test_proc_model_map_option_reaches_the_run_config():
    net = two_layer("float")
    res = bl.run(program_of(net), 10, proc_model_map=_float_models)
    np.testing.assert_array_equal(res.spikes["hid"], reference_run(net, 10)["hid.spikes"])
    with pytest.raises(BackendError, match="AssertionError"):  # the callable ran in the worker
        bl.run(program_of(two_layer("fixed")), 10, proc_model_map=_float_models, timeout_s=60)
