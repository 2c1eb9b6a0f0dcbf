"""Phases (train / label / test) on the Lava backend equal the cpu backend exactly.

Small phased networks with every kind of phase change (plasticity off and on again,
mid-epoch; weight_scale of a delayed inhibitory projection; vth, bias_mant, du, dv and
the adaptive threshold's increment and tau) run on both backends; counts, labels, v/u
of a steps phase, final weights and the readout must agree exactly (fixed precision).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import runtime.phases as rp
from compiler.errors import BackendError
from compiler.frontend import network_from_dict
from compiler.pipeline import compile_network
from compiler.yamlio import parse_yaml

pytestmark = [pytest.mark.lava, pytest.mark.slow]

# 6 samples of 12 inputs, 3 classes (2 test); 12 + 3 steps per sample. Learning stops
# and resumes in the middle of a learning epoch (train: 6 x 15 = 90 steps, t_epoch 4);
# `more` shows its samples for 7 + 1 steps (a phase's own present / rest).
NET = """\
snnc: 1
name: lava_phases
precision: {precision}
seed: 3
populations:
  inp:
    size: 12
    model: spike_source
    spikes:
      kind: dataset
      dataset:
        data:
          x: [[1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0.5, 0], [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0.5],
              [0, 0.5, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1], [1, 1, 0.5, 1, 0, 0, 0, 0, 0, 0, 0, 0],
              [0, 0, 0, 0, 1, 0.5, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0.5, 1, 1, 1, 1]]
          y: [0, 1, 2, 0, 1, 2]
      split: {{test: 2, shuffle_seed: 1}}
      max_rate: 0.5
      present: 12
      rest: 3
  noise: {{size: 4, model: spike_source, spikes: {{kind: poisson, rate: 0.1}}}}
  exc:
    size: 6
    params: {{du: {du}, dv: {dv}, vth: {vth}, bias_mant: 0, adapt: {{increment: 3, tau: 40}}}}
projections:
  inp_exc:
    pre: inp
    post: exc
    weight: {{dist: uniform, low: 10, high: 90}}
    plasticity: {{rule: stdp, a_plus: 8, a_minus: 6, tau_plus: 6, tau_minus: 6, t_epoch: 4,
                  w_max: 200}}
  noise_exc: {{pre: noise, post: exc, weight: 30, delay: 2}}
  exc_exc: {{pre: exc, post: exc, weight: -40, delay: 1}}
phases:
  - name: train
    samples: {{split: train, count: 3, epochs: 2, shuffle: true}}
  - name: pause
    steps: 7
    plastic: false
    set: {{populations.exc.params.bias_mant: {bias}, populations.exc.params.du: {du_pause}}}
  - name: label
    samples: {{split: train}}
    plastic: false
    set:
      projections.exc_exc.weight_scale: 0.3
      populations.exc.params.vth: {vth_label}
      populations.exc.params.adapt.increment: 0
      populations.exc.params.bias_mant: 0
      populations.exc.params.dv: {dv_label}
  - name: more
    samples: {{split: train, count: 2, present: 7, rest: 1}}
    set: {{projections.exc_exc.weight_scale: 1.5}}
  - name: test
    samples: {{split: test}}
    plastic: false
    set: {{populations.exc.params.adapt.tau: 10}}
