"""Placement: snake layout, XY-routing hop counts, multi-chip split, too-many-cores error."""

from __future__ import annotations

import numpy as np
import pytest
from test_resources import lif, net_of, proj

from compiler.errors import FitError
from compiler.passes.partition import partition
from compiler.passes.place import hops, place, slot_layout, snake_positions
from compiler.target import CoreLimits, Target


def tgt(chips=2, cpc=4, mesh=(2, 2)) -> Target:
    return Target(name="tiny", chips=chips, cores_per_chip=cpc, mesh=mesh,
                  core=CoreLimits(neurons=1))


def chain(n=6):
    """n lif neurons in a chain 0 -> 1 -> ... -> n-1; with 1 neuron per core, core i -> i+1."""
    return net_of([lif("a", n)], [proj("a_a", "a", "a", range(n - 1), range(1, n))])


def test_snake_positions():
    x, y = snake_positions((3, 3), 7)
    assert list(zip(x.tolist(), y.tolist(), strict=True)) == [(0, 0), (1, 0), (2, 0), (2, 1), (1, 1),
                                                (0, 1), (0, 2)]


def test_hops_inside_and_across_chips():
    # chip 0 slots: (0,0) (1,0) (1,1) (0,1); chip 1 is to the right, x offset 2
    chip, core, x, y = slot_layout(np.arange(8), tgt())
    assert chip.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert core.tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    a = np.array([0, 0, 3, 0, 2])
    b = np.array([1, 2, 4, 5, 7])
    # 0->1: 1; 0->2: (0,0)->(1,1) = 2; 3->4: (0,1)->(2,0) = 3; 0->5: (0,0)->(3,0) = 3;
    # 2->7: (1,1)->(2,1) = 1
    assert hops(chip, x, y, 2, a, b).tolist() == [1, 2, 3, 3, 1]


def test_place_chain_on_two_chips():
    net = chain(6)
    t = tgt()
    p = partition(net, t, "sequential")
    assert p.n_cores == 6
    pl = place(net, p, t)
    assert pl.n_chips == 2 and pl.stats["chips"] == 2
    assert np.bincount(pl.chip).tolist() == [4, 2]  # chips fill up in order
    # core order 0..5 on the snake: hops 1 + 1 + 1 + 3 (chip crossing) + 1 = 7, 5 senders
    assert pl.stats["hop_weighted_traffic"] == 7
    assert pl.stats["hops_per_spike"] == pytest.approx(7 / 5)
    assert pl.stats["interchip_messages_per_spike"] == pytest.approx(1 / 5)
    assert pl.stats["interchip_packets_per_step"] == pytest.approx(1 * 0.03)
    # every core sits on its own slot
    slots = set(zip(pl.chip.tolist(), pl.core.tolist(), strict=True))
    assert len(slots) == 6


def test_place_reorders_scrambled_cores():
    # a chain whose neuron ids are shuffled: core ids carry no locality, RCM restores it
    n = 8
    perm = np.random.default_rng(3).permutation(n)
    net = net_of([lif("a", n)], [proj("a_a", "a", "a", perm[:-1], perm[1:])])
    t = tgt(chips=1, cpc=8, mesh=(8, 1))
    p = partition(net, t, "sequential")
    pl = place(net, p, t)
    # 7 messages along the chain, each between adjacent mesh positions at best
    assert pl.stats["hop_weighted_traffic"] == 7
    assert pl.stats["order"] == "rcm"


def test_too_many_cores():
    net = chain(6)
    p = partition(net, tgt(chips=2), "sequential")
    with pytest.raises(FitError) as e:
        place(net, p, tgt(chips=1))
    msg = str(e.value)
    assert "needs 6 cores" in msg and "1 chip(s) x 4 cores = 4" in msg
    assert "chips: 2" in msg and "bigger target" in msg


def test_dense_traffic_skips_rcm_and_counts_crossings(monkeypatch):
    # 4 neurons all to all (self excluded), 1 neuron per core: 12 messages between 4 cores
    n = 4
    pre, post = np.nonzero(~np.eye(n, dtype=bool))
    net = net_of([lif("a", n)], [proj("a_a", "a", "a", pre, post)])
    t = tgt(chips=2, cpc=2, mesh=(2, 1))
    p = partition(net, t, "sequential")
    pl = place(net, p, t)
    assert pl.stats["order"] in ("partition", "rcm")
    # chips [0, 0, 1, 1], x = chip * 2 + [0, 1]: hops |xa - xb| summed over ordered pairs
    gx = np.array([0, 1, 2, 3])
    assert pl.stats["hop_weighted_traffic"] == int(np.abs(gx[pre] - gx[post]).sum())  # 20
    # 8 of 12 messages cross the chip boundary, each crossing 1 chip
    assert pl.stats["interchip_messages_per_spike"] == pytest.approx(8 / 4)
    assert pl.stats["chip_crossings_per_spike"] == pytest.approx(8 / 4)
    import compiler.passes.place as P

    monkeypatch.setattr(P, "RCM_MAX_DEGREE", 2)  # 12 pairs > 2 * 4 cores: too dense
    assert place(net, p, t).stats["order"] == "partition"


def test_traffic_from_partition_gives_same_placement():
    # sequential fill of a random net leaves the traffic matrix in usage.traffic; place
    # consumes it and must place exactly as when it recomputes the traffic itself
    rng = np.random.default_rng(5)
    n = 3000
    post = np.repeat(np.arange(n), 5)
    net = net_of([lif("a", n)], [proj("a_a", "a", "a", rng.integers(0, n, post.size), post)])
    t = Target(name="t", chips=200, cores_per_chip=4, mesh=(2, 2),
               core=CoreLimits(in_axons=40, out_axons=40))
    p = partition(net, t, "sequential")
    assert p.usage.traffic is not None
    a = place(net, p, t)
    assert p.usage.traffic is None  # consumed
    b = place(net, p, t)  # recomputed by core_traffic
    assert a.stats == b.stats
    for f in ("chip", "core", "x", "y"):
        assert getattr(a, f).tolist() == getattr(b, f).tolist()
    assert a.stats["hop_weighted_traffic"] > 0
