"""Feature-map tiles of equal synapse memory (`weighted_tiles`): exact counts, balanced
weights, a position's channels split where needed, and the `tile` partitioner reaching
the lower bound on a convolution whose border neurons have fewer synapses; packing puts a
small population into the room left on fuller cores."""

from __future__ import annotations

import numpy as np
from test_partition import assert_valid
from test_resources import net_of, proj, src, tgt

from compiler.ir import Population
from compiler.passes.partition import partition, tile_blocks
from compiler.passes.partition.tiles import weighted_tiles
from compiler.passes.resources import incoming_usage, lower_bound


def feature_map(side: int, channels: int) -> np.ndarray:
    """(channels * side * side, 2) positions, channel-major: every position `channels` times."""
    yx = np.stack(np.divmod(np.arange(side * side), side), axis=1).astype(np.float64)
    return np.tile(yx, (channels, 1))


def test_equal_weights_give_equal_counts_splitting_positions():
    pos = feature_map(6, 4)  # 144 neurons at 36 positions
    for m in (2, 3, 5, 7, 9):
        t = weighted_tiles(pos, m, np.ones(144))
        sizes = np.bincount(t)
        assert sizes.size == m and sizes.sum() == 144
        assert sizes.max() - sizes.min() <= 1  # 144 / 5 = 28.8: a position's 4 split
        for i in range(m):  # compact: at most two positions shared with other tiles
            assert len(np.unique(pos[t == i], axis=0)) <= 144 / m / 4 + 2
    # tiles that keep a position's neurons together cannot be that even
    assert np.ptp(np.bincount(tile_blocks(pos, 5))) >= 4


def test_tiles_balance_weight_not_counts():
    pos = feature_map(8, 2)
    w = np.where(pos[:, 1] < 2, 3.0, 1.0)  # heavy left columns
    t = weighted_tiles(pos, 4, w)
    per = np.bincount(t, weights=w)
    assert per.size == 4 and per.max() - per.min() <= 2 * w.max()
    assert np.bincount(t).max() > 40  # light tiles hold more neurons (32 each by count)


def conv_net(side: int = 12, c_in: int = 2, c_out: int = 8):
    """A 3x3 padded convolution from a c_in x side x side source to a positioned lif map:
    border neurons have fewer synapses (padding), so equal-count tiles waste memory."""
    yx = np.stack(np.divmod(np.arange(side * side), side), axis=1)
    pre, post = [], []
    for co in range(c_out):
        for ci in range(c_in):
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    q = yx + (dy, dx)
                    ok = ((q >= 0) & (q < side)).all(axis=1)
                    pre.append(ci * side * side + q[ok, 0] * side + q[ok, 1])
                    post.append(co * side * side + np.flatnonzero(ok))
    pop = Population("L", c_out * side * side, "lif", positions=feature_map(side, c_out))
    return net_of([src("S", c_in * side * side), pop],
                  [proj("S_L", "S", "L", np.concatenate(pre), np.concatenate(post))])


def test_tile_reaches_the_lower_bound_on_a_padded_convolution():
    net = conv_net()
    t = tgt(neurons=1024, synapse_bits=30_000, in_axons=4096, out_axons=4096)
    lb = lower_bound(net, t)
    assert lb["binding"] == "synapse_bits"  # memory binds: the tiles must share it evenly
    p = partition(net, t, "tile")
    assert_valid(net, p, t)
    assert p.n_cores == lb["cores"]
    # equal-count tiles of that many cores do not fit: some exceed the synapse memory
    plain = tile_blocks(net.populations["L"].positions, lb["cores"])
    u = incoming_usage(net, {"L": plain}, lb["cores"], t, list(net.projections.values()))
    assert u.synapse_bits.max() > t.core.synapse_bits


def test_a_small_population_joins_a_fuller_core_with_room():
    # A: 90 neurons in 3 blocks of 30 (94 % of 32: not packed themselves, 2 free each);
    # B: 2 neurons on a core of their own, the only partly used core: it joins one of A's
    pops = [src("S", 4), Population("A", 90, "lif"), Population("B", 2, "lif")]
    net = net_of(pops, [proj("S_A", "S", "A", np.arange(90) % 4, np.arange(90)),
                        proj("S_B", "S", "B", [0, 1], [0, 1])])
    t = tgt(neurons=32, synapse_bits=1 << 20, in_axons=64, out_axons=64)
    p = partition(net, t, "greedy")
    assert_valid(net, p, t)
    assert p.n_cores == 3 and p.stats.get("packed", {}).get("saved", 1) == 1
