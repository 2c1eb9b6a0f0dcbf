"""CPU backend: whole networks (several projections, recurrence, repeated runs, learners)
against hand-computed values and against a brute-force dense reference written here."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from netfactory import dense_proj, lif, network, program, proj, source

import backends.cpu as cpu
import backends.cpu.simulator as simulator
import backends.cpu.synapses as synapses
from compiler.errors import BackendError, InputError
from compiler.ir import Plasticity

M = 2**23


# ---------------------------------------------------------------- dense reference (Lava's code, literally)

def ref_weights(w: np.ndarray, bits: int) -> np.ndarray:
    """Lava clip_weights + truncate_weights on a dense int matrix, entry by entry."""
    w = w.astype(np.int64)
    mixed = w.min() < 0 < w.max()
    inh = not mixed and w.min() < 0
    out = np.zeros_like(w)
    k = 8 - bits + int(mixed)
    for i, x in np.ndenumerate(w):
        x = -x if inh else x
        x = min(max(x, -256 if mixed else 0), 255)
        x = (x // 2**k) * 2**k  # floor division == arithmetic shift pair
        out[i] = -x if inh else x
    return out


def reference(net, steps: int) -> tuple[dict, dict, dict]:
    """Step the network the way Lava's Dense/DelayDense + LIF process models do (dense, no events)."""
    fixed = net.precision == "fixed"
    pops = net.populations
    itype = np.int32 if fixed else np.float64
    W, D, buf = {}, {}, {}
    for p in net.projections.values():
        n_post, n_pre = pops[p.post].size, pops[p.pre].size
        dense = np.zeros((n_post, n_pre), dtype=np.int64 if fixed else np.float64)
        dense[p.post_idx, p.pre_idx] = p.weight
        W[p.name] = ref_weights(dense, p.num_weight_bits) if fixed else dense
        D[p.name] = np.zeros((n_post, n_pre), dtype=np.int64)
        D[p.name][p.post_idx, p.pre_idx] = p.delay
        buf[p.name] = np.zeros((n_post, int(p.delay.max(initial=0)) + 1), dtype=itype)
    state = {n: [np.zeros(p.size, itype), np.zeros(p.size, itype)]
             for n, p in pops.items() if not p.is_source}
    spikes = {n: np.zeros((steps, p.size), bool) for n, p in pops.items()}
    vs = {n: np.zeros((steps, pops[n].size)) for n in state}
    us = {n: np.zeros((steps, pops[n].size)) for n in state}
    for p in net.source_populations:
        from compiler.sources import source_spikes
        spikes[p.name][:] = source_spikes(p, steps, net.seed)
    for t in range(steps):
        a_out = {name: b[:, 0].copy() for name, b in buf.items()}
        for name, (u, v) in state.items():
            prm = pops[name].lif
            a_in = np.zeros(pops[name].size, np.int16 if fixed else np.float64)
            for p in net.projections.values():
                if p.post == name:
                    a_in = a_in + a_out[p.name]
            if fixed:
                dec = np.int64(u) * (4096 - (int(prm.du) + 1))
                dec = np.int32(np.sign(dec) * np.right_shift(np.abs(dec), 12))
                dec += np.left_shift(a_in.astype(np.int32), 6)
                wr = np.where(dec > M, dec - 2 * M, dec)
                wr = np.where(wr <= -M, dec + 2 * M, wr)
                u[:] = wr
                bias = np.int32(prm.bias_mant) << prm.bias_exp if prm.bias_exp >= 0 \
                    else np.int32(prm.bias_mant) >> -prm.bias_exp
                dv = np.int64(v) * (4096 - int(prm.dv))
                dv = np.int32(np.sign(dv) * np.right_shift(np.abs(dv), 12))
                v[:] = np.clip(dv + u + np.int32(bias), -M + 1, M - 1)
                s = v > (int(prm.vth) << 6)
            else:
                u[:] = u * (1 - prm.du) + a_in
                v[:] = v * (1 - prm.dv) + u + prm.bias_mant
                s = v > prm.vth
            v[s] = 0
            spikes[name][t] = s
            vs[name][t], us[name][t] = v, u
        for p in net.projections.values():
            s_in = spikes[p.pre][t]
            nd = buf[p.name].shape[1]
            acc = np.stack([np.where(D[p.name] == k, W[p.name], 0) @ s_in for k in range(nd)], 1)
            if fixed:
                e = p.weight_exp
                acc = np.left_shift(acc, e) if e > 0 else np.right_shift(acc, -e)
            b = buf[p.name]
            b[:, 0] = 0
            b = np.roll(b, -1)
            buf[p.name] = (b + acc).astype(itype)
    return spikes, vs, us


