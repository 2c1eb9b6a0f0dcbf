"""Datasets: splits, rate encoding, reproducible spike streams, and the `dataset` source kind."""

from __future__ import annotations

import numpy as np
import pytest

from compiler.datasets import (
    encode,
    epoch_order,
    epoch_rng,
    make_dataset,
    make_splits,
    plain_run_spikes,
    skip_samples,
)
from compiler.errors import InputError
from compiler.frontend import network_from_dict
from compiler.ir import Population, SpikeSource
from compiler.sources import source_spikes
from compiler.yamlio import parse_yaml


def _net(spikes: dict, size: int = 4, extra: str = "") -> str:
    import yaml

    return (f"snnc: 1\nname: d\nseed: 5\npopulations:\n  inp:\n    size: {size}\n"
            f"    model: spike_source\n    spikes: {yaml.safe_dump(spikes, default_flow_style=True).strip()}\n"
            f"  out: {{size: 2}}\n{extra}")


def _load(text: str, base_dir=None):
    data, locs = parse_yaml(text, "net.yaml")
    return network_from_dict(data, source_file="net.yaml", locations=locs, base_dir=base_dir)


def test_splits_are_disjoint_cover_all_and_follow_the_seed():
    s = make_splits(100, test=20, validation=10, shuffle_seed=3)
    assert [len(s[k]) for k in ("train", "validation", "test")] == [70, 10, 20]
    allidx = np.concatenate([s["train"], s["validation"], s["test"]])
    assert sorted(allidx.tolist()) == list(range(100))
    again = make_splits(100, test=20, validation=10, shuffle_seed=3)
    assert all(np.array_equal(s[k], again[k]) for k in s)
    other = make_splits(100, test=20, validation=10, shuffle_seed=4)
    assert not np.array_equal(s["test"], other["test"])
    plain = make_splits(10, test=3, shuffle_seed=None)  # file order: train first, test last
    assert plain["train"].tolist() == list(range(7)) and plain["test"].tolist() == [7, 8, 9]
    with pytest.raises(ValueError):
        make_splits(5, test=4, validation=2)


def test_rate_encoding_probability_is_max_rate_times_x_over_xmax():
    x = np.array([[0.0, 5.0, 10.0], [10.0, 10.0, 0.0]])
    ds = make_dataset("t", x, np.array([0, 1]), max_rate=0.4, present=20000, rest=3)
    spikes = encode(ds, np.array([0, 1]), np.random.default_rng(0))
    assert spikes.shape == (2 * 20003, 3) and spikes.dtype == bool
    first = spikes[:20000].mean(axis=0)
    assert first[0] == 0.0
    # p = 0.4 * x / 10; binomial sd at n = 20000 is <= 0.0035
    assert abs(first[1] - 0.2) < 0.015 and abs(first[2] - 0.4) < 0.015
    assert not spikes[20000:20003].any()  # rest steps are silent
    second = spikes[20003:40003].mean(axis=0)
    assert abs(second[0] - 0.4) < 0.015 and second[2] == 0.0


def test_encoding_in_chunks_and_skipping_equal_one_draw():
    rng_x = np.random.default_rng(1)
    ds = make_dataset("t", rng_x.random((9, 5)), np.arange(9) % 3, max_rate=0.7, present=4, rest=2)
    idx = np.arange(9)
    whole = encode(ds, idx, epoch_rng(7, "inp", "train", 0))
    rng = epoch_rng(7, "inp", "train", 0)
    parts = np.concatenate([encode(ds, idx[:2], rng), encode(ds, idx[2:7], rng), encode(ds, idx[7:], rng)])
    assert np.array_equal(whole, parts)
    rng = epoch_rng(7, "inp", "train", 0)
    skip_samples(rng, ds, 4)
    assert np.array_equal(encode(ds, idx[4:], rng), whole[4 * ds.period:])
    # another phase, epoch or population is another stream
    assert not np.array_equal(whole, encode(ds, idx, epoch_rng(7, "inp", "train", 1)))


def test_epoch_order_counts_and_shuffles_per_epoch():
    ds = make_dataset("t", np.ones((10, 2)), np.arange(10), test=0, shuffle_seed=None)
    plain = epoch_order(ds, "train", 4, 2, False, 0, "p")
    assert [o.tolist() for o in plain] == [[0, 1, 2, 3], [0, 1, 2, 3]]
    shuf = epoch_order(ds, "train", None, 3, True, 0, "p")
    assert all(sorted(o.tolist()) == list(range(10)) for o in shuf)
    assert not np.array_equal(shuf[0], shuf[1])
    assert all(np.array_equal(a, b) for a, b in zip(shuf, epoch_order(ds, "train", None, 3, True, 0, "p"), strict=True))


