"""Phases (train / label / test), `set:` overrides, plasticity switches and the readout."""

from __future__ import annotations

import numpy as np
import pytest
from phase_nets import RELAY, _load, _program

import runtime.phases as rp
from compiler import schedule
from compiler.datasets import encode, epoch_order, epoch_rng
from compiler.errors import InputError
from runtime import readout as ro

PHASES = """\
phases:
  - name: a
    samples: {split: train, epochs: 2, shuffle: true}
  - name: b
    samples: {split: train}
    set: {projections.relay.weight_scale: 0.4}
  - name: c
    steps: 5
    set: {projections.relay.weight_scale: 1.0}
  - name: d
    samples: {split: test}
  - name: e
    samples: {split: train, count: 2}
    set: {populations.out.params.vth: 25}
readout: {population: out, assign: a, evaluate: d}
"""


def _expected_counts(net, phase: str, split: str, epochs: int, shuffle: bool, count=None):
    ds = net.populations["inp"].source.dataset
    out = []
    for e, order in enumerate(epoch_order(ds, split, count, epochs, shuffle, net.seed, phase)):
        spikes = encode(ds, order, epoch_rng(net.seed, "inp", phase, e))
        out.append(spikes.reshape(len(order), ds.period, -1).sum(axis=1))
    return np.concatenate(out), np.concatenate(epoch_order(ds, split, count, epochs, shuffle,
                                                           net.seed, phase))


def test_phases_count_spikes_per_sample_and_apply_overrides(monkeypatch):
    monkeypatch.setattr(schedule, "CHUNK_STEPS", 17)  # 2 samples per simulator call: chunking is exercised
    program = _program(RELAY + PHASES)
    net = program.network
    res = rp.run_phases(program)
    counts_a, order_a = _expected_counts(net, "a", "train", 2, True)
    assert res["a.out.counts"].dtype == np.int32 and res["a.out.counts"].shape == (6, 3)
    assert counts_a.sum() > 10  # the check below is not vacuous
    assert np.array_equal(res["a.out.counts"], counts_a)
    assert np.array_equal(res["a.samples"], order_a)
    assert np.array_equal(res["a.labels"], net.populations["inp"].source.dataset.y[order_a])
    assert sorted(order_a[:3].tolist()) == [0, 1, 2]  # an epoch shows each train sample once
    # b: weight 20 * 0.4 = 8 <= vth 10 -> silent; the inputs still spike
    assert res["b.out.counts"].shape == (3, 3) and res["b.out.counts"].sum() == 0
    # c: a steps phase records spikes; the dataset source is silent
    assert res["c.inp.spikes"].shape == (5, 3) and not res["c.inp.spikes"].any()
    assert res["c.out.spikes"].shape == (5, 3) and not res["c.out.spikes"].any()
    # d: scale 1.0 restores the compiled weights exactly
    counts_d, _ = _expected_counts(net, "d", "test", 1, False)
    assert counts_d.sum() > 0 and np.array_equal(res["d.out.counts"], counts_d)
    assert res["d.labels"].tolist() == [0]
    # e: vth 25 -> 20 * 64 <= 25 * 64, silent
    assert res["e.out.counts"].shape == (2, 3) and res["e.out.counts"].sum() == 0
    assert res.steps == 6 * 8 + 3 * 8 + 5 + 1 * 8 + 2 * 8
    # readout: labels from a, vote on d
    assign = ro.assign_labels(res["a.out.counts"], res["a.labels"], 2)
    assert np.array_equal(res["readout.assignment"], assign)
    pred = ro.predict(res["d.out.counts"], assign, 2)
    assert float(res["readout.accuracy"]) == float(pred[0] == 0)


def test_phases_are_deterministic_and_backend_independent_of_chunking(monkeypatch):
    program = _program(RELAY + PHASES)
    one = rp.run_phases(program)
    monkeypatch.setattr(schedule, "CHUNK_STEPS", 8)
    two = rp.run_phases(program)
    assert one.keys() == two.keys()
    assert all(np.array_equal(one[k], two[k]) for k in one.keys())


STDP = RELAY.replace(
    "relay: {pre: inp, post: out, connectivity: one_to_one, weight: 20}",
    "relay: {pre: inp, post: out, connectivity: one_to_one, weight: 20,\n"
    "          plasticity: {rule: stdp, a_plus: 1, a_minus: 1, learning_rate: 0.125, tau_plus: 4, tau_minus: 4}}")


def _weights(phases: str) -> np.ndarray:
    return rp.run_phases(_program(STDP + phases))["relay.weights"]


