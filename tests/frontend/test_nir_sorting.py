"""The synapse order of list connectivity (what a NIR import produces) equals numpy's stable
argsort of the key pre * n_post + post for every input order: shuffled with repeated pairs,
already sorted, and grouped by post as a sparse (post, pre) matrix lists them (the orders
the frontend sorts without a comparison sort)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from compiler.frontend.synapses import sort_order


def reference(pre: np.ndarray, post: np.ndarray, n_post: int) -> np.ndarray:
    return np.argsort(pre.astype(np.int64) * n_post + post, kind="stable")


def matrix_pairs(rng: np.random.Generator, n_post: int, n_pre: int, density: float):
    """(pre, post) of a random sparse (post, pre) matrix, in its CSR order."""
    m = sp.random(n_post, n_pre, density=density, format="csr", random_state=rng)
    m.sort_indices()
    coo = m.tocoo()
    return coo.col.astype(np.int32), coo.row.astype(np.int32)


@pytest.mark.parametrize("seed", range(6))
def test_every_input_order_gives_the_stable_argsort(seed):
    rng = np.random.default_rng(seed)
    n_pre, n_post = int(rng.integers(1, 300)), int(rng.integers(1, 300))
    pre, post = matrix_pairs(rng, n_post, n_pre, float(rng.uniform(0.01, 0.5)))
    order = sort_order(pre, post, n_post)  # grouped by post
    assert np.array_equal(order, reference(pre, post, n_post))
    assert np.array_equal(sort_order(pre[order], post[order], n_post),
                          np.arange(pre.size))  # already sorted
    mixed = rng.permutation(pre.size)
    assert np.array_equal(sort_order(pre[mixed], post[mixed], n_post),
                          reference(pre[mixed], post[mixed], n_post))
    n = int(rng.integers(1, 2000))  # repeated pairs: ties keep their input order
    p, q = rng.integers(0, 5, n).astype(np.int32), rng.integers(0, 4, n).astype(np.int32)
    assert np.array_equal(sort_order(p, q, 4), reference(p, q, 4))
    q_sorted = np.sort(q)  # grouped by post, with repeats: not the counting path
    assert np.array_equal(sort_order(p, q_sorted, 4), reference(p, q_sorted, 4))


def test_small_and_empty_inputs():
    empty = np.zeros(0, np.int32)
    assert sort_order(empty, empty, 3).size == 0
    one = np.array([2], np.int32)
    assert np.array_equal(sort_order(one, one, 3), [0])
    pre, post = np.array([0, 1, 0], np.int32), np.array([1, 1, 2], np.int32)  # by post
    assert np.array_equal(sort_order(pre, post, 3), [0, 2, 1])
    # the last post neurons receive nothing: the counting order still covers every synapse
    pre, post = np.array([3, 1, 2], np.int32), np.array([0, 1, 1], np.int32)
    assert np.array_equal(sort_order(pre, post, 10), [1, 2, 0])
