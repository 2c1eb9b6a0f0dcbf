"""Fill balance: when synapse memory binds on multi-population networks, cores stay
within 1.1x of the lower bound where a hand count shows it possible; every limit holds;
the same network always gets the same cores."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_core_sharing import assert_exact
from test_resources import lif, net_of, proj, src, tgt

from compiler.passes.partition import partition
from compiler.passes.resources import lower_bound

# index bits: log2(64 neurons) = 6, 8-bit weights, no delay: 14 bits per synapse
SYN_BITS = 14


def list_words(k: int) -> int:
    """64-bit words of one synapse list of k <= 63 synapses (10-bit block header)."""
    return math.ceil((10 + SYN_BITS * k) / 64)


def fanned(n_pops: int, size: int, n_src: int = 8):
    """`n_pops` lif populations of `size`, every neuron fed by all `n_src` source neurons
    (one projection per population: one synapse list per source neuron and core)."""
    pops = [src("s", n_src)] + [lif(f"p{i}", size) for i in range(n_pops)]
    pre = np.repeat(np.arange(n_src), size)
    post = np.tile(np.arange(size), n_src)
    return net_of(pops, [proj(f"x{i}", "s", f"p{i}", pre, post) for i in range(n_pops)])


def words_target(words: int):
    """64 neurons, 64 in/out axons, `words` 64-bit words of synapse memory per core."""
    return tgt(neurons=64, synapse_bits=64 * words, in_axons=64, out_axons=64)


@pytest.mark.parametrize("method", ["sequential", "auto"])
def test_six_populations_of_1_4_cores_fill_nine(method):
    # a population of 48 stored whole: 8 lists of 48 synapses, 11 words each = 88 words;
    # 6 x 88 = 528 words over 64-word cores -> at least ceil(8.25) = 9 cores. Hand fill
    # (8 words per list-set, `list_words`): p0 35 | p0 13 + p1 22 | p1 26 + p2 8 |
    # p2 35 | p2 5 + p3 26 | p3 22 + p4 13 | p4 35 | p5 35 | p5 13: 9 cores.
    net, t = fanned(6, 48), words_target(64)
    assert 8 * list_words(48) == 88 and list_words(35) == 8 and list_words(13) == 3
    assert lower_bound(net, t)["cores"] == 9
    assert lower_bound(net, t)["binding"] == "synapse_bits"
    p = partition(net, t, method)
    assert p.n_cores == 9
    assert_exact(net, p, t)


@pytest.mark.parametrize("n_pops, size, words, hand", [(10, 48, 64, 14), (12, 48, 80, 14)])
def test_cut_populations_within_a_tenth_of_the_bound(n_pops, size, words, hand):
    # whole populations take 88 words each: n_pops * 88 / words cores at least
    # (10 x 88 / 64 = 13.75 -> 14; 12 x 88 / 80 = 13.2 -> 14)
    net, t = fanned(n_pops, size), words_target(words)
    lb = lower_bound(net, t)["cores"]
    assert lb == hand == math.ceil(n_pops * 8 * list_words(size) / words)
    p = partition(net, t, "auto")
    assert p.n_cores <= math.ceil(1.1 * lb)
    assert_exact(net, p, t)


def columns(n_cols: int, size: int, p: float, seed: int = 0):
    """A chain of columns like examples/large_multichip.yaml: each column recurrent at
    random (probability p) and driving the next one to one; a source drives the first."""
    rng = np.random.default_rng(seed)
    pops = [src("in", size)] + [lif(f"c{i}", size) for i in range(n_cols)]
    o2o = np.arange(size)
    projs = [proj("in_c0", "in", "c0", o2o, o2o)]
    for i in range(n_cols):
        pre, post = np.nonzero(rng.random((size, size)) < p)
        projs.append(proj(f"c{i}_rec", f"c{i}", f"c{i}", pre, post, delay=3))
        if i + 1 < n_cols:
            projs.append(proj(f"c{i}_c{i + 1}", f"c{i}", f"c{i + 1}", o2o, o2o))
    return net_of(pops, projs)


@pytest.mark.parametrize("method", ["sequential", "auto"])
def test_columns_hold_every_limit_and_are_deterministic(method):
    # 12 columns of 96 neurons, ~6 recurrent inputs each: synapse memory binds (a column
    # takes ~1.5 cores of 128 words); input axons limit which slices share a core
    net = columns(12, 96, 0.06, seed=3)
    t = tgt(neurons=64, synapse_bits=64 * 128, in_axons=256, out_axons=512)
    assert lower_bound(net, t)["binding"] == "synapse_bits"
    a, b = partition(net, t, method), partition(net, t, method)
    assert_exact(net, a, t)
    assert a.n_cores == b.n_cores
    for name, arr in a.core_of.items():
        assert np.array_equal(arr, b.core_of[name]), name
    # columns share cores: more (core, column) pairs than cores
    pairs = sum(np.unique(a.core_of[f"c{i}"]).size for i in range(12))
    assert pairs > a.n_cores
