"""bench/peers.py's network and model match: the arrays and parameters handed to Brian2 and
NEST give snnc's cpu spikes in a pure-numpy run of the peers' model (no peers venv needed)."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
from repo import ROOT


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sys.modules.setdefault(name, mod)
    return mod


peers = load("peers")
worker = load("peers_worker")


def snnc_spikes(net: dict, steps: int) -> np.ndarray:
    """(step, neuron) pairs of snnc's cpu backend on cpu_step's network, as in the bench."""
    from backends import get_backend

    res = get_backend("cpu").run(peers.cpu_step.cpu_program(net, "fixed"), steps, [])
    return np.argwhere(res.spikes["a"])


def ref_spikes(net: dict, steps: int) -> np.ndarray:
    step, idx = worker.reference(peers.export(net), steps)
    return np.stack([step, idx], axis=1)


def one_neuron(bias: int) -> dict:
    """One neuron, no synapse that matters (a 0-weight self-loop), constant bias."""
    z = np.zeros(1, np.int32)
    return {"n": 1, "pre": z, "post": z, "weight": z, "bias": np.array([bias])}


def test_generator_is_fixed_fanout_and_seeded():
    a, b, c = (peers.cpu_step.build(300, seed) for seed in (4, 4, 5))
    assert a["pre"].size == 300 * 100 and np.all(np.bincount(a["pre"], minlength=300) == 100)
    assert a["post"].min() >= 0 and a["post"].max() < 300
    assert set(np.unique(a["weight"])) <= {-4, -2, 0, 2}
    assert np.all((a["bias"] >= 100) & (a["bias"] < 200))
    for k in ("pre", "post", "weight", "bias"):
        assert np.array_equal(a[k], b[k])
    assert not np.array_equal(a["post"], c["post"])


def test_export_is_lava_units():
    net = peers.cpu_step.build(200, 1)
    ex = peers.export(net)
    assert np.array_equal(ex["pre"], net["pre"]) and np.array_equal(ex["post"], net["post"])
    assert ex["weight"].dtype == np.float32
    assert np.array_equal(ex["weight"], 64.0 * net["weight"])  # even 8-bit weights: exact
    assert np.array_equal(ex["bias"], net["bias"]) and ex["vth"] == 640.5


@pytest.mark.parametrize("bias, first", [(100, 6), (64, 10), (65, 9)])
def test_threshold_by_hand(bias, first):
    # v = bias * (k + 1) after step k; a spike needs v > 10 * 64 = 640 (64 * 10 = 640: none)
    period = first + 1
    want = np.arange(first, 60, period)
    net = one_neuron(bias)
    assert np.array_equal(ref_spikes(net, 60)[:, 0], want)
    assert np.array_equal(snnc_spikes(net, 60)[:, 0], want)


def test_peer_model_gives_snnc_spikes():
    net = peers.cpu_step.build(200, 2)
    ours, ref = snnc_spikes(net, 150), ref_spikes(net, 150)
    assert np.array_equal(ours, ref)
    rate = (ours[:, 0] >= peers.WARMUP).sum() / 100 / 200
    assert 0.01 < rate < 0.06  # the bench's regime (~3 % per step)


def test_run_snnc_times_the_window_and_keeps_spikes():
    net = peers.cpu_step.build(300, 3)
    configs = peers.snnc_configs()
    assert configs
    for _, opts in configs:
        res = peers.run_snnc(net, 20, 30, opts)
        assert res["ms_per_step"] > 0 and res["ignored"] == []
        assert np.array_equal(np.stack([res["step"], res["idx"]], axis=1), ref_spikes(net, 50))


def test_agreement_counts_common_spikes():
    a = peers.spike_keys({"step": np.array([0, 1, 1]), "idx": np.array([2, 0, 1])}, 3)
    assert np.array_equal(a, [2, 3, 4])
    assert peers.agreement(a, a) == "equal (3 spikes)"
    assert peers.agreement(a, np.array([2, 4, 7, 8])) == "2 of 3 (2 extra)"
