"""The two learning examples: unsupervised digits (STDP-style instar rule) and reward-modulated
learning with a reversal. Short versions of the shipped YAML files, run on the CPU backend."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from compiler.frontend import network_from_dict
from compiler.frontend.yaml_loader import load_yaml
from compiler.pipeline import compile_network
from runtime.phases import run_phases

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _spec(name: str) -> dict:
    data, _ = load_yaml(EXAMPLES / name)
    return data


@pytest.mark.slow
def test_digits_stdp_short_learns_well_above_chance():
    spec = _spec("digits_stdp.yaml")
    spec["populations"]["exc"]["size"] = 100
    train, label, test = spec["phases"]
    train["samples"]["count"] = 400
    label["samples"]["count"] = 400
    test["samples"]["count"] = 200
    t0 = time.perf_counter()
    res = run_phases(compile_network(network_from_dict(spec, base_dir=EXAMPLES)))
    wall = time.perf_counter() - t0
    acc = float(res["readout.accuracy"])
    assert res["test.exc.counts"].shape == (200, 100)
    assert res["readout.assignment"].shape == (100,)
    assert len(set(res["readout.assignment"].tolist()) - {-1}) >= 8  # neurons cover the classes
    assert acc > 0.5, acc  # chance is 0.1
    # learned weights differ from their random start and stay in the 8-bit range
    w = res["inp_exc.weights"]
    assert w.min() >= 0 and w.max() <= 255
    assert wall < 120, wall


def correct_per_trial(counts: np.ndarray, labels: np.ndarray, rewarded: int) -> np.ndarray:
    """A trial is correct when `out` fires on the rewarded cue and stays silent on the other."""
    fired = counts[:, 0] > 0
    return np.where(labels == rewarded, fired, ~fired)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:projection cue_out")  # float net: the quantized copy's note
def test_reward_task_learns_before_and_after_the_flip():
    spec = _spec("reward_task.yaml")
    res = run_phases(compile_network(network_from_dict(spec, base_dir=EXAMPLES)))
    curves = {}
    for phase, rewarded in (("before", 0), ("after", 1)):
        ok = correct_per_trial(res[f"{phase}.out.counts"], res[f"{phase}.labels"], rewarded)
        assert ok.shape == (200,)
        curves[phase] = ok.reshape(-1, 20).mean(axis=1)  # fraction correct per block of 20
    assert curves["before"][-1] > 0.8 and curves["after"][-1] > 0.8, curves
    # right after the flip the old habit is wrong: the first block is worse than the last
    assert curves["after"][0] < curves["after"][-1], curves
    # the weights swapped: cue B now drives `out`, cue A no longer does
    w = res["cue_out.weights"][0]
    assert w[1] > 4 * w[0]
