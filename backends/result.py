"""What a backend returns from a run: spikes of every population plus probed values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

WEIGHTS = ".weights"


@dataclass
class RunResult:
    """Recorded data of one run.

    `spikes[pop]` is bool (steps, size) for every population (sources included);
    `values[key]` holds each probe by name: `<pop>.v` / `<pop>.u` (steps, size; int64 in
    fixed precision, float64 in float), `<proj>.weights` (final (post, pre) matrix; 0 where
    there is no synapse), and `<pop>.spikes` for spike probes. Runs through `runtime` add
    `<proj>.pre`, `<proj>.post`, `<proj>.weight` per synapse (see `synapse_lists`).
    """

    backend: str
    steps: int
    spikes: dict[str, np.ndarray] = field(default_factory=dict)
    values: dict[str, np.ndarray] = field(default_factory=dict)
    wall_s: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays()[key]

    def keys(self) -> list[str]:
        return list(self.arrays())

    def arrays(self) -> dict[str, np.ndarray]:
        """All arrays keyed as in the results .npz: probes, plus `<pop>.spikes` for every population."""
        out = {f"{p}.spikes": s for p, s in self.spikes.items()}
        out.update(self.values)
        return out


def _index_dtype(n: int) -> type[np.integer]:
    return np.int32 if n <= np.iinfo(np.int32).max else np.int64


def synapse_lists(name: str, pre: np.ndarray, post: np.ndarray,
                  dense: np.ndarray) -> dict[str, np.ndarray]:
    """`<name>.pre`, `<name>.post` (neuron indices) and `<name>.weight` (dense[post, pre], same
    dtype), one entry per synapse in the given order: a synapse whose weight reached 0 stays
    listed, which the dense matrix cannot tell from a missing synapse."""
    dense = np.asarray(dense)
    if dense.ndim != 2:
        raise ValueError(f"{name}{WEIGHTS}: expected a (post, pre) matrix, got shape {dense.shape}")
    dt = _index_dtype(max(dense.shape))
    pre = np.asarray(pre).astype(dt, copy=False)
    post = np.asarray(post).astype(dt, copy=False)
    return {f"{name}.pre": pre, f"{name}.post": post, f"{name}.weight": dense[post, pre]}


def add_synapse_lists(values: dict[str, np.ndarray], projections: Mapping[str, Any]) -> None:
    """For every `<proj>.weights` in `values` whose projection is in `projections` (objects
    with `pre_idx`, `post_idx`: the compiled synapse order), add its synapse lists in place."""
    for key in [k for k in values if k.endswith(WEIGHTS)]:
        proj = projections.get(key[: -len(WEIGHTS)])
        if proj is not None:
            values.update(synapse_lists(key[: -len(WEIGHTS)], proj.pre_idx, proj.post_idx,
                                        values[key]))