def random_net(seed: int, precision: str = "fixed", n_max: int = 10, delays: int = 5):
    """A random small network: a source, two LIF populations, feed-forward and recurrent links."""
    rng = np.random.default_rng(seed)
    fixed = precision == "fixed"
    ns, na, nb = (int(x) for x in rng.integers(1, n_max + 1, 3))
    steps = 25
    data = rng.random((steps, ns)) < rng.uniform(0.05, 0.6)

    def params():
        if fixed:
            return dict(du=int(rng.choice([0, 1, 2047, 4095, rng.integers(0, 4096)])),
                        dv=int(rng.choice([0, 4095, rng.integers(0, 4096)])),
                        vth=int(rng.integers(1, 30)), bias_mant=int(rng.integers(-50, 300)),
                        bias_exp=int(rng.integers(-2, 4)))
        return dict(du=float(rng.choice([0, 0.25, 0.5, 1.0])), dv=float(rng.choice([0, 0.125, 0.5])),
                    vth=float(rng.integers(1, 10)), bias_mant=float(rng.integers(-2, 6)) / 4)

    pops = [source("s", ns, data=data), lif("a", na, **params()), lif("b", nb, **params())]
    projs = []
    for name, pre, post, npre, npost in (("sa", "s", "a", ns, na), ("aa", "a", "a", na, na),
                                         ("ab", "a", "b", na, nb), ("sb", "s", "b", ns, nb),
                                         ("ba", "b", "a", nb, na)):
        if rng.random() < 0.25:
            continue
        mask = rng.random((npost, npre)) < rng.uniform(0.3, 1.0)
        sign = rng.choice([-1, 1, 0])  # inhibitory, excitatory or mixed projection
        if fixed:
            w = rng.integers(1, 300, (npost, npre)) * (sign if sign else rng.choice([-1, 1], (npost, npre)))
        else:
            w = rng.integers(-16, 17, (npost, npre)) / 8.0
        w = np.where(mask, w, 0)
        d = rng.integers(0, delays + 1, (npost, npre)) if rng.random() < 0.6 else int(rng.integers(0, 3))
        projs.append(dense_proj(name, pre, post, w, d, weight_exp=int(rng.integers(-3, 4)),
                                num_weight_bits=int(rng.integers(1, 9)), fixed=fixed))
    return network(pops, projs, precision, ["a.v", "a.u", "b.v", "b.u"]), steps


def assert_matches_reference(net, steps, **run_kw):
    r = cpu.run(program(net), steps, **run_kw)
    spikes, vs, us = reference(net, steps)
    for name in ("s", "a", "b"):
        if name in net.populations:
            assert np.array_equal(r.spikes[name], spikes[name]), name
    for name in vs:
        assert np.array_equal(r.values[f"{name}.v"], vs[name]), name
        assert np.array_equal(r.values[f"{name}.u"], us[name]), name
    return r


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31))
def test_event_driven_equals_dense_reference_fixed(seed):
    net, steps = random_net(seed)
    assert_matches_reference(net, steps)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31))
def test_event_driven_equals_dense_reference_float(seed):
    # dyadic weights and decays keep every float sum exact, so the orders of summation agree.
    net, steps = random_net(seed, "float")
    assert_matches_reference(net, steps)


@pytest.mark.parametrize("disabled", [("_csc_matvec",), ("_csc_matvec", "_csr_row_index")])
def test_fallback_kernels_equal_reference(monkeypatch, disabled):
    # without scipy's fused scatter (gather + bincount), and without any scipy kernel (numpy)
    for name in disabled:
        monkeypatch.setattr(synapses, name, None)
    for seed in range(5):
        net, steps = random_net(seed)
        assert_matches_reference(net, steps)


