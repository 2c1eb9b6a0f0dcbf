"""`{kind: local, radius, wrap}` connectivity: every pair within a distance (hand counts)."""

from __future__ import annotations

import numpy as np
import pytest

from compiler.frontend import Network
from compiler.frontend.synapses import local_pairs


def grid(h: int, w: int) -> np.ndarray:
    return np.stack(np.divmod(np.arange(h * w), w), axis=1).astype(float)


def test_open_sheet_radius_one_is_the_four_neighbours():
    pre, post = local_pairs(grid(4, 4), grid(4, 4), 1.0, same=True)
    assert pre.size == 48  # 2 directions x (3 x 4 horizontal + 3 x 4 vertical) pairs
    assert set(pre[post == 5].tolist()) == {1, 4, 6, 9}  # neuron (1, 1)
    assert set(pre[post == 0].tolist()) == {1, 4}  # a corner
    assert not (pre == post).any()  # no synapse from a neuron onto itself
    order = np.lexsort((post, pre))
    assert (order == np.arange(pre.size)).all()  # sorted by (pre, post)


def test_torus_and_bigger_radius_count_the_disk():
    # radius sqrt(32) on a torus: the 100 lattice offsets with dx^2 + dy^2 <= 32 (0 excluded),
    # the sheet of bench/compile_scale.py
    pre, post = local_pairs(grid(20, 20), grid(20, 20), 32 ** 0.5, wrap=(20, 20), same=True)
    assert np.bincount(post, minlength=400).tolist() == [100] * 400
    dy = (pre // 20 - post // 20 + 10) % 20 - 10
    dx = (pre % 20 - post % 20 + 10) % 20 - 10
    assert (dx ** 2 + dy ** 2 <= 32).all() and not ((dx == 0) & (dy == 0)).any()
    # radius 1 on a 4 x 4 torus: every neuron has exactly 4 inputs
    pre, post = local_pairs(grid(4, 4), grid(4, 4), 1.0, wrap=(4, 4), same=True)
    assert np.bincount(post).tolist() == [4] * 16
    assert set(pre[post == 0].tolist()) == {1, 3, 4, 12}


def test_between_populations_each_post_sees_the_pre_in_its_disk():
    post_xy = np.array([[0.0, 0.0], [0.0, 2.0], [2.0, 0.0], [2.0, 2.0]])
    pre, post = local_pairs(grid(4, 4), post_xy, 1.5)
    assert np.bincount(post).tolist() == [4, 6, 6, 9]  # corner, two edges, interior
    assert sorted(pre[post == 0].tolist()) == [0, 1, 4, 5]


def test_local_projection_from_the_builder_with_weights_and_tiles():
    import runtime

    net = (Network("loc", seed=2, steps=30, target="loihi1")
           .population("inp", 64, spikes={"kind": "poisson", "rate": 0.2})
           .population("s", 64, params={"vth": 4, "du": 500, "dv": 300},
                       positions={"grid": [8, 8]})
           .projection("inp_s", "inp", "s", "one_to_one", weight=250)
           .projection("s_s", "s", "s", {"kind": "local", "radius": 1.5, "wrap": [8, 8]},
                       weight={"dist": "uniform", "low": 10, "high": 40}, delay=1))
    ir = net.build()
    p = ir.projections["s_s"]
    assert p.n_synapses == 64 * 8  # the 8 neighbours (radius 1.5 on a torus)
    assert (p.weight >= 10).all() and (p.weight <= 40).all() and (p.delay == 1).all()
    res = runtime.run(ir, partitioner="tile")
    assert res["s.spikes"].shape == (30, 64) and res["s.spikes"].sum() > 0
    np.testing.assert_array_equal(res["s.spikes"],
                                  runtime.run(ir, partitioner="sequential")["s.spikes"])


def test_too_large_a_radius_is_refused_before_generating(monkeypatch):
    import compiler.frontend.projections as P
    from compiler.errors import InputError

    monkeypatch.setattr(P, "MAX_SYNAPSES", 100)
    net = (Network("big").population("s", 64, positions={"grid": [8, 8]})
           .projection("s_s", "s", "s", {"kind": "local", "radius": 3}, weight=5))
    with pytest.raises(InputError, match="radius 3.0 gives ~.* synapses; at most 100"):
        net.build()