def test_plastic_switch_freezes_weights_and_state_carries_over():
    train = "phases:\n  - name: t\n    samples: {split: train, epochs: 3}\n"
    w_train = _weights(train)
    w0 = np.diag([20, 20, 20])
    assert np.all(w_train >= w0) and np.any(w_train > w0)  # pre-before-post potentiates
    frozen = _weights(train + "  - name: f\n    samples: {split: train, epochs: 3}\n    plastic: false\n")
    assert np.array_equal(frozen, w_train)
    via_set = _weights(train + "  - name: f\n    samples: {split: train}\n"
                       "    set: {projections.relay.plastic: false}\n")
    assert np.array_equal(via_set, w_train)
    more = _weights(train + "  - name: f\n    samples: {split: train, epochs: 3}\n")
    assert np.all(more >= w_train) and np.any(more > w_train)  # learning went on from w_train


def test_weight_scale_requantizes_like_the_compiler():
    from backends.cpu import Simulator

    text = RELAY.replace("weight: 20}", "weight: 101, num_weight_bits: 6}")
    sim = Simulator(_program(text), [])
    assert np.diag(sim.synapses["relay"].dense()).tolist() == [100] * 3  # (101 >> 2) << 2
    sim.set_weight_scale("relay", 0.3)  # rint(30) = 30 -> (30 >> 2) << 2 = 28
    assert np.diag(sim.synapses["relay"].dense()).tolist() == [28] * 3
    sim.set_weight_scale("relay", 0.0)
    assert not sim.synapses["relay"].dense().any()
    sim.set_weight_scale("relay", 1.0)
    assert np.diag(sim.synapses["relay"].dense()).tolist() == [100] * 3


def test_unknown_backend_for_phases_is_bad_input():
    program = _program(RELAY + PHASES)
    with pytest.raises(InputError, match="unknown backend"):
        rp.run_phases(program, backend="gpu")


def test_api_and_cli_run_phases(tmp_path):
    from runtime.api import run
    from runtime.cli import main

    path = tmp_path / "net.yaml"
    path.write_text(RELAY + PHASES)
    res = run(path)
    assert "d.out.counts" in res.keys() and "readout.accuracy" in res.keys()
    with pytest.raises(InputError, match="phases"):
        run(path, steps=10)
    out = tmp_path / "r.npz"
    assert main(["run", str(path), "-o", str(out)]) == 0
    with np.load(out) as z:
        assert np.array_equal(z["a.out.counts"], res["a.out.counts"])
        assert z["readout.accuracy"].shape == ()


BAD = RELAY.replace("weight: 20}", "weight: 20}\n  rec: {pre: out, post: out, weight: -1,\n"
                    "        plasticity: {rule: stdp, a_plus: 1, a_minus: 1}}") + """\
phases:
  - name: a
    samples: {split: train, count: 9}
    set: {projections.relay.weight: 2, projections.rec.weight_scale: 0.5}
  - name: a
    steps: 3
  - name: b
    samples: {split: validation}
    steps: 4
  - name: c
    samples: {split: tst}
    plastic: {relay: false}
    set: {populations.out.params.adapt.tau: 5, populations.out.params.vth: -1, populations.inp.params.vth: 3}
readout: {population: inp, assign: zz, evaluate: c}
"""


def test_bad_phases_report_every_problem_with_its_line():
    with pytest.raises(InputError) as e:
        _load(BAD)
    msg = str(e.value)
    expected = [
        "net.yaml:22: phases[0].samples.count: found 9, out of range (allowed: integer in [1, 3])",
        "net.yaml:23: phases[0].set.projections.relay.weight: 'weight' cannot be set in a phase",
        "net.yaml:23: phases[0].set.projections.rec.weight_scale: 'rec' is plastic",
        "net.yaml:24: phases[1].name: duplicate phase name 'a'",
        "net.yaml:26: phases[2]: give exactly one of 'samples'",
        "net.yaml:30: phases[3].samples.split: unknown split 'tst' (did you mean 'test'?)",
        "net.yaml:31: phases[3].plastic.relay: 'relay' has no plasticity",
        "net.yaml:32: phases[3].set.populations.out.params.adapt.tau: population 'out' has no adapt block",
        "net.yaml:32: phases[3].set.populations.out.params.vth: found -1, out of range",
        "net.yaml:32: phases[3].set.populations.inp.params.vth: 'inp' is a spike source",
        "net.yaml:33: readout.population: 'inp' is not a lif population",
        "net.yaml:33: readout.assign: 'zz' is not a phase with samples",
    ]
    for line in expected:
        assert line in msg, line
    assert "readout.evaluate" not in msg  # phase c exists (its errors are reported there)


