"""What a backend returns from a run: spikes of every population plus probed values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class RunResult:
    """Recorded data of one run.

    `spikes[pop]` is bool (steps, size) for every population (sources included);
    `values[key]` holds each probe by its SPEC.md name: `<pop>.v` / `<pop>.u`
    (steps, size; int64 in fixed precision, float64 in float), `<proj>.weights`
    (final (post, pre) matrix), and `<pop>.spikes` for spike probes.
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
