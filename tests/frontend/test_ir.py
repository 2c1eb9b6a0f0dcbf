"""IR helpers: source spike streams are deterministic, prefix-stable and seekable."""

from __future__ import annotations

import numpy as np

from compiler.ir import Population, SpikeSource
from compiler.sources import source_spikes


def _poisson(rate: float = 0.3, size: int = 7) -> Population:
    return Population("p", size, "spike_source", source=SpikeSource("poisson", rate=rate))


def test_poisson_prefix_and_offset_match_one_long_draw():
    pop = _poisson()
    full = source_spikes(pop, 60, seed=3)
    np.testing.assert_array_equal(source_spikes(pop, 25, seed=3), full[:25])
    np.testing.assert_array_equal(source_spikes(pop, 20, seed=3, start=40), full[40:])
    assert 0.2 < full.mean() < 0.4
    assert not np.array_equal(full, source_spikes(pop, 60, seed=4))


def test_periodic_and_array_sources():
    per = Population("q", 2, "spike_source", source=SpikeSource("periodic", period=3, phase=1))
    s = source_spikes(per, 8, seed=0)
    assert s[:, 0].nonzero()[0].tolist() == [1, 4, 7]
    data = np.eye(3, dtype=bool)
    arr = Population("a", 3, "spike_source", source=SpikeSource("array", data=data))
    out = source_spikes(arr, 5, seed=0)
    np.testing.assert_array_equal(out[:3], data)
    assert not out[3:].any()  # no spikes after the array's last row
    np.testing.assert_array_equal(source_spikes(arr, 2, seed=0, start=1), data[1:3])
