"""reward_stdp's `baseline` equals the hand-written three-factor `loihi` rule it stands for."""

from __future__ import annotations

import numpy as np
import yaml
from repo import ROOT

import runtime
from compiler.frontend import network_from_dict
from compiler.plasticity import lower_rule

EXAMPLE = ROOT / "examples" / "reward_task.yaml"

NAMED = {"rule": "reward_stdp", "modulator": "reward", "a_plus": 0.5, "a_minus": 0.25,
         "tau_plus": 5, "tau_minus": 5, "x1_impulse": 1, "y1_impulse": 1, "tau_e": 8,
         "learning_rate": 0.0625, "baseline": 0.5, "modulator_tau": 10,
         "modulator_impulse": 1, "w_min": 0.2, "w_max": 2}


def _specs() -> tuple[dict, dict]:
    spec = yaml.safe_load(EXAMPLE.read_text())
    named = yaml.safe_load(EXAMPLE.read_text())
    named["projections"]["cue_out"]["plasticity"] = dict(NAMED)
    return spec, named


def test_baseline_term_lowers_to_the_loihi_string():
    spec, named = _specs()
    base = EXAMPLE.parent
    a = network_from_dict(spec, base_dir=base).projections["cue_out"].plasticity
    b = network_from_dict(named, base_dir=base).projections["cue_out"].plasticity
    ra, rb = lower_rule(a, "float"), lower_rule(b, "float")
    def terms(rule, target):  # same value m * 2^e, whatever the (m, e) representation
        return sorted((p.dependency, p.mantissa * 2.0**p.exponent, str(p.factors))
                      for p in rule.products[target])

    for target in ("dw", "dt"):
        assert terms(ra, target) == terms(rb, target)


def test_baseline_rule_runs_identically_and_unlearns():
    spec, named = _specs()
    base = EXAMPLE.parent
    ra = runtime.run(network_from_dict(spec, base_dir=base))
    rb = runtime.run(network_from_dict(named, base_dir=base))
    assert set(ra.keys()) == set(rb.keys())
    for key in ra.keys():
        np.testing.assert_array_equal(ra[key], rb[key])
    w = rb["cue_out.weights"][0]
    assert w[1] > w[0]  # cue B rewarded last: its weight won after the flip


def test_without_baseline_reward_never_depresses():
    _, named = _specs()
    named["projections"]["cue_out"]["plasticity"].pop("baseline")
    rule = lower_rule(network_from_dict(named, base_dir=EXAMPLE.parent)
                      .projections["cue_out"].plasticity, "float")
    assert len(rule.products["dw"]) == 1
