"""snnc's activity counts equal SANA-FE 2.2.9's on the same spikes (needs `sanafe`)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from repo import ROOT

BENCH = ROOT / "bench" / "sanafe_compare.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("sanafe_compare", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_counts_and_energy_blocks_agree_with_sanafe():
    pytest.importorskip("sanafe")
    bench = load_bench()
    spikes, sf, prog, act, cost = bench.compare(steps=20, rate=0.1, seed=5)
    n_in = int(spikes["inp"].sum())
    assert n_in > 0 and spikes["hid"].sum() > 0
    assert act.synops.sum() == sf["spikes"]  # SANA-FE's "spikes" are synaptic lookups
    assert act.messages.sum() == sf["packets_sent"]
    assert act.spikes.sum() + n_in == sf["neurons_fired"]
    assert act.hops.sum() == int(np.sum(sf["perf_trace"]["hops"]))
    # same synop figure (35.5 pJ) in both: the synapse block agrees to rounding
    assert cost["energy_pj"]["by_component_total"]["synops"] == pytest.approx(sf["energy"]["synapse"] * 1e12)