def test_sparse_multi_delay_path_equals_reference():
    # 300 post neurons, delays 0..5 and few spikes: the unique-based scatter path is taken.
    rng = np.random.default_rng(3)
    data = rng.random((20, 4)) < 0.2
    w = np.where(rng.random((300, 4)) < 0.5, rng.integers(-200, 200, (300, 4)), 0)
    net = network([source("s", 4, data=data), lif("a", 300, du=100, dv=10, vth=5, bias_mant=3)],
                  [dense_proj("p", "s", "a", w, rng.integers(0, 6, (300, 4)), weight_exp=-2,
                              num_weight_bits=6)], probes=["a.v", "a.u"])
    assert_matches_reference(net, 20)


# ---------------------------------------------------------------- hand-computed networks

def test_two_projections_into_one_population():
    # s0 (step 0) -> a0 with w 20, delay 0; s1 (step 0) -> a0 with w -8, delay 2, second
    # projection with weight_exp 1 -> u(a0): step 1: 20 * 64; step 3: -16 * 64.
    d = np.zeros((5, 2), bool)
    d[0] = True
    net = network([source("s", 2, data=d), lif("a", 1, du=4095, dv=4095, vth=100)],
                  [proj("p", "s", "a", [0], [0], 20),
                   proj("q", "s", "a", [1], [0], -8, delay=2, weight_exp=1)],
                  probes=["a.u"])
    r = cpu.run(program(net), 5)
    assert r.values["a.u"][:, 0].tolist() == [0, 1280, 0, -1024, 0]
    assert r.meta["synops"] == {"p": 1, "q": 1}


def test_recurrent_chain():
    # a0 is driven by bias 100 (vth 10): spikes at 6, 13. a0 -> a1 (w 20): a1 gets u = 1280
    # at step 7, v = 1280 > 640, spikes at 7 and 14. a1 -> a0 (w -50): a0 gets u = -3200 at
    # step 8 so v(a0) = 100 - 3200 + ... : v(a0) at step 8 = 0 + 100 + (-3200) = -3100.
    net = network([lif("a", 2, du=4095, dv=0, vth=10, bias_mant=np.array([100, 0]))],
                  [proj("r", "a", "a", [0, 1], [1, 0], [20, -50])], probes=["a.v"])
    r = cpu.run(program(net), 10)
    assert np.flatnonzero(r.spikes["a"][:, 1]).tolist() == [7]
    assert np.flatnonzero(r.spikes["a"][:, 0]).tolist() == [6]
    assert r.values["a.v"][:, 0].tolist() == [100, 200, 300, 400, 500, 600, 0, 100, -3000, -2900]


def test_repeated_runs_continue_state():
    for seed in (1, 2):
        net, _ = random_net(seed, delays=4)
        net.populations["s"].source.kind = "poisson"
        net.populations["s"].source.rate = 0.3
        whole = cpu.run(program(net), 30)
        sim = cpu.Simulator(program(net))
        parts = [sim.run(n) for n in (7, 0, 13, 10)]
        assert sim.t == 30
        for name in net.populations:
            assert np.array_equal(np.concatenate([p.spikes[name] for p in parts]), whole.spikes[name])
        for key in ("a.v", "b.u"):
            assert np.array_equal(np.concatenate([p.values[key] for p in parts]), whole.values[key])
        assert parts[2].meta["t_start"] == 7


# ---------------------------------------------------------------- probes, weights, learners

def test_weights_probe_sums_duplicates_then_quantizes():
    # two entries (0 -> 0) of 100 and 50 are one Lava matrix entry 150 (mixed: -> 150 with
    # k = 1); 7 -> 6; -9 -> -10.
    p = proj("p", "s", "a", [0, 0, 1, 1], [0, 0, 0, 1], [100, 50, 7, -9])
    net = network([source("s", 2, kind="periodic", period=1), lif("a", 2)], [p],
                  probes=["p.weights", "a.u"])
    r = cpu.run(program(net), 3)
    assert r.values["p.weights"].tolist() == [[150, 6], [0, -10]]
    assert r.values["a.u"][1].tolist() == [156 * 64, -10 * 64]


def test_probe_errors_name_what_is_allowed():
    net = network([lif("hid", 2)], [])
    with pytest.raises(InputError, match="did you mean 'hid'"):
        cpu.run(program(net), 2, ["hdi.v"])
    with pytest.raises(InputError, match="allowed: spikes, v, u"):
        cpu.run(program(net), 2, ["hid.w"])


