"""The `output_population` readout and the `labels` teacher source, on nets whose spike
counts are known by construction: with du = dv = 4095, weight 20 > vth 10 and max_rate 1,
a relay neuron fires exactly once per step its input fires (one step later, inside the
sample's rest), so every count equals `present` or 0."""

from __future__ import annotations

import numpy as np
import pytest
from phase_nets import _load, _program

import runtime.phases as rp
from compiler.errors import InputError
from runtime import readout as ro

# class c lights input c; the last sample lights inputs 0 and 1 (a tie between classes 0, 1)
X = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]] * 2
Y = [0, 1, 2, 0] * 2
PRESENT = 4


def _net(out_size: int, weights: list[list[int]], readout: str, extra: str = "") -> str:
    return f"""\
snnc: 1
name: outnet
seed: 1
populations:
  inp:
    size: 3
    model: spike_source
    spikes:
      kind: dataset
      dataset: {{data: {{x: {X}, y: {Y}}}}}
      split: {{test: 4, shuffle_seed: null}}
      max_rate: 1.0
      present: {PRESENT}
      rest: 2
  out: {{size: {out_size}, params: {{du: 4095, dv: 4095, vth: 10}}}}
{extra}projections:
  wire: {{pre: inp, post: out, weight: {{data: {weights}}}}}
phases:
  - {{name: train, samples: {{split: train}}}}
  - {{name: test, samples: {{split: test}}}}
readout: {readout}
"""


# out neuron 1 listens to inputs 1 and 2: class 2 is answered 1 (wrong), the tie sample -1
ONE_PER_CLASS = [[20, 0, 0], [0, 20, 20], [0, 0, 0]]
TWO_PER_CLASS = [[20, 0, 0], [20, 0, 0], [0, 20, 20], [0, 20, 20], [0, 0, 0], [0, 0, 0]]


@pytest.mark.parametrize("size, weights", [(3, ONE_PER_CLASS), (6, TWO_PER_CLASS)])
def test_output_population_answers_the_class_spiking_most(size, weights):
    res = rp.run_phases(_program(_net(size, weights, "{kind: output_population, "
                                      "population: out, evaluate: test}")))
    v = res.values
    k = size // 3
    want = np.array([[PRESENT * k, 0, 0], [0, PRESENT * k, 0], [0, PRESENT * k, 0],
                     [PRESENT * k, PRESENT * k, 0]])
    np.testing.assert_array_equal(v["readout.class_counts"], want)
    np.testing.assert_array_equal(v["readout.predictions"], [0, 1, 1, -1])
    assert float(v["readout.accuracy"]) == 0.5 == res.meta["accuracy"]
    conf = np.zeros((3, 3), int)
    conf[0, 0] = conf[1, 1] = conf[2, 1] = 1
    np.testing.assert_array_equal(v["readout.confusion"], conf)
    assert "readout.assignment" not in v


def test_vote_readout_stays_the_default():
    net = _load(_net(3, ONE_PER_CLASS, "{population: out, assign: train, evaluate: test}"))
    assert net.readout.kind == "vote"
    net = _load(_net(3, ONE_PER_CLASS, "{kind: vote, population: out, assign: train, "
                     "evaluate: test, vote: soft}"))
    assert (net.readout.kind, net.readout.vote) == ("vote", "soft")


@pytest.mark.parametrize("readout, where, what", [
    ("{kind: output_population, population: out, evaluate: tset}", "readout.evaluate",
     "not a phase with samples"),
    ("{kind: output_population, population: out}", "readout", "evaluate"),
    ("{kind: output_population, population: out, evaluate: test, vote: soft}", "readout",
     "vote"),
    ("{kind: argmax, population: out, evaluate: test}", "readout.kind", "output_population"),
])
def test_bad_output_readout_is_located(readout, where, what):
    with pytest.raises(InputError) as e:
        _load(_net(3, ONE_PER_CLASS, readout))
    assert where in str(e.value) and what in str(e.value)


def test_output_population_needs_as_many_neurons_per_class():
    w = [[20, 0, 0]] * 4
    with pytest.raises(InputError, match="4 neurons for 3 classes"):
        _load(_net(4, w, "{kind: output_population, population: out, evaluate: test}"))


def test_predict_output_ties_and_silence_are_no_answer():
    per = np.array([[0, 3, 1], [2, 2, 0], [0, 0, 0], [5, 0, 6]])
    np.testing.assert_array_equal(ro.predict_output(per), [1, -1, -1, 2])
    counts = np.array([[1, 2, 0, 0, 3, 0]])  # 2 neurons per class
    np.testing.assert_array_equal(ro.class_counts(counts, 3), [[3, 0, 3]])


TEACHER = """\
  teach:
    size: 6
    model: spike_source
    spikes: {kind: labels, max_rate: 1.0, phases: [train]}
  rel: {size: 6, params: {du: 4095, dv: 4095, vth: 10}}
"""


def test_label_source_spikes_for_the_shown_class_in_its_phases_only():
    text = _net(3, ONE_PER_CLASS, "{kind: output_population, population: out, evaluate: test}",
                TEACHER).replace(
        "projections:\n", "projections:\n  copy: {pre: teach, post: rel, "
        "connectivity: one_to_one, weight: 20}\n")
    v = rp.run_phases(_program(text)).values
    labels = v["train.labels"]
    want = np.zeros((len(labels), 6), int)
    for i, c in enumerate(labels):  # neurons 2c and 2c + 1 teach class c
        want[i, 2 * c:2 * c + 2] = PRESENT
    np.testing.assert_array_equal(v["train.rel.counts"], want)
    assert not v["test.rel.counts"].any()


@pytest.mark.parametrize("spikes, where, what", [
    ("{kind: labels, phases: [tset]}", "spikes.phases", "not a phase with samples"),
    ("{kind: labels, max_rate: 2, phases: [train]}", "spikes.max_rate", "1"),
    ("{kind: labels}", "spikes", "phases"),
])
def test_bad_label_source_is_located(spikes, where, what):
    text = _net(3, ONE_PER_CLASS, "{kind: output_population, population: out, evaluate: test}",
                f"  teach: {{size: 6, model: spike_source, spikes: {spikes}}}\n")
    with pytest.raises(InputError) as e:
        _load(text)
    assert where in str(e.value) and what in str(e.value)


def test_label_source_size_is_a_multiple_of_the_classes():
    text = _net(3, ONE_PER_CLASS, "{kind: output_population, population: out, evaluate: test}",
                "  teach: {size: 4, model: spike_source, spikes: {kind: labels, phases: [train]}}\n")
    with pytest.raises(InputError, match="4 neurons for 3 classes"):
        _load(text)
