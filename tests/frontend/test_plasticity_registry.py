"""The rule registry: every rule the YAML accepts has an entry, and `lower` dispatches through it."""

import dataclasses

import pytest

from compiler.errors import InputError
from compiler.frontend.projections import PLASTICITY_RULES
from compiler.ir import Plasticity
from compiler.plasticity import lower_rule
from compiler.plasticity import registry as reg
from compiler.plasticity.grammar import Product
from compiler.plasticity.rules import COMMON_KEYS, RuleError, lower


def test_registry_covers_every_rule_the_yaml_accepts():
    assert set(reg.RULES) == set(PLASTICITY_RULES)
    assert tuple(reg.RULES) == ("stdp", "hebbian", "oja", "reward_stdp", "loihi")
    for name, spec in reg.RULES.items():
        assert spec.name == name
        assert callable(spec.lower)
        assert spec.modulator in ("none", "optional", "required")
        assert not set(spec.keys) & set(COMMON_KEYS), name
        assert len(set(spec.keys)) == len(spec.keys), name


@pytest.mark.parametrize("name", PLASTICITY_RULES)
def test_every_yaml_rule_lowers(name):
    pair = {"a_plus": 1, "a_minus": 1}
    params = {"stdp": pair, "hebbian": {"learning_rate": 0.25}, "oja": {"learning_rate": 0.25},
              "reward_stdp": dict(pair, modulator="m"),
              "loihi": {"dw": "u0*x1*y1", "x1_tau": 4, "y1_tau": 4}}[name]
    spec = lower_rule(Plasticity(name, params, params.get("modulator")), "fixed")
    assert spec.rule == name
    assert spec.products["dw"]


def test_unknown_rule_lists_the_registry():
    with pytest.raises(RuleError) as e:
        lower(Plasticity("stpd", {}), "fixed")
    (issue,) = e.value.issues
    assert (issue.field, issue.message) == ("rule", "unknown rule 'stpd'")
    assert issue.allowed == ", ".join(reg.RULES) == "stdp, hebbian, oja, reward_stdp, loihi"
    with pytest.raises(InputError) as e:
        lower_rule(Plasticity("stpd", {}), "fixed")
    assert e.value.diagnostics[0].field == "plasticity.rule"
    assert e.value.diagnostics[0].allowed == ", ".join(reg.RULES)


def test_modulator_message_names_the_rules_that_take_one():
    with pytest.raises(RuleError) as e:
        lower(Plasticity("hebbian", {"learning_rate": 1}, "m"), "fixed")
    (issue,) = e.value.issues
    assert issue.allowed == "modulator only with rule reward_stdp or loihi"


def test_a_new_rule_is_one_function_and_one_entry(monkeypatch):
    def constant(ctx):
        ctx.trace("x1", "tau", "x1_impulse", "pre")
        ctx.products["dw"] = (ctx.product("gain", "y0", ctx.num("gain", 1.0), ("x1",), "gain"),)

    rules = dict(reg.RULES, const=reg.RuleSpec("const", ("gain", "tau", "x1_impulse"), constant))
    monkeypatch.setattr("compiler.plasticity.rules.RULES", rules)
    spec = lower(Plasticity("const", {"gain": 0.5, "tau": 4, "t_epoch": 2}), "float")
    (p,) = spec.products["dw"]
    assert isinstance(p, Product) and (p.mantissa, p.exponent) == (4, -3)
    assert spec.traces["x1"].tau == 4.0 and spec.t_epoch == 2
    with pytest.raises(RuleError) as e:
        lower(Plasticity("const", {"gian": 1}), "float")
    assert e.value.issues[0].message.startswith("unknown parameter for rule 'const'")
    assert "gain" in e.value.issues[0].allowed
    assert dataclasses.is_dataclass(rules["const"])
