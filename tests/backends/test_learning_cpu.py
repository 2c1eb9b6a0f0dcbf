"""CPU learning engine against hand-computed weight changes (Lava's learning semantics)."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from backends.cpu.learning import make_learner
from compiler.ir import LIFParams, NetworkIR, Plasticity, Population, Projection

E1 = math.exp(-0.1)  # one step of decay with tau = 10


def setup(params, rule="stdp", precision="float", w0=(50,), n_pre=1, n_post=1, mod_size=1):
    """One plastic projection pre -> post (synapse i: pre (i // n_post) % n_pre -> post i % n_post)."""
    w0 = np.asarray(w0, dtype=float if precision == "float" else np.int64)
    n = w0.size
    pre = (np.arange(n) // n_post) % n_pre
    post = np.arange(n) % n_post
    pops = {"a": Population("a", n_pre, "lif", LIFParams()), "b": Population("b", n_post, "lif", LIFParams()),
            "r": Population("r", mod_size, "lif", LIFParams())}
    params = dict(params)
    proj = Projection("ab", "a", "b", pre.astype(np.int32), post.astype(np.int32), w0.copy(),
                      np.zeros(n, np.int16), plasticity=Plasticity(rule, params, params.get("modulator")))
    net = NetworkIR("t", precision=precision, seed=1, populations=pops, projections={"ab": proj})
    syn = SimpleNamespace(pre=pre, post=post, weight=w0.copy())
    return make_learner(proj, syn, net), syn


def run(learner, steps, pre_at=(), post_at=(), mod_at=(), n_pre=1, n_post=1, mod_size=1):
    """Drive `steps` steps (1-based step numbers in *_at spike every neuron of that side)."""
    for t in range(1, steps + 1):
        mods = {"r": np.full(mod_size, t in mod_at)} if learner.modulator else None
        learner.step(t, np.full(n_pre, t in pre_at), np.full(n_post, t in post_at), mods)


STDP = dict(a_plus=2, a_minus=1, tau_plus=10, tau_minus=10)


def test_stdp_pre_then_post_potentiates_by_a_plus_times_pre_trace():
    lr, syn = setup(STDP)
    run(lr, 5, pre_at=[1], post_at=[3])
    # post spike 2 steps after pre: x1 = 16 * e^-0.2; dw = a_plus * x1
    assert syn.weight[0] == pytest.approx(50 + 2 * 16 * E1**2, rel=1e-12)


def test_stdp_post_then_pre_depresses_by_a_minus_magnitude():
    lr, syn = setup(STDP)
    run(lr, 5, pre_at=[3], post_at=[1])
    # a_minus = 1 is a magnitude: dw = -a_minus * y1 = -16 * e^-0.2
    assert syn.weight[0] == pytest.approx(50 - 16 * E1**2, rel=1e-12)


def test_stdp_learning_rate_scales_both_terms():
    lr, syn = setup(dict(STDP, learning_rate=0.5), w0=(50,))
    run(lr, 4, pre_at=[1], post_at=[2])
    assert syn.weight[0] == pytest.approx(50 + 0.5 * 2 * 16 * E1, rel=1e-12)


def test_stdp_epoch_updates_only_at_epoch_end_with_same_total():
    lr, syn = setup(dict(STDP, t_epoch=4))
    run(lr, 3, pre_at=[1], post_at=[3])
    assert syn.weight[0] == 50  # no update inside the epoch
    run(lr, 1)
    assert lr.epochs == 1
    # x1 is read at the post spike's step inside the epoch: same as t_epoch = 1
    assert syn.weight[0] == pytest.approx(50 + 2 * 16 * E1**2, rel=1e-12)


def test_w_min_w_max_clip():
    lr, syn = setup(dict(STDP, w_max=60))
    run(lr, 3, pre_at=[1], post_at=[2])
    assert syn.weight[0] == 60
    lr, syn = setup(dict(STDP, w_min=45))
    run(lr, 3, pre_at=[2], post_at=[1])
    assert syn.weight[0] == 45


def test_excitatory_weights_never_cross_zero():
    lr, syn = setup(STDP, w0=(5,))
    run(lr, 3, pre_at=[2], post_at=[1])  # dw = -16 e^-0.1 < -5
    assert syn.weight[0] == 0


def test_multiplicative_soft_bounds_vs_additive():
    """Potentiation proportional to (w_max - w), depression to (w - w_min)."""
    p = dict(STDP, mode="multiplicative", w_min=0, w_max=100, learning_rate=2**-5)
    lr, syn = setup(p, w0=(20, 80), n_pre=1, n_post=1)
    run(lr, 3, pre_at=[1], post_at=[2])
    x1 = 16 * E1
    expect = [w + 2**-5 * 2 * x1 * (100 - w) for w in (20, 80)]
    assert syn.weight == pytest.approx(expect, rel=1e-12)
    lr, syn = setup(p, w0=(20, 80))
    run(lr, 3, pre_at=[2], post_at=[1])
    assert syn.weight == pytest.approx([w - 2**-5 * 1 * x1 * w for w in (20, 80)], rel=1e-12)
    lr, syn = setup(dict(STDP, learning_rate=2**-5), w0=(20, 80))  # additive: same change for both
    run(lr, 3, pre_at=[1], post_at=[2])
    assert syn.weight[1] - syn.weight[0] == pytest.approx(60, rel=1e-12)


def test_hebbian_accumulates_product_of_traces_every_epoch():
    lr, syn = setup(dict(learning_rate=2**-4), rule="hebbian")
    run(lr, 4, pre_at=[1], post_at=[1])
    # x1 = y1 = 16 e^-(k/10) at epoch k+1: dw = 2^-4 * 256 * e^-(2k/10)
    assert syn.weight[0] == pytest.approx(50 + 16 * sum(E1 ** (2 * k) for k in range(4)), rel=1e-12)
    lr, syn = setup(dict(learning_rate=2**-4), rule="hebbian")
    run(lr, 4, pre_at=[1])  # no post activity: no change
    assert syn.weight[0] == 50


@pytest.mark.parametrize("w0, direction", [(1.0, 0), (0.5, 1), (2.0, -1)])
def test_oja_converges_to_x_over_y(w0, direction):
    """dw = lr (x1 y1 - y1^2 w): with x1 == y1 the fixed point is w = 1."""
    lr, syn = setup(dict(learning_rate=2**-7, x1_impulse=1, y1_impulse=1), rule="oja", w0=(w0,))
    run(lr, 1, pre_at=[1], post_at=[1])
    assert syn.weight[0] == pytest.approx(w0 + 2**-7 * (1 - 1 * w0), rel=1e-12)
    run(lr, 30, pre_at=range(2, 40), post_at=range(2, 40))
    assert np.sign(round(syn.weight[0] - w0, 9)) == direction
    assert abs(syn.weight[0] - 1) <= abs(w0 - 1)


RSTDP = dict(a_plus=2, a_minus=1, tau_plus=10, tau_minus=10, tau_e=16, modulator="r",
             learning_rate=2**-4, modulator_tau=10, modulator_impulse=16)


def test_reward_stdp_without_modulator_spikes_does_not_learn():
    lr, syn = setup(RSTDP, rule="reward_stdp")
    run(lr, 10, pre_at=[1], post_at=[3])
    assert syn.weight[0] == 50
    assert lr.tag[0] > 0  # the eligibility trace did record the pairing


@pytest.mark.parametrize("pre, post, sign", [(1, 3, 1), (3, 1, -1)])
def test_reward_stdp_modulator_moves_weight_along_eligibility(pre, post, sign):
    lr, syn = setup(RSTDP, rule="reward_stdp")
    run(lr, 5, pre_at=[pre], post_at=[post], mod_at=[5])
    tag = (2 if sign > 0 else 1) * 16 * E1**2  # tag after step 3
    tag4 = tag * 15 / 16  # decays by t/tau_e per epoch (step 4)
    # step 5: dw = lr * t * m with the tag before this epoch's update, m = 16
    assert syn.weight[0] == pytest.approx(50 + sign * 2**-4 * tag4 * 16, rel=1e-12)


def test_reward_stdp_without_modulator_input_fails_loudly():
    from compiler.errors import BackendError

    lr, _ = setup(RSTDP, rule="reward_stdp")
    with pytest.raises(BackendError, match="needs the spikes of modulator 'r'"):
        lr.step(0, np.array([True]), np.array([True]))


def test_reward_stdp_modulator_per_post_neuron():
    """A modulator of post's size modulates only the synapses onto its own post neuron."""
    lr, syn = setup(RSTDP, rule="reward_stdp", w0=(50, 50), n_pre=1, n_post=2, mod_size=2)
    for t in range(1, 6):
        lr.step(t, np.array([t == 1]), np.array([t == 3, t == 3]), {"r": np.array([t == 5, False])})
    assert syn.weight[0] > 50 and syn.weight[1] == 50


def test_fixed_simultaneous_pair_is_exact():
    """Fixed point, both spike in step 1: x1 = y1 = 16 exactly; dw = 2*16 - 1*16."""
    lr, syn = setup(STDP, precision="fixed")
    run(lr, 1, pre_at=[1], post_at=[1])
    assert syn.weight[0] == 66


@pytest.mark.parametrize("pre, post", [(1, 3), (3, 1)])
def test_fixed_pairs_within_rounding_of_float(pre, post):
    """Fixed traces are stochastically rounded: 16 e^-0.2 = 13.1 becomes 12, 13 or 14."""
    lr, syn = setup(STDP, precision="fixed")
    run(lr, 5, pre_at=[pre], post_at=[post])
    allowed = {50 + 2 * x for x in (12, 13, 14)} if pre < post else {50 - x for x in (12, 13, 14)}
    assert int(syn.weight[0]) in allowed


def test_fixed_same_seed_same_weights_and_seed_matters():
    rng = np.random.default_rng(3)
    pre, post = rng.random((200, 4)) < 0.2, rng.random((200, 3)) < 0.2

    def final(seed):
        lr, syn = setup(dict(STDP, tau_plus=7, tau_minus=5, rng_seed=seed), precision="fixed",
                        w0=np.full(12, 100), n_pre=4, n_post=3)
        for t in range(200):
            lr.step(t, pre[t], post[t])
        return syn.weight.copy()

    a = final(11)
    assert np.array_equal(a, final(11))
    assert not np.array_equal(a, final(12))
    assert a.min() >= 0 and a.max() <= 255 and a.dtype.kind == "i"


def test_only_synapses_of_spiking_neurons_change():
    lr, syn = setup(STDP, w0=(50, 50, 50, 50), n_pre=2, n_post=2)  # (0,0) (0,1) (1,0) (1,1)
    for t in range(1, 4):
        lr.step(t, np.array([t == 1, False]), np.array([t == 2, False]))
    assert syn.weight[0] > 50 and list(syn.weight[1:]) == [50, 50, 50]


def test_works_with_simulator_synapses():
    """The CPU simulator's Synapses (CSR, sorted by pre) is a valid synapse store."""
    syn_mod = pytest.importorskip("backends.cpu.synapses")
    pops = {"a": Population("a", 2, "lif", LIFParams()), "b": Population("b", 2, "lif", LIFParams())}
    proj = Projection("ab", "a", "b", np.array([1, 0], np.int32), np.array([0, 1], np.int32),
                      np.array([40, 60], np.int32), np.zeros(2, np.int16), plasticity=Plasticity("stdp", STDP))
    net = NetworkIR("t", precision="fixed", seed=1, populations=pops, projections={"ab": proj})
    syn = syn_mod.Synapses(proj, 2, 2, fixed=True, plastic=True)
    lr = make_learner(proj, syn, net)
    lr.step(0, np.array([True, True]), np.array([True, True]))
    # pre 1 -> post 0 had 40, pre 0 -> post 1 had 60: both + 2*16 - 16
    assert sorted(zip(syn.pre.tolist(), syn.post.tolist(), syn.weight.tolist(), strict=True)) == [(0, 1, 76), (1, 0, 56)]
