"""`weight: {dataset_mean: H, jitter: J}`: weights start at the mean training sample."""

from __future__ import annotations

import numpy as np
import pytest
from phase_nets import RELAY, _load

from compiler.errors import InputError

X = np.array([[1, 0, 0.5], [0, 1, 1], [1, 1, 0], [1, 0.5, 1]])  # RELAY's data; test = the last
NET = RELAY.replace("relay: {pre: inp, post: out, connectivity: one_to_one, weight: 20}",
                    "relay: {pre: inp, post: out, weight: {dataset_mean: 40, jitter: JIT}}")


def _weights(text: str) -> np.ndarray:
    net = _load(text)
    return net.projections["relay"].dense_weights(3, 3)


def test_rows_start_at_the_scaled_mean_of_the_train_split_only():
    w = _weights(NET.replace("JIT", "0"))
    mean = X[:3].mean(axis=0)  # train = the first 3 samples (test: 1, shuffle_seed: null)
    want = np.rint(40 * mean / mean.max())
    assert want.tolist() == [40, 40, 30]  # by hand: (2/3, 2/3, 0.5) / (2/3) * 40
    assert w.dtype == np.int32 and np.array_equal(w, np.tile(want, (3, 1)))
    # the test sample does not leak in: changing it leaves the weights as they are
    other = NET.replace("JIT", "0").replace("[1, 0.5, 1]]", "[9, 0, 0]]")
    assert np.array_equal(_weights(other), w)


def test_jitter_is_uniform_in_range_and_seeded():
    w = _weights(NET.replace("JIT", "5"))
    base = np.tile([40, 40, 30], (3, 1))
    assert np.all((w - base >= 0) & (w - base <= 5)) and np.any(w != base)
    assert np.array_equal(_weights(NET.replace("JIT", "5")), w)  # same seed, same draw
    assert not np.array_equal(_weights(NET.replace("JIT", "5").replace("seed: 2", "seed: 3")), w)


def test_float_precision_keeps_fractions():
    text = NET.replace("JIT", "0").replace("seed: 2", "seed: 2\nprecision: float")
    text = text.replace("du: 4095, dv: 4095", "du: 1.0, dv: 1.0")
    w = _weights(text)
    assert w.dtype == np.float64
    np.testing.assert_allclose(w[0], [40.0, 40.0, 30.0])


@pytest.mark.parametrize("weight, field, msg", [
    ("{dataset_mean: -3}", "weight.dataset_mean", "found -3"),
    ("{dataset_mean: 10, jitter: -1}", "weight.jitter", "found -1"),
    ("{dataset_mean: 10, jiter: 1}", "weight", "jiter"),
    ("{dataset_mean: 2.5}", "weight.dataset_mean", "2.5"),
])
def test_bad_values_name_the_field(weight, field, msg):
    with pytest.raises(InputError) as e:
        _load(NET.replace("{dataset_mean: 40, jitter: JIT}", weight))
    text = str(e.value)
    assert f"projections.relay.{field}" in text and msg in text and "net.yaml:" in text


def test_pre_must_be_a_dataset_source():
    text = NET.replace("JIT", "0") + "  back: {pre: out, post: out, weight: {dataset_mean: 5}}\n"
    with pytest.raises(InputError) as e:
        _load(text)
    assert "projections.back.weight.dataset_mean: pre 'out' is not a dataset spike source" in str(e.value)
