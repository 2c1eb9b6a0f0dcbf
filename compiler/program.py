"""The compiled program: a quantized network plus its partition and placement.

This is what `snnc compile` writes to a `.snnc` artifact and what backends run.
Backends read `network` (quantized IR) and `core_of` (per-neuron core ids); the
profiler reads `cores`, `target` and `report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .ir import NetworkIR
from .target import Target


@dataclass
class Core:
    """One neuro-core in use: where it sits and what it holds (usage by the resource model)."""

    id: int  # global core id, index into Program.cores
    chip: int
    core: int  # index of the core within its chip
    x: int = 0
    y: int = 0
    neurons: dict[str, np.ndarray] = field(default_factory=dict)  # population -> neuron indices
    synapse_bits: int = 0
    in_axons: int = 0
    out_axons: int = 0

    @property
    def n_neurons(self) -> int:
        return int(sum(len(v) for v in self.neurons.values()))


@dataclass
class Program:
    """A network compiled for a target."""

    network: NetworkIR
    target: Target
    core_of: dict[str, np.ndarray]  # neuron population -> int32 global core id per neuron
    cores: list[Core]
    partitioner: str = "sequential"
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def n_chips(self) -> int:
        return 1 + max((c.chip for c in self.cores), default=0)
