"""Datasets for `dataset` spike sources: loading, train/validation/test splits, rate encoding.

A dataset is `x` (n, size) >= 0 and integer labels `y` (n,): the built-in `digits`
(scikit-learn's bundled 8x8 digits, 1797 samples of 64 pixels in 0..16, no download) or
arrays from a file / the builder. Splits: the sample order (a permutation drawn from
`rng_for(shuffle_seed, "dataset", "split")`, or the file order when shuffle_seed is
null) is cut into train (first), validation, test (last); train is what is left.

Rate encoding: sample j is shown for `present` steps; in each of them input i spikes
with probability p = max_rate * x[j, i] / x_max (x_max: the largest x of the whole
dataset), drawn as `rng.random((present, size)) < p` sample after sample from
`rng_for(seed, "dataset", <population>, <phase>, <epoch>)`, then `rest` silent steps.
Every backend gets these very same spikes. Without phases, a dataset source shows the
train split in order, epoch after epoch, with phase name "run".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .ir import Dataset, Population, rng_for

BUILTIN = ("digits",)
ENCODINGS = ("rate",)


def load_builtin(name: str) -> tuple[np.ndarray, np.ndarray]:
    """x (float64 (n, size)) and y (int64 (n,)) of a built-in dataset."""
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return np.asarray(d.data, dtype=np.float64), np.asarray(d.target, dtype=np.int64)
    raise ValueError(f"unknown built-in dataset {name!r}")


def make_splits(n: int, test: int = 0, validation: int = 0,
                shuffle_seed: int | None = 0) -> dict[str, np.ndarray]:
    """Sample indices of the train, validation and test splits (train = the rest, first)."""
    if test + validation > n:
        raise ValueError(f"test + validation = {test + validation} > {n} samples")
    order = (np.arange(n) if shuffle_seed is None
             else rng_for(int(shuffle_seed), "dataset", "split").permutation(n))
    n_train = n - test - validation
    return {"train": order[:n_train].astype(np.int64),
            "validation": order[n_train:n_train + validation].astype(np.int64),
            "test": order[n_train + validation:].astype(np.int64)}


def make_dataset(name: str, x: np.ndarray, y: np.ndarray, *, test: int = 0, validation: int = 0,
                 shuffle_seed: int | None = 0, encoding: str = "rate", max_rate: float = 0.3,
                 present: int = 100, rest: int = 0) -> Dataset:
    """A Dataset with its splits (inputs assumed valid: the frontend checks them)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    x_max = float(x.max()) if x.size and x.max() > 0 else 1.0
    return Dataset(name=name, x=x, y=y, splits=make_splits(len(y), test, validation, shuffle_seed),
                   encoding=encoding, max_rate=float(max_rate), present=int(present),
                   rest=int(rest), x_max=x_max)


def rates(ds: Dataset, idx: np.ndarray) -> np.ndarray:
    """Spike probability per step of each input for samples `idx`: (len(idx), size)."""
    return np.clip(ds.max_rate * ds.x[np.asarray(idx)] / ds.x_max, 0.0, 1.0)


def mean_rates(ds: Dataset, split: str = "train") -> np.ndarray:
    """Expected spikes per step of each input over a split, rest steps included (for
    resource/profiling estimates): (size,)."""
    idx = ds.splits.get(split)
    if idx is None or len(idx) == 0:
        idx = np.arange(len(ds.y))
    return rates(ds, idx).mean(axis=0) * (ds.present / ds.period)


def encode(ds: Dataset, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Spikes showing samples `idx` in order: bool (len(idx) * period, size).

    Draws `rng.random((present, size))` per sample in order (one C-order draw for all),
    so encoding an epoch in chunks with the same generator gives the same spikes.
    """
    idx = np.asarray(idx, dtype=np.int64)
    k, size = idx.shape[0], ds.x.shape[1]
    out = np.zeros((k, ds.period, size), dtype=bool)
    if k:
        draws = rng.random((k, ds.present, size))
        out[:, :ds.present] = draws < rates(ds, idx)[:, None, :]
    return out.reshape(k * ds.period, size)


def epoch_rng(seed: int, pop: str, phase: str, epoch: int) -> np.random.Generator:
    """The generator of one population's spikes in one epoch of one phase."""
    return rng_for(seed, "dataset", pop, phase, str(epoch))


def skip_samples(rng: np.random.Generator, ds: Dataset, n_samples: int) -> None:
    """Advance `rng` past the draws of `n_samples` samples (as if they were encoded).

    Generator.random draws one 64-bit word per float64, and PCG64's `advance` jumps by
    64-bit words, so this equals drawing and discarding them (tested).
    """
    if n_samples > 0:
        rng.bit_generator.advance(int(n_samples) * ds.present * ds.x.shape[1])


def epoch_order(ds: Dataset, split: str, count: int | None, epochs: int, shuffle: bool,
                seed: int, phase: str) -> list[np.ndarray]:
    """Sample indices shown in each epoch: the first `count` of the split, shuffled per
    epoch from `rng_for(seed, "dataset", "order", phase, epoch)` when `shuffle`."""
    base = ds.splits[split]
    if count is not None:
        base = base[:count]
    out = []
    for e in range(epochs):
        if shuffle:
            out.append(base[rng_for(seed, "dataset", "order", phase, str(e)).permutation(len(base))])
        else:
            out.append(base.copy())
    return out


def plain_run_spikes(pop: Population, steps: int, seed: int, start: int = 0) -> np.ndarray:
    """A dataset source in a run without phases: the train split in order, epoch after
    epoch (phase name "run"), rows [start, start + steps): bool (steps, size)."""
    ds = pop.source.dataset
    assert ds is not None
    out = np.zeros((steps, pop.size), dtype=bool)
    train = ds.splits["train"]
    n, period = len(train), ds.period
    if n == 0 or steps <= 0:
        return out
    first, last = start // period, (start + steps - 1) // period  # global sample numbers
    j = first
    while j <= last:
        epoch, pos = divmod(j, n)
        upto = min(last, (epoch + 1) * n - 1)  # within this epoch
        rng = epoch_rng(seed, pop.name, "run", epoch)
        skip_samples(rng, ds, pos)
        block = encode(ds, train[pos:pos + upto - j + 1], rng)
        b0 = j * period  # global step of the block's first row
        lo, hi = max(start, b0), min(start + steps, b0 + block.shape[0])
        out[lo - start:hi - start] = block[lo - b0:hi - b0]
        j = upto + 1
    return out


def describe(ds: Dataset) -> dict[str, Any]:
    """A short summary for reports: sizes of the splits and the encoding."""
    return {"dataset": ds.name, "samples": int(len(ds.y)), "size": int(ds.x.shape[1]),
            "classes": int(len(np.unique(ds.y))),
            "splits": {k: int(len(v)) for k, v in ds.splits.items()},
            "encoding": ds.encoding, "max_rate": ds.max_rate, "present": ds.present,
            "rest": ds.rest}
