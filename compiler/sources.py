"""The spikes of source populations, drawn once from the network's seed for every backend.

Kept apart from the IR because dataset sources need the dataset encoders (compiler/datasets.py),
which themselves build on the IR.
"""

from __future__ import annotations

import numpy as np

from .datasets import plain_run_spikes
from .ir import DATASET_KIND, Population, rng_for


def source_spikes(pop: Population, steps: int, seed: int, start: int = 0) -> np.ndarray:
    """Spikes of a source population for steps [start, start + steps): bool (steps, size).

    Poisson draws are made row by row from one stream, so a run of N steps is a prefix of
    a run of M > N steps, and every backend gets identical spikes.
    """
    src = pop.source
    assert src is not None, f"{pop.name} is not a spike source"
    n = pop.size
    if src.kind == "poisson":
        rng = rng_for(seed, "source", pop.name)
        if start:  # skip the rows before `start`: one 64-bit draw per PCG64 double
            rng.bit_generator.advance(start * n)
        return rng.random((steps, n)) < src.rate
    if src.kind == "periodic":
        t = np.arange(start, start + steps)
        row = (t - src.phase) % max(src.period, 1) == 0
        row &= t >= src.phase
        return np.repeat(row[:, None], n, axis=1)
    if src.kind == DATASET_KIND:  # the train split in order, as in a plain run
        return plain_run_spikes(pop, steps, seed, start)
    if src.kind == "array":
        data = np.asarray(src.data, dtype=bool)
        out = np.zeros((steps, n), dtype=bool)
        hi = min(start + steps, data.shape[0])
        if hi > start:
            out[: hi - start] = data[start:hi]
        return out
    raise ValueError(f"unknown source kind {src.kind!r}")