def test_plain_run_shows_train_split_in_order_and_any_window_is_a_slice():
    x = np.random.default_rng(2).random((5, 3))
    ds = make_dataset("t", x, np.arange(5), test=2, shuffle_seed=1, max_rate=0.9, present=3, rest=1)
    pop = Population("inp", 3, "spike_source", source=SpikeSource("dataset", dataset=ds))
    n_train, period = 3, 4
    full = source_spikes(pop, 2 * n_train * period + 5, seed=11)  # runs into a third epoch
    epoch0 = encode(ds, ds.splits["train"], epoch_rng(11, "inp", "run", 0))
    epoch1 = encode(ds, ds.splits["train"], epoch_rng(11, "inp", "run", 1))
    assert np.array_equal(full[:12], epoch0) and np.array_equal(full[12:24], epoch1)
    for start, n in ((0, 1), (5, 9), (11, 3), (13, 16)):
        assert np.array_equal(plain_run_spikes(pop, n, 11, start), full[start:start + n])


def test_builtin_digits_source():
    text = _net({"kind": "dataset", "dataset": "digits", "split": {"test": 600, "validation": 100},
                 "present": 10}, size=64)
    net = _load(text)
    ds = net.populations["inp"].source.dataset
    assert ds.x.shape == (1797, 64) and ds.x_max == 16.0 and set(np.unique(ds.y)) == set(range(10))
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 1097, "validation": 100, "test": 600}
    assert ds.max_rate == 0.3 and ds.present == 10 and ds.rest == 0 and ds.encoding == "rate"


def test_dataset_from_file_and_inline(tmp_path):
    x = np.arange(12, dtype=float).reshape(3, 4)
    np.savez(tmp_path / "d.npz", x=x, y=np.array([0, 1, 0]))
    net = _load(_net({"kind": "dataset", "dataset": {"file": "d.npz"}, "split": {"test": 1}}),
                base_dir=tmp_path)
    ds = net.populations["inp"].source.dataset
    assert np.array_equal(ds.x, x) and ds.y.tolist() == [0, 1, 0] and ds.x_max == 11.0
    inline = _load(_net({"kind": "dataset", "dataset": {"data": {"x": [[1, 0, 0, 1]], "y": [2]}},
                         "split": {"test": 0}}))
    assert inline.populations["inp"].source.dataset.x.tolist() == [[1, 0, 0, 1]]


@pytest.mark.parametrize("spikes, fragment", [
    ({"kind": "dataset", "dataset": "digitz"}, "unknown built-in dataset 'digitz' (did you mean 'digits'?)"),
    ({"kind": "dataset", "dataset": "digits"}, "x has shape (1797, 64); expected (n, 4)"),
    ({"kind": "dataset", "dataset": {"data": {"x": [[1, -1, 0, 0]], "y": [0]}}}, "x must hold finite numbers >= 0"),
    ({"kind": "dataset", "dataset": {"data": {"x": [[1, 1, 0, 0]], "y": [0, 1]}}}, "y has shape (2,); expected (1,)"),
    ({"kind": "dataset", "dataset": {"data": {"x": [[1, 1, 0, 0]], "y": [0.5]}}}, "integer class labels"),
    ({"kind": "dataset", "dataset": {"data": {"x": [[1, 1, 0, 0]]}}}, "missing array(s) y"),
    ({"kind": "dataset", "dataset": {"data": {"x": [[1, 1, 0, 0]], "y": [0]}}, "split": {"test": 2}},
     "test 2 + validation 0 exceeds the 1 samples"),
    ({"kind": "dataset", "dataset": "digits", "max_rate": 2}, "max_rate: found 2, out of range"),
    ({"kind": "dataset", "dataset": "digits", "present": 0}, "present: found 0, out of range"),
    ({"kind": "dataset", "dataset": "digits", "encoding": "latency"}, "unknown encoding 'latency'"),
    ({"kind": "dataset", "dataset": "digits", "split": {"tests": 3}}, "unknown key 'tests'"),
])
def test_bad_dataset_sources_name_file_line_and_field(spikes, fragment):
    with pytest.raises(InputError) as e:
        _load(_net(spikes))
    msg = str(e.value)
    assert fragment in msg
    assert "net.yaml:8: populations.inp.spikes" in msg  # the line of `spikes:`


def test_missing_dataset_file_is_input_error(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        _load(_net({"kind": "dataset", "dataset": {"file": "nope.npz"}}), base_dir=tmp_path)


def test_mean_rates_average_over_the_split_including_rest():
    from compiler.datasets import mean_rates

    ds = make_dataset("t", np.array([[0.0, 4.0], [4.0, 4.0], [2.0, 0.0]]), np.arange(3), test=1,
                      shuffle_seed=None, max_rate=0.5, present=3, rest=1)
    # train = samples 0, 1: p = 0.5 * x / 4 -> [0, .5] and [.5, .5]; mean [.25, .5]; 3 of 4 steps
    assert np.allclose(mean_rates(ds), [0.1875, 0.375])
