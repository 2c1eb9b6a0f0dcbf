"""Reward-modulated rules (a modulator population drives the y2 trace) on Lava equal the cpu.

The Lava backend lowers a plastic projection with a modulator to ModulatedLearningDense /
ModulatedLearningSparse (backends/lava/procs/modulated.py): the modulator's spikes reach
the synapses on their own port. Cases: fixed and float, modulator of size 1 (broadcast)
and of the post population's size (one per post neuron), learning epochs of 1..4 steps,
dense and sparse connectivity, a modulator driven by the network (examples/reward_task.yaml,
reduced) and phases that switch learning off.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from repo import ROOT

import runtime
from compiler.frontend import Network, network_from_dict
from compiler.pipeline import compile_network
from compiler.yamlio import load_yaml
from runtime.phases import run_phases

pytestmark = [pytest.mark.lava, pytest.mark.slow]

EXAMPLES = ROOT / "examples"
N_PRE, N_POST, STEPS = 8, 3, 80


def _net(precision: str, mod: dict, *, t_epoch: int = 1, sparse: bool = False) -> Network:
    """inp (poisson) -> out (LIF), reward_stdp modulated by the spike source `rew`."""
    fixed = precision == "fixed"
    lif = {"du": 2048, "dv": 1024, "vth": 300} if fixed else {"du": 0.5, "dv": 0.25, "vth": 300.0}
    rule = {"rule": "reward_stdp", "a_plus": 4, "a_minus": 2, "tau_plus": 6, "tau_minus": 6,
            "tau_e": 8, "modulator": "rew", "modulator_tau": 6, "modulator_impulse": 20,
            "t_epoch": t_epoch, "w_min": 0, "w_max": 255, "x1_impulse": 16, "y1_impulse": 16,
            "learning_rate": 1 if fixed else 0.0625}
    if sparse:
        mask = np.random.default_rng(1).random((N_POST, N_PRE)) < 0.6
        weight = {"data": (mask * 90).tolist()}
    else:
        weight = {"dist": "uniform", "low": 40, "high": 120}
    return (
        Network(f"reward_{precision}", seed=5, steps=STEPS, precision=precision)
        .population("inp", N_PRE, spikes={"kind": "poisson", "rate": 0.2})
        .population("rew", mod.pop("size"), spikes=mod)
        .population("out", N_POST, params=lif)
        .projection("inp_out", "inp", "out", weight=weight, plasticity=rule)
        .probe("inp_out.weights")
    )


def _array_source(tmp_path: Path, spikes: np.ndarray) -> dict:
    path = tmp_path / "rew.npy"
    np.save(path, spikes.astype(bool))
    return {"size": spikes.shape[1], "kind": "array", "file": str(path)}


def _initial(net: Network) -> np.ndarray:
    return net.build().projections["inp_out"].dense_weights(N_POST, N_PRE)


CASES = [  # (precision, modulator size, t_epoch, sparse)
    ("fixed", 1, 1, False),
    ("fixed", N_POST, 4, False),
    ("fixed", N_POST, 2, True),
    ("float", 1, 2, False),
    ("float", N_POST, 1, True),
]


@pytest.mark.parametrize(("precision", "size", "t_epoch", "sparse"), CASES,
                         ids=[f"{p}-mod{s}-epoch{e}{'-sparse' if sp else ''}" for p, s, e, sp in CASES])
def test_reward_stdp_cpu_equals_lava(precision, size, t_epoch, sparse):
    pytest.importorskip("lava")
    net = _net(precision, {"size": size, "kind": "poisson", "rate": 0.15}, t_epoch=t_epoch,
               sparse=sparse)
    cpu = runtime.run(net, backend="cpu")
    lava = runtime.run(net, backend="lava", timeout_s=240)
    w0 = _initial(net)
    assert (cpu["inp_out.weights"] != w0).sum() >= 6, "the case must actually learn"
    assert 0 < cpu["out.spikes"].sum() < cpu["out.spikes"].size
    np.testing.assert_array_equal(cpu["out.spikes"], lava["out.spikes"])
    np.testing.assert_array_equal(cpu["inp_out.weights"], lava["inp_out.weights"])


def test_silent_modulator_freezes_weights_on_lava(tmp_path):
    """dw = lr * u0 * t * m: with m = 0 (no modulator spike) no weight may change."""
    pytest.importorskip("lava")
    net = _net("fixed", _array_source(tmp_path, np.zeros((STEPS, 1))))
    lava = runtime.run(net, backend="lava", timeout_s=240)
    assert lava["out.spikes"].sum() > 0  # tags build up, but nothing multiplies them
    np.testing.assert_array_equal(lava["inp_out.weights"], _initial(net))


def test_per_post_modulator_reaches_only_its_post_neuron(tmp_path):
    """Modulator neuron i modulates the synapses onto post neuron i only: when only
    neuron 1 fires, rows 0 and 2 of the weight matrix keep their values."""
    pytest.importorskip("lava")
    spikes = np.zeros((STEPS, N_POST), dtype=bool)
    spikes[::3, 1] = True
    net = _net("fixed", _array_source(tmp_path, spikes))
    cpu = runtime.run(net, backend="cpu")
    lava = runtime.run(net, backend="lava", timeout_s=240)
    w0 = _initial(net)
    changed = lava["inp_out.weights"] != w0
    assert changed[1].any() and not changed[[0, 2]].any()
    assert lava["out.spikes"][:, [0, 2]].any()  # rows 0 and 2 had post spikes (eligibility)
    np.testing.assert_array_equal(cpu["inp_out.weights"], lava["inp_out.weights"])


def _reward_task(epochs: int, pause: bool = False, plastic: bool = True):
    spec, _ = load_yaml(EXAMPLES / "reward_task.yaml")
    for ph in spec["phases"]:
        ph["samples"]["epochs"] = epochs
        if not plastic:
            ph["plastic"] = False
    if pause:  # learning off for a few trials between the two halves
        spec["phases"].insert(1, {"name": "pause", "plastic": False,
                                  "samples": {"split": "train", "epochs": 2}})
    spec["probes"] = ["cue_out.weights"]
    return compile_network(network_from_dict(spec, base_dir=EXAMPLES))


def test_reward_task_reduced_equal_on_both_backends():
    """examples/reward_task.yaml (float, `loihi` strings, LIF modulator driven by the
    network, sparse plastic projection, phases) with 16 trials per phase instead of 200."""
    pytest.importorskip("lava")
    program = _reward_task(8, pause=True)
    cpu = run_phases(program)
    lava = run_phases(program, backend="lava", timeout_s=300)
    assert sorted(cpu.keys()) == sorted(lava.keys())
    for key in cpu.keys():
        np.testing.assert_array_equal(cpu[key], lava[key], err_msg=key)
    assert lava["before.reward.counts"].sum() > 0  # the modulator fired
    w = lava["cue_out.weights"]
    assert w[0, 0] != 0.5 or w[0, 1] != 0.5  # and the weights learned (initially 0.5, 0.5)
    assert w[0, 2] == 0 and w[0, 3] == 0  # absent synapses stay absent


def test_reward_task_without_plasticity_keeps_weights_on_lava():
    pytest.importorskip("lava")
    lava = run_phases(_reward_task(2, plastic=False), backend="lava", timeout_s=300)
    assert lava["before.reward.counts"].sum() > 0
    np.testing.assert_array_equal(lava["cue_out.weights"], [[0.5, 0.5, 0.0, 0.0]])


def test_core_granularity_per_post_modulator_equal_cpu():
    """`out` cut over 2 cores (interleaved): each block's post neurons read their own
    modulator neurons."""
    pytest.importorskip("lava")
    from lava_nets import program_of

    import backends.cpu as cpu
    import backends.lava as bl
    from compiler.ir import Probe

    built = _net("fixed", {"size": N_POST, "kind": "poisson", "rate": 0.15}, t_epoch=2)
    program = program_of(built.build(), {"out": 2}, interleave=True)
    probes = [Probe("inp_out", "weights")]
    lava = bl.run(program, STEPS, probes, granularity="core", timeout_s=240)
    ref = cpu.run(program, STEPS, probes)
    assert lava.meta["processes"] > 4  # the split really happened
    assert (ref.values["inp_out.weights"] != _initial(built)).sum() >= 6
    np.testing.assert_array_equal(lava.spikes["out"], ref.spikes["out"])
    np.testing.assert_array_equal(lava.values["inp_out.weights"], ref.values["inp_out.weights"])


def test_modulator_split_over_cores_is_refused():
    """A modulator LIF cut over 2 cores cannot feed one port: refused, naming it."""
    import dataclasses

    pytest.importorskip("lava")
    from lava_nets import program_of

    import backends.lava as bl
    from compiler.errors import BackendError

    fixed_lif = {"du": 4095, "dv": 4095, "vth": 1}
    net = (_net("fixed", {"size": 1, "kind": "periodic", "period": 3})
           .population("gate", N_POST, params=fixed_lif)
           .projection("inp_gate", "inp", "gate", weight=100))
    ir = net.build()
    plast = ir.projections["inp_out"].plasticity
    ir.projections["inp_out"] = dataclasses.replace(
        ir.projections["inp_out"], plasticity=dataclasses.replace(plast, modulator="gate"))
    program = program_of(ir, {"gate": 2})
    with pytest.raises(BackendError, match="modulator 'gate' is split over 2 Lava processes"):
        bl.run(program, 10, [], granularity="core", timeout_s=120)
