"""Rule lowering and the locality check: a table of accepted and rejected rules."""

import numpy as np
import pytest

from compiler.errors import FitError, InputError, Location
from compiler.ir import Adapt, LIFParams, NetworkIR, Plasticity, Population, Projection
from compiler.plasticity import check_network, lower_projection, lower_rule, native_notes, parse

LINE = 12


def make_net(plasticity: dict | None, precision="fixed", mod_size=1, adapt=None) -> NetworkIR:
    """inp(3) -> hid(2) plastic, plus other(2) -> hid static, and a modulator population."""
    pops = {n: Population(n, s, "lif", LIFParams(adapt=adapt if n == "hid" else None))
            for n, s in (("inp", 3), ("hid", 2), ("other", 2), ("reward", mod_size))}
    pre, post = np.meshgrid(np.arange(3), np.arange(2))
    w = np.full(6, 10, np.int32 if precision == "fixed" else float)
    pl = None
    if plasticity is not None:
        params = {k: v for k, v in plasticity.items() if k != "rule"}
        pl = Plasticity(plasticity["rule"], params, params.get("modulator"))
    projs = {"inp_hid": Projection("inp_hid", "inp", "hid", pre.ravel().astype(np.int32),
                                   post.ravel().astype(np.int32), w, np.zeros(6, np.int16), plasticity=pl),
             "other_hid": Projection("other_hid", "other", "hid", np.arange(2, dtype=np.int32),
                                     np.arange(2, dtype=np.int32), w[:2], np.zeros(2, np.int16))}
    net = NetworkIR("t", precision=precision, seed=5, populations=pops, projections=projs,
                    source_file="net.yaml")
    net.locations["projections.inp_hid.plasticity"] = Location("net.yaml", LINE, "")
    for i, k in enumerate(plasticity or {}):
        net.locations[f"projections.inp_hid.plasticity.{k}"] = Location("net.yaml", LINE + 1 + i, "")
    return net


STDP = dict(rule="stdp", a_plus=4, a_minus=4, tau_plus=10, tau_minus=10, learning_rate=1,
            w_min=0, w_max=255, t_epoch=1)

ACCEPTED = [
    STDP,
    dict(STDP, mode="multiplicative"),
    dict(rule="hebbian", learning_rate=2**-6),
    dict(rule="oja", learning_rate=2**-6),
    dict(rule="reward_stdp", a_plus=2, a_minus=1, tau_e=8, modulator="reward", learning_rate=0.25),
    dict(rule="loihi", dw="2*y0*x1 - 2*x0*y1", x1_tau=5, y1_tau=5, x1_impulse=10, y1_impulse=10),
    dict(rule="loihi", dw="u0*sgn(w-100)*x2", x2_tau=3, x2_impulse=2.5, t_epoch=4),
    dict(rule="loihi", dw="u0*t*reward", dt="y0*x1 - u0*t*2^-3", x1_tau=4, modulator="reward"),
]

# (rule, field, text that must appear in the message)
REJECTED = [
    (dict(rule="loihi", dw="x0*w_other", x1_tau=4), "dw", "'w_other' is not something a synapse can see"),
    (dict(rule="loihi", dw="err*y0*x1", x1_tau=4), "dw", "'err'"),
    (dict(rule="loihi", dw="u0*grad*x1", x1_tau=4), "dw", "'grad'"),
    (dict(rule="loihi", dw="x0*other_hid", x1_tau=4), "dw", "'other_hid' is a projection"),
    (dict(rule="loihi", dw="y0*post_v", x1_tau=4), "dw", "neuron state (voltage/current) is not visible"),
    (dict(rule="loihi", dw="x0*other*y1", y1_tau=4), "dw", "declare `modulator: other`"),
    (dict(rule="loihi", dw="9*y0*x1", x1_tau=4), "dw", "mantissa 9 is not in [-8, 7]"),
    (dict(rule="loihi", dw="x1*y1", x1_tau=4, y1_tau=4), "dw", "has no dependency"),
    (dict(rule="loihi", dw="u0*x1*x2*y1*y2*w", x1_tau=1, x2_tau=1, y1_tau=1, y2_tau=1), "dw",
     "needing 41 bits"),
    (dict(rule="loihi", dw="u0*x1", dt="u2*x1", x1_tau=3), "dw", "different k"),
    (dict(rule="loihi", dw="y0*x1"), "x1_tau", "no decay time constant"),
    (dict(rule="loihi", dw="u0*t*y2", modulator="reward"), "dw", "write 'reward' instead"),
    (dict(STDP, a_minus=-4), "a_minus", "-4 is out of range"),
    (dict(STDP, a_plus=0.3), "a_plus", "nearest: 5*2^-4 = 0.3125"),
    (dict(STDP, t_epoch=64), "t_epoch", "64 is out of range"),
    (dict(STDP, x1_impulse=200), "x1_impulse", "200 is out of range"),
    (dict(STDP, w_max=100.5), "w_max", "not an integer"),
    (dict(STDP, tau_plu=3), "tau_plu", "did you mean 'tau_plus'"),
    (dict(STDP, mode="mult"), "mode", "'mult' is not a valid choice"),
    (dict(STDP, modulator="reward"), "modulator", "takes no modulator"),
    (dict(rule="reward_stdp", a_plus=1, a_minus=1), "modulator", "is required"),
    (dict(rule="reward_stdp", a_plus=1, a_minus=1, modulator="nope"), "modulator",
     "'nope' is not a population"),
    (dict(rule="reward_stdp", a_plus=1, a_minus=1, modulator="other_hid"), "modulator",
     "is a projection, not a population"),
    (dict(rule="reward_stdp", a_plus=1, a_minus=1, tau_e=10, modulator="reward"), "tau_e",
     "1 / tau_e = 0.1 is not representable"),
    (dict(rule="hebbian"), "learning_rate", "is required"),
    (dict(rule="bcm"), "rule", "unknown rule 'bcm'"),
]