readout: {{population: exc, assign: label, evaluate: test}}
probes: [exc.v, exc.u]
"""
FIXED = dict(precision="fixed", du=2000, dv=300, vth=40, bias=1200, du_pause=4095, vth_label=30,
             dv_label=100)
# float LIF has no << 6 scaling of vth and a_in: the same network in float units
FLOAT = dict(precision="float", du=0.49, dv=0.073, vth=40, bias=19, du_pause=1.0, vth_label=30,
             dv_label=0.025)


def _program(**kw):
    text = NET.format(**{**FIXED, **kw})
    data, locs = parse_yaml(text, "net.yaml")
    return compile_network(network_from_dict(data, source_file="net.yaml", locations=locs))


def _both(program, **lava_opts):
    cpu = rp.run_phases(program)
    t0 = time.perf_counter()
    lava = rp.run_phases(program, backend="lava", timeout_s=120, **lava_opts)
    assert time.perf_counter() - t0 < 30
    return cpu, lava


def test_fixed_phases_equal_cpu_exactly():
    pytest.importorskip("lava")
    program = _program()
    cpu, lava = _both(program)
    assert sorted(cpu.keys()) == sorted(lava.keys())
    for key in cpu.keys():
        assert cpu[key].dtype == lava[key].dtype, key
        np.testing.assert_array_equal(cpu[key], lava[key], err_msg=key)
    # the comparison is not vacuous: every sample phase spikes, learning moved the weights
    for phase in ("train", "label", "more", "test"):
        assert lava[f"{phase}.exc.counts"].sum() > 0, phase
    assert lava["pause.exc.v"].shape == (7, 6) and np.abs(lava["pause.exc.v"]).sum() > 0
    assert not lava["pause.inp.spikes"].any()  # the dataset source is silent in a steps phase
    w0 = program.network.projections["inp_exc"].dense_weights(6, 12)
    assert not np.array_equal(lava["inp_exc.weights"], w0)
    assert lava["train.exc.counts"].shape == (6, 6) and lava["test.labels"].shape == (2,)
    assert lava.meta["phases"]["train"]["steps"] % 4 != 0  # paused mid-epoch
    assert lava.meta["phases"]["label"]["steps"] == 4 * 15
    assert lava.meta["phases"]["more"]["steps"] == 2 * (7 + 1)  # the phase's own present / rest
    assert float(lava["readout.accuracy"]) == float(cpu["readout.accuracy"])


def test_plasticity_off_freezes_lava_weights():
    """On Lava alone: phases without learning leave the weights exactly as after training."""
    pytest.importorskip("lava")
    program = _program()
    net = program.network
    net.phases = net.phases[:3]  # train, pause, label: the last two do not learn
    net.readout = None
    frozen = rp.run_phases(program, backend="lava", timeout_s=120)
    net.phases = net.phases[:1]
    trained = rp.run_phases(program, backend="lava", timeout_s=120)
    np.testing.assert_array_equal(frozen["inp_exc.weights"], trained["inp_exc.weights"])
    np.testing.assert_array_equal(frozen["train.exc.counts"], trained["train.exc.counts"])


def test_float_phases_equal_cpu():
    pytest.importorskip("lava")
    program = _program(**FLOAT)
    cpu, lava = _both(program)
    assert sorted(cpu.keys()) == sorted(lava.keys())
    for key in cpu.keys():
        if key.endswith((".v", ".u", ".weights")):
            np.testing.assert_allclose(cpu[key], lava[key], rtol=1e-9, atol=1e-6, err_msg=key)
        else:
            np.testing.assert_array_equal(cpu[key], lava[key], err_msg=key)
    assert lava["label.exc.counts"].sum() > 0 and lava["test.exc.counts"].sum() > 0


def test_lava_phase_failure_is_reported_not_hung():
    pytest.importorskip("lava")
    program = _program()
    t0 = time.perf_counter()
    with pytest.raises(BackendError, match="deliberate failure at step 130"):
        rp.run_phases(program, backend="lava", timeout_s=120, _test_fail_step=130)
    assert time.perf_counter() - t0 < 60


def test_snnc_run_phases_on_lava_writes_the_cpu_results(tmp_path):
    """`snnc run NET.yaml --backend lava` with phases: the same .npz arrays as --backend cpu."""
    pytest.importorskip("lava")
    from runtime.cli import main

    (tmp_path / "tiny.yaml").write_text(
        "base: loihi1\nname: tiny\nchips: 1\ncores_per_chip: 8\nmesh: [4, 2]\n"
        "core: {neurons: 4, in_axons: 256, out_axons: 256, synapse_bits: 65536}\n")
    path = tmp_path / "net.yaml"  # 4 neurons per core: exc spans two cores
    path.write_text(NET.format(**FIXED).replace("seed: 3\n", "seed: 3\ntarget: tiny.yaml\n"))
    cpu_out, lava_out = tmp_path / "cpu.npz", tmp_path / "lava.npz"
    assert main(["run", str(path), "-o", str(cpu_out)]) == 0
    assert main(["run", str(path), "--backend", "lava", "--granularity", "core",
                 "--timeout", "120", "-o", str(lava_out)]) == 0
    with np.load(cpu_out) as c, np.load(lava_out) as lv:
        assert sorted(c.files) == sorted(lv.files) and "readout.accuracy" in c.files
        for key in c.files:
            np.testing.assert_array_equal(c[key], lv[key], err_msg=key)


def test_reward_stdp_phases_equal_cpu():
    """A third-factor rule (modulator spikes routed to the plastic synapses) in phases,
    learning paused and resumed: Lava equals the cpu backend in every output."""
    pytest.importorskip("lava")
    text = NET.format(**FIXED).replace("rule: stdp,", "rule: reward_stdp, modulator: rew, tau_e: 16,")
    text = text.replace("  exc:\n", "  rew: {size: 1, model: spike_source, spikes: {kind: periodic, period: 7}}\n"
                        "  exc:\n")
    data, locs = parse_yaml(text, "net.yaml")
    program = compile_network(network_from_dict(data, source_file="net.yaml", locations=locs))
    cpu, lava = _both(program)
    assert sorted(cpu.keys()) == sorted(lava.keys())
    for key in cpu.keys():
        np.testing.assert_array_equal(cpu[key], lava[key], err_msg=key)
    w0 = program.network.projections["inp_exc"].dense_weights(6, 12)
    assert not np.array_equal(lava["inp_exc.weights"], w0)  # the modulated rule learned


def test_sparse_plastic_projection_phases_equal_cpu():
    """Random connectivity: LearningSparse (gated the same way) and its csr weights read back."""
    pytest.importorskip("lava")
    text = NET.format(**FIXED).replace("    post: exc\n    weight: {dist",
                                       "    post: exc\n    connectivity: {kind: random, p: 0.4}\n"
                                       "    weight: {dist")
    data, locs = parse_yaml(text, "net.yaml")
    program = compile_network(network_from_dict(data, source_file="net.yaml", locations=locs))
    proj = program.network.projections["inp_exc"]
    assert 0 < proj.n_synapses < 0.6 * 72  # sparse: lowered to LearningSparse
    cpu, lava = _both(program)
    for key in cpu.keys():
        np.testing.assert_array_equal(cpu[key], lava[key], err_msg=key)
    w0 = proj.dense_weights(6, 12)
    assert not np.any((lava["inp_exc.weights"] != 0) & (w0 == 0))  # absent synapses stay absent
    assert not np.array_equal(lava["inp_exc.weights"], w0)