class Doubler:
    """A test learner: sets all weights to 20 at step 3 and records what it was given."""

    def __init__(self, projection, syn, network):
        self.syn, self.calls = syn, []

    def step(self, t, pre, post):
        self.calls.append((t, pre.copy(), post.copy()))
        if t == 3:
            self.syn.weight[:] = 20


def test_learner_hook_changes_weights_from_next_step():
    p = proj("p", "s", "a", [0], [0], 10)
    p.plasticity = Plasticity("stdp")
    net = network([source("s", 1, kind="periodic", period=1), lif("a", 1, du=4095, dv=4095,
                                                                  vth=100)],
                  [p], probes=["a.u", "p.weights"])
    made = []
    sim = cpu.Simulator(program(net), learner_factory=lambda *a: made.append(Doubler(*a)) or made[-1])
    r = sim.run(7)
    # the spike of step 3 is delivered before the learner runs: new weight from step 5 on
    assert r.values["a.u"][:, 0].tolist() == [0, 640, 640, 640, 640, 1280, 1280]
    assert r.values["p.weights"].tolist() == [[20]]
    calls = made[0].calls
    assert [c[0] for c in calls] == list(range(7))
    assert all(c[1].tolist() == [True] for c in calls)
    assert calls[0][2].shape == (1,)


def test_plasticity_without_engine_is_an_error(monkeypatch):
    monkeypatch.setattr(simulator, "default_learner_factory", lambda: None)
    p = proj("p", "s", "a", [0], [0], 10)
    p.plasticity = Plasticity("stdp")
    net = network([source("s", 1, kind="periodic", period=1), lif("a", 1)], [p])
    with pytest.raises(BackendError, match="plasticity rule 'stdp'"):
        cpu.run(program(net), 2)


def test_bad_fixed_parameters_are_backend_errors():
    net = network([lif("a", 1, vth=2.5)], [])
    with pytest.raises(BackendError, match="integer vth"):
        cpu.run(program(net), 2)
    net = network([source("s", 1, kind="periodic"), lif("a", 1)],
                  [proj("p", "s", "a", [0], [0], 3, num_weight_bits=9)])
    with pytest.raises(BackendError, match="num_weight_bits"):
        cpu.run(program(net), 2)


def test_synops_count_spikes_times_fanout():
    # 3 sources firing every step, fan-out 1, 2 and 3 -> 6 synaptic events per step.
    p = proj("p", "s", "a", [0, 1, 1, 2, 2, 2], [0, 0, 1, 0, 1, 2], 1)
    net = network([source("s", 3, kind="periodic", period=1), lif("a", 3, vth=1000)], [p])
    r = cpu.run(program(net), 4)
    assert r.meta["synops"]["p"] == 24
    assert r.meta["synops_per_step"]["p"].tolist() == [6, 6, 6, 6]


def test_weight_scale_rechecks_overflow_bounds():
    # 600 sources x 1 << 7 << 6 = 4915200 < 2**23: u can never wrap, checks are skipped.
    # Scaled by 255 the same spike gives 600 x 32640 x 64 = 1253376000 > 2**23 -> - 2**24.
    d = np.zeros((4, 600), bool)
    d[0] = d[2] = True
    net = network([source("s", 600, data=d), lif("a", 1, du=4095, dv=0, vth=131072)],
                  [proj("p", "s", "a", range(600), [0] * 600, 1, weight_exp=7)], probes=["a.u"])
    sim = cpu.Simulator(program(net))
    assert sim.run(2).values["a.u"][1, 0] == 600 * 128 * 64
    sim.set_weight_scale("p", 255)
    assert sim.run(2).values["a.u"][1, 0] == 1253376000 - 2**24


def test_progress_and_ignored_options():
    net = network([lif("a", 2, bias_mant=100)], [])
    seen = []
    r = cpu.run(program(net), 250, progress=lambda d, n: seen.append((d, n)), timeout_s=5)
    assert seen[-1] == (250, 250) and seen[0] == (2, 250) and len(seen) == 125
    assert r.meta["ignored_options"] == ["timeout_s"]
    assert r.steps == 250 and r.spikes["a"].shape == (250, 2)
