"""The learning examples that decide on the network: digits_onchip (the output population
answers) and the hidden-pattern task. Reduced runs: cpu against lava (equal results), and
a short pattern run on the cpu that must detect the pattern above chance."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from compiler.frontend import network_from_dict
from compiler.patterns import chosen_detector, pattern_onsets, pattern_scores
from compiler.pipeline import compile_network
from compiler.yamlio import load_yaml
from runtime.phases import run_phases

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _spec(name: str) -> dict:
    data, _ = load_yaml(EXAMPLES / name)
    return data


def _onchip_small() -> dict:
    """digits_onchip with 20 feature neurons and 6 / 6 / 5 samples of 30 + 10 steps."""
    spec = _spec("digits_onchip.yaml")
    spec["populations"]["exc"]["size"] = spec["populations"]["hom"]["size"] = 20
    for ph, n in zip(spec["phases"], (6, 6, 5), strict=True):
        ph["samples"].update(count=n, epochs=1, present=30, rest=10)
    return spec


def test_digits_onchip_is_native_but_for_host_phase_switches():
    program = compile_network(network_from_dict(_spec("digits_onchip.yaml"), base_dir=EXAMPLES))
    net = program.network
    assert not any(p.lif.adapt for p in net.neuron_populations)
    assert not any(net.uses_wta(p.name) for p in net.neuron_populations)
    assert all("w_min" not in p.plasticity.params and "w_max" not in p.plasticity.params
               for p in net.projections.values() if p.plasticity is not None)
    notes = program.report.not_native
    assert any(n.startswith("phases ") for n in notes)
    # the label's third factor is native on Loihi 2 (the post neuron's y2 trace)
    others = [n for n in notes if not n.startswith("phases ")]
    assert others == []
    assert net.readout.kind == "output_population" and net.readout.population == "out"
    assert net.populations["out"].size % 10 == 0


@pytest.mark.lava
def test_digits_onchip_reduced_is_equal_on_cpu_and_lava():
    program = compile_network(network_from_dict(_onchip_small(), base_dir=EXAMPLES))
    cpu = run_phases(program, backend="cpu")
    lava = run_phases(program, backend="lava", timeout_s=600)
    assert sorted(cpu.keys()) == sorted(lava.keys())
    for k in cpu.keys():
        np.testing.assert_array_equal(cpu[k], lava[k], err_msg=k)
    assert cpu["readout.class_counts"].shape == (5, 10)
    assert cpu["train.exc.counts"].sum() > 0  # the features spiked and learned


def _pattern_small(steps_train: int, steps_select: int, steps_test: int, seed: int = 0) -> dict:
    spec = copy.deepcopy(_spec("pattern.yaml"))
    spec["seed"] = seed
    assert [ph["name"] for ph in spec["phases"]] == ["train", "select", "test"]
    spec["populations"]["aff"]["spikes"]["steps"] = steps_train + steps_select + steps_test
    for ph, n in zip(spec["phases"], (steps_train, steps_select, steps_test), strict=True):
        ph["steps"] = n
    return spec


def _scores(spec: dict, res) -> dict:
    """Test scores of the neuron that did best in the frozen `select` phase."""
    from compiler.frontend.checks import Checker
    from compiler.frontend.pattern_source import pattern_spec

    aff = spec["populations"]["aff"]
    ps = pattern_spec(Checker(None, {}, EXAMPLES), aff["spikes"], "aff", aff["size"])
    onsets = pattern_onsets(ps, spec["seed"], "aff")
    start = res["train.det.spikes"].shape[0]
    sel = res["select.det.spikes"]
    j = chosen_detector(sel, onsets, ps.length, window=sel.shape[0], start=start,
                        fa_cost=0.05)
    return pattern_scores(res["test.det.spikes"][:, j], onsets, ps.length,
                          start + sel.shape[0])


@pytest.mark.slow
def test_pattern_short_run_detects_the_pattern_above_chance():
    spec = _pattern_small(12000, 3000, 4000)
    res = run_phases(compile_network(network_from_dict(spec, base_dir=EXAMPLES)))
    sc = _scores(spec, res)
    # chance: a detector firing at its false-alarm rate f (per s) hits a 60-step window
    # with probability about 1 - exp(-0.06 f)
    chance = 1 - np.exp(-0.06 * sc["false_alarms_per_s"])
    assert sc["copies"] >= 10
    assert sc["hit_rate"] > max(0.5, 2 * chance), sc


@pytest.mark.lava
def test_pattern_reduced_is_equal_on_cpu_and_lava():
    spec = _pattern_small(1500, 300, 500)
    program = compile_network(network_from_dict(spec, base_dir=EXAMPLES))
    cpu = run_phases(program, backend="cpu")
    lava = run_phases(program, backend="lava", timeout_s=600)
    for k in cpu.keys():
        np.testing.assert_array_equal(cpu[k], lava[k], err_msg=k)
    assert cpu["train.det.spikes"].any()


def test_chosen_detector_scores_a_later_phase_and_weighs_false_alarms():
    # copies at 100 and 400 (length 30); the phase starts at global step 90 and lasts 400
    onsets = np.array([100, 400], dtype=np.int64)
    spikes = np.zeros((400, 3), dtype=bool)
    spikes[[15, 315], 0] = True             # both copies (steps 105 and 405), no false alarm
    spikes[[15, 315, 200, 250], 1] = True   # both copies and 2 false alarms
    spikes[15, 2] = True                    # only the first copy
    # in the phase's own step count (start 0) neuron 0 would hit nothing: start matters
    assert pattern_scores(spikes[:, 0], onsets, 30, 0)["hit_rate"] == 0.0
    assert pattern_scores(spikes[:, 0], onsets, 30, 90)["hit_rate"] == 1.0
    assert chosen_detector(spikes, onsets, 30, window=400, start=90) == 0
    # a neuron with one copy more but many false alarms loses only when they cost enough
    spikes[:, 0] = False
    spikes[15, 0] = True
    assert chosen_detector(spikes, onsets, 30, window=400, start=90, fa_cost=0.01) == 1
    assert chosen_detector(spikes, onsets, 30, window=400, start=90, fa_cost=0.5) in (0, 2)