@pytest.mark.parametrize("rule", ACCEPTED, ids=lambda r: r["rule"] + ":" + str(r.get("dw", r.get("mode", ""))))
@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_accepted(rule, precision):
    net = make_net(rule, precision)
    check_network(net)
    spec = lower_projection(net, "inp_hid")
    assert spec.products["dw"]


@pytest.mark.parametrize("rule, field, text", REJECTED, ids=lambda x: str(x)[:40])
def test_rejected(rule, field, text):
    with pytest.raises(InputError) as e:
        check_network(make_net(rule))
    d = [d for d in e.value.diagnostics if d.field == f"projections.inp_hid.plasticity.{field}"]
    assert d, e.value
    assert text in d[0].message + (d[0].allowed or ""), d[0].format()
    assert d[0].file == "net.yaml"
    keys = list(rule)
    want_line = LINE + 1 + keys.index(field) if field in keys else LINE
    assert d[0].line == want_line


def test_modulator_size_must_be_one_or_post_size():
    rule = dict(rule="reward_stdp", a_plus=1, a_minus=1, modulator="reward")
    check_network(make_net(rule, mod_size=2))  # == post size: element-wise
    with pytest.raises(InputError, match="has 3 neurons: it must have 1"):
        check_network(make_net(rule, mod_size=3))


def test_every_bad_field_listed_at_once():
    with pytest.raises(InputError) as e:
        check_network(make_net(dict(STDP, a_minus=-1, a_plus="x", t_epoch=0)))
    fields = {d.field.rsplit(".", 1)[1] for d in e.value.diagnostics}
    assert fields == {"a_minus", "a_plus", "t_epoch"}


def test_engine_limit_only_is_fit_error():
    with pytest.raises(FitError):
        check_network(make_net(dict(rule="loihi", dw="9*y0*x1", x1_tau=2)))


def test_stdp_sign_convention_in_lowered_form():
    """a_minus is a magnitude: the x0 (post-before-pre) term is negative (lava issue #484)."""
    spec = lower_rule(Plasticity("stdp", dict(a_plus=3, a_minus=2, learning_rate=0.5)), "float")
    plus, minus = spec.products["dw"]
    assert (plus.dependency, plus.scale, plus.variables) == ("y0", 1.5, ("x1",))
    assert (minus.dependency, minus.scale, minus.variables) == ("x0", -1.0, ("y1",))
    assert parse(spec.strings()["dw"]) == spec.products["dw"]


def test_fixed_precision_compensates_engine_shift():
    """Multiplicative: x1 (7) + w (9) + mantissa (4) = 20 bits -> Lava shifts by 5; exponent +5."""
    fl = lower_rule(Plasticity("stdp", dict(a_plus=1, a_minus=1, mode="multiplicative", w_max=200)), "float")
    fx = lower_rule(Plasticity("stdp", dict(a_plus=1, a_minus=1, mode="multiplicative", w_max=200)), "fixed")
    assert [p.scale for p in fx.products["dw"]] == [32 * p.scale for p in fl.products["dw"]]
    with pytest.raises(FitError, match="scales this product by 2\\^-5"):
        lower_rule(Plasticity("stdp", dict(a_plus=2**7, a_minus=1, mode="multiplicative", w_max=9)), "fixed")


def test_rng_seed_derived_from_network_seed_and_stable():
    a = lower_projection(make_net(STDP), "inp_hid").rng_seed
    assert a == lower_projection(make_net(STDP), "inp_hid").rng_seed
    assert lower_projection(make_net(dict(STDP, rng_seed=77)), "inp_hid").rng_seed == 77


def test_adaptive_threshold_checked_and_flagged():
    check_network(make_net(STDP, adapt=Adapt(2, 1000)))
    notes = native_notes(make_net(STDP, adapt=Adapt(2, 1000)))
    assert any("adaptive threshold" in n and "hid" in n for n in notes)
    with pytest.raises(InputError, match="not a positive time constant"):
        check_network(make_net(None, adapt=Adapt(2, 0)))