def test_samples_need_one_dataset_source():
    text = ("snnc: 1\nname: x\npopulations:\n  inp: {size: 2, model: spike_source, spikes: "
            "{kind: poisson, rate: 0.1}}\n  out: {size: 2}\nphases:\n  - name: a\n"
            "    samples: {split: train}\n")
    with pytest.raises(InputError, match=r"net.yaml:8: phases\[0\].samples: a phase with samples "
                       r"needs exactly one spike source of kind 'dataset' \(found none\)"):
        _load(text)


def test_readout_assigns_by_mean_response_and_votes():
    counts = np.array([[3, 0, 0], [0, 2, 0], [1, 0, 0], [0, 0, 0]])
    labels = np.array([0, 1, 0, 1])
    assert ro.class_means(counts, labels, 2).tolist() == [[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assign = ro.assign_labels(counts, labels, 2)
    assert assign.tolist() == [0, 1, -1]  # neuron 2 never fired
    test = np.array([[0, 5, 9], [2, 1, 0], [0, 0, 7], [4, 4, 0]])
    pred = ro.predict(test, assign, 2)
    assert pred.tolist() == [1, 0, -1, 0]  # no assigned neuron fired -> -1; tie -> first class
    assert ro.accuracy(pred, np.array([1, 0, 0, 1])) == 0.5
    # class scores are means over the class's neurons, not sums
    two = ro.predict(np.array([[3, 3, 4]]), np.array([0, 0, 1]), 2)
    assert two.tolist() == [1]


def test_phases_and_dataset_survive_the_compiled_artifact(tmp_path):
    from compiler.artifact import load_program, save_program

    program = _program(RELAY + PHASES)
    loaded = load_program(save_program(program, tmp_path / "relay.snnc"))
    assert [p.name for p in loaded.network.phases] == ["a", "b", "c", "d", "e"]
    assert loaded.network.readout == program.network.readout
    one, two = rp.run_phases(program), rp.run_phases(loaded)
    assert one.keys() == two.keys()
    assert all(np.array_equal(one[k], two[k]) for k in one.keys())


def test_soft_vote_uses_each_neurons_class_profile():
    # label phase: neuron 0 fires for class 0 only; neuron 1 mostly for class 1; neuron 2
    # for class 2 (mean 3) and class 1 (mean 2)
    counts = np.array([[4, 0, 0], [0, 3, 2], [0, 1, 3], [0, 0, 3]])
    labels = np.array([0, 1, 2, 2])
    means = ro.class_means(counts, labels, 3)
    assert means.tolist() == [[4, 0, 0], [0, 3, 2], [0, 0.5, 3]]
    # profiles P(c | j): neuron 0 (1, 0, 0), neuron 1 (0, 6/7, 1/7), neuron 2 (0, 0.4, 0.6)
    test = np.array([[0, 2, 3], [1, 0, 0], [0, 0, 0], [0, 3, 1]])
    # sample 0: c1 = 2 * 6/7 + 3 * 0.4 = 2.914 > c2 = 2/7 + 3 * 0.6 = 2.086 -> 1, whereas
    # the max vote (neuron 1 -> class 1, neuron 2 -> class 2) scores c2 = 3 > c1 = 2 -> 2
    assert ro.predict_soft(test, means).tolist() == [1, 0, -1, 1]
    assert ro.predict(test, ro.assign_labels(counts, labels, 3), 3).tolist() == [2, 0, -1, 1]


def test_readout_vote_in_yaml():
    text = RELAY + PHASES
    assert _load(text).readout.vote == "max"
    soft = text.replace("readout: {population: out, assign: a, evaluate: d}",
                        "readout: {population: out, assign: a, evaluate: d, vote: soft}")
    program = _program(soft)
    assert program.network.readout.vote == "soft"
    res = rp.run_phases(program)
    means = ro.class_means(res["a.out.counts"], res["a.labels"], 2)
    pred = ro.predict_soft(res["d.out.counts"], means)
    assert res["readout.predictions"].tolist() == pred.tolist()
    bad = text.replace("evaluate: d}", "evaluate: d, vote: sotf}")
    with pytest.raises(InputError) as e:
        _load(bad)
    assert "readout.vote: unknown vote 'sotf' (did you mean 'soft'?)" in str(e.value)
    assert "max | soft" in str(e.value)
