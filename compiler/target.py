"""Target descriptions (docs/targets.md): chip counts, mesh, per-core limits, cost figures."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CoreLimits:
    """Per-core capacity of a neuro-core."""

    neurons: int = 1024
    in_axons: int = 4096
    out_axons: int = 4096
    synapse_bits: int = 1048576
    weight_bits: int = 8
    max_delay: int = 63


@dataclass
class Target:
    """A neuromorphic system: `chips` chips of `cores_per_chip` cores on a `mesh` grid."""

    name: str
    chips: int = 1
    cores_per_chip: int = 128
    mesh: tuple[int, int] = (8, 16)
    core: CoreLimits = field(default_factory=CoreLimits)
    energy_pj: dict[str, float] = field(default_factory=dict)
    time_ns: dict[str, float] = field(default_factory=dict)
    source: str = ""  # where the figures come from
    sources: dict[str, str] = field(default_factory=dict)  # dotted figure key -> its source
    file: str | None = None

    @property
    def total_cores(self) -> int:
        return self.chips * self.cores_per_chip
