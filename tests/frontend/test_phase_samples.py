"""A sample phase's own `present` / `rest` (samples: {split, present, rest}), on cpu."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from phase_nets import RELAY, _load, _program

import runtime.phases as rp
from compiler import schedule
from compiler.artifact import load_program, save_program
from compiler.datasets import encode, epoch_order, epoch_rng
from compiler.errors import InputError

TIMED = RELAY + """\
phases:
  - name: a
    samples: {split: train, epochs: 2}
  - name: b
    samples: {split: train, present: 3, rest: 1}
  - name: c
    samples: {split: test, present: 11}
readout: {population: out, assign: b, evaluate: c}
"""


def _expected(net, phase: str, split: str, present: int, rest: int, epochs: int = 1):
    """Input spike counts per sample, encoded by hand with the given present / rest."""
    ds = dataclasses.replace(net.populations["inp"].source.dataset, present=present, rest=rest)
    out = []
    for e, order in enumerate(epoch_order(ds, split, None, epochs, False, net.seed, phase)):
        spikes = encode(ds, order, epoch_rng(net.seed, "inp", phase, e))
        assert spikes.shape[0] == len(order) * (present + rest)
        out.append(spikes.reshape(len(order), present + rest, -1).sum(axis=1))
    return np.concatenate(out)


def test_a_phase_shows_samples_for_its_own_present_and_rest():
    program = _program(TIMED)
    net = program.network
    assert [(p.present, p.rest) for p in net.phases] == [(None, None), (3, 1), (11, None)]
    res = rp.run_phases(program)
    # the source's own timing (6 + 2) where the phase gives none; the rest carries over
    assert res.meta["phases"]["a"]["steps"] == 2 * 3 * 8
    assert res.meta["phases"]["b"]["steps"] == 3 * (3 + 1)
    assert res.meta["phases"]["c"]["steps"] == 1 * (11 + 2)
    assert res.steps == 48 + 12 + 13
    for phase, split, present, rest, epochs in (("a", "train", 6, 2, 2), ("b", "train", 3, 1, 1),
                                                ("c", "test", 11, 2, 1)):
        want = _expected(net, phase, split, present, rest, epochs)
        assert want.sum() > 0, phase  # the comparison is not vacuous
        np.testing.assert_array_equal(res[f"{phase}.out.counts"], want, err_msg=phase)
    # 3 steps at p <= 0.5 spike less than 11: the lengths really differ
    assert res["b.out.counts"].sum() / 3 < res["c.out.counts"].sum()
    assert schedule.shown_dataset(net, net.phases[0]) is net.populations["inp"].source.dataset


def test_phase_timing_survives_the_artifact(tmp_path):
    program = _program(TIMED)
    path = save_program(program, tmp_path / "t.snnc")
    loaded = load_program(path)
    assert [(p.present, p.rest) for p in loaded.network.phases] == [(None, None), (3, 1), (11, None)]
    one, two = rp.run_phases(program), rp.run_phases(loaded)
    assert all(np.array_equal(one[k], two[k]) for k in one.keys())


@pytest.mark.parametrize("field, value, allowed", [
    ("present", 0, "found 0, out of range (allowed: integer >= 1)"),
    ("rest", -1, "found -1, out of range (allowed: integer >= 0)"),
    ("present", 2.5, "steps per sample in this phase"),
])
def test_bad_phase_timing_names_the_field_and_line(field, value, allowed):
    text = TIMED.replace("present: 3, rest: 1", "present: 3, rest: 1" if field != "present"
                         else f"present: {value}, rest: 1")
    if field == "rest":
        text = text.replace("rest: 1}", f"rest: {value}}}")
    with pytest.raises(InputError) as e:
        _load(text)
    msg = str(e.value)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "name: b" in t) + 1
    assert f"net.yaml:{line}:" in msg and f"phases[1].samples.{field}" in msg and allowed in msg
