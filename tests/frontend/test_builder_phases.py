"""The Python builder expresses phases and readout like YAML, and round-trips through it."""

from __future__ import annotations

import numpy as np

import runtime
from compiler.frontend import Network, load_network


def _net(weight=None, test_samples=None) -> Network:
    x = np.array([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0]] * 4)
    y = np.array([0, 1] * 4)
    weight = np.array([[60, 0, 0, 60], [0, 60, 60, 0]]) if weight is None else weight
    return (
        Network("phased", seed=2)
        .population("inp", 4, spikes={"kind": "dataset", "dataset": {"data": {"x": x, "y": y}},
                                      "split": {"test": 2, "shuffle_seed": None},
                                      "max_rate": 0.8, "present": 15, "rest": 5})
        .population("out", 2, params={"du": 4095, "dv": 500, "vth": 20})
        .projection("inp_out", "inp", "out", weight=weight)
        .phase("label", samples={"split": "train"})
        .phase("test", samples=test_samples or {"split": "test"},
               set={"projections.inp_out.weight_scale": 1.0})
        .readout("out", assign="label", evaluate="test")
    )


def test_builder_phases_run_and_round_trip(tmp_path):
    net = _net()
    ir = net.build()
    assert [p.name for p in ir.phases] == ["label", "test"]
    assert ir.readout is not None and ir.readout.population == "out"
    res = runtime.run(net)
    assert res["label.out.counts"].shape == (6, 2)
    assert res["test.out.counts"].shape == (2, 2)
    # out neuron i is wired to class i's pixels: the readout must be perfect
    assert float(res["readout.accuracy"]) == 1.0
    path = tmp_path / "phased.yaml"
    net.to_yaml(path)
    again = runtime.run(load_network(path))
    for key in res.keys():
        np.testing.assert_array_equal(res[key], again[key])


def test_builder_takes_phase_timing_and_dataset_mean_start(tmp_path):
    net = _net(weight={"dataset_mean": 60, "jitter": 0},
               test_samples={"split": "test", "present": 7, "rest": 1})
    ir = net.build()
    assert (ir.phases[1].present, ir.phases[1].rest) == (7, 1)
    # both train classes are equally common: the mean sample is 0.5 everywhere -> 60 each
    assert ir.projections["inp_out"].dense_weights(2, 4).tolist() == [[60] * 4] * 2
    res = runtime.run(net)
    assert res.meta["phases"]["test"]["steps"] == 2 * (7 + 1)
    path = tmp_path / "timed.yaml"
    net.to_yaml(path)
    again = runtime.run(load_network(path))
    for key in res.keys():
        np.testing.assert_array_equal(res[key], again[key])
