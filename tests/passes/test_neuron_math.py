"""compiler.neuron_math: the adaptive threshold and winner-take-all equations both backends use."""

import numpy as np

from compiler.neuron_math import adapt_decay_fixed, adapt_update, wta_select


def test_decay_constant():
    assert [adapt_decay_fixed(t) for t in (0, -1, 1, 0.5, 4, 3)] == [0, 0, 4096, 4096, 1024, 1365]


def test_fixed_update_is_the_same_integers_in_int64_and_float64():
    spikes = np.array([True, False, True, False])
    th_i = np.array([0, 1000, -777, 2**30], dtype=np.int64)
    th_f = th_i.astype(np.float64)
    for _ in range(5):
        adapt_update(th_i, spikes, 1.5, 3.0, fixed=True)
        adapt_update(th_f, spikes, 1.5, 3.0, fixed=True)
    assert th_i.tolist() == th_f.astype(np.int64).tolist()
    # one step by hand: trunc(th * (4096 - 1365) / 4096) + round(1.5 * 64) * s
    th = np.array([1000, -777], dtype=np.int64)
    adapt_update(th, np.array([True, False]), 1.5, 3.0, fixed=True)
    assert th.tolist() == [int(1000 * 2731 / 4096) + 96, -int(777 * 2731 / 4096)]


def test_float_update():
    th = np.array([2.0, 2.0])
    adapt_update(th, np.array([False, True]), 0.5, 4.0, fixed=False)
    assert th.tolist() == [1.5, 2.0]
    adapt_update(th, np.array([True, False]), 0.5, 0.0, fixed=False)  # tau <= 0: no decay
    assert th.tolist() == [2.0, 2.0]


def test_wta_keeps_the_largest_margin_lowest_index_on_ties():
    s = np.array([True, True, False, True])
    assert wta_select(s, np.array([1.0, 3.0, 9.0, 3.0])).tolist() == [False, True, False, False]
    one = np.array([False, True, False, False])
    assert wta_select(one, np.zeros(4)) is one
    assert not wta_select(np.zeros(4, bool), np.zeros(4)).any()
